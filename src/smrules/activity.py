"""Validating and preparing an activity for evaluation (SPEC §3).

`prepare_activity` is on the hot path of every evaluation. A valid activity costs one call of a
compiled validator built from the activity schema (once per `Limits`), the
derived fields (cheap when the caller already gave them normalised) and one parse per date.
Only an activity that fails that check pays for `jsonschema`, which then collects every
problem with its JSON path and a plain-English message.

The prepared activity is a new dict (the caller's object is never modified; only the objects
that change are copied) with derived fields filled (`smrules.derive`), `date-time` fields as
aware `datetime`s, `date` fields as `date`s, and `time` set to the effective time:
`effective_time(prepared)` reads it back.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from functools import cache
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from smrules.derive import derive

if TYPE_CHECKING:  # imported only when an activity is invalid: it is slow to load
    import jsonschema
from smrules.errors import ActivityError, Problem
from smrules.schemas import (
    DATE_MESSAGE,
    DATE_PATTERN,
    DATE_TIME_MESSAGE,
    DATE_TIME_PATTERN,
    load_schema,
    parse_date,
    parse_date_time,
    parse_valid_date_time,
    validator,
)

PathPart = str | int
MAX_PROBLEMS = 100  # an activity with more is reported with the first ones and a count


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on an activity's size, so hostile input cannot make evaluation slow.

    `max_text_bytes` bounds every string (UTF-8 bytes), `max_depth` the nesting of objects and
    lists (the activity itself is level 1), `max_list_items` every list and every object.
    """

    max_text_bytes: int = 1 << 20
    max_depth: int = 32
    max_list_items: int = 10_000


DEFAULT_LIMITS = Limits()


