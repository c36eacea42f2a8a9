"""The shipped JSON schemas (activity, decision, policy-test) and their `date`/`date-time` formats.

Schemas are read once from the package's `schemas/` directory and cached; callers must treat the
returned dicts as read-only. The two formats are defined here because they are part of the
contract (SPEC §2.8, §3): `date` is an RFC 3339 full-date, `date-time` is
`YYYY-MM-DDTHH:MM[:SS[.fraction]]` with a required `Z` or `±HH:MM` offset. Python 3.10's
`fromisoformat` rejects `Z`, so both are parsed here.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema is imported only when an input is invalid: it is slow to load
    import jsonschema


SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMA_NAMES = ("activity", "decision", "policy-test")

DATE_TIME_MESSAGE = "must be a date-time with an offset, such as 2026-11-16T08:00:00Z"
DATE_MESSAGE = "must be a date, such as 2026-11-16"

# Shape only; the calendar is checked when the value is built. ASCII digits only.
DATE_TIME_PATTERN = (
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]+))?)?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)
DATE_PATTERN = r"^([0-9]{4})-([0-9]{2})-([0-9]{2})\Z"
_DATE_TIME_RE = re.compile(DATE_TIME_PATTERN)
_DATE_RE = re.compile(DATE_PATTERN)
_FROMISOFORMAT_Z = sys.version_info >= (3, 11)  # 3.10's fromisoformat rejects `Z`
_OFFSETS: dict[str, timezone] = {"Z": timezone.utc, "z": timezone.utc}


def _offset(text: str) -> timezone | None:
    tz = _OFFSETS.get(text)
    if tz is None:
        hours, minutes = int(text[1:3]), int(text[4:6])
        if hours > 23 or minutes > 59:
            return None
        delta = timedelta(hours=hours, minutes=minutes)
        tz = timezone.utc if not delta else timezone(-delta if text[0] == "-" else delta)
        _OFFSETS[text] = tz  # a handful of distinct offsets in practice
    return tz


def parse_date_time(value: object) -> datetime | None:
    """An aware `datetime` for a `date-time` string, or None when it is not one."""
    if type(value) is not str or _DATE_TIME_RE.match(value) is None:
        return None
    return parse_valid_date_time(value)


def parse_valid_date_time(value: str) -> datetime | None:
    """`parse_date_time` of a string already known to match `DATE_TIME_PATTERN`."""
    if _FROMISOFORMAT_Z and value[11:13] < "24":
        try:  # C speed; it reads every string the pattern admits, bar `t`/`z` and odd offsets
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    m = _DATE_TIME_RE.match(value)
    if m is None:  # pragma: no cover - the caller knows it matches
        return None
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    tz = _offset(offset)
    if tz is None:
        return None
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second) if second else 0,
            micro,
            tzinfo=tz,
        )
    except ValueError:  # 2026-02-30, 24:00, a leap second: not an instant Python can hold
        return None


def parse_date(value: object) -> date | None:
    """A `date` for a `date` string (`YYYY-MM-DD`), or None when it is not one."""
    if type(value) is not str:
        return None
    m = _DATE_RE.match(value)
    if m is None:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _make_format_checker() -> jsonschema.FormatChecker:
    import jsonschema

    # Only our two formats: the others jsonschema knows are not part of any smrules schema.
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or parse_date_time(v) is not None)
    checker.checks("date")(lambda v: not isinstance(v, str) or parse_date(v) is not None)
    return checker


@cache
def format_checker() -> jsonschema.FormatChecker:
    """The `date`/`date-time` checker of the contract, built on first use."""
    return _make_format_checker()


def schema_path(name: str) -> Path:
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; expected one of {', '.join(SCHEMA_NAMES)}")
    return SCHEMA_DIR / f"{name}.schema.json"


@cache
def schema_text(name: str) -> str:
    """The schema's JSON text as shipped (what `smrules schema NAME` prints)."""
    return schema_path(name).read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema, cached: do not modify it."""
    return json.loads(schema_text(name))


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    """A Draft 2020-12 validator for the schema that asserts `date` and `date-time`."""
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema(name), format_checker=format_checker())


def activity_schema() -> dict[str, Any]:
    return load_schema("activity")


def decision_schema() -> dict[str, Any]:
    return load_schema("decision")


def policy_test_schema() -> dict[str, Any]:
    return load_schema("policy-test")
