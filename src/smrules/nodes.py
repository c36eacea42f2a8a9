"""The policy AST: frozen dataclasses, each carrying the `Span` it was parsed from.

Nodes are plain data. Checks live in `checker.py`, meaning in `compiler.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .errors import Span

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, number, boolean, null or date literal."""

    value: object
    span: Span


@dataclass(frozen=True, slots=True)
class InstantLiteral:
    """An instant; `value` is naive when written without offset (policy timezone applies)."""

    value: dt.datetime
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class RegexLiteral:
    pattern: str
    flags: str
    span: Span


@dataclass(frozen=True, slots=True)
class ListLiteral:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class ActivityRef:
    """The keyword `activity`: the whole activity."""

    span: Span


@dataclass(frozen=True, slots=True)
class Field:
    obj: Expr
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    obj: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # "==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains", "matches", ...
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class And:
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Or:
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Quantifier:
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
class Template:
    """A message or hint: literal text parts and `{expr}` interpolations, in order."""

    parts: tuple[str | Expr, ...]
    span: Span

    @property
    def is_plain(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Setting:
    """One policy header setting. `value` is a str, or for `default` a (effect, kinds) pair."""

    name: str
    value: object
    span: Span
    kinds: ListLiteral | None = None


@dataclass(frozen=True, slots=True)
class PolicyHeader:
    name: str
    settings: tuple[Setting, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    alias: str
    span: Span
    path_span: Span
    alias_span: Span


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    expr: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Meta:
    """One rule metadata item; `value` is a str, a bool (waivable) or a tuple of str (tags)."""

    name: str
    value: object
    span: Span
    value_span: Span


@dataclass(frozen=True, slots=True)
class Effect:
    kind: str  # "deny", "warn", "allow"
    message: Template | None
    span: Span


@dataclass(frozen=True, slots=True)
class Rule:
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
class Module:
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
