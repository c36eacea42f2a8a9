"""Fast constructors for frozen slots dataclasses built on hot paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any


def slot_filler(cls: type) -> Callable[..., Any]:
    """A constructor for a frozen slots dataclass that fills the slots directly.

    Several times faster than the dataclass `__init__`, which goes through `object.__setattr__`
    once per field; the evaluation hot path builds a decision and its findings with it. Every
    field is passed, by keyword or in declaration order.
    """
    names = [f.name for f in fields(cls)]
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    namespace.update({f"set_{name}": getattr(cls, name).__set__ for name in names})
    lines = [f"def make({', '.join(names)}):", "    obj = new(cls)"]
    lines += [f"    set_{name}(obj, {name})" for name in names]
    lines.append("    return obj")
    exec("\n".join(lines), namespace)  # noqa: S102 - field names of our own classes
    return namespace["make"]
