"""The SQLite decision log: what is written, how it is read back, and what it refuses."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path

import pytest

import smrules
from smrules.decisionlog import (
    DecisionLog,
    LogError,
    format_made_at,
    new_entry,
    read_decisions,
)

FIXTURE = Path(__file__).parent / "fixtures" / "server" / "policy"
T0 = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def policy() -> smrules.Policy:
    return smrules.load(FIXTURE)


def decide(policy: smrules.Policy, text: str, activity_id: str | None = None):
    activity: dict[str, object] = {"kind": "post", "actor": {"id": "e1"}, "content": {"text": text}}
    if activity_id:
        activity["id"] = activity_id
    return policy.evaluate(activity, now=T0)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "decisions.db"


def test_entry_is_the_decision_json_with_its_id_first(policy) -> None:
    decision = decide(policy, "a secret maybe", "d-1")
    entry = new_entry(decision, made_at=T0)
    body = json.loads(entry.document)
    assert list(body)[0] == "decision_id"
    assert body == {"decision_id": entry.decision_id, **decision.to_dict()}
    assert entry.made_at == "2026-11-16T08:00:00.000000Z"
    assert entry.activity_id == "d-1"
    assert entry.decision == "deny"
    assert entry.rules == ("no_secrets", "careful_words")
    assert entry.policy_digest == policy.digest
    assert json.loads(entry.findings) == body["findings"]
    assert new_entry(decision).decision_id != entry.decision_id


def test_made_at_sorts_as_text_in_time_order() -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    a = format_made_at(dt.datetime(2026, 11, 16, 9, 0, 0, 5, tzinfo=berlin))  # 08:00 UTC
    b = format_made_at(dt.datetime(2026, 11, 16, 8, 0, 1, tzinfo=dt.timezone.utc))
    assert a == "2026-11-16T08:00:00.000005Z"
    assert a < b


def test_round_trip_with_every_column(policy, log_path: Path) -> None:
    log = DecisionLog(log_path)
    entries = [new_entry(decide(policy, t, f"a{i}")) for i, t in enumerate(["hi", "secret"])]
    log.append(entries)
    log.close()
    assert list(read_decisions(log_path)) == entries
    with sqlite3.connect(log_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = conn.execute(
            "SELECT decision_id, activity_id, policy_digest, decision, rules, findings"
            " FROM decisions ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert row[0] == entries[1].decision_id
    assert row[1:4] == ("a1", policy.digest, "deny")
    assert json.loads(row[4]) == ["no_secrets"]
    assert json.loads(row[5])[0]["rule"] == "no_secrets"


def test_reopening_appends_to_the_same_log(policy, log_path: Path) -> None:
    for text in ("one", "two"):
        log = DecisionLog(log_path)
        log.append([new_entry(decide(policy, text))])
        log.close()
    assert len(list(read_decisions(log_path))) == 2


def test_appended_entries_are_readable_while_the_writer_is_open(policy, log_path: Path) -> None:
    log = DecisionLog(log_path)
    try:
        entry = new_entry(decide(policy, "hello"))
        log.append([entry])
        # A second connection (another process in real life) sees the commit at once.
        assert [e.decision_id for e in read_decisions(log_path)] == [entry.decision_id]
    finally:
        log.close()


def test_concurrent_appends_are_all_committed_in_order_per_thread(policy, log_path: Path) -> None:
    log = DecisionLog(log_path)
    decision = decide(policy, "maybe")
    written: dict[int, list[str]] = {}

    def work(n: int) -> None:
        ids = written.setdefault(n, [])
        for i in range(40):
            batch = [new_entry(decision) for _ in range(1 + i % 3)]
            log.append(batch)
            ids.extend(e.decision_id for e in batch)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    log.close()
    stored = [e.decision_id for e in read_decisions(log_path)]
    assert len(stored) == len(set(stored)) == sum(len(v) for v in written.values())
    position = {d: i for i, d in enumerate(stored)}
    for ids in written.values():  # what one caller wrote in sequence stays in sequence
        assert [position[d] for d in ids] == sorted(position[d] for d in ids)


def test_a_failed_write_is_reported_and_does_not_fail_other_callers(policy, log_path) -> None:
    log = DecisionLog(log_path)
    entry = new_entry(decide(policy, "hi"))
    log.append([entry])
    with pytest.raises(LogError):
        log.append([entry])  # the same decision id again: the insert fails
    fresh = new_entry(decide(policy, "hi"))
    log.append([fresh])
    log.close()
    assert [e.decision_id for e in read_decisions(log_path)] == [
        entry.decision_id,
        fresh.decision_id,
    ]


def test_closing_under_load_never_leaves_a_caller_waiting(policy, log_path: Path) -> None:
    log = DecisionLog(log_path)
    decision = decide(policy, "hi")
    committed: list[str] = []
    refused = []

    def work() -> None:
        while True:  # until the log refuses
            entry = new_entry(decision)
            try:
                log.append([entry])
            except LogError:
                refused.append(entry)
                return
            committed.append(entry.decision_id)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    while len(committed) < 50:
        threading.Event().wait(0.001)
    log.close()
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive(), "an append is still waiting after close"
    assert len(refused) == 6  # every caller ends with a refusal, none with a hang
    stored = {e.decision_id for e in read_decisions(log_path)}
    assert set(committed) <= stored
    assert not {e.decision_id for e in refused} & stored


@pytest.mark.parametrize("sync, level", [("full", 2), ("normal", 1)])
def test_sync_modes(policy, log_path: Path, sync: str, level: int) -> None:
    log = DecisionLog(log_path, sync=sync)
    try:
        # The writer's connection is private; its setting is visible through the pragma.
        assert log._conn.execute("PRAGMA synchronous").fetchone()[0] == level
        log.append([new_entry(decide(policy, "hi"))])
    finally:
        log.close()
    assert len(list(read_decisions(log_path))) == 1


def test_an_unknown_sync_mode_is_refused(log_path: Path) -> None:
    with pytest.raises(ValueError, match="sync"):
        DecisionLog(log_path, sync="off")
    assert not log_path.exists()


def test_append_after_close_raises_and_close_is_idempotent(policy, log_path: Path) -> None:
    log = DecisionLog(log_path)
    log.close()
    log.close()
    with pytest.raises(LogError, match="closed"):
        log.append([new_entry(decide(policy, "hi"))])
    log.append([])  # nothing to write is not an error


@pytest.fixture
def filled(policy, log_path: Path) -> Path:
    log = DecisionLog(log_path)
    plan = [
        ("2026-11-01T10:00:00Z", "hello", "a"),
        ("2026-11-02T10:00:00Z", "a secret", "b"),
        ("2026-11-03T10:00:00Z", "maybe", "c"),
        ("2026-11-04T10:00:00Z", "secret maybe", "d"),
    ]
    for made_at, text, activity_id in plan:
        instant = dt.datetime.fromisoformat(made_at.replace("Z", "+00:00"))
        log.append([new_entry(decide(policy, text, activity_id), made_at=instant)])
    log.close()
    return log_path


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({}, ["a", "b", "c", "d"]),
        ({"decision": "deny"}, ["b", "d"]),
        ({"decision": "warn"}, ["c"]),
        ({"decision": "allow"}, ["a"]),
        ({"rule": "careful_words"}, ["c", "d"]),
        ({"rule": "no_secrets", "decision": "deny"}, ["b", "d"]),
        ({"rule": "nonexistent"}, []),
        ({"since": dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.timezone.utc)}, ["c", "d"]),
        ({"since": dt.datetime(2026, 11, 3, 11, 0, tzinfo=dt.timezone.utc)}, ["d"]),
        # An offset is converted: 11:30 in UTC+2 is 09:30 UTC.
        (
            {"since": dt.datetime(2026, 11, 3, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))},
            ["c", "d"],
        ),
        (
            {
                "since": dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc),
                "rule": "careful_words",
                "decision": "warn",
            },
            ["c"],
        ),
    ],
)
def test_filters(filled: Path, filters: dict, expected: list[str]) -> None:
    assert [e.activity_id for e in read_decisions(filled, **filters)] == expected


def test_a_missing_log_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="does not exist"):
        list(read_decisions(tmp_path / "nope.db"))
    assert not (tmp_path / "nope.db").exists()


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"garbage, not a database " * 200)
    with pytest.raises(LogError, match="not a smrules decision log"):
        list(read_decisions(path))
    with pytest.raises(LogError, match="not a smrules decision log"):
        DecisionLog(path)
    assert path.read_bytes().startswith(b"garbage")  # left untouched


def test_another_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(LogError, match="not a smrules decision log"):
        DecisionLog(path)
    with pytest.raises(LogError, match="not a smrules decision log"):
        list(read_decisions(path))


def test_an_empty_sqlite_file_is_not_a_log_to_read(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(LogError, match="not a smrules decision log"):
        list(read_decisions(path))


def test_a_log_from_a_newer_version_is_refused(tmp_path: Path, log_path: Path) -> None:
    DecisionLog(log_path).close()
    with sqlite3.connect(log_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(LogError, match="newer smrules"):
        DecisionLog(log_path)


def test_a_damaged_row_is_reported(policy, log_path: Path) -> None:
    log = DecisionLog(log_path)
    log.append([new_entry(decide(policy, "hi"))])
    log.close()
    with sqlite3.connect(log_path) as conn:
        conn.execute("UPDATE decisions SET rules = 'not json'")
    with pytest.raises(LogError, match="damaged"):
        list(read_decisions(log_path))


def test_an_unwritable_place_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="cannot open"):
        DecisionLog(tmp_path / "no" / "such" / "dir" / "log.db")
