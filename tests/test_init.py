"""`smrules init`: the scaffold loads, passes its own checks, and is never clobbered."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import smrules
from smrules.cli import main

FILES = [
    ".github/workflows/smrules.yml",
    ".pre-commit-config.yaml",
    "policies/data/lexicon.yaml",
    "policies/main.smr",
    "policies/tests/main.test.yaml",
]


def smrules_cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def scaffold(tmp_path) -> Path:
    root = tmp_path / "repo"
    result = smrules_cli("init", str(root))
    assert result.exit_code == 0, result.output
    return root


def test_init_writes_every_file_and_says_what_next(tmp_path):
    root = tmp_path / "new-policy"
    result = smrules_cli("init", str(root))
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == FILES
    for name in FILES:
        assert f"created {(root / name).as_posix()}" in result.output
    assert f"cd {root.as_posix()} && smrules test --coverage" in result.output


def test_scaffolded_policy_loads_with_two_rules(scaffold):
    policy = smrules.load(scaffold / "policies")
    assert policy.name == "social_media"
    assert [r.id for r in policy.rules] == ["no_confidential_projects", "disclose_affiliation"]
    assert {r.effect for r in policy.rules} == {"deny", "warn"}
    act = {
        "kind": "post",
        "actor": {"id": "e1"},
        "account": {"type": "personal"},
        "content": {"text": "Bluebird ships soon"},
    }
    assert policy.evaluate(act).decision == "deny"


def test_scaffolded_tests_pass_with_full_coverage(scaffold):
    result = smrules_cli("test", "--coverage", "--min-coverage", "100", str(scaffold))
    assert result.exit_code == 0, result.output
    assert "5 passed, 0 failed" in result.output


def test_scaffolded_test_file_fixes_now(scaffold):
    tests = yaml.safe_load((scaffold / "policies/tests/main.test.yaml").read_text())
    assert tests["now"]
    assert tests["policy"] == ".."


def test_scaffold_is_lint_clean_and_formatted(scaffold):
    lint = smrules_cli("lint", "--strict", str(scaffold / "policies"))
    assert lint.exit_code == 0, lint.output
    fmt = smrules_cli("fmt", "--check", str(scaffold / "policies"))
    assert fmt.exit_code == 0, fmt.output


def test_ci_workflow_runs_lint_fmt_and_test_and_every_step_passes(scaffold, monkeypatch):
    workflow = yaml.safe_load((scaffold / ".github/workflows/smrules.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    commands = [shlex.split(s["run"]) for s in steps if "run" in s]
    smrules_commands = [c[1:] for c in commands if c[0] == "smrules"]
    assert [c[0] for c in smrules_commands] == ["lint", "fmt", "test"]
    assert "--check" in smrules_commands[1]
    assert "--coverage" in smrules_commands[2]
    install = next(c for c in commands if c[0] == "python")
    assert install[-1] == f"smrules=={smrules.__version__}"
    monkeypatch.chdir(scaffold)  # steps run from the repository root, as in CI
    for args in smrules_commands:
        result = smrules_cli(*args)
        assert result.exit_code == 0, (args, result.output)


def test_pre_commit_config_names_the_three_hooks(scaffold):
    config = yaml.safe_load((scaffold / ".pre-commit-config.yaml").read_text())
    hooks = [h for repo in config["repos"] for h in repo["hooks"]]
    assert [h["id"] for h in hooks] == ["smrules-lint", "smrules-fmt", "smrules-test"]
    assert all(h["entry"].startswith("smrules ") for h in hooks)


def test_init_defaults_to_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = smrules_cli("init")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "policies/main.smr").is_file()
    assert "Next: smrules test --coverage" in result.output


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path):
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    (root / "policies/main.smr").write_text("# mine\n")
    result = CliRunner().invoke(main, ["init", str(root)])
    assert result.exit_code == 1
    assert "not overwriting existing files" in result.output
    assert "  policies/main.smr" in result.output
    assert "--force" in result.output
    assert (root / "policies/main.smr").read_text() == "# mine\n"
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["main.smr"]


def test_init_force_overwrites(tmp_path):
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    (root / "policies/main.smr").write_text("# mine\n")
    result = smrules_cli("init", "--force", str(root))
    assert result.exit_code == 0, result.output
    assert "rule no_confidential_projects" in (root / "policies/main.smr").read_text()


def test_init_into_a_file_is_a_usage_error(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 2
    assert "is a file" in result.output


def test_init_into_an_unwritable_place_exits_3_without_traceback(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a directory is needed")
    result = CliRunner().invoke(main, ["init", str(blocked / "repo")])
    assert result.exit_code == 3
    assert "smrules init: cannot write" in result.output
    assert "Traceback" not in result.output
