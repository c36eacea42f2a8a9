"""Static checks (SPEC §2.3, §2.4, §7 lint errors): every problem of a program at once.

`check_program` runs an ordered tuple of small passes, each `(program, context) -> diagnostics`.
The expression pass infers static types from the activity schema, data files and literals, and
reports unknown names, unknown fields ("did you mean"), and type errors it can prove.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from . import nodes as n
from . import statictypes as t
from .builtins import ARITY
from .errors import Diagnostic, Span
from .loader import Program
from .scope import (
    ACTIVITY_FIELDS,
    BUILTINS,
    ActivityFieldRef,
    DataRef,
    LetRef,
    ModuleRef,
    ModuleScope,
    build_scopes,
)

_RETURNS = {
    "len": t.NUMBER,
    "lower": t.STRING,
    "upper": t.STRING,
    "trim": t.STRING,
    "words": t.list_of(t.STRING),
    "domain": t.STRING,
    "pii": t.list_of(t.STRING),
    "near": t.BOOLEAN,
    "sha256": t.STRING,
    "hour": t.NUMBER,
    "weekday": t.STRING,
    "days_between": t.NUMBER,
}
_STRINGISH = {"string"}
_TEMPORAL = {"date", "instant"}


@lru_cache(maxsize=1)
def activity_type() -> t.Type:
    from .schemas import load_schema

    return t.from_schema(load_schema("activity"))


def suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


@dataclass
class Context:
    program: Program
    scopes: dict[str, ModuleScope] = field(default_factory=dict)


def check_program(program: Program) -> list[Diagnostic]:
    ctx = Context(program, build_scopes(program))
    out: list[Diagnostic] = []
    for check in CHECKS:
        out.extend(check(program, ctx))
    return out


# ---------------------------------------------------------------- declarations


def check_declared_names(program: Program, ctx: Context) -> Iterator[Diagnostic]:
    for module in program.modules:
        seen: dict[str, Span] = {}
        for decl in module.declarations:
            if isinstance(decl, n.Import):
                name, span = decl.alias, decl.alias_span
            elif isinstance(decl, n.Let):
                name, span = decl.name, decl.name_span
            else:
                continue
            if name in seen:
                yield Diagnostic(
                    "redefined-name",
                    f"`{name}` is already defined in this file",
                    span,
                    help=f"the first definition is at {seen[name]}",
                )
            elif name in BUILTINS:
                yield Diagnostic(
                    "redefined-name",
                    f"`{name}` is a built-in function",
                    span,
                    help="choose another name",
                )
            elif name in ACTIVITY_FIELDS:
                yield Diagnostic(
                    "redefined-name",
                    f"`{name}` names an activity field",
                    span,
                    help="choose another name, such as `my_" + name + "`",
                )
            seen.setdefault(name, span)


def check_duplicate_rules(program: Program, ctx: Context) -> Iterator[Diagnostic]:
    first: dict[str, n.Rule] = {}
    for module in program.modules:
        for decl in module.declarations:
            if not isinstance(decl, n.Rule):
                continue
            if decl.id in first:
                yield Diagnostic(
                    "duplicate-rule",
                    f"rule `{decl.id}` is defined twice",
                    decl.id_span,
                    help=f"the first `{decl.id}` is at {first[decl.id].id_span}; rule ids are "
                    "unique across the whole policy",
                )
            else:
                first[decl.id] = decl


def check_rule_metadata(program: Program, ctx: Context) -> Iterator[Diagnostic]:
    for module in program.modules:
        for decl in module.declarations:
            if not isinstance(decl, n.Rule):
                continue
            seen: dict[str, n.Meta] = {}
            for meta in decl.meta:
                if meta.name in seen:
                    yield Diagnostic(
                        "duplicate-metadata",
                        f"`{meta.name}` is given twice in rule `{decl.id}`",
                        meta.span,
                        help=f"the first is at {seen[meta.name].span}",
                    )
                seen.setdefault(meta.name, meta)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Env:
    scope: ModuleScope
    vars: dict[str, t.Type] = field(default_factory=dict)
    before: int | None = None


class Typer:
    """Infers static types and collects the problems it can prove."""

    def __init__(self, program: Program, ctx: Context) -> None:
        self.program = program
        self.scopes = ctx.scopes
        self.out: list[Diagnostic] = []
        self._lets: dict[int, t.Type] = {}
        self._activity = activity_type()

    def error(self, code: str, message: str, span: Span, help_text: str | None = None) -> None:
        self.out.append(Diagnostic(code, message, span, help=help_text))

    # -- names
    def let_type(self, ref: LetRef) -> t.Type:
        key = id(ref.let)
        if key not in self._lets:
            self._lets[key] = t.ANY  # guards against cycles
            scope = self.scopes[ref.module]
            self._lets[key] = self.infer(
                ref.let.expr, Env(scope, before=scope.position[ref.let.name])
            )
        return self._lets[key]

    def binding_type(self, binding, span: Span) -> t.Type:
        if isinstance(binding, ActivityFieldRef):
            return (self._activity.fields or {}).get(binding.name, t.ANY)
        if isinstance(binding, LetRef):
            return self.let_type(binding)
        if isinstance(binding, DataRef):
            return t.of_value(self.program.data[binding.file].value, data=True)
        if isinstance(binding, ModuleRef):
            return t.Type("module")
        return t.ANY

    def name(self, expr: n.Name, env: Env) -> t.Type:
        if expr.name in env.vars:
            return env.vars[expr.name]
        binding = env.scope.lookup(expr.name, env.before)
        if binding is None:
            later = env.scope.names.get(expr.name)
            if later is not None and env.before is not None:
                self.error(
                    "unknown-name",
                    f"`{expr.name}` is defined later in this file",
                    expr.span,
                    "a `let` can use only the names defined before it",
                )
            elif expr.name in BUILTINS:
                self.error(
                    "unknown-name",
                    f"`{expr.name}` is a function; call it like `{expr.name}(...)`",
                    expr.span,
                )
            else:
                names = set(env.scope.names) | set(env.vars) | ACTIVITY_FIELDS
                self.error(
                    "unknown-name",
                    f"unknown name `{expr.name}`{suggest(expr.name, names)}",
                    expr.span,
                )
            return t.ANY
        return self.binding_type(binding, expr.span)

    # -- inference
    def infer(self, expr: n.Expr, env: Env) -> t.Type:
        method = getattr(self, "_t_" + type(expr).__name__)
        return method(expr, env)

    def _t_Literal(self, expr: n.Literal, env: Env) -> t.Type:
        return t.of_value(expr.value)

    def _t_InstantLiteral(self, expr, env) -> t.Type:
        return t.INSTANT

    def _t_RegexLiteral(self, expr, env) -> t.Type:
        return t.REGEX

    def _t_ListLiteral(self, expr: n.ListLiteral, env: Env) -> t.Type:
        return t.list_of(t.join([self.infer(i, env) for i in expr.items]) if expr.items else t.ANY)

    def _t_ActivityRef(self, expr, env) -> t.Type:
        return self._activity

    def _t_Name(self, expr: n.Name, env: Env) -> t.Type:
        typ = self.name(expr, env)
        if typ.kind == "module":
            self.error(
                "type",
                f"`{expr.name}` is an imported policy file, not a value",
                expr.span,
                f"use one of its names, like `{expr.name}.some_let`",
            )
            return t.ANY
        return typ

    def _t_Field(self, expr: n.Field, env: Env) -> t.Type:
        if isinstance(expr.obj, n.Name) and expr.obj.name not in env.vars:
            binding = env.scope.lookup(expr.obj.name, env.before)
            if isinstance(binding, ModuleRef):
                other = self.scopes.get(binding.module)
                target = other.names.get(expr.name) if other else None
                if target is None:
                    names = other.names if other else {}
                    self.error(
                        "unknown-name",
                        f"`{binding.module}` defines no `{expr.name}`{suggest(expr.name, names)}",
                        expr.span,
                    )
                    return t.ANY
                typ = self.binding_type(target, expr.span)
                return t.ANY if typ.kind == "module" else typ
        obj = self.infer(expr.obj, env)
        return self.field_of(obj, expr.name, expr.span, expr)

    def field_of(self, obj: t.Type, name: str, span: Span, expr: n.Expr) -> t.Type:
        if obj.data and obj.kind not in ("object", "map", "any"):
            self.error(
                "unknown-data-path",
                f"`{_describe(expr)}` does not exist in the data file: "
                f"`{_describe(_parent(expr))}` is a {obj.kind}, not a map",
                span,
                "check the path against the imported file",
            )
            return t.NULL
        if obj.kind in ("object", "map") and obj.fields is not None:
            if name in obj.fields:
                return obj.fields[name]
            if obj.closed:
                where = _describe(expr)
                if obj.data:
                    self.error(
                        "unknown-data-path",
                        f"`{where}` does not exist in the data file{suggest(name, obj.fields)}",
                        span,
                        "check the key in the imported file",
                    )
                else:
                    self.error(
                        "unknown-field",
                        f"unknown activity field `{where}`{suggest(name, obj.fields)}",
                        span,
                        "see `smrules schema activity` for the fields; "
                        "free-form values go under `context`",
                    )
                return t.NULL
        return t.ANY

    def _t_Index(self, expr: n.Index, env: Env) -> t.Type:
        obj = self.infer(expr.obj, env)
        idx = self.infer(expr.index, env)
        if obj.kind == "list":
            index = expr.index
            if (
                obj.data
                and obj.size is not None
                and isinstance(index, n.Literal)
                and (type(index.value) is int)
            ):
                if not 0 <= index.value < obj.size:
                    self.error(
                        "unknown-data-path",
                        f"`{_describe(expr)}` does not exist in the data file: the list "
                        f"has {obj.size} item{'s' if obj.size != 1 else ''}",
                        index.span,
                        "list items are numbered from 0",
                    )
                    return t.NULL
            return obj.item or t.ANY
        if (
            obj.data
            and obj.kind not in ("object", "map", "any")
            and isinstance(expr.index, n.Literal)
        ):
            self.error(
                "unknown-data-path",
                f"`{_describe(expr)}` does not exist in the data file: "
                f"`{_describe(expr.obj)}` is a {obj.kind}",
                expr.index.span,
            )
            return t.NULL
        if (
            obj.kind in ("object", "map")
            and isinstance(expr.index, n.Literal)
            and isinstance(expr.index.value, str)
        ):
            return self.field_of(obj, expr.index.value, expr.index.span, expr)
        del idx
        return t.ANY

    def _t_Call(self, expr: n.Call, env: Env) -> t.Type:
        if expr.func not in ARITY:
            self.error(
                "unknown-function",
                f"unknown function `{expr.func}`{suggest(expr.func, BUILTINS)}",
                expr.span,
            )
            for arg in expr.args:
                self.infer(arg, env)
            return t.ANY
        low, high = ARITY[expr.func]
        args = [self.infer(a, env) for a in expr.args]
        if not low <= len(args) <= high:
            want = str(low) if low == high else f"{low} or {high}"
            self.error(
                "arity",
                f"`{expr.func}` takes {want} argument{'s' if high > 1 else ''}, got {len(args)}",
                expr.span,
            )
            return _RETURNS[expr.func]
        self._check_args(expr, args)
        return _RETURNS[expr.func]

    def _check_args(self, expr: n.Call, args: list[t.Type]) -> None:
        func = expr.func
        first = args[0]
        if func == "len":
            self.expect(
                first,
                {"string", "list", "map", "object"},
                expr.args[0],
                "`len` needs a string, a list or a map",
            )
        elif func in ("lower", "upper", "trim", "words", "domain", "sha256", "pii"):
            self.expect(first, _STRINGISH, expr.args[0], f"`{func}` needs a string")
        elif func in ("hour", "weekday"):
            self.expect(first, _TEMPORAL, expr.args[0], f"`{func}` needs a date or an instant")
        elif func == "days_between":
            for arg, node in zip(args, expr.args, strict=False):
                self.expect(arg, _TEMPORAL, node, "`days_between` needs dates or instants")
        elif func == "near":
            self.expect(first, _STRINGISH, expr.args[0], "`near` searches a string")
            for arg, node in zip(args[1:3], expr.args[1:3], strict=False):
                self.expect(
                    arg,
                    {"string", "list", "map"},
                    node,
                    "`near` needs phrases: a string, a list of strings or a map",
                )
            self.expect(args[3], {"number"}, expr.args[3], "`near` needs a number of words")

    def expect(self, typ: t.Type, kinds: set[str], node: n.Expr, message: str) -> None:
        if typ.kind in ("any", "null") or typ.kind in kinds:
            return
        self.error("type", f"{message}, got {typ}", node.span)

    def _t_Compare(self, expr: n.Compare, env: Env) -> t.Type:
        left, right = self.infer(expr.left, env), self.infer(expr.right, env)
        op = expr.op
        lk, rk = left.kind, right.kind
        unknown = {"any", "null"}
        if op in ("<", "<=", ">", ">="):
            if lk not in unknown and rk not in unknown:
                ok = (
                    (lk == rk == "number")
                    or (lk == rk == "string")
                    or (lk in _TEMPORAL and rk in _TEMPORAL)
                )
                if not ok:
                    self.error(
                        "type",
                        f"cannot compare {left} with {right} using `{op}`",
                        expr.span,
                        "numbers, strings and dates/instants compare only with their own kind",
                    )
        elif op in ("in", "not in", "contains"):
            needle, hay = (left, right) if op != "contains" else (right, left)
            hay_node = expr.right if op != "contains" else expr.left
            if hay.kind in ("number", "boolean", "regex", "date", "instant"):
                self.error(
                    "type", f"`{op}` needs a list, a map or a string, got {hay}", hay_node.span
                )
            elif hay.kind == "string" and needle.kind not in unknown | {"string"}:
                self.error(
                    "type", f"`{op}` a string needs a string to look for, got {needle}", expr.span
                )
        elif op == "matches":
            self.expect(left, _STRINGISH, expr.left, "`matches` needs a string on the left")
            if rk not in unknown | {"regex", "string", "list"}:
                self.error(
                    "type",
                    f"`matches` needs a regex, a pattern string or a list, got {right}",
                    expr.right.span,
                )
        elif op == "mentions":
            self.expect(left, _STRINGISH, expr.left, "`mentions` needs a string on the left")
            self.expect(
                right,
                {"string", "list", "map", "object"},
                expr.right,
                "`mentions` needs phrases: a string, a list of strings or a map",
            )
        elif op in ("startswith", "endswith"):
            self.expect(left, _STRINGISH, expr.left, f"`{op}` needs a string on the left")
            self.expect(right, _STRINGISH, expr.right, f"`{op}` needs a string on the right")
        elif op == "intersects":
            self.expect(left, {"list"}, expr.left, "`intersects` needs lists")
            self.expect(right, {"list"}, expr.right, "`intersects` needs lists")
        return t.BOOLEAN

    def _t_And(self, expr: n.And, env: Env) -> t.Type:
        self.condition(expr.left, env, "and")
        self.condition(expr.right, env, "and")
        return t.BOOLEAN

    _t_Or = _t_And

    def _t_Not(self, expr: n.Not, env: Env) -> t.Type:
        self.condition(expr.operand, env, "not")
        return t.BOOLEAN

    def condition(self, expr: n.Expr, env: Env, what: str) -> None:
        typ = self.infer(expr, env)
        if typ.kind not in ("any", "null", "boolean"):
            self.error(
                "type",
                f"`{what}` needs true or false, got {typ}",
                expr.span,
                "compare the value, e.g. `x != null` or `len(x) > 0`",
            )

    def _t_Quantifier(self, expr: n.Quantifier, env: Env) -> t.Type:
        source = self.infer(expr.source, env)
        if expr.var in env.vars or env.scope.lookup(expr.var) is not None:
            self.error(
                "redefined-name",
                f"`{expr.var}` is already a name here",
                expr.var_span,
                "choose another name for the quantifier's variable",
            )
        if source.kind in ("string", "number", "boolean", "regex", "date", "instant"):
            self.error(
                "type", f"`{expr.kind}` goes over a list or a map, got {source}", expr.source.span
            )
        item = (
            source.item
            if source.kind == "list" and source.item
            else (t.STRING if source.kind in ("map", "object") else t.ANY)
        )
        inner = Env(env.scope, {**env.vars, expr.var: item}, env.before)
        self.condition(expr.body, inner, expr.kind)
        if expr.kind in ("any", "all"):
            return t.BOOLEAN
        if expr.kind == "count":
            return t.NUMBER
        return t.list_of(item)


def _parent(expr: n.Expr) -> n.Expr:
    return expr.obj if isinstance(expr, (n.Field, n.Index)) else expr


def _describe(expr: n.Expr) -> str:
    parts: list[str] = []
    node = expr
    while True:
        if isinstance(node, n.Field):
            parts.append(node.name)
            node = node.obj
        elif isinstance(node, n.Index):
            idx = node.index
            literal = isinstance(idx, n.Literal)
            parts.append(f"[{json.dumps(idx.value)}]" if literal else "[...]")
            node = node.obj
        else:
            if isinstance(node, n.Name):
                parts.append(node.name)
            break
    return ".".join(reversed(parts)).replace(".[", "[")


def check_expressions(program: Program, ctx: Context) -> Iterator[Diagnostic]:
    typer = Typer(program, ctx)
    for module in program.modules:
        scope = ctx.scopes[module.file]
        for decl in module.declarations:
            if isinstance(decl, n.Let):
                binding = scope.names.get(decl.name)
                if isinstance(binding, LetRef) and binding.let is decl:
                    typer.let_type(binding)
                else:  # a redefinition: still check it
                    typer.infer(decl.expr, Env(scope, before=_index(module, decl)))
            elif isinstance(decl, n.Rule):
                env = Env(scope)
                for kind, exprs in (("when", decl.whens), ("unless", decl.unlesses)):
                    for expr in exprs:
                        typ = typer.infer(expr, env)
                        if typ.kind not in ("any", "null", "boolean"):
                            typer.error(
                                "type",
                                f"a `{kind}` condition must be true or false, got {typ}",
                                expr.span,
                                "compare the value, e.g. `x != null` or `len(x) > 0`",
                            )
                for template in (decl.effect.message, decl.hint):
                    if template is None:
                        continue
                    for part in template.parts:
                        if not isinstance(part, str):
                            typ = typer.infer(part, env)
                            if typ.kind == "regex":
                                typer.error("type", "a regex cannot be interpolated", part.span)
    yield from typer.out


def _index(module: n.Module, decl: n.Declaration) -> int:
    return next(i for i, d in enumerate(module.declarations) if d is decl)


CHECKS = (check_declared_names, check_duplicate_rules, check_rule_metadata, check_expressions)
