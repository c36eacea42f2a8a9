"""The built-in functions of the language (SPEC §2.4), as plain functions on values.

Each takes the evaluation context first (for per-text caches) and raises `EvalError` for a
type error; the compiler attaches the call's source span.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from . import text as textmod
from .runtime import Ctx
from .values import EvalError, as_instant, type_name

ARITY: dict[str, tuple[int, int]] = {
    "len": (1, 1),
    "lower": (1, 1),
    "upper": (1, 1),
    "trim": (1, 1),
    "words": (1, 1),
    "domain": (1, 1),
    "pii": (1, 2),
    "near": (4, 4),
    "sha256": (1, 1),
    "hour": (1, 1),
    "weekday": (1, 1),
    "days_between": (2, 2),
}

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def tokens(c: Ctx, s: str) -> tuple:
    """The words of `s`, tokenised once per evaluation."""
    cached = c.tokens.get(s)
    if cached is None:
        cached = textmod.tokenize(s)
        c.tokens[s] = cached
    return cached


def _want_string(name: str, value: object) -> str:
    if type(value) is not str:
        raise EvalError(f"`{name}` needs a string, got {type_name(value)}")
    return value


def fn_len(c: Ctx, value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    raise EvalError(f"`len` needs a string, a list or a map, got {type_name(value)}")


def fn_lower(c: Ctx, value: object) -> str | None:
    return None if value is None else _want_string("lower", value).lower()


def fn_upper(c: Ctx, value: object) -> str | None:
    return None if value is None else _want_string("upper", value).upper()


def fn_trim(c: Ctx, value: object) -> str | None:
    return None if value is None else _want_string("trim", value).strip()


def fn_words(c: Ctx, value: object) -> list[str]:
    if value is None:
        return []
    return [w.text for w in tokens(c, _want_string("words", value))]


def fn_domain(c: Ctx, value: object) -> str | None:
    from .urls import domain

    if value is None:
        return None
    return domain(_want_string("domain", value))


def fn_sha256(c: Ctx, value: object) -> str | None:
    if value is None:
        return None
    return hashlib.sha256(_want_string("sha256", value).encode("utf-8")).hexdigest()


def ignore_list(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)) and all(type(v) is str for v in value):
        return tuple(value)
    if type(value) is str:
        return (value,)
    raise EvalError(
        f"the `ignore` argument of `pii` must be a list of strings, got {type_name(value)}"
    )


def fn_pii(c: Ctx, value: object, ignore: object = None) -> list[str]:
    from .pii import pii

    if value is None:
        return []
    return pii(_want_string("pii", value), ignore_list(ignore))


def make_time_functions(tz: dt.tzinfo) -> dict[str, Callable[..., object]]:
    def local(name: str, value: object) -> dt.datetime:
        instant = as_instant(value, tz)
        if instant is None:
            raise EvalError(f"`{name}` needs a date or an instant, got {type_name(value)}")
        return instant.astimezone(tz)

    def fn_hour(c: Ctx, value: object) -> int | None:
        return None if value is None else local("hour", value).hour

    def fn_weekday(c: Ctx, value: object) -> str | None:
        return None if value is None else WEEKDAYS[local("weekday", value).weekday()]

    def local_date(value: object) -> dt.date:
        if isinstance(value, dt.datetime):
            return value.astimezone(tz).date()
        if isinstance(value, dt.date):
            return value
        raise EvalError(f"`days_between` needs dates or instants, got {type_name(value)}")

    def fn_days_between(c: Ctx, a: object, b: object) -> int | None:
        if a is None or b is None:
            return None
        return (local_date(b) - local_date(a)).days

    return {"hour": fn_hour, "weekday": fn_weekday, "days_between": fn_days_between}


SIMPLE: dict[str, Callable[..., object]] = {
    "len": fn_len,
    "lower": fn_lower,
    "upper": fn_upper,
    "trim": fn_trim,
    "words": fn_words,
    "domain": fn_domain,
    "sha256": fn_sha256,
    "pii": fn_pii,
}
