"""The per-evaluation state that compiled closures read and write."""

from __future__ import annotations

import datetime as dt

UNSET = object()


class Ctx:
    """One evaluation of one activity. Never shared between threads."""

    __slots__ = ("act", "time", "lets", "vars", "var_paths", "evidence", "tokens", "cache")

    def __init__(self, act: dict, time: dt.datetime, n_lets: int, n_vars: int) -> None:
        self.act = act
        self.time = time
        self.lets: list[object] = [UNSET] * n_lets
        self.vars: list[object] = [None] * n_vars
        self.var_paths: list[str | None] = [None] * n_vars
        self.evidence: list[dict] | None = None  # a list only while collecting evidence
        self.tokens: dict[str, tuple] = {}  # words of each text, tokenised once
        self.cache: dict[object, object] = {}  # fused pattern scans and other per-text work
