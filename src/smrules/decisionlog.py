"""The decision log of the HTTP service: every decision it answered, in SQLite (SPEC §8).

One row per decision: its id, when the service made it, the activity id, the policy digest, the
decision, the rule ids of its findings, the findings and the full decision JSON (SPEC §4, with its
`decision_id`). The activity itself is not stored: drafts and messages stay out of the log.

Durability: the service must never answer a decision that is not in the log. `DecisionLog` has a
single writer thread. Callers hand it entries and block until the transaction holding them has
committed; entries that arrive while a commit is running go into the next transaction together
(group commit), so one fsync serves many concurrent requests. The database runs in WAL mode.
With `sync="full"` (the default, SQLite `synchronous=FULL`) the WAL is fsynced at every commit: a
decision that was answered survives the process being killed (SIGKILL), an OS crash and a power
loss. With `sync="normal"` a commit is a write to the WAL without fsync: answered decisions still
survive SIGKILL (the operating system holds the written data), but the last ones may be lost if
the machine itself goes down; the log is never corrupted either way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from .decision import Decision
from .errors import SmrulesError

DEFAULT_LOG_PATH = "smrules-decisions.db"
SCHEMA_VERSION = 1
DECISIONS = ("allow", "warn", "deny")
SYNC_MODES = ("full", "normal")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq           INTEGER PRIMARY KEY,
    decision_id   TEXT NOT NULL UNIQUE,
    made_at       TEXT NOT NULL,   -- when the service decided: RFC 3339, UTC, microseconds
    activity_id   TEXT,
    policy_digest TEXT NOT NULL,
    decision      TEXT NOT NULL CHECK (decision IN ('allow', 'warn', 'deny')),
    rules         TEXT NOT NULL,   -- JSON list: the rule id of each finding, in order
    findings      TEXT NOT NULL,   -- JSON list: the findings (SPEC section 4)
    document      TEXT NOT NULL    -- the decision JSON with its decision_id
);
CREATE INDEX IF NOT EXISTS decisions_made_at ON decisions (made_at);
"""