def prepare_activity(
    activity: object,
    now: datetime | None = None,
    *,
    tz: tzinfo | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Validate `activity` and return a new, evaluation-ready dict.

    `now` is the effective time when the activity has no `time` (default: the system clock, in
    UTC); a naive `now` is read in `tz` (default UTC). Raises `ActivityError` with every problem
    when the activity is invalid or exceeds `limits`.
    """
    if not isinstance(activity, dict):
        if not isinstance(activity, Mapping):
            raise ActivityError([Problem("", _not_an_object(activity))])
        activity = dict(activity)  # a read-only or custom mapping at the top is fine
    matched = _validate(activity, limits)
    prepared = derive(activity)
    out = dict(prepared) if prepared is activity else prepared
    problems: list[Problem] = []
    for key, spec in _format_fields().items():
        if key in out:
            out[key] = _convert(out[key], spec, (key,), problems, matched)
    if problems:  # a calendar error the fast check's patterns cannot see (2026-02-30)
        raise ActivityError(sorted(problems, key=lambda p: p.path))
    if "time" not in out:
        out["time"] = _effective_now(now, tz)
    if isinstance(out.get("context"), dict) and len(out["context"]) > 0:
        out["context"] = _in_key_order(out["context"])  # the one object of any field names
    return out


def effective_time(prepared: Mapping[str, Any]) -> datetime:
    """The effective time of a prepared activity: its `time`, else the `now` it got."""
    return prepared["time"]


def _validate(activity: dict[str, Any], limits: Limits) -> bool:
    """Raise `ActivityError` with every problem unless `activity` is valid and within `limits`.

    Returns whether the fast check passed it (its strings then match their format patterns).
    The calendar of dates (2026-02-30) is checked when `prepare_activity` converts them.
    """
    try:
        valid = _fast_validator(limits).is_valid(activity)
    except (ValueError, TypeError, OverflowError):  # what it cannot read is not valid either
        valid = False
    if not valid:
        problems = activity_problems(activity, limits)
        if problems:
            raise ActivityError(problems) from None
        return False  # only the fast check's conservative string bound was crossed
    context = activity.get("context")
    if limits.max_depth < _schema_depth():
        problems = limit_problems(activity, limits)
    elif context:  # the one free-form object: the schema bounds the rest
        problems = limit_problems(context, limits, ("context",), 2)
    else:
        problems = []
    # The fast check reads every string and field name outside `context` (each string has a
    # `maxLength` or an enum, each object a closed set of fields) and fails on a lone
    # surrogate; `context` is free-form, so its own strings are checked here.
    if problems or (context and not _clean(context)):
        raise ActivityError(problems or text_problems(activity))
    return True


def activity_problems(activity: object, limits: Limits = DEFAULT_LIMITS) -> list[Problem]:
    """Every problem of `activity`: limits first (when exceeded, nothing else is checked, so that
    a huge input is not walked again), then strings and field names that are not text (lone
    surrogates), then the schema. [] when it is valid."""
    if not isinstance(activity, Mapping):
        return [Problem("", _not_an_object(activity))]
    activity = dict(activity)
    return limit_problems(activity, limits) or text_problems(activity) or schema_problems(activity)


# -- limits -----------------------------------------------------------------------------------


def limit_problems(
    value: object,
    limits: Limits = DEFAULT_LIMITS,
    path: tuple[PathPart, ...] = (),
    depth: int = 1,
) -> list[Problem]:
    """Strings, lists, objects and nesting of `value` (found at `path`, `depth`) beyond `limits`.

    An oversized list or object is reported and not walked into.
    """
    found: list[tuple[tuple[PathPart, ...], str]] = []
    stack: list[tuple[object, tuple[PathPart, ...], int]] = [(value, path, depth)]
    while stack and len(found) < MAX_PROBLEMS:
        item, where, level = stack.pop()
        if isinstance(item, str):
            message = _text_problem(item, limits)
            if message:
                found.append((where, message))
            continue
        if isinstance(item, dict):
            children: Iterable[tuple[PathPart, object]] = item.items()
            noun = "fields"
        elif isinstance(item, (list, tuple)):
            children = enumerate(item)
            noun = "items"
        else:
            continue
        if level > limits.max_depth:
            found.append((where, f"is nested more than {limits.max_depth} levels deep"))
        elif len(item) > limits.max_list_items:
            found.append(
                (where, f"has {len(item):,} {noun}; the limit is {limits.max_list_items:,}")
            )
        else:
            for key, child in children:
                if isinstance(key, str) and (message := _text_problem(key, limits)):
                    found.append(((*where, key), "field name " + message))
                stack.append((child, (*where, key), level + 1))
    found.sort(key=lambda p: _path_sort_key(p[0]))
    return [Problem(format_path(where), message) for where, message in found]


def _text_problem(text: str, limits: Limits) -> str | None:
    # A code point is at most 4 UTF-8 bytes: only long strings need encoding.
    if len(text) * 4 <= limits.max_text_bytes:
        return None
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if size <= limits.max_text_bytes:
        return None
    return f"is {size:,} bytes long; the limit is {limits.max_text_bytes:,} bytes"


# -- text and field names --------------------------------------------------------------------

# A JSON text may escape half of a UTF-16 pair ("\ud800"); Python's `json` then gives a string
# that is not Unicode text: it cannot be encoded as UTF-8, so RE2, hashing and every output would
# fail on it. A Python caller may also use a field name that is not a string, which JSON cannot
# express. Such an activity is invalid, with the place of each such string or name.
_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_MESSAGE = (
    "contains a lone surrogate (U+{code:04X}), which is not a Unicode character; "
    "a JSON `\\u` escape of a surrogate must be one half of a pair"
)


def _bad_text(text: str) -> re.Match[str] | None:
    return None if text.isascii() else _SURROGATE.search(text)


def _clean(value: object) -> bool:
    """No lone surrogate in any string and only string field names (the hot path).

    Strings are checked where they are found rather than pushed on the stack, and exact
    built-in types are tested first: this walk runs on every activity.
    """
    search = _SURROGATE.search
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if type(key) is not str or (not key.isascii() and search(key)):
                    if not isinstance(key, str) or search(key):
                        return False
                kind = type(child)
                if kind is str:
                    if not child.isascii() and search(child):
                        return False
                elif (
                    kind is not int and kind is not bool and kind is not float and child is not None
                ):
                    push(child)
        elif isinstance(item, (list, tuple)):
            for child in item:
                if type(child) is str:
                    if not child.isascii() and search(child):
                        return False
                elif isinstance(child, (dict, list, tuple, str)):
                    push(child)
        elif isinstance(item, str):
            if _bad_text(item):
                return False
    return True


def text_problems(value: object, path: tuple[PathPart, ...] = ()) -> list[Problem]:
    """A problem at every string of `value` that holds a lone surrogate and every field name
    that is not a string or holds one."""
    found: list[tuple[tuple[PathPart, ...], str]] = []
    stack: list[tuple[object, tuple[PathPart, ...]]] = [(value, path)]
    while stack and len(found) < MAX_PROBLEMS:
        item, where = stack.pop()
        if isinstance(item, str):
            bad = _bad_text(item)
            if bad:
                found.append((where, SURROGATE_MESSAGE.format(code=ord(bad.group()))))
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    message = f"has a field name that is not a string: {key!r} ({_kind(key)})"
                    found.append((where, message))
                elif bad := _bad_text(key):
                    message = "field name " + SURROGATE_MESSAGE.format(code=ord(bad.group()))
                    found.append(((*where, key), message))
                else:
                    stack.append((child, (*where, key)))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, (*where, i)) for i, child in enumerate(item))
    found.sort(key=lambda p: _path_sort_key(p[0]))
    return [Problem(format_path(where), message) for where, message in found]


def _in_key_order(value: Any) -> Any:
    """`value` with the fields of every object in key order (code point), so that the order in
    which a caller wrote them never shows in a decision."""
    if isinstance(value, dict):
        return {k: _in_key_order(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_in_key_order(v) for v in value]
    return value


# -- the fast check ---------------------------------------------------------------------------


@cache
def _fast_validator(limits: Limits) -> Any:
    """A compiled (Rust) validator for the activity schema, built once per `Limits`: it decides
    a valid activity in a few microseconds, several times faster than a generated Python one.

    `$ref`s are inlined, the limits become `maxItems`/`maxLength`, and the two formats become
    the patterns of the contract (the validator's own `date-time` would demand seconds).
    `maxLength` is a quarter of `max_text_bytes`: a string that long may still be within the byte
    limit, so crossing it only sends the activity to the exact (slow) check.
    """
    schema = _inline(load_schema("activity"), load_schema("activity").get("$defs", {}))
    _add_bounds(schema, limits)
    return jsonschema_rs.validator_for(_formats_as_patterns(schema))


# Rust's regex has no `\Z`; its `$` (without multi-line mode) already means the very end.
_FORMAT_PATTERNS = {
    "date-time": DATE_TIME_PATTERN.replace("\\Z", "$"),
    "date": DATE_PATTERN.replace("\\Z", "$"),
}


def _formats_as_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _formats_as_patterns(v) for k, v in node.items() if k != "format"}
        if node.get("format") in _FORMAT_PATTERNS:
            out["pattern"] = _FORMAT_PATTERNS[node["format"]]
        return out
    if isinstance(node, list):
        return [_formats_as_patterns(v) for v in node]
    return node


_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description"})


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        out = {k: _inline(v, defs) for k, v in node.items() if k not in _ANNOTATIONS}
        if isinstance(node.get("properties"), dict):  # field names, not annotations
            out["properties"] = {k: _inline(v, defs) for k, v in node["properties"].items()}
        return out
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _types(node: Mapping[str, Any]) -> tuple[str, ...]:
    kind = node.get("type", ())
    return (kind,) if isinstance(kind, str) else tuple(kind)


def _add_bounds(node: Any, limits: Limits) -> None:
    if isinstance(node, dict):
        types = _types(node)
        if "string" in types and not ("enum" in node or "format" in node):  # those are short
            node["maxLength"] = limits.max_text_bytes // 4
            # A pattern makes the validator read the string as UTF-8, which fails on a lone
            # surrogate: the fast check then rejects it (formats become patterns below).
            node.setdefault("pattern", "")
        if "array" in types:
            node["maxItems"] = limits.max_list_items
        for value in node.values():
            _add_bounds(value, limits)
    elif isinstance(node, list):
        for value in node:
            _add_bounds(value, limits)


@cache
def _schema_depth() -> int:
    """How deep the schema's closed objects and lists nest (the activity is level 1)."""
    root = load_schema("activity")
    defs = root.get("$defs", {})

    def depth(node: Mapping[str, Any]) -> int:
        node = defs[node["$ref"].removeprefix("#/$defs/")] if "$ref" in node else node
        types = _types(node)
        if "object" in types and "properties" in node:
            return 1 + max((depth(v) for v in node["properties"].values()), default=0)
        if "array" in types:
            return 1 + depth(node.get("items", {}))
        return 1 if "object" in types else 0

    return depth(root)


# -- formats ----------------------------------------------------------------------------------

# A field's format, or for an object the formats under it; "*" stands for the items of a list.
FormatSpec = str | dict[str, "FormatSpec"]


@cache
def _format_fields() -> dict[str, FormatSpec]:
    """The `date`/`date-time` fields of the activity schema, as a tree of field names."""
    root = load_schema("activity")
    defs = root.get("$defs", {})

    def walk(node: Mapping[str, Any]) -> FormatSpec | None:
        node = defs[node["$ref"].removeprefix("#/$defs/")] if "$ref" in node else node
        if node.get("format") in ("date", "date-time"):
            return node["format"]
        tree: dict[str, FormatSpec] = {}
        for key, sub in node.get("properties", {}).items():
            spec = walk(sub)
            if spec is not None:
                tree[key] = spec
        if isinstance(node.get("items"), dict):
            spec = walk(node["items"])
            if spec is not None:
                tree["*"] = spec
        return tree or None

    spec = walk(root)
    return spec if isinstance(spec, dict) else {}


def _convert(
    value: Any,
    spec: FormatSpec,
    path: tuple[PathPart, ...],
    problems: list[Problem],
    matched: bool = False,
):
    """`value` with the fields `spec` names parsed; copies only what changes. `matched`: the
    fast check matched every string against its format's pattern, so it need not again."""
    if isinstance(spec, str):
        if not isinstance(value, str):
            return value
        if spec == "date-time":
            parsed = parse_valid_date_time(value) if matched else parse_date_time(value)
        else:
            parsed = parse_date(value)
        if parsed is None:
            message = DATE_TIME_MESSAGE if spec == "date-time" else DATE_MESSAGE
            problems.append(Problem(format_path(path), message))
            return value
        return parsed
    if isinstance(value, dict):
        out = value
        for key, sub in spec.items():
            if key in value:
                new = _convert(value[key], sub, (*path, key), problems, matched)
                if new is not value[key]:
                    if out is value:
                        out = dict(value)
                    out[key] = new
        return out
    if isinstance(value, list) and "*" in spec:
        items = [_convert(v, spec["*"], (*path, i), problems, matched) for i, v in enumerate(value)]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _effective_now(now: datetime | None, tz: tzinfo | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, not {type(now).__name__}")
    if now.tzinfo is None or now.utcoffset() is None:
        return now.replace(tzinfo=tz or timezone.utc)
    return now


# -- explaining schema errors -----------------------------------------------------------------

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def schema_problems(activity: object) -> list[Problem]:
    """Every schema problem of `activity`, each with its path and a plain-English message."""
    found: dict[tuple[PathPart, ...], list[tuple[str, str]]] = {}
    for error in validator("activity").iter_errors(activity):
        for path, kind, message in _explain(error):
            found.setdefault(path, []).append((kind, message))
    problems: list[Problem] = []
    for path in sorted(found, key=_path_sort_key):
        entries = found[path]
        if any(
            kind == "type" for kind, _ in entries
        ):  # the enum or format of a wrong type is noise
            entries = [e for e in entries if e[0] == "type"]
        for message in dict.fromkeys(message for _, message in entries):
            problems.append(Problem(format_path(path), message))
    if len(problems) > MAX_PROBLEMS:
        extra = len(problems) - MAX_PROBLEMS
        problems = [*problems[:MAX_PROBLEMS], Problem("", f"and {extra:,} more problems")]
    return problems


def _explain(error: jsonschema.ValidationError) -> list[tuple[tuple[PathPart, ...], str, str]]:
    """(path, kind, message) for one jsonschema error; some errors name several fields."""
    path = tuple(error.absolute_path)
    kind, expected, instance = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        return [
            ((*path, key), kind, _unknown_field(str(key), known, path))
            for key in instance
            if key not in known
        ]
    if kind == "required" and isinstance(instance, dict):
        return [((*path, name), kind, "is required") for name in expected if name not in instance]
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return [(path, kind, "must be " + " or ".join(_TYPE_NAMES.get(n, n) for n in names))]
    if kind == "enum":
        return [(path, kind, _enum_message(instance, expected))]
    if kind == "format":
        message = DATE_MESSAGE if expected == "date" else DATE_TIME_MESSAGE
        return [(path, kind, message)]
    if kind == "minimum":
        return [(path, kind, f"must be at least {expected}")]
    return [(path, kind, error.message)]


def _unknown_field(key: str, known: Mapping[str, Any], where: tuple[PathPart, ...]) -> str:
    message = f"unknown field `{key}`"
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(key.lower(), list(known), n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean `{close[0]}`?"
    elsewhere = _field_index().get(key)
    if elsewhere:
        return f"{message}; did you mean `{elsewhere[0]}`?"
    if not where:
        return f"{message}; extra fields belong under `context`"
    return message


@cache
def _field_index() -> dict[str, list[str]]:
    """Every field name of the schema with the dotted paths where it is allowed."""
    root = load_schema("activity")
    defs = root.get("$defs", {})
    index: dict[str, list[str]] = {}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        node = defs[node["$ref"].removeprefix("#/$defs/")] if "$ref" in node else node
        for key, sub in node.get("properties", {}).items():
            index.setdefault(key, []).append(prefix + key)
            walk(sub, f"{prefix}{key}.")
        if isinstance(node.get("items"), dict):
            walk(node["items"], prefix.removesuffix(".") + "[].")

    walk(root, "")
    return index


def _enum_message(value: object, allowed: list[object]) -> str:
    listed = ", ".join("null" if v is None else str(v) for v in allowed)
    message = f"must be one of: {listed}"
    if isinstance(value, str):
        choices = [v for v in allowed if isinstance(v, str)]
        by_case = {v.lower(): v for v in choices}
        close = difflib.get_close_matches(value.lower(), list(by_case), n=1, cutoff=0.6)
        if close:
            message += f"; did you mean `{by_case[close[0]]}`?"
    return message


def _not_an_object(value: object) -> str:
    return f"an activity must be an object (a mapping of field names to values), not {_kind(value)}"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


# -- paths ------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def format_path(parts: Iterable[PathPart]) -> str:
    """`("content", "links", 0, "url")` -> `content.links[0].url`; odd keys as `["a b"]`."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
            continue
        part = part if isinstance(part, str) else str(part)
        if _IDENTIFIER.match(part):
            out.append(f".{part}" if out else part)
        else:  # a name that is not text (a lone surrogate) is shown escaped, so it prints
            out.append(f"[{json.dumps(part, ensure_ascii=bool(_bad_text(part)))}]")
    return "".join(out)


def _path_sort_key(parts: Iterable[PathPart]) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (1, p, "") if isinstance(p, int) and not isinstance(p, bool) else (0, 0, str(p))
        for p in parts
    )
