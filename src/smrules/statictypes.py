"""Static types for the checker: what is known about a value before any activity is seen.

Types come from the activity schema, from data files (whose values are known) and from
literals. `ANY` means unknown: the checker never reports an error on what it cannot know.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Type:
    kind: str  # any null boolean number string date instant regex list map object
    item: Type | None = None  # list items
    fields: dict[str, Type] | None = field(default=None, compare=False, hash=False)
    closed: bool = False  # object: unknown fields are errors
    enum: tuple[object, ...] | None = field(default=None, compare=False, hash=False)
    data: bool = False  # comes from a data file: a missing path is a load error
    size: int | None = None  # a data file's list: how many items it has

    def __str__(self) -> str:
        if self.kind == "list" and self.item is not None and self.item.kind != "any":
            return f"list of {self.item.kind}"
        return self.kind


ANY = Type("any")
NULL = Type("null")
BOOLEAN = Type("boolean")
NUMBER = Type("number")
STRING = Type("string")
DATE = Type("date")
INSTANT = Type("instant")
REGEX = Type("regex")
LIST = Type("list", ANY)
MAP = Type("map")


def list_of(item: Type) -> Type:
    return Type("list", item)


def join(types: list[Type]) -> Type:
    """The common type of several values; ANY when they differ."""
    kinds = {t.kind for t in types if t.kind != "null"}
    if not kinds:
        return NULL if types else ANY
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind == "list":
            return list_of(join([t.item or ANY for t in types if t.kind == "list"]))
        return next(t for t in types if t.kind == kind) if kind != "map" else MAP
    return ANY


def of_value(value: object, data: bool = False) -> Type:
    """The type of a known value (a literal or data-file content).

    With `data`, the type remembers that it comes from a data file (with a list's length and a
    map's keys), so a path into it that does not exist is a load error (SPEC §2.3).
    """
    if isinstance(value, (list, tuple)):
        item = join([of_value(v, data) for v in value]) if value else ANY
        return Type("list", item, data=data, size=len(value) if data else None)
    if isinstance(value, dict):
        fields = {str(k): of_value(v, data) for k, v in value.items()}
        return Type("map", fields=fields, closed=data, data=data)
    scalar = _scalar_type(value)
    return Type(scalar.kind, data=True) if data and scalar.kind != "any" else scalar


def _scalar_type(value: object) -> Type:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, dt.datetime):
        return INSTANT
    if isinstance(value, dt.date):
        return DATE
    return ANY


def from_schema(schema: dict, root: dict | None = None) -> Type:
    """The type a JSON Schema node describes (objects closed unless they allow extras)."""
    root = root if root is not None else schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: object = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return from_schema(node if isinstance(node, dict) else {}, root)
    kinds = schema.get("type")
    if isinstance(kinds, list):
        kinds = [k for k in kinds if k != "null"]
        kinds = kinds[0] if len(kinds) == 1 else None
    enum = tuple(schema["enum"]) if isinstance(schema.get("enum"), list) else None
    if kinds == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        fields = {
            name: from_schema(sub, root) for name, sub in props.items() if isinstance(sub, dict)
        }
        closed = schema.get("additionalProperties") is False or (
            schema.get("unevaluatedProperties") is False
        )
        return Type("object", fields=fields, closed=closed)
    if kinds == "array":
        items = schema.get("items")
        return list_of(from_schema(items, root) if isinstance(items, dict) else ANY)
    if kinds == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return INSTANT
        if fmt == "date":
            return DATE
        return Type("string", enum=enum)
    if kinds in ("integer", "number"):
        return NUMBER
    if kinds == "boolean":
        return BOOLEAN
    return ANY