_INSERT = (
    "INSERT INTO decisions (decision_id, made_at, activity_id, policy_digest, decision, rules,"
    " findings, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class LogError(SmrulesError):
    """The decision log cannot be opened, read or written."""


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """One row of the decision log. `document` is the JSON the caller received."""

    decision_id: str
    made_at: str
    activity_id: str | None
    policy_digest: str
    decision: str
    rules: tuple[str, ...]
    findings: str  # JSON text
    document: str  # JSON text

    def to_dict(self) -> dict[str, object]:
        return json.loads(self.document)


def format_made_at(instant: dt.datetime) -> str:
    """Fixed width, so that text order in SQLite is time order."""
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_entry(decision: Decision, made_at: dt.datetime | None = None) -> LoggedDecision:
    """Give a decision its id and its JSON document (decision id first)."""
    decision_id = str(uuid.uuid4())
    body = {"decision_id": decision_id, **decision.to_dict()}
    return LoggedDecision(
        decision_id=decision_id,
        made_at=format_made_at(made_at or dt.datetime.now(dt.timezone.utc)),
        activity_id=decision.activity_id,
        policy_digest=decision.policy.digest,
        decision=decision.decision,
        rules=tuple(f.rule for f in decision.findings),
        findings=_dumps(body["findings"]),
        document=_dumps(body),
    )


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row(entry: LoggedDecision) -> tuple[object, ...]:
    return (
        entry.decision_id,
        entry.made_at,
        entry.activity_id,
        entry.policy_digest,
        entry.decision,
        _dumps(list(entry.rules)),
        entry.findings,
        entry.document,
    )


def _check_is_log(conn: sqlite3.Connection, path: Path, *, empty_ok: bool) -> None:
    """Raise `LogError` unless `conn` holds a decision log (or, with `empty_ok`, nothing yet)."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as err:
        raise LogError(f"`{path}` is not a smrules decision log: {err}") from None
    if version == SCHEMA_VERSION and "decisions" in tables:
        return
    if empty_ok and version == 0 and not tables:
        return
    if version > SCHEMA_VERSION:
        raise LogError(f"`{path}` was written by a newer smrules (log format {version})")
    raise LogError(f"`{path}` is an SQLite database but not a smrules decision log")


class DecisionLog:
    """The writing side: opened once by the service, one writer thread, group commit."""

    def __init__(self, path: str | os.PathLike[str], sync: str = "full") -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {SYNC_MODES}, not {sync!r}")
        self.path = Path(path)
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as err:
            raise LogError(f"cannot open decision log `{self.path}`: {err}") from None
        try:
            _check_is_log(conn, self.path, empty_ok=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={sync.upper()}")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as err:
            conn.close()
            raise LogError(f"cannot write decision log `{self.path}`: {err}") from None
        except LogError:
            conn.close()
            raise
        # Only the writer thread uses the connection from here on.
        self._conn = conn
        self._queue: queue.SimpleQueue[tuple[list[tuple[object, ...]], Future[None]] | None]
        self._queue = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()  # nothing is queued after the stop marker
        self._thread = threading.Thread(target=self._run, name="smrules-decision-log", daemon=True)
        self._thread.start()

    def append(self, entries: Sequence[LoggedDecision]) -> None:
        """Write entries and return once they are committed; raises `LogError` if they are not."""
        if not entries:
            return
        rows = [_row(e) for e in entries]
        done: Future[None] = Future()
        with self._lock:
            if self._closed:
                raise LogError("the decision log is closed")
            self._queue.put((rows, done))
        done.result()

    def close(self) -> None:
        """Commit what is queued, stop the writer and close the database."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while True:  # everything already waiting joins this transaction
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[tuple[list[tuple[object, ...]], Future[None]]]) -> None:
        try:
            self._insert([row for rows, _ in batch for row in rows])
        except sqlite3.Error as err:
            if len(batch) > 1:  # one bad request must not fail the others: retry one by one
                for item in batch:
                    self._commit([item])
                return
            failure = LogError(f"cannot write decision log `{self.path}`: {err}")
            batch[0][1].set_exception(failure)
            return
        except Exception as err:  # never leave a caller waiting for an answer
            for _, done in batch:
                done.set_exception(LogError(f"cannot write decision log `{self.path}`: {err}"))
            return
        for _, done in batch:
            done.set_result(None)

    def _insert(self, rows: list[tuple[object, ...]]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_INSERT, rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def read_decisions(
    path: str | os.PathLike[str],
    *,
    since: dt.datetime | None = None,
    decision: str | None = None,
    rule: str | None = None,
) -> Iterator[LoggedDecision]:
    """Decisions in the log in the order they were written, optionally filtered.

    `since` keeps decisions made at or after that instant, `decision` those with that answer,
    `rule` those with a finding of that rule (any finding, audit and waived ones included).
    Raises `LogError` when the file is missing or is not a decision log.
    """
    log_path = Path(path)
    if not log_path.is_file():
        raise LogError(f"decision log `{path}` does not exist")
    try:
        # Read-only: reading never creates or changes a log. WAL readers see every commit.
        conn = sqlite3.connect(log_path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise LogError(f"cannot open decision log `{path}`: {err}") from None
    try:
        _check_is_log(conn, log_path, empty_ok=False)
        where: list[str] = []
        params: list[object] = []
        if since is not None:
            where.append("made_at >= ?")
            params.append(format_made_at(since))
        if decision is not None:
            where.append("decision = ?")
            params.append(decision)
        if rule is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(decisions.rules) WHERE value = ?)")
            params.append(rule)
        sql = (
            "SELECT decision_id, made_at, activity_id, policy_digest, decision, rules, findings,"
            " document"
            " FROM decisions"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        try:
            for row in conn.execute(sql, params):
                yield LoggedDecision(
                    decision_id=row[0],
                    made_at=row[1],
                    activity_id=row[2],
                    policy_digest=row[3],
                    decision=row[4],
                    rules=tuple(json.loads(row[5])),
                    findings=row[6],
                    document=row[7],
                )
        except (sqlite3.DatabaseError, ValueError) as err:
            raise LogError(f"decision log `{path}` is damaged: {err}") from None
    finally:
        conn.close()
