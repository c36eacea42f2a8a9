"""`smrules lint`: errors and warnings of a policy in four formats, and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from smrules.cli import main
from smrules.diagnose import diagnose_policy, github_annotation
from smrules.errors import Diagnostic, Span

FIXTURES = Path(__file__).parent / "fixtures" / "cli"

CLEAN = """
policy clean { default allow }
rule no_secrets {
  risk security
  when content.text mentions "password"
  deny "Never post passwords."
}
"""

WITH_ERRORS = {
    "a.smr": """
        rule one {
          when content.txt == "x"
          deny "typo in a field"
        }
        """,
    "b.smr": """
        rule two {
          when content.text matches /(unclosed/
          warn "bad regex"
        }
        rule one { deny "again" }
        """,
}

WITH_WARNINGS = """
rule odd_risk {
  risk gossip
  when kind == "post"
  warn "Careful."
}
"""


def policy(tmp_path: Path, files: dict[str, str] | str, name: str = "pol") -> str:
    root = tmp_path / name
    root.mkdir()
    if isinstance(files, str):
        files = {"main.smr": files}
    for file, text in files.items():
        path = root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(root)


def lint(*args: str):
    result = CliRunner().invoke(main, ["lint", *args])
    assert "Traceback" not in result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


# ---------------------------------------------------------------------------- exit codes


def test_clean_policy_exits_0(tmp_path):
    path = policy(tmp_path, CLEAN)
    result = lint(path)
    assert result.exit_code == 0
    assert result.stdout == f"{path}: no problems found\n"


def test_errors_in_every_file_are_reported_at_once_and_exit_1(tmp_path):
    path = policy(tmp_path, WITH_ERRORS)
    result = lint(path)
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    i = out.index(
        "a.smr:2:8: error[unknown-field]: unknown activity field `content.txt`; "
        "did you mean `text`?"
    )
    assert out[i + 1] == '   2 |   when content.txt == "x"'
    assert out[i + 2] == "              ^^^^^^^^^^^"
    assert any(line.startswith("b.smr:2:29: error[bad-regex]: ") for line in out)
    assert any(line.startswith("b.smr:5:6: error[duplicate-rule]: ") for line in out)
    assert out[-1] == f"{path}: 3 errors"


def test_warnings_exit_0_unless_strict(tmp_path):
    path = policy(tmp_path, WITH_WARNINGS)
    result = lint(path)
    assert result.exit_code == 0
    assert "main.smr:2:8: warning[unknown-risk]: unknown risk `gossip`" in result.stdout
    assert result.stdout.endswith(f"{path}: 1 warning\n")
    assert lint("--strict", path).exit_code == 1


def test_missing_path_exits_3(tmp_path):
    result = lint(str(tmp_path / "nope"))
    assert result.exit_code == 3
    assert "error[policy-not-found]" in result.stdout


def test_unreadable_path_exits_3(tmp_path, monkeypatch):
    path = policy(tmp_path, CLEAN)
    monkeypatch.setattr("os.access", lambda *_args, **_kw: False)
    result = lint(path)
    assert result.exit_code == 3
    assert f"error[unreadable-policy]: cannot read `{path}`" in result.stdout


def test_broken_files_are_lint_errors_not_unreadable(tmp_path):
    path = policy(tmp_path, {"main.smr": 'import "d.yaml" as d\nrule r { deny "x" }\n'})
    (Path(path) / "d.yaml").write_text("a: [1\n", encoding="utf-8")
    (Path(path) / "bin.smr").write_bytes(b"rule \x00\x01")
    result = lint(path)
    assert result.exit_code == 1
    assert "error[binary-file]: `bin.smr` is a binary file" in result.stdout
    assert "d.yaml:2:1: error[yaml]: invalid YAML" in result.stdout


def test_empty_directory_is_a_lint_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = lint(str(tmp_path / "empty"))
    assert result.exit_code == 1
    assert "error[empty-policy]" in result.stdout


def test_single_smr_file(tmp_path):
    path = policy(tmp_path, WITH_WARNINGS)
    result = lint(str(Path(path) / "main.smr"))
    assert result.exit_code == 0
    assert "warning[unknown-risk]" in result.stdout


def test_default_path_is_policies_in_the_current_directory(tmp_path, monkeypatch):
    policy(tmp_path, WITH_ERRORS, name="policies")
    monkeypatch.chdir(tmp_path)
    result = lint()
    assert result.exit_code == 1
    assert result.stdout.endswith("policies: 3 errors\n")


def test_usage_errors_exit_2(tmp_path):
    assert lint("--format", "xml", str(tmp_path)).exit_code == 2
    assert lint(str(tmp_path), str(tmp_path)).exit_code == 2


# ---------------------------------------------------------------------------- formats


def test_json_format(tmp_path):
    path = policy(tmp_path, WITH_ERRORS)
    result = lint("--format", "json", path)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["policy"] == path
    assert (data["errors"], data["warnings"]) == (3, 0)
    first = data["diagnostics"][0]
    assert first == {
        "code": "unknown-field",
        "severity": "error",
        "message": "unknown activity field `content.txt`; did you mean `text`?",
        "help": first["help"],
        "file": "a.smr",
        "line": 2,
        "column": 8,
    }


def test_json_format_clean(tmp_path):
    data = json.loads(lint("-f", "json", policy(tmp_path, CLEAN)).stdout)
    assert data["diagnostics"] == [] and data["errors"] == 0


def test_github_format_annotates_files_relative_to_the_current_directory(tmp_path, monkeypatch):
    policy(tmp_path, WITH_ERRORS)
    policy(tmp_path, WITH_WARNINGS, name="warned")
    monkeypatch.chdir(tmp_path)
    errors = lint("--format", "github", "pol")
    assert errors.exit_code == 1
    lines = errors.stdout.splitlines()
    assert lines[0].startswith(
        "::error file=pol/a.smr,line=2,col=8,endLine=2,endColumn=19,title=smrules unknown-field::"
        "unknown activity field `content.txt`; did you mean `text`?%0Ahelp: "
    )
    assert lines[-1] == "pol: 3 errors"
    warned = lint("--format", "github", "warned")
    assert warned.stdout.startswith("::warning file=warned/main.smr,line=2,col=8,")


def test_github_annotation_escapes_properties_and_data():
    diag = Diagnostic("syntax", "50% done\nnext, line", Span("a,b:c.smr", 3, 4), help="try: this")
    line = github_annotation(diag, ".")
    assert line == (
        "::error file=a%2Cb%3Ac.smr,line=3,col=4,title=smrules syntax::"
        "50%25 done%0Anext, line%0Ahelp: try: this"
    )
    assert github_annotation(Diagnostic("policy-not-found", "gone"), ".") == (
        "::error title=smrules policy-not-found::gone"
    )


def test_sarif_format(tmp_path, monkeypatch):
    policy(tmp_path, WITH_ERRORS)
    monkeypatch.chdir(tmp_path)
    result = lint("--format", "sarif", "pol")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "smrules" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    assert set(rule_ids) == {"unknown-field", "bad-regex", "duplicate-rule"}
    assert len(run["results"]) == 3
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] == "error"
        assert res["message"]["text"]
        [loc] = res["locations"]
        physical = loc["physicalLocation"]
        assert physical["artifactLocation"]["uri"] in ("pol/a.smr", "pol/b.smr")
        region = physical["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    first = run["results"][0]
    assert first["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 2,
        "startColumn": 8,
        "endLine": 2,
        "endColumn": 19,
    }


def test_sarif_validates_against_the_sarif_shape(tmp_path):
    """The parts of the SARIF 2.1.0 schema that code scanning relies on."""
    jsonschema = pytest.importorskip("jsonschema")
    shape = {
        "type": "object",
        "required": ["version", "runs"],
        "properties": {
            "version": {"const": "2.1.0"},
            "runs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["tool", "results"],
                    "properties": {
                        "tool": {
                            "type": "object",
                            "required": ["driver"],
                            "properties": {
                                "driver": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {"rules": {"type": "array"}},
                                }
                            },
                        },
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["ruleId", "message"],
                                "properties": {
                                    "level": {"enum": ["none", "note", "warning", "error"]},
                                    "message": {"type": "object", "required": ["text"]},
                                },
                            },
                        },
                    },
                },
            },
        },
    }
    for files in (WITH_ERRORS, WITH_WARNINGS, CLEAN):
        root = policy(tmp_path, files, name=f"p{len(list(tmp_path.iterdir()))}")
        jsonschema.validate(json.loads(lint("-f", "sarif", root).stdout), shape)


def test_sarif_missing_path_has_a_result_without_location(tmp_path):
    result = lint("-f", "sarif", str(tmp_path / "nope"))
    assert result.exit_code == 3
    [res] = json.loads(result.stdout)["runs"][0]["results"]
    assert res["ruleId"] == "policy-not-found" and "locations" not in res


# ---------------------------------------------------------------------------- the library


def test_diagnose_policy_returns_sources_by_file_name(tmp_path):
    path = policy(tmp_path, WITH_ERRORS)
    diagnostics, sources = diagnose_policy(path)
    assert [d.code for d in diagnostics] == ["unknown-field", "bad-regex", "duplicate-rule"]
    assert set(sources) == {"a.smr", "b.smr"}


def test_without_the_warnings_module_lint_reports_errors_only(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "smrules.lint", None)  # importing it fails
    diagnostics, _ = diagnose_policy(policy(tmp_path, WITH_WARNINGS))
    assert diagnostics == []


def test_lint_in_a_subprocess(tmp_path):
    path = policy(tmp_path, WITH_ERRORS)
    proc = subprocess.run(
        [sys.executable, "-m", "smrules", "lint", path], capture_output=True, timeout=120
    )
    assert proc.returncode == 1
    assert b"a.smr:2:8: error[unknown-field]" in proc.stdout
    assert b"Traceback" not in proc.stderr


def test_fixture_policies_lint_clean():
    for name in ("policy", "fields"):
        assert lint(str(FIXTURES / name)).exit_code == 0, name


def test_one_diagnostic_per_code_and_place_keeping_the_suggestion(tmp_path):
    path = policy(tmp_path, 'rule r {\n  when lenght(content.text) > 5\n  deny "x"\n}\n')
    result = lint(path)
    found = [line for line in result.stdout.splitlines() if "error[unknown-function]" in line]
    assert found == [
        "main.smr:2:8: error[unknown-function]: unknown function `lenght`; did you mean `len`?"
    ]


def test_warnings_in_test_files_show_their_line(tmp_path):
    path = policy(
        tmp_path,
        {
            "main.smr": 'rule late {\n  when hour(time) >= 22\n  warn "late"\n}\n',
            "late.test.yaml": "cases:\n  - name: day\n    activity: {kind: post, actor: {id: a}}\n"
            "    expect: {decision: allow}\n",
        },
    )
    out = lint(path).stdout.splitlines()
    i = next(i for i, line in enumerate(out) if "warning[test-without-now]" in line)
    assert out[i].startswith("late.test.yaml:2:5: ")
    assert out[i + 1] == "   2 |   - name: day"
