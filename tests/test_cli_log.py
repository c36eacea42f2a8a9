"""`smrules log export` and `smrules log show`."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import smrules
from smrules.cli import main
from smrules.decisionlog import DecisionLog, new_entry
from smrules.schemas import validator

FIXTURE = Path(__file__).parent / "fixtures" / "server" / "policy"
UTC = dt.timezone.utc
PLAN = [
    # made at (UTC), text, activity id
    (dt.datetime(2026, 11, 1, 10, 0, tzinfo=UTC), "hello", "a"),
    (dt.datetime(2026, 11, 2, 10, 0, tzinfo=UTC), "a secret", "b"),
    (dt.datetime(2026, 11, 3, 10, 0, tzinfo=UTC), "maybe", "c"),
    (dt.datetime(2026, 11, 4, 10, 0, tzinfo=UTC), "secret maybe", None),
]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    policy = smrules.load(FIXTURE)
    path = tmp_path / "decisions.db"
    log = DecisionLog(path)
    for made_at, text, activity_id in PLAN:
        activity: dict[str, object] = {
            "kind": "post",
            "actor": {"id": "e1"},
            "content": {"text": text},
        }
        if activity_id:
            activity["id"] = activity_id
        log.append([new_entry(policy.evaluate(activity, now=made_at), made_at=made_at)])
    log.close()
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def exported(path: Path, *options: str) -> list[dict]:
    code, out, _ = run("log", "export", "--log", str(path), *options)
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_export_writes_one_decision_json_per_line(log_path: Path) -> None:
    lines = exported(log_path)
    assert [d["activity_id"] for d in lines] == ["a", "b", "c", None]
    assert [d["decision"] for d in lines] == ["allow", "deny", "warn", "deny"]
    schema = validator("decision")
    for decision in lines:
        schema.validate(decision)  # SPEC §4 form, with its decision_id
        assert decision["decision_id"]
    assert lines[1]["findings"][0]["rule"] == "no_secrets"
    assert lines[1]["time"] == "2026-11-02T10:00:00Z"


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--decision", "deny"], ["b", None]),
        (["--decision", "allow"], ["a"]),
        (["--rule", "careful_words"], ["c", None]),
        (["--rule", "no_secrets", "--decision", "deny"], ["b", None]),
        (["--rule", "unknown_rule"], []),
        (["--since", "2026-11-03T10:00:00Z"], ["c", None]),
        (["--since", "2026-11-03T12:00:00+02:00"], ["c", None]),
        (["--since", "2026-11-03T12:00:01+02:00"], [None]),
        (["--since", "2026-11-02"], ["b", "c", None]),
        (["--since", "2026-11-02", "--decision", "warn"], ["c"]),
    ],
)
def test_export_filters(log_path: Path, options: list[str], expected: list) -> None:
    assert [d["activity_id"] for d in exported(log_path, *options)] == expected


def test_show_prints_a_table(log_path: Path) -> None:
    code, out, err = run("log", "show", "--log", str(log_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "MADE",
        "AT",
        "(UTC)",
        "DECISION",
        "ACTIVITY",
        "RULES",
        "DECISION",
        "ID",
    ]
    assert len(lines) == 5
    assert lines[2].startswith("2026-11-02 10:00:00  deny")
    assert "no_secrets" in lines[2]
    assert "no_secrets, careful_words" in lines[4]
    ids = [d["decision_id"] for d in exported(log_path)]
    for line, decision_id in zip(lines[1:], ids, strict=True):
        assert line.endswith(decision_id)
    assert "4 decisions" in err


def test_show_uses_the_same_filters(log_path: Path) -> None:
    code, out, _ = run("log", "show", "--log", str(log_path), "--rule", "careful_words")
    assert code == 0
    rows = out.splitlines()[1:]
    assert [r.split()[2] for r in rows] == ["warn", "deny"]


def test_show_with_nothing_matching(log_path: Path) -> None:
    code, out, err = run("log", "show", "--log", str(log_path), "--since", "2030-01-01")
    assert code == 0
    assert out == ""
    assert "no decisions match" in err


def test_export_of_an_empty_log_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    DecisionLog(path).close()
    code, out, _ = run("log", "export", "--log", str(path))
    assert (code, out) == (0, "")


@pytest.mark.parametrize("sub", ["export", "show"])
def test_a_missing_log_is_exit_3(tmp_path: Path, sub: str) -> None:
    code, out, err = run("log", sub, "--log", str(tmp_path / "nope.db"))
    assert code == 3
    assert out == ""
    assert "does not exist" in err


@pytest.mark.parametrize("sub", ["export", "show"])
def test_a_corrupt_log_is_exit_3(tmp_path: Path, sub: str) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"\x00\x01 definitely not sqlite " * 100)
    code, _, err = run("log", sub, "--log", str(path))
    assert code == 3
    assert "not a smrules decision log" in err


def test_a_truncated_log_is_exit_3(log_path: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "truncated.db"
    damaged.write_bytes(log_path.read_bytes()[:1500])
    code, _, err = run("log", "export", "--log", str(damaged))
    assert code == 3
    assert "Error:" in err


def test_another_database_is_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    code, _, err = run("log", "export", "--log", str(path))
    assert code == 3
    assert "not a smrules decision log" in err


@pytest.mark.parametrize(
    "options",
    [
        ["--since", "yesterday"],
        ["--since", "2026-11-03T10:00:00"],  # an instant needs an offset
        ["--since", "2026-13-01"],
        ["--decision", "maybe"],
    ],
)
def test_bad_options_are_usage_errors(log_path: Path, options: list[str]) -> None:
    code, _, err = run("log", "export", "--log", str(log_path), *options)
    assert code == 2
    assert "Invalid value" in err


def test_help(log_path: Path) -> None:
    for sub in ("export", "show"):
        code, out, _ = run("log", sub, "--help")
        assert code == 0
        for option in ("--log", "--since", "--decision", "--rule"):
            assert option in out


def test_show_streams_long_logs_at_the_widths_of_the_first_rows(log_path, monkeypatch) -> None:
    import smrules.commands.log as log_command

    monkeypatch.setattr(log_command, "FIRST_PAGE", 2)
    code, out, err = run("log", "show", "--log", str(log_path))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 5
    # Rows after the first page keep the columns: the long rule list is shortened to fit.
    assert "no_secrets, careful_words" not in lines[4]
    assert "no_secret…" in lines[4]
    ids = [d["decision_id"] for d in exported(log_path)]
    for line, decision_id in zip(lines[1:], ids, strict=True):
        assert line.index(decision_id) == lines[1].index(ids[0])
    assert "4 decisions" in err
