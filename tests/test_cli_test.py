"""`smrules test` on the command line (SPEC §6, §7): output, formats, exit codes, coverage."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from smrules.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "testing" / "policy"

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
  - name: legal secrets are denied
    activity: {actor: {department: legal}, content: {text: "the secret"}}
    expect: {decision: deny}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The fixture policy copied into a temporary directory, which is the working directory."""
    shutil.copytree(FIXTURE, tmp_path / "policy")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def smrules_test(*args: str):
    return CliRunner().invoke(main, ["test", *args], catch_exceptions=False)


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


def test_all_passing_exits_0_with_summary(project):
    result = smrules_test()
    assert result.exit_code == 0, result.output
    assert "  PASS  a secret is denied  (policy/tests/basic.test.yaml:8)" in result.stdout
    assert last_line(result.stdout) == "12 passed, 0 failed"


def test_failing_policy_tests_explain_themselves(project):
    write(project / "policy" / "tests" / "failing.test.yaml", FAILING)
    result = smrules_test("policy/tests/failing.test.yaml")
    assert result.exit_code == 1
    out = result.stdout
    assert "  PASS  hello is allowed  (policy/tests/failing.test.yaml:6)" in out
    assert "  FAIL  shouting is denied  (policy/tests/failing.test.yaml:9)" in out
    block = out[out.index("FAIL shouting is denied") :]
    block = block[: block.index("FAIL legal secrets")]
    assert block.splitlines() == [
        "FAIL shouting is denied  (policy/tests/failing.test.yaml:9)",
        "  expected: decision deny; rules [no_secret]",
        "  actual:   decision warn; rules [shouting]",
        "  decision: expected deny, got warn",
        "  rules: expected exactly [no_secret], got [shouting] "
        "(did not fire: no_secret; not expected: shouting)",
        "  findings:",
        "    warn shouting: Calm down before posting.",
        "  expected to fire, but did not:",
        '    no_secret: not fired: `when content.text mentions ["secret", "confidential"]` '
        "did not hold  (policy/main.smr:8:10)",
        '        content.text = "We won!!!"',
        "  fired, but not expected:",
        "    shouting: fired: Calm down before posting.  (policy/main.smr:14:1)",
        '        kind = "post"',
        '        content.text = "We won!!!"',
        '        evidence: content.text[6:9] "!!!"',
        "",
    ]
    legal = out[out.index("FAIL legal secrets") :]
    assert "  decision: expected deny, got allow" in legal
    assert "  findings: none" in legal
    assert last_line(out) == "1 passed, 2 failed"


def test_invalid_activity_in_a_case_is_an_error_not_a_crash(project):
    write(
        project / "policy" / "tests" / "t.test.yaml",
        """\
        cases:
          - name: kind is a number
            activity: {kind: 42, actor: {id: a}}
            expect: {decision: allow}
          - name: fine
            activity: {kind: post, actor: {id: a}}
            expect: {decision: allow}
        """,
    )
    result = smrules_test("policy/tests/t.test.yaml")
    assert result.exit_code == 1
    assert "  ERROR kind is a number  (policy/tests/t.test.yaml:2)" in result.stdout
    assert "  error: invalid activity\n    kind: " in result.stdout
    assert last_line(result.stdout) == "1 passed, 0 failed, 1 error"
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "text",
    [
        "cases: [\n",  # malformed YAML
        "cases:\n  - name: x\n    activity: {kind: post}\n",  # missing expect
        "cases: []\nextra: 1\n",  # unknown field
        "cases: 3\n",  # wrong type
    ],
)
def test_invalid_test_file_exits_3(project, text):
    write(project / "policy" / "tests" / "bad.test.yaml", text)
    result = smrules_test()
    assert result.exit_code == 3
    assert "ERROR invalid test file policy/tests/bad.test.yaml" in result.stdout
    assert re.search(r"policy/tests/bad\.test\.yaml:\d+:\d+: error\[", result.stdout)
    assert last_line(result.stdout) == "12 passed, 0 failed, 1 error"
    assert "Traceback" not in result.output


