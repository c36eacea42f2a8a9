"""The pytest plugin: `*.test.yaml` cases as pytest items.

Each test runs pytest again (in this process, through `pytester`) in a directory of its own;
nothing registers the plugin there but its `pytest11` entry point.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

FIXTURE = Path(__file__).parent / "fixtures" / "testing" / "policy"
# Other installed plugins only slow the inner runs down; smrules' own is left to load.
QUIET = ("-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")

FAILING = """\
now: 2026-11-16T09:00:00Z
defaults:
  kind: post
  actor: {id: e1, department: marketing}
cases:
  - name: hello is allowed
    activity: {content: {text: "hello"}}
    expect: {decision: allow}
  - name: shouting is denied
    activity: {content: {text: "We won!!!"}}
    expect: {decision: deny, rules: [no_secret]}
"""


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str


@pytest.fixture(scope="module")
def warm_imports():
    """Import everything a run uses before `pytester` snapshots `sys.modules`: it drops modules
    first imported by the inner run, and a second import of PyYAML next to its C extension
    does not work."""
    import smrules.pytest_plugin  # noqa: F401
    from smrules.testing import discover, load_test_file, run_tests

    run_tests([load_test_file(p) for p in discover([FIXTURE])], explain_all=True)


@pytest.fixture
def pytest_run(pytester, monkeypatch, warm_imports):
    monkeypatch.setenv("NO_COLOR", "1")

    def run(cwd: Path, *args: str) -> Run:
        monkeypatch.chdir(cwd)
        result = pytester.runpytest_inprocess(*QUIET, *args)
        return Run(int(result.ret), "\n".join(result.outlines))

    return run


@pytest.fixture
def project(pytester):
    """A directory with the fixture policy under `policy/` and a passing ordinary test."""
    root = pytester.path
    shutil.copytree(FIXTURE, root / "policy")
    (root / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    return root


def summary(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_inert_without_flag_or_explicit_path(project, pytest_run):
    result = pytest_run(project)
    assert result.returncode == 0, result.stdout
    assert re.match(r"1 passed in ", summary(result.stdout))


def test_flag_collects_every_test_file(project, pytest_run):
    result = pytest_run(project, "--smrules")
    assert result.returncode == 0, result.stdout
    assert re.match(r"13 passed in ", summary(result.stdout))


def test_ini_option_collects_every_test_file(project, pytest_run):
    (project / "pytest.ini").write_text("[pytest]\nsmrules = true\n")
    result = pytest_run(project)
    assert re.match(r"13 passed in ", summary(result.stdout)), result.stdout


def test_explicit_directory_collects_its_test_files(project, pytest_run):
    result = pytest_run(project, "policy", "-vv")
    assert result.returncode == 0, result.stdout
    assert "policy/tests/basic.test.yaml::a secret is denied PASSED" in result.stdout
    assert re.search(r"\b12 passed in ", summary(result.stdout))


def test_testpaths_are_not_explicit(project, pytest_run):
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = policy test_plain.py\n")
    result = pytest_run(project)
    assert re.match(r"1 passed in ", summary(result.stdout)), result.stdout


def test_failure_report_is_the_same_as_smrules_test(project, pytest_run):
    (project / "policy" / "tests" / "failing.test.yaml").write_text(FAILING)
    result = pytest_run(project, "policy/tests/failing.test.yaml")
    assert result.returncode == 1
    out = result.stdout
    assert "policy/tests/failing.test.yaml:9: shouting is denied" in out
    assert "decision: expected deny, got warn" in out
    assert (
        'no_secret: not fired: `when content.text mentions ["secret", "confidential"]` '
        "did not hold  (policy/main.smr:8:10)"
    ) in out
    assert '    evidence: content.text[6:9] "!!!"' in out
    assert "Traceback" not in out
    assert re.match(r"1 failed, 1 passed in ", summary(out))


def test_k_selects_cases(project, pytest_run):
    result = pytest_run(project, "policy", "-k", "secret and not legal")
    assert re.match(r"1 passed, 11 deselected in ", summary(result.stdout)), result.stdout


def test_invalid_test_file_is_a_collection_error(project, pytest_run):
    (project / "policy" / "tests" / "bad.test.yaml").write_text(
        textwrap.dedent(
            """\
            cases:
              - name: typo
                activty: {kind: post}
                expect: {decision: allow}
            """
        )
    )
    result = pytest_run(project, "policy")
    assert result.returncode == 2
    out = result.stdout
    assert "ERROR collecting policy/tests/bad.test.yaml" in out
    assert "invalid test file policy/tests/bad.test.yaml" in out
    assert "policy/tests/bad.test.yaml:3:5: error[invalid-test-file]: cases[0].activty" in out
    assert "Traceback" not in out


def test_policy_that_does_not_load_fails_its_cases(pytester, pytest_run):
    tmp_path = pytester.path
    (tmp_path / "main.smr").write_text("rule r {\n  when kind ==\n}\n")
    (tmp_path / "t.test.yaml").write_text(
        "cases:\n  - {name: x, activity: {kind: post, actor: {id: a}}, expect: {decision: allow}}\n"
    )
    result = pytest_run(tmp_path, "t.test.yaml")
    assert result.returncode == 1
    assert "error: policy `.` does not load: 1 error" in result.stdout
    assert re.match(r"1 failed in ", summary(result.stdout))
