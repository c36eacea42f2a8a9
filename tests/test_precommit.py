"""The repository's pre-commit hooks, run by a real pre-commit on a scaffolded policy repository.

pre-commit installs the hook repository (a snapshot of this one) into a fresh virtual
environment with pip, exactly as a user's machine would; the environment is built once per
test run and shared by the tests below.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from smrules.cli import main

ROOT = Path(__file__).resolve().parent.parent
HOOKS_FILE = ROOT / ".pre-commit-hooks.yaml"
INSTALL_TIMEOUT = 900  # seconds: the first run builds smrules and installs its dependencies
GIT_ENV = {
    "GIT_AUTHOR_NAME": "smrules tests",
    "GIT_AUTHOR_EMAIL": "tests@smrules.invalid",
    "GIT_COMMITTER_NAME": "smrules tests",
    "GIT_COMMITTER_EMAIL": "tests@smrules.invalid",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        timeout=60,
    )


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def snapshot_of_this_repository(target: Path) -> Path:
    """The tracked files as they are in the working tree (symlinks kept), committed."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, timeout=60
    ).stdout.decode("utf-8")
    names = {name for name in listed.split("\0") if name} | {HOOKS_FILE.name}
    for name in sorted(names):
        source = ROOT / name
        if not (source.exists() or source.is_symlink()):
            continue  # deleted in the working tree
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, dest)
    git(target, "init", "-q")
    commit_all(target, "snapshot")
    return target


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    return snapshot_of_this_repository(tmp_path_factory.mktemp("hooks"))


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def scaffolded_repository(root: Path) -> Path:
    result = CliRunner().invoke(main, ["init", str(root)])
    assert result.exit_code == 0, result.output
    git(root, "init", "-q")
    commit_all(root, "policy")
    return root


def try_repo(repo: Path, hook_repo: Path, home: Path, *hooks: str):
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), *hooks, "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )


def status_of(output: str, hook_name: str) -> str:
    m = re.search(
        rf"^{re.escape(hook_name)}\.+(Passed|Failed|\(no files to check\)Skipped)$", output, re.M
    )
    assert m, f"no status line for {hook_name!r} in:\n{output}"
    return m.group(1)


# ------------------------------------------------------------------------------- the file


def test_hooks_file_exposes_lint_fmt_and_test():
    hooks = yaml.safe_load(HOOKS_FILE.read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["smrules-lint", "smrules-fmt", "smrules-test"]
    for hook in hooks:
        assert hook["language"] == "python"
        assert hook["entry"] == f"smrules {hook['id'].removeprefix('smrules-')}"
        assert hook["name"] and hook["description"]
    by_id = {h["id"]: h for h in hooks}
    # lint and test look at the whole policy; fmt rewrites exactly the files it is given.
    assert by_id["smrules-lint"]["pass_filenames"] is False
    assert by_id["smrules-test"]["pass_filenames"] is False
    assert by_id["smrules-fmt"].get("pass_filenames", True) is True


@pytest.mark.parametrize(
    ("hook", "path", "runs"),
    [
        ("smrules-fmt", "policies/main.smr", True),
        ("smrules-fmt", "policies/data/lexicon.yaml", False),
        ("smrules-lint", "policies/data/lexicon.yaml", True),
        ("smrules-lint", "policies/waivers.yaml", True),
        ("smrules-lint", "README.md", False),
        ("smrules-test", "policies/tests/main.test.yaml", True),
        ("smrules-test", "policies/data/tools.json", True),
        ("smrules-test", "src/app.py", False),
    ],
)
def test_hooks_run_for_the_files_that_matter(hook, path, runs):
    hooks = {h["id"]: h for h in yaml.safe_load(HOOKS_FILE.read_text(encoding="utf-8"))}
    assert bool(re.search(hooks[hook]["files"], path)) is runs


# ------------------------------------------------------------------------------- real runs


def test_real_pre_commit_run_passes_on_a_scaffolded_repository(
    tmp_path, hook_repo, pre_commit_home
):
    repo = scaffolded_repository(tmp_path / "policy-repo")
    result = try_repo(repo, hook_repo, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in ("smrules lint", "smrules fmt", "smrules test"):
        assert status_of(output, name) == "Passed"


def test_real_pre_commit_run_catches_bad_layout_and_failing_tests(
    tmp_path, hook_repo, pre_commit_home
):
    repo = scaffolded_repository(tmp_path / "policy-repo")
    policy = repo / "policies" / "main.smr"
    messy = policy.read_text(encoding="utf-8").replace("  severity high", "severity     high")
    policy.write_text(messy, encoding="utf-8")
    tests = repo / "policies" / "tests" / "main.test.yaml"
    wrong = tests.read_text(encoding="utf-8").replace("decision: deny", "decision: allow")
    tests.write_text(wrong, encoding="utf-8")
    commit_all(repo, "a messy edit with a wrong expectation")

    result = try_repo(repo, hook_repo, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert status_of(output, "smrules lint") == "Passed"
    assert status_of(output, "smrules fmt") == "Failed"
    assert "files were modified by this hook" in output
    assert status_of(output, "smrules test") == "Failed"
    assert "naming a confidential project is denied" in output
    # the formatter put the layout right, as a developer would then commit it
    assert "  severity high" in policy.read_text(encoding="utf-8")


def test_real_pre_commit_lint_hook_reports_a_broken_policy(tmp_path, hook_repo, pre_commit_home):
    repo = scaffolded_repository(tmp_path / "policy-repo")
    policy = repo / "policies" / "main.smr"
    policy.write_text(
        policy.read_text(encoding="utf-8").replace("content.text mentions", "content.txt mentions"),
        encoding="utf-8",
    )
    commit_all(repo, "a typo")
    result = try_repo(repo, hook_repo, pre_commit_home, "smrules-lint")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert status_of(output, "smrules lint") == "Failed"
    assert "error[unknown-field]" in output
    assert "Traceback" not in output