def test_binary_test_file_exits_3(project):
    (project / "policy" / "tests" / "bin.test.yaml").write_bytes(b"\x89PNG\x00\x00")
    result = smrules_test("policy/tests/bin.test.yaml")
    assert result.exit_code == 3
    assert "is a binary file" in result.stdout


def test_activity_file_escaping_exits_3(project):
    write(project / "secret.yaml", "kind: post\nactor: {id: a}\n")
    write(
        project / "policy" / "tests" / "t.test.yaml",
        """\
        cases:
          - {name: x, activity_file: ../../secret.yaml, expect: {decision: allow}}
        """,
    )
    result = smrules_test("policy/tests")
    assert result.exit_code == 3
    assert re.search(
        r"policy/tests/t\.test\.yaml:2:\d+: error\[invalid-test-file\]: cases\[0\]\.activity_file: "
        r"`\.\./\.\./secret\.yaml` is outside the test file's directory",
        result.stdout,
    )


def test_policy_that_does_not_load_exits_3(project):
    write(project / "broken" / "main.smr", "rule r {\n  when kind ==\n}\n")
    write(
        project / "broken" / "t.test.yaml",
        """\
        cases:
          - {name: x, activity: {kind: post, actor: {id: a}}, expect: {decision: allow}}
        """,
    )
    result = smrules_test("broken")
    assert result.exit_code == 3
    assert "  ERROR x  (broken/t.test.yaml:2)" in result.stdout
    assert "error: policy `broken` does not load: 1 error" in result.stdout
    assert "broken/main.smr:3:1: error[" in result.stdout
    assert last_line(result.stdout) == "0 passed, 0 failed, 1 error"
    github = smrules_test("--format", "github", "broken")
    assert github.exit_code == 3
    assert any(
        line.startswith("::error file=broken/main.smr,line=3,col=1,title=policy does not load::")
        for line in github.stdout.splitlines()
    )


def test_k_selects_cases_by_name(project):
    write(project / "policy" / "tests" / "failing.test.yaml", FAILING)
    result = smrules_test("-k", "SECRET")
    assert result.exit_code == 1  # "legal secrets are denied" fails
    names = re.findall(r"^  (?:PASS|FAIL)  (.*?)  \(", result.stdout, re.M)
    assert names == ["a secret is denied", "legal may discuss secrets", "legal secrets are denied"]
    assert result.stdout.splitlines()[-2:] == ["12 deselected by -k", "2 passed, 1 failed"]
    result = smrules_test("-k", "secret and not legal")
    assert result.exit_code == 0
    assert last_line(result.stdout) == "1 passed, 0 failed"


def test_k_that_matches_nothing(project):
    result = smrules_test("-k", "no such case")
    assert result.exit_code == 0
    assert last_line(result.stdout) == "0 passed, 0 failed"
    assert "no test case matches -k 'no such case'" in result.stderr


