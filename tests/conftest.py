"""Shared fixtures: write a policy into a temporary directory and load it."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import textwrap
from pathlib import Path

import pytest

import smrules

# Keep the suite's policy cache out of the user's home (subprocesses inherit it too).
os.environ.setdefault("SMRULES_CACHE_DIR", tempfile.mkdtemp(prefix="smrules-test-cache-"))

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)


def write_policy(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def make_policy(tmp_path):
    """`make_policy("rule r { ... }", **{"data/x.yaml": "..."})` -> a loaded Policy."""

    def make(source: str = "", files: dict[str, str] | None = None, **extra: str):
        root = tmp_path / "policy"
        all_files = {"main.smr": source, **(files or {}), **extra}
        write_policy(root, all_files)
        return smrules.load(root)

    return make


@pytest.fixture
def value_of(make_policy):
    """Evaluate one expression against an activity: `value_of("len(content.text)", act)`."""

    def value(
        expr: str,
        activity: dict | None = None,
        source: str = "",
        files=None,
        now: dt.datetime = NOW,
    ):
        policy = make_policy(source or "let unused_marker = 1", files)
        act = {"kind": "post", "actor": {"id": "e1"}}
        if activity:
            act.update(activity)
        return policy.expression(expr)(act, now)

    return value


def load_error(exc: pytest.ExceptionInfo) -> list[tuple[str, str, int, int]]:
    return [
        (d.code, d.message, d.span.line if d.span else 0, d.span.column if d.span else 0)
        for d in exc.value.diagnostics
    ]
