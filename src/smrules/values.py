"""Run-time values of the language and the operations on them (SPEC §2.4, §2.8, §2.2).

Values are plain Python: None, bool, int/float, str, `datetime.date` (a date), aware
`datetime.datetime` (an instant), `Regex`, list/tuple and dict. Everything here is pure and
thread-safe; the timezone is passed in where dates meet instants.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass

import re2

from .errors import Span

TOO_DEEP = "expression too deeply nested"  # the run-time error of runaway recursion


class EvalError(Exception):
    """A run-time failure of one rule: a type error, a bad pattern, a failed rendering."""

    def __init__(self, message: str, span: Span | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span


def re2_options() -> re2.Options:
    """RE2 options for policy patterns: flags are written inline, errors are ours to report."""
    options = re2.Options()
    options.log_errors = False
    return options


def compile_pattern(pattern: str, flags: str = "") -> object:
    """Compile with RE2; raise ValueError with RE2's reason when it cannot."""
    prefix = ""
    if flags:
        prefix = "(?" + "".join(sorted(set(flags))) + ")"
    try:
        return re2.compile(prefix + pattern, re2_options())
    except re2.error as err:
        reason = err.args[0] if err.args else str(err)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None
    except (TypeError, UnicodeError) as err:  # pragma: no cover - defensive
        raise ValueError(str(err)) from None


@dataclass(frozen=True, eq=False, slots=True)
class Regex:
    """A compiled regex literal; equal only to itself."""

    source: str
    flags: str
    compiled: object

    def search(self, text: str) -> bool:
        return self.compiled.search(text) is not None  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"/{self.source}/{self.flags}"


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "instant"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, Regex):
        return "regex"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def is_number(value: object) -> bool:
    return type(value) in (int, float)


def date_start(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The first instant of a date in `tz` (midnight, or the first time after a skipped one)."""
    naive = dt.datetime(day.year, day.month, day.day)
    aware = naive.replace(tzinfo=tz)
    # A clock change that skips midnight: the round trip through UTC moves it forward.
    roundtrip = aware.astimezone(dt.timezone.utc).astimezone(tz)
    if roundtrip.replace(tzinfo=None) != naive:
        for minutes in range(1, 24 * 60):
            candidate = (naive + dt.timedelta(minutes=minutes)).replace(tzinfo=tz)
            back = candidate.astimezone(dt.timezone.utc).astimezone(tz)
            if back.replace(tzinfo=None) == candidate.replace(tzinfo=None):
                return back
    return aware


def as_instant(value: object, tz: dt.tzinfo) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return date_start(value, tz)
    return None


def equal(a: object, b: object, tz: dt.tzinfo) -> bool:
    """Deep equality: `1 == 1.0`, booleans never equal numbers, a date equals its instant."""
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta is str or tb is str:
        return ta is tb and a == b
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta in (int, float) and tb in (int, float):
        return a == b
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        if ta is tb:
            return a == b
        return as_instant(a, tz) == as_instant(b, tz)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(equal(x, y, tz) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k], tz) for k in a)
    return False


def order_operands(a: object, b: object, tz: dt.tzinfo, op: str) -> tuple[object, object] | None:
    """Operands made comparable for `<`-style operators; None when either is null.

    Raises EvalError for mixes the language does not order.
    """
    if a is None or b is None:
        return None
    if is_number(a) and is_number(b):
        return a, b
    if type(a) is str and type(b) is str:
        return a, b
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        if type(a) is type(b):
            return a, b
        return as_instant(a, tz), as_instant(b, tz)
    raise EvalError(f"cannot compare {type_name(a)} with {type_name(b)} using `{op}`")


def format_number(value: int | float) -> str:
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    return str(value)


def render(value: object, tz: dt.tzinfo) -> str:
    """How `{expr}` interpolation shows a value (SPEC §2.2)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, dt.datetime):
        return format_instant(value.astimezone(tz))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(render(v, tz) for v in value)
    if isinstance(value, dict):
        # keys sorted: a map's rendering never depends on the order its fields were written in
        return json.dumps(
            to_json(value, tz), ensure_ascii=False, separators=(",", ":"), sort_keys=True
        )
    if isinstance(value, Regex):
        raise EvalError("a regex cannot be interpolated into a message")
    return str(value)


def format_instant(value: dt.datetime) -> str:
    """RFC 3339; `Z` for UTC, fractional seconds only when present."""
    text = value.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def to_json(value: object, tz: dt.tzinfo) -> object:
    """A value in JSON form (dates and instants as RFC 3339 strings)."""
    if isinstance(value, dt.datetime):
        return format_instant(value.astimezone(tz))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_json(v, tz) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v, tz) for k, v in value.items()}
    if isinstance(value, Regex):
        return repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
