"""Personal data in text: `pii(s)` and `pii(s, ignore)` (SPEC §2.6).

Detection works on the NFKC form of the text (so full-width digits count) and reports offsets into
the original string. A candidate is a whole run (a card's digit groups, a phone's digits and
separators, an IBAN's groups) not adjacent to other letters or digits: `4111 1111 1111 1111 2026`
is no card, and no 16-digit phone either. Phones come last, since a span already found as another
kind (or a `YYYY-MM-DD` date) is not a phone.

Everything is linear in the text: the regexes are RE2 and only match what may be a finding (at
least 13 digits for a card, 8 for a phone), and a run's digits are counted in C, so a megabyte of
digits separated by spaces is one run, rejected at once.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate

import re2

from .text import nfkc_with_map, original_span

KINDS = frozenset({"credit_card", "email", "iban", "phone", "ssn"})

# IBAN length per country code, from the SWIFT IBAN registry (ISO 13616). Territories that use
# their parent's code (French overseas departments, Åland, the Crown Dependencies) need no entry.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One piece of personal data: its kind and original code-point offsets (end exclusive)."""

    kind: str
    start: int
    end: int
    text: str


def _re2(pattern: bytes) -> re2._Regexp:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


# Patterns run over an ASCII view of the NFKC text (each other character becomes `?`), so byte
# offsets are code-point offsets. Each pattern only matches what can be a finding (a card's
# 13 digits, a phone's 8), because the binding costs microseconds per match: hostile text full
# of short digit groups must not produce one match per group.
_CARD = _re2(rb"[0-9](?:[ -]?[0-9]){12,}")
_SSN = _re2(rb"[0-9]{3}-[0-9]{2}-[0-9]{4}")
_DATE = _re2(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# SPEC's e-mail pattern, after the start or a character that cannot be in an address: a local
# part that starts inside another one (`.a@b.cc` in `a@b.cc.a@b.cc`) is never a match.
_EMAIL = _re2(
    rb"(?:^|[^A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# From the first IBAN-like head to the end of its letters and digits in groups joined by single
# spaces: where IBANs live.
_IBAN_AREA = _re2(rb"[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,}")
# A superset of every phone-shaped run with at least 8 digits: digits joined by what may stand
# between two digits of a phone (a separator, a parenthesis closing or opening).
_PHONE_AREA = _re2(rb"\+?\(?[0-9](?:\)?[ ./-]?\(?[0-9]){7,}\)?")

_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn: what a doubled digit adds
_NOT_DIGITS = b" ./-()+"
_SEPARATORS = {ord(ch): None for ch in "-./()"}
_PLUS, _OPEN, _CLOSE = ord("+"), ord("("), ord(")")
_PHONE_SEPARATORS = frozenset(b" ./-")
_DIGIT_BYTES = frozenset(b"0123456789")
_LOCAL_PART = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")


class _Scan:
    """Candidates of every kind in one NFKC text, as (start, end) offsets in that text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.size = len(text)
        self.raw = text.encode("ascii", "replace")

    def free_before(self, pos: int) -> bool:
        """No letter or digit just before pos."""
        return pos == 0 or not self.text[pos - 1].isalnum()

    def free_after(self, pos: int) -> bool:
        """No letter or digit at pos (just after a candidate ending there)."""
        return pos == self.size or not self.text[pos].isalnum()

    def isolated(self, start: int, end: int) -> bool:
        return self.free_before(start) and self.free_after(end)

    def cards(self) -> list[tuple[int, int]]:
        """Whole runs of digit groups joined by single spaces or hyphens, passing Luhn."""
        found = []
        for m in _CARD.finditer(self.raw):
            start, end = m.span()
            digits = self.raw[start:end].translate(None, b" -")
            if len(digits) > 19 or digits[0] not in b"23456" or not self.isolated(start, end):
                continue
            total = sum(d - 48 for d in digits[-1::-2]) + sum(
                _DOUBLED[d - 48] for d in digits[-2::-2]
            )
            if total % 10 == 0:
                found.append((start, end))
        return found

    def ssns(self) -> list[tuple[int, int]]:
        found = []
        for m in _SSN.finditer(self.raw):
            start, end = m.span()
            area, group, serial = self.raw[start:end].split(b"-")
            if (
                area not in (b"000", b"666")
                and area[0] != ord("9")
                and group != b"00"
                and serial != b"0000"
                and self.isolated(start, end)
            ):
                found.append((start, end))
        return found

    def dates(self) -> list[tuple[int, int]]:
        """`YYYY-MM-DD` between non-digits: never part of a phone number."""
        raw, size = self.raw, self.size
        return [
            (a, b)
            for a, b in (m.span() for m in _DATE.finditer(raw))
            if (a == 0 or raw[a - 1] not in _DIGIT_BYTES)
            and (b == size or raw[b] not in _DIGIT_BYTES)
        ]

    def emails(self) -> list[tuple[int, int]]:
        found = []
        for m in _EMAIL.finditer(self.raw):
            start, end = m.span()
            if self.raw[start] not in _LOCAL_PART:  # the character before the address
                start += 1
            if self.isolated(start, end):
                found.append((start, end))
        return found

    def ibans(self) -> list[tuple[int, int]]:
        """Group by group: an IBAN starts a group and ends one, at its country's length."""
        found = []
        raw = self.raw
        for m in _IBAN_AREA.finditer(raw):
            area_start, area_end = m.span()
            groups = raw[area_start:area_end].split(b" ")
            ends = list(accumulate(map(len, groups)))  # alphanumerics up to each group's end
            at = area_start  # offset of the current group
            for i, group in enumerate(groups):
                start, begin = at, (ends[i - 1] if i else 0)
                at += len(group) + 1
                if len(group) < 4 or not (group[:2].isalpha() and group[2:4].isdigit()):
                    continue
                length = IBAN_LENGTHS.get(group[:2].upper().decode())
                if length is None:
                    continue
                j = bisect_left(ends, begin + length)
                if j == len(ends) or ends[j] != begin + length:
                    continue
                end = area_start + ends[j] + j  # j spaces come before the end of group j
                if not self.isolated(start, end):
                    continue
                compact = b"".join(groups[i : j + 1]).upper().decode()
                # ISO 7064 MOD 97-10: the country code and check digits move to the end.
                if _mod97(compact[4:] + compact[:4]) == 1:
                    found.append((start, end))
        return found

    def phones(self, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Phone-shaped runs, cut where they overlap `taken` (other kinds, dates), that are
        phones: 8–15 digits, at most one parenthesised group."""
        barriers = _merge(taken)
        starts = [a for a, _ in barriers]
        found = []
        for area in _PHONE_AREA.finditer(self.raw):
            for run_start, run_end in _phone_runs(self.raw, *area.span()):
                k = max(bisect_right(starts, run_start) - 1, 0)
                piece_start = run_start
                while k < len(barriers) and barriers[k][0] < run_end:
                    a, b = barriers[k]
                    if b > piece_start:
                        self._phone_piece(piece_start, min(a, run_end), found)
                        piece_start = max(piece_start, b)
                    k += 1
                self._phone_piece(piece_start, run_end, found)
        return found

    def _phone_piece(self, start: int, end: int, found: list[tuple[int, int]]) -> None:
        raw = self.raw
        while start < end and raw[start] not in _DIGIT_BYTES and raw[start] not in b"(+":
            start += 1
        while end > start and raw[end - 1] not in _DIGIT_BYTES and raw[end - 1] != _CLOSE:
            end -= 1
        if end - start < 8 or raw.count(b"(", start, end) > 1:
            return
        body = raw[start:end]
        count = len(body.translate(None, _NOT_DIGITS))
        if body.startswith(b"00"):
            count -= 2  # an international `00` prefix, like `+`, is not part of the number
        if 8 <= count <= 15 and self.isolated(start, end):
            found.append((start, end))


def _phone_runs(raw: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """Maximal phone-shaped runs of 8 characters or more in raw[start:end]: an optional `+`,
    then digit groups and parenthesised groups, joined by at most one separator (space, `-`,
    `.`, `/`). One pass over the bytes."""
    if raw.find(b"(", start, end) < 0 and raw.find(b")", start, end) < 0:
        return [(start, end)]  # without parentheses the area regex joins digits as a run does
    runs = []
    i = start
    while i < end:
        run_start = i
        if raw[i] == _PLUS:
            i += 1
        last = -1  # end of the run's last whole element
        while i < end:
            ch = raw[i]
            if ch in _DIGIT_BYTES:
                i += 1
                while i < end and raw[i] in _DIGIT_BYTES:
                    i += 1
            elif ch == _OPEN:
                k = i + 1
                while k < end and raw[k] in _DIGIT_BYTES:
                    k += 1
                if k == i + 1 or k == end or raw[k] != _CLOSE:
                    break
                i = k + 1
            else:
                break
            last = i
            if i + 1 < end and raw[i] in _PHONE_SEPARATORS:
                i += 1  # a separator joins the run only if an element follows it
        if last < 0:
            i = run_start + 1
            continue
        if last - run_start >= 8:
            runs.append((run_start, last))
        i = last
    return runs


_LETTER_VALUES = {ord(ch): str(int(ch, 36)) for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def _mod97(chars: str) -> int:
    """The value of upper-case chars, letters counting 10 (A) to 35 (Z), modulo 97."""
    return int(chars.translate(_LETTER_VALUES)) % 97


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def ignore_key(value: str) -> str:
    """How `ignore` values and findings compare: NFKC, casefold, no whitespace or separators."""
    text, _ = nfkc_with_map(value)
    return "".join(text.casefold().split()).translate(_SEPARATORS)


def find_pii(
    s: str | None, kinds: frozenset[str] | None = None, ignore: Iterable[str] = ()
) -> list[PiiMatch]:
    """The personal data in s, left to right, optionally only of some `kinds`, without the values
    in `ignore`. Offsets are into the original s."""
    if not s:
        return []
    wanted = KINDS if kinds is None else frozenset(kinds)
    if not wanted <= KINDS:
        raise ValueError(f"unknown pii kinds: {', '.join(sorted(wanted - KINDS))}")
    if s.isascii():
        text, origin = s, None
    else:
        text, origin = nfkc_with_map(s)
    scan = _Scan(text)
    # Phones exclude the spans of every other kind, so those are needed whenever phones are.
    need = KINDS if "phone" in wanted else wanted
    spans: list[tuple[str, int, int]] = []
    for kind, finder in (
        ("credit_card", scan.cards),
        ("iban", scan.ibans),
        ("ssn", scan.ssns),
        ("email", scan.emails),
    ):
        if kind in need:
            spans.extend((kind, a, b) for a, b in finder())
    if "phone" in need:
        taken = [(a, b) for _, a, b in spans] + scan.dates()
        spans.extend(("phone", a, b) for a, b in scan.phones(taken))
    skip = {ignore_key(value) for value in ignore}
    out = []
    for kind, a, b in sorted(spans, key=lambda m: (m[1], m[2], m[0])):
        if kind not in wanted or (skip and ignore_key(text[a:b]) in skip):
            continue
        start, end = (a, b) if origin is None else original_span(s, origin, a, b)
        out.append(PiiMatch(kind, start, end, s[start:end]))
    return out


def pii(s: str | None, ignore: Iterable[str] = ()) -> list[str]:
    """`pii(s, ignore)`: the sorted kinds of personal data in s, each once; `[]` for None."""
    return sorted({m.kind for m in find_pii(s, None, ignore)})