def test_bad_k_expression_is_a_usage_error(project):
    result = CliRunner().invoke(main, ["test", "-k", "a and"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_no_test_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = smrules_test()
    assert result.exit_code == 0
    assert last_line(result.stdout) == "0 passed, 0 failed"
    assert "no test files (*.test.yaml) found" in result.stderr


def test_missing_path_is_a_usage_error(project):
    result = CliRunner().invoke(main, ["test", "nowhere"])
    assert result.exit_code == 2


# ------------------------------------------------------------------------------ formats


def write_hostile(project: Path) -> None:
    """A policy and test file whose names and messages hold characters XML cannot."""
    # Control characters, U+FFFE, `]]>` and markup reach the report through the case name, the
    # expected messages and a finding message that echoes the activity. (A lone surrogate cannot:
    # an activity holding one is invalid.)
    write(
        project / "echo" / "main.smr",
        'rule echo {\n  when kind == "post"\n  warn "said {content.text}"\n}\n',
    )
    (project / "echo" / "act.json").write_text(
        '{"kind": "post", "actor": {"id": "a"}, '
        '"content": {"text": "nul \\u0000 esc \\u001b nc \\ufffe ]]> & <b>\\"q\\""}}',
        encoding="utf-8",
    )
    write(
        project / "echo" / "hostile.test.yaml",
        """\
        cases:
          - name: "bell \\a, vt \\v, esc \\e ]]> <x> & 'quotes' \\"q\\""
            activity_file: act.json
            expect: {decision: deny, messages: ["\\x01 ]]> not there"]}
          - name: passes
            activity_file: act.json
            expect: {decision: warn}
        """,
    )


def test_junit_is_valid_xml_for_any_text(project):
    write_hostile(project)
    result = smrules_test("--format", "junit", "echo")
    assert result.exit_code == 1, result.output
    root = ET.fromstring(result.stdout.encode("utf-8"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "echo/hostile.test.yaml"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "bell , vt , esc  ]]> <x> & 'quotes' \"q\"",
        "passes",
    ]
    assert (cases[0].get("file"), cases[0].get("line")) == ("echo/hostile.test.yaml", "2")
    failure = cases[0].find("failure")
    assert failure is not None and cases[1].find("failure") is None
    assert failure.get("message") == "decision: expected deny, got warn"
    assert 'messages: no finding message contains " ]]> not there"' in failure.text
    assert 'warn echo: said nul  esc  nc  ]]> & <b>"q"' in failure.text


def test_junit_reports_invalid_files_and_policy_errors_as_errors(project):
    write(project / "policy" / "tests" / "bad.test.yaml", "cases: 3\n")
    result = smrules_test("--format", "junit")
    assert result.exit_code == 3
    root = ET.fromstring(result.stdout)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("13", "0", "1")
    bad = [s for s in root.findall("testsuite") if s.get("name") == "policy/tests/bad.test.yaml"]
    error = bad[0].find("testcase/error")
    assert error is not None and "cases: must be a list" in error.text


def test_github_annotations_point_at_the_failing_case(project):
    write(project / "policy" / "tests" / "failing.test.yaml", FAILING)
    result = smrules_test("--format", "github", "policy/tests/failing.test.yaml")
    assert result.exit_code == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 2
    first = annotations[0]
    assert first.startswith(
        "::error file=policy/tests/failing.test.yaml,line=9,"
        "title=smrules test failed%3A shouting is denied::"
        "shouting is denied: decision: expected deny, got warn%0A"
    )
    assert "\n" not in first
    assert annotations[1].startswith("::error file=policy/tests/failing.test.yaml,line=12,")
    assert last_line(result.stdout) == "1 passed, 2 failed"


def test_github_annotations_for_invalid_files(project):
    write(project / "policy" / "tests" / "bad.test.yaml", "cases: []\nnow: soon\n")
    result = smrules_test("--format", "github", "policy/tests/bad.test.yaml")
    assert result.exit_code == 3
    assert (
        "::error file=policy/tests/bad.test.yaml,line=2,col=1,title=invalid test file::"
        "now: must be a date-time with an offset, such as 2026-11-16T09:00:00Z"
    ) in result.stdout.splitlines()


def test_tap_version_13(project):
    write(project / "policy" / "tests" / "failing.test.yaml", FAILING)
    result = smrules_test("--format", "tap", "policy/tests/failing.test.yaml")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "TAP version 13",
        "1..3",
        "ok 1 - policy/tests/failing.test.yaml :: hello is allowed",
        "not ok 2 - policy/tests/failing.test.yaml :: shouting is denied",
    ]
    assert lines[4] == "  ---"
    block = lines[4 : lines.index("  ...") + 1]
    import yaml

    details = yaml.safe_load("\n".join(line[2:] for line in block[1:-1]))
    assert details["message"] == "decision: expected deny, got warn"
    assert details["line"] == 9
    assert "expected to fire, but did not:" in details["details"]
    assert lines[-1] == "# 1 passed, 2 failed"
    oks = [line for line in lines if re.match(r"(not )?ok \d+ ", line)]
    assert len(oks) == 3


def test_tap_blocks_stay_valid_yaml_for_any_text(project):
    import yaml

    write_hostile(project)
    result = smrules_test("--format", "tap", "echo")
    lines = result.stdout.splitlines()
    assert lines[2].startswith("not ok 1 - echo/hostile.test.yaml :: bell ")
    block = lines[lines.index("  ---") + 1 : lines.index("  ...")]
    details = yaml.safe_load("\n".join(line[2:] for line in block))
    assert details["message"] == "decision: expected deny, got warn"
    assert "]]> & <b>" in details["details"]
    assert lines[-1] == "# 1 passed, 1 failed"


def test_tap_escapes_hash_in_descriptions(project):
    write(
        project / "policy" / "tests" / "t.test.yaml",
        """\
        cases:
          - name: "tags like #ad # TODO"
            activity: {kind: post, actor: {id: a}}
            expect: {decision: allow}
        """,
    )
    result = smrules_test("--format", "tap", "policy/tests/t.test.yaml")
    assert "ok 1 - policy/tests/t.test.yaml :: tags like \\#ad \\# TODO" in result.stdout


def test_json_format(project):
    write(project / "policy" / "tests" / "failing.test.yaml", FAILING)
    result = smrules_test("--format", "json", "policy/tests/failing.test.yaml")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["summary"] == {
        "passed": 1,
        "failed": 2,
        "errors": 0,
        "deselected": 0,
        "text": "1 passed, 2 failed",
    }
    shouting = doc["results"][1]
    assert shouting["name"] == "shouting is denied"
    assert shouting["status"] == "failed"
    assert shouting["expected"] == {"decision": "deny", "rules": ["no_secret"]}
    assert shouting["actual"] == {"decision": "warn", "rules": ["shouting"]}
    assert shouting["missing"][0]["rule"] == "no_secret"
    assert shouting["decision"]["findings"][0]["rule"] == "shouting"


# ----------------------------------------------------------------------------- coverage


def test_coverage_report(project):
    result = smrules_test("--coverage")
    assert result.exit_code == 0
    out = result.stdout
    assert "coverage of policy policy (12 cases)" in out
    assert re.search(r"^  no_secret +deny +2 +10 +0$", out, re.M)
    assert re.search(r"^  job_ads +deny +0 +12 +0  UNCOVERED$", out, re.M)
    assert '    job_ads when kind == "job_ad"  true 0, false 12  NEVER TRUE' in out
    assert '    no_secret unless actor.department == "legal"  true 1, false 2' in out
    assert "  uncovered rules: job_ads" in out
    assert "rule coverage: 85.7% (6 of 7 rules fired by some case)" in out
    assert last_line(out) == "12 passed, 0 failed"


@pytest.mark.parametrize(
    "minimum, code", [("85", 0), ("85.7", 0), ("85.8", 1), ("90", 1), ("100", 1)]
)
def test_min_coverage(project, minimum, code):
    result = smrules_test("--min-coverage", minimum)
    assert result.exit_code == code
    if code:
        assert f"rule coverage 85.7% is below --min-coverage {minimum}%" in result.stderr


def test_min_coverage_out_of_range_is_a_usage_error(project):
    assert CliRunner().invoke(main, ["test", "--min-coverage", "101"]).exit_code == 2


def test_coverage_in_json_and_github(project):
    doc = json.loads(smrules_test("--coverage", "--format", "json").stdout)
    assert doc["coverage"]["covered"] == 6 and doc["coverage"]["total"] == 7
    assert doc["coverage"]["policies"][0]["uncovered"] == ["job_ads"]
    out = smrules_test("--coverage", "--format", "github").stdout
    assert (
        "::warning file=policy/main.smr,line=42,col=1,title=uncovered rule::"
        "rule `job_ads` is not fired by any test case"
    ) in out.splitlines()
