"""Fused regex scans: the constant patterns that test the same field, searched in one pass.

Every `matches` whose pattern is known at load time registers with the group of its subject
(e.g. all patterns on `content.text`). The first `matches` evaluated on a string runs one RE2
`Set` scan over the whole group and caches which patterns matched, so twelve rules testing the
post text cost one scan, not twelve. Texts longer than `FUSED_MAX_CHARS` are searched pattern by
pattern: RE2's plain search falls back to its NFA when its DFA runs out of memory, a `Set` scan
cannot, so hostile long inputs never turn a match into a silent miss.
"""

from __future__ import annotations

import itertools

import re2

from .runtime import Ctx

CHUNK = 32  # patterns per RE2 Set: keeps each DFA small
FUSED_MAX_CHARS = 16 * 1024
REMEMBER_MAX_CHARS = 64  # strings this short have their hits remembered across evaluations
REMEMBER_MAX_STRINGS = 4096  # per group; the table starts afresh when full
_ids = itertools.count()
_NOTHING: frozenset[int] = frozenset()


def _set_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 64 << 20
    return options


class PatternGroup:
    """The compiled patterns that search one kind of subject string."""

    __slots__ = ("key", "sources", "compiled", "_sets", "_remembered")

    def __init__(self) -> None:
        self.key = ("patterns", next(_ids))
        self.sources: list[str] = []
        self.compiled: list[object] = []
        self._sets: list[tuple[object, int]] | None = None
        self._remembered: dict[str, frozenset[int]] = {}

    def add(self, source: str, compiled: object) -> int:
        """Register one pattern (its inline-flag source and compiled form); returns its index."""
        self.sources.append(source)
        self.compiled.append(compiled)
        self._sets = None
        self._remembered = {}  # remembered hits lack the new pattern
        return len(self.sources) - 1

    def finalize(self) -> list[tuple[object, int]]:
        sets = []
        for offset in range(0, len(self.sources), CHUNK):
            chunk = re2.Set.SearchSet(_set_options())
            for source in self.sources[offset : offset + CHUNK]:
                chunk.Add(source)
            chunk.Compile()
            # The wrapper's `Match` only encodes str arguments; ours are bytes already.
            sets.append((getattr(chunk, "_set", chunk), offset))
        self._sets = sets
        return sets

    def scan(self, c: Ctx, s: str) -> frozenset[int]:
        """Indices of the group's patterns found in `s`, once per string per evaluation."""
        key = (self.key, s)
        hit = c.cache.get(key)
        if hit is None:
            hit = self.hits(s)
            c.cache[key] = hit
        return hit  # type: ignore[return-value]

    def hits(self, s: str) -> frozenset[int]:
        """Indices of the group's patterns found in `s`.

        Short strings (domains, file names, handles) recur from one activity to the next, so
        their hits are remembered, in a bounded table shared by every evaluation.
        """
        if len(s) > REMEMBER_MAX_CHARS:
            return self._search(s, self._sets)
        remembered = self._remembered  # taken first: `add` replaces it, and then the sets
        found = remembered.get(s)
        if found is None:
            found = self._search(s, self._sets)
            if len(remembered) >= REMEMBER_MAX_STRINGS:
                remembered.clear()
            remembered[s] = found
        return found

    def _search(self, s: str, sets: list[tuple[object, int]] | None) -> frozenset[int]:
        if len(s) > FUSED_MAX_CHARS:
            return frozenset(i for i, p in enumerate(self.compiled) if p.search(s) is not None)
        if sets is None:  # a pattern was added since (an expression compiled later): rebuild
            sets = self.finalize()
        data = s.encode("utf-8")
        if len(sets) == 1:
            matched = sets[0][0].Match(data)  # type: ignore[attr-defined]
            return frozenset(matched) if matched else _NOTHING
        found: list[int] = []
        for chunk, offset in sets:
            matched = chunk.Match(data)  # type: ignore[attr-defined]
            if matched:
                found.extend(offset + i for i in matched)
        return frozenset(found)


# The extension's search, which the `re2` wrapper's `finditer` drives from Python: calling it
# directly finds a pattern's matches several times faster (no generator, no match objects).
_raw_re2 = getattr(re2, "_re2", None)
_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)


def add_match_spans(
    pattern: object, subject: str, spans: list[tuple[int, int]], limit: int
) -> None:
    """Append the code-point spans of the non-empty matches of `pattern` in `subject` to
    `spans`, in the order `pattern.finditer(subject)` finds them, stopping once `spans` holds
    more than `limit`."""
    raw = getattr(pattern, "_regexp", None)
    if raw is None or _raw_re2 is None or _UNANCHORED is None:
        _add_finditer_spans(pattern, subject, spans, limit)
        return
    try:
        data = subject.encode("utf-8")
    except UnicodeEncodeError:  # pragma: no cover - activities hold no lone surrogates
        _add_finditer_spans(pattern, subject, spans, limit)
        return
    found: list[tuple[int, int]] = []
    pos, end = 0, len(data)
    while True:
        start, stop = raw.Match(_UNANCHORED, data, pos, end)[0]
        if start == -1:
            break
        if stop > start:
            found.append((start, stop))
        if len(spans) + len(found) > limit or pos == end:
            break
        # After an empty match, step over one character, as `finditer` does.
        pos = pos + _raw_re2.CharLenToBytes(data, pos, 1) if stop == pos else stop
    if len(data) == len(subject):  # ASCII: byte offsets are code-point offsets
        spans.extend(found)
        return
    chars = _raw_re2.BytesToCharLen
    last_byte = last_char = 0
    for start, stop in found:  # in increasing order: each offset is counted from the last
        first = last_char + chars(data, last_byte, start)
        last_char = first + chars(data, start, stop)
        last_byte = stop
        spans.append((first, last_char))


def _add_finditer_spans(pattern, subject: str, spans: list[tuple[int, int]], limit: int) -> None:
    for m in pattern.finditer(subject):  # type: ignore[attr-defined]
        start, end = m.span()
        if end > start:
            spans.append((start, end))
        if len(spans) > limit:
            break
