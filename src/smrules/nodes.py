"""The policy AST: frozen dataclasses, each carrying the `Span` it was parsed from.

Nodes are plain data. Checks live in `checker.py`, meaning in `compiler.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .errors import Span


class _Node:
    """Base of the AST classes: pickles as a constructor call (the policy cache loads
    thousands of nodes; that is several times faster than dataclasses' frozen setstate)."""

    __slots__ = ()

    def __reduce__(self):
        return (type(self), tuple(getattr(self, name) for name in self.__dataclass_fields__))


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Literal(_Node):
    """A string, number, boolean, null or date literal."""

    value: object
    span: Span


@dataclass(frozen=True, slots=True)
class InstantLiteral(_Node):
    """An instant; `value` is naive when written without offset (policy timezone applies)."""

    value: dt.datetime
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class RegexLiteral(_Node):
    pattern: str
    flags: str
    span: Span


@dataclass(frozen=True, slots=True)
class ListLiteral(_Node):
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Name(_Node):
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class ActivityRef(_Node):
    """The keyword `activity`: the whole activity."""

    span: Span


@dataclass(frozen=True, slots=True)
class Field(_Node):
    obj: Expr
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Index(_Node):
    obj: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call(_Node):
    func: str
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Compare(_Node):
    op: str  # "==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "matches", ...
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class And(_Node):
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Or(_Node):
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Not(_Node):
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Quantifier(_Node):
    kind: str  # "any", "all", "count", "filter"
    var: str
    var_span: Span
    source: Expr
    body: Expr
    span: Span


Expr = (
    Literal
    | InstantLiteral
    | RegexLiteral
    | ListLiteral
    | Name
    | ActivityRef
    | Field
    | Index
    | Call
    | Compare
    | And
    | Or
    | Not
    | Quantifier
)

# ---------------------------------------------------------------- templates


@dataclass(frozen=True, slots=True)
class Template(_Node):
    """A message or hint: literal text parts and `{expr}` interpolations, in order."""

    parts: tuple[str | Expr, ...]
    span: Span

    @property
    def is_plain(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Setting(_Node):
    """One policy header setting. `value` is a str, or for `default` a (effect, kinds) pair."""

    name: str
    value: object
    span: Span
    kinds: ListLiteral | None = None


@dataclass(frozen=True, slots=True)
class PolicyHeader(_Node):
    name: str
    settings: tuple[Setting, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Import(_Node):
    path: str
    alias: str
    span: Span
    path_span: Span
    alias_span: Span


@dataclass(frozen=True, slots=True)
class Let(_Node):
    name: str
    expr: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Meta(_Node):
    """One rule metadata item; `value` is a str, a bool (waivable) or a tuple of str (tags)."""

    name: str
    value: object
    span: Span
    value_span: Span


@dataclass(frozen=True, slots=True)
class Effect(_Node):
    kind: str  # "deny", "warn", "allow"
    message: Template | None
    span: Span


@dataclass(frozen=True, slots=True)
class Rule(_Node):
    id: str
    meta: tuple[Meta, ...]
    whens: tuple[Expr, ...]
    unlesses: tuple[Expr, ...]
    effect: Effect
    hint: Template | None
    span: Span
    id_span: Span

    def meta_value(self, name: str, default: object = None) -> object:
        for item in self.meta:
            if item.name == name:
                return item.value
        return default


Declaration = PolicyHeader | Import | Let | Rule


@dataclass(frozen=True, slots=True)
class Module(_Node):
    """One parsed `.smr` file."""

    file: str
    declarations: tuple[Declaration, ...]

    @property
    def header(self) -> PolicyHeader | None:
        for decl in self.declarations:
            if isinstance(decl, PolicyHeader):
                return decl
        return None


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of a node, in source order."""
    if isinstance(expr, ListLiteral):
        return expr.items
    if isinstance(expr, Field):
        return (expr.obj,)
    if isinstance(expr, Index):
        return (expr.obj, expr.index)
    if isinstance(expr, Call):
        return expr.args
    if isinstance(expr, (Compare, And, Or)):
        return (expr.left, expr.right)
    if isinstance(expr, Not):
        return (expr.operand,)
    if isinstance(expr, Quantifier):
        return (expr.source, expr.body)
    return ()


def walk(expr: Expr):
    """Every node of an expression, parents before children."""
    yield expr
    for child in children(expr):
        yield from walk(child)
