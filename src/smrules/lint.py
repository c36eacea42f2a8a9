"""Lint warnings (SPEC §7 `smrules lint`): likely mistakes in a policy that loads.

Each check is a function `(LintContext) -> Iterator[Diagnostic]` listed in `CHECKS`; every
warning has a stable code:

- `never-fires`: a rule whose `when`s and `unless`es contradict each other: it can never fire;
- `impossible-value`: a comparison with a value the activity schema never allows
  (`kind == "pots"`);
- `shadowed-rule`: a rule with the same conditions and effect as an earlier rule;
- `unknown-risk`: a `risk` outside the known names;
- `expired-waiver`: a waiver whose `until` is before today (in the policy's time zone);
- `unused-name`: a `let` or `import` that nothing uses;
- `ascii-word-escape`: `\\b`, `\\B`, `\\w` or `\\W` next to a non-ASCII letter in a regex
  (RE2's are ASCII-only);
- `mixed-script`: a word mixing Latin with Cyrillic or Greek letters (`аcme`, Cyrillic `а`);
- `test-without-now`: a test file whose cases run at the fixed default time of SPEC §6 while
  the policy reads the time.

The contradiction check is sound: it reports only what no activity can satisfy. It reasons about
the conjunction "every `when` holds and no `unless` holds", splitting `and`, `not (a or b)` and
boolean `let`s, and compares equality and membership constraints on the same expression with
the values of literals, constant `let`s and data files, and the enums of the activity schema.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import nodes as n
from . import statictypes as t
from .checker import Context, Env, Typer
from .errors import Diagnostic, Span, sort_key
from .loader import Program
from .scope import ActivityFieldRef, DataRef, LetRef, ModuleRef, ModuleScope, build_scopes

KNOWN_RISKS = (
    "confidentiality",
    "regulatory",
    "privacy",
    "security",
    "reputation",
    "legal",
    "employment",
)

DEFAULT_TEST_NOW = "2000-01-01T00:00:00Z"  # SPEC §6: the time of a test case without `now`


def lint_warnings(program: Program, *, today: dt.date | None = None) -> list[Diagnostic]:
    """Every lint warning of a loaded program, sorted by file, line and column.

    `today` (default: the current date in the policy's time zone) decides which waivers have
    expired. Test files under the policy directory are checked too (`lint_test_files`).
    """
    try:
        ctx = LintContext.build(program, today)
    except RecursionError:  # nested too deeply to analyse: the load errors say so
        return []
    out: list[Diagnostic] = []
    for check in CHECKS:
        try:
            out.extend(check(ctx))
        except RecursionError:
            continue
    try:
        out.extend(lint_test_files(program.root, program))
    except RecursionError:
        pass
    return sorted(out, key=sort_key)


def _warning(code: str, message: str, span: Span | None, help_text: str) -> Diagnostic:
    return Diagnostic(code, message, span, "warning", help_text)


# ---------------------------------------------------------------- context


class _RecordingTyper(Typer):
    """The checker's type inference, remembering the type it found for every node."""

    def __init__(self, program: Program, ctx: Context) -> None:
        super().__init__(program, ctx)
        self.types: dict[int, t.Type] = {}

    def infer(self, expr: n.Expr, env: Env) -> t.Type:
        typ = super().infer(expr, env)
        self.types[id(expr)] = typ
        return typ


@dataclass
class LintContext:
    program: Program
    scopes: dict[str, ModuleScope]
    types: dict[int, t.Type]  # static type of each expression node, by id
    today: dt.date
    consumed: set[int] = field(default_factory=set)  # comparisons already reported

    @staticmethod
    def build(program: Program, today: dt.date | None) -> LintContext:
        scopes = build_scopes(program)
        typer = _RecordingTyper(program, Context(program, scopes))
        for module in program.modules:
            scope = scopes[module.file]
            for decl in module.declarations:
                if isinstance(decl, n.Let):
                    typer.infer(decl.expr, Env(scope, before=scope.position.get(decl.name)))
                elif isinstance(decl, n.Rule):
                    for expr in (*decl.whens, *decl.unlesses):
                        typer.infer(expr, Env(scope))
        if today is None:
            today = dt.datetime.now(_policy_tz(program)).date()
        return LintContext(program, scopes, typer.types, today)

    def text(self, span: Span, limit: int = 70) -> str:
        """The source text of a span, on one line, shortened to `limit` characters."""
        source = self.program.sources.get(span.file)
        if source is None or span.end_line is None or span.end_column is None:
            return "..."
        lines = source.split("\n")[span.line - 1 : span.end_line]
        if not lines:
            return "..."
        if len(lines) == 1:
            piece = lines[0][span.column - 1 : span.end_column - 1]
        else:
            piece = " ".join(
                [lines[0][span.column - 1 :], *lines[1:-1], lines[-1][: span.end_column - 1]]
            )
        piece = " ".join(piece.split())
        return piece if len(piece) <= limit else piece[: limit - 3] + "..."

    def raw(self, span: Span) -> str | None:
        """The exact source text of a one-line span."""
        source = self.program.sources.get(span.file)
        if source is None or span.end_line != span.line or span.end_column is None:
            return None
        lines = source.split("\n")
        if not 0 < span.line <= len(lines):
            return None
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]

    def rules(self) -> Iterator[tuple[n.Module, n.Rule]]:
        for module in self.program.modules:
            for decl in module.declarations:
                if isinstance(decl, n.Rule):
                    yield module, decl


def _policy_tz(program: Program) -> dt.tzinfo:
    from .settings import resolve_settings

    return resolve_settings(program.name, program.headers, []).tz


def _all_expressions(module: n.Module) -> Iterator[n.Expr]:
    """The top-level expressions of a module: `let`s, conditions, interpolations, kinds lists."""
    for decl in module.declarations:
        if isinstance(decl, n.Let):
            yield decl.expr
        elif isinstance(decl, n.Rule):
            yield from decl.whens
            yield from decl.unlesses
            for template in (decl.effect.message, decl.hint):
                if template is not None:
                    yield from (p for p in template.parts if not isinstance(p, str))
        elif isinstance(decl, n.PolicyHeader):
            yield from (s.kinds for s in decl.settings if s.kinds is not None)


# ---------------------------------------------------------------- canonical expressions

Key = tuple


class _Canon:
    """Expressions as hashable keys, names resolved (so `common.x` in two files is one thing,
    and `activity.kind` is `kind`), positions dropped, `!=`/`not in` as `not (==)`/`not (in)`."""

    def __init__(self, ctx: LintContext) -> None:
        self.ctx = ctx

    def key(self, expr: n.Expr, module: str, bound: frozenset[str] = frozenset()) -> Key:
        k = self.key
        if isinstance(expr, n.Literal):
            return ("lit", _value_key(expr.value) or ("other", repr(expr.value)))
        if isinstance(expr, n.InstantLiteral):
            return ("instant", expr.text)
        if isinstance(expr, n.RegexLiteral):
            return ("regex", expr.pattern, expr.flags)
        if isinstance(expr, n.ListLiteral):
            return ("list", *(k(i, module, bound) for i in expr.items))
        if isinstance(expr, n.ActivityRef):
            return ("activity",)
        if isinstance(expr, n.Name):
            if expr.name in bound:
                return ("var", expr.name)
            return self.binding(self.ctx.scopes[module].lookup(expr.name), expr.name)
        if isinstance(expr, n.Field):
            target = self.module_member(expr, module, bound)
            if target is not None:
                return target
            return self.get(k(expr.obj, module, bound), ("lit", ("s", expr.name)))
        if isinstance(expr, n.Index):
            return self.get(k(expr.obj, module, bound), k(expr.index, module, bound))
        if isinstance(expr, n.Call):
            return ("call", expr.func, *(k(a, module, bound) for a in expr.args))
        if isinstance(expr, n.Compare):
            left, right = k(expr.left, module, bound), k(expr.right, module, bound)
            if expr.op == "contains":
                return ("cmp", "in", right, left)
            if expr.op == "not in":
                return ("not", ("cmp", "in", left, right))
            if expr.op in ("==", "!="):
                pair = tuple(sorted((left, right), key=repr))
                eq = ("cmp", "==", *pair)
                return eq if expr.op == "==" else ("not", eq)
            return ("cmp", expr.op, left, right)
        if isinstance(expr, n.And):
            return ("and", k(expr.left, module, bound), k(expr.right, module, bound))
        if isinstance(expr, n.Or):
            return ("or", k(expr.left, module, bound), k(expr.right, module, bound))
        if isinstance(expr, n.Not):
            return ("not", k(expr.operand, module, bound))
        if isinstance(expr, n.Quantifier):
            inner = bound | {expr.var}
            source = k(expr.source, module, bound)
            return ("quant", expr.kind, expr.var, source, k(expr.body, module, inner))
        return ("node", repr(expr))

    @staticmethod
    def get(obj: Key, index: Key) -> Key:
        if obj == ("activity",) and index[0] == "lit" and index[1][0] == "s":
            return ("field", index[1][1])
        return ("get", obj, index)

    @staticmethod
    def binding(binding: object, name: str) -> Key:
        if isinstance(binding, LetRef):
            return ("let", binding.module, binding.let.name)
        if isinstance(binding, DataRef):
            return ("data", binding.file)
        if isinstance(binding, ModuleRef):
            return ("module", binding.module)
        if isinstance(binding, ActivityFieldRef):
            return ("field", binding.name)
        return ("unknown", name)

    def module_member(self, expr: n.Field, module: str, bound: frozenset[str]) -> Key | None:
        """`alias.x` where `alias` imports another `.smr` file: that file's binding of `x`."""
        if not isinstance(expr.obj, n.Name) or expr.obj.name in bound:
            return None
        binding = self.ctx.scopes[module].lookup(expr.obj.name)
        if not isinstance(binding, ModuleRef):
            return None
        other = self.ctx.scopes.get(binding.module)
        target = other.names.get(expr.name) if other else None
        return self.binding(target, expr.name) if target is not None else None


def _value_key(value: object) -> tuple | None:
    """A key under which two scalars are equal exactly when smrules' `==` says so."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)  # 1 == 1.0, and their hashes agree
    if isinstance(value, str):
        return ("s", value)
    return None  # dates, instants, lists, maps: not reasoned about


_NULL = ("null",)


def _show(value_key: tuple) -> str:
    if value_key == _NULL:
        return "null"
    value = value_key[1]
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------- constants


class _Constants:
    """Values known at load time: literals, constant `let`s, data-file paths."""

    def __init__(self, ctx: LintContext) -> None:
        self.ctx = ctx

    def value(self, expr: n.Expr, module: str, depth: int = 0) -> tuple[bool, object]:
        """(known, value)."""
        if depth > 20:
            return False, None
        if isinstance(expr, n.Literal):
            return True, expr.value
        if isinstance(expr, n.ListLiteral):
            items = []
            for item in expr.items:
                known, value = self.value(item, module, depth + 1)
                if not known:
                    return False, None
                items.append(value)
            return True, items
        binding = self.resolve(expr, module)
        if isinstance(binding, LetRef):
            return self.value(binding.let.expr, binding.module, depth + 1)
        if isinstance(binding, tuple):  # a data file path
            return True, binding[1]
        return False, None

    def resolve(self, expr: n.Expr, module: str) -> object:
        """A `LetRef`, ("data", value) for a data-file path, or None."""
        if isinstance(expr, n.Name):
            binding = self.ctx.scopes[module].lookup(expr.name)
            if isinstance(binding, DataRef):
                return ("data", self.ctx.program.data[binding.file].value)
            return binding if isinstance(binding, LetRef) else None
        if isinstance(expr, (n.Field, n.Index)):
            if isinstance(expr.obj, n.Name) and isinstance(expr, n.Field):
                binding = self.ctx.scopes[module].lookup(expr.obj.name)
                if isinstance(binding, ModuleRef):
                    other = self.ctx.scopes.get(binding.module)
                    target = other.names.get(expr.name) if other else None
                    if isinstance(target, LetRef):
                        return target
                    if isinstance(target, DataRef):
                        return ("data", self.ctx.program.data[target.file].value)
                    return None
            base = self.resolve(expr.obj, module)
            if not isinstance(base, tuple):
                return None
            if isinstance(expr, n.Field):
                key: object = expr.name
            else:
                known, key = self.value(expr.index, module)
                if not known:
                    return None
            container = base[1]
            if isinstance(container, dict) and isinstance(key, str) and key in container:
                return ("data", container[key])
            if (
                isinstance(container, list)
                and isinstance(key, int)
                and not isinstance(key, bool)
                and 0 <= key < len(container)
            ):
                return ("data", container[key])
        return None

    def members(self, expr: n.Expr, module: str) -> set[tuple] | None:
        """The value keys `x in expr` can be true for, when expr is a known list or map of
        scalars (a map stands for its keys); None when unknown or not reasoned about."""
        known, value = self.value(expr, module)
        if not known:
            return None
        items = list(value) if isinstance(value, (list, dict)) else None
        if items is None:
            return None
        keys = set()
        for item in items:
            key = _value_key(item)
            if key is None:
                return None
            keys.add(key)
        return keys


# ---------------------------------------------------------------- never fires, impossible values


@dataclass
class _Constraint:
    """What is known of one expression's value: one of `allowed` (None: anything), none of
    `excluded`; and the first clause that said anything about it."""

    first: n.Expr
    allowed: set[tuple] | None = None
    excluded: set[tuple] = field(default_factory=set)


@dataclass(frozen=True)
class _Conflict:
    first: n.Expr  # the clause (or atom) that conflicts ...
    second: n.Expr | None  # ... with this one (None: the first never holds on its own)
    detail: str | None = None  # e.g. "`kind` is never "pots"; did you mean "post"?"


class _Facts:
    """The facts of one rule firing: every `when` holds, no `unless` holds."""

    def __init__(self, ctx: LintContext, module: str) -> None:
        self.ctx = ctx
        self.module = module
        self.canon = _Canon(ctx)
        self.constants = _Constants(ctx)
        self.atoms: dict[Key, tuple[bool, n.Expr]] = {}  # atom -> (holds, clause)
        self.values: dict[Key, _Constraint] = {}
        self.conflict: _Conflict | None = None
        self.enum_nodes: set[int] = set()

    def add(self, expr: n.Expr, holds: bool, clause: n.Expr, module: str, depth: int = 0) -> None:
        if self.conflict is not None or depth > 12:
            return
        if isinstance(expr, n.And) and holds or isinstance(expr, n.Or) and not holds:
            self.add(expr.left, holds, clause, module, depth)
            self.add(expr.right, holds, clause, module, depth)
            return
        if isinstance(expr, n.Not):
            self.add(expr.operand, not holds, clause, module, depth)
            return
        if isinstance(expr, n.Literal):
            value = expr.value
            if (value is True or value is False or value is None) and (value is True) != holds:
                self.conflict = _Conflict(clause, None)
            return
        if isinstance(expr, n.Compare) and self.compare(expr, holds, clause, module):
            return
        key = self.canon.key(expr, module)
        if key[0] == "not":  # `x != v`, `x not in xs`: the same atom, negated
            key, holds = key[1], not holds
        seen = self.atoms.get(key)
        if seen is not None and seen[0] != holds:
            self.conflict = _Conflict(seen[1], clause)
            return
        self.atoms.setdefault(key, (holds, clause))
        binding = (
            self.constants.resolve(expr, module) if isinstance(expr, n.Name | n.Field) else None
        )
        if isinstance(binding, LetRef):  # a boolean `let`: its own facts too
            self.add(binding.let.expr, holds, clause, binding.module, depth + 1)

    def compare(self, expr: n.Compare, holds: bool, clause: n.Expr, module: str) -> bool:
        """Constraints from `x == v`, `x != v`, `x in xs`, `x not in xs`, `xs contains x`."""
        op = expr.op
        if op in ("==", "!="):
            for subject, other in ((expr.left, expr.right), (expr.right, expr.left)):
                known, value = self.constants.value(other, module)
                vkey = _value_key(value) if known else None
                if vkey is not None and not self.constants.value(subject, module)[0]:
                    positive = holds == (op == "==")
                    self.constrain(subject, {vkey}, positive, clause, module, expr)
                    return True
            return False
        if op in ("in", "not in", "contains"):
            subject, hay = (expr.right, expr.left) if op == "contains" else (expr.left, expr.right)
            members = self.constants.members(hay, module)
            if members is None or self.constants.value(subject, module)[0]:
                return False
            positive = holds == (op != "not in")
            # `null in xs` is false whatever xs holds: membership neither allows nor excludes null.
            self.constrain(subject, members - {_NULL}, positive, clause, module, expr)
            return True
        return False

    def constrain(
        self,
        subject: n.Expr,
        values: set[tuple],
        positive: bool,
        clause: n.Expr,
        module: str,
        compare: n.Compare,
    ) -> None:
        if positive:
            enum = _enum(self.ctx.types.get(id(subject)))
            if enum is not None and not values & enum:
                self.enum_nodes.add(id(compare))
                detail = _enum_detail(self.ctx, subject, values, enum)
                self.conflict = _Conflict(clause, None, detail)
                return
        c = self.values.setdefault(self.canon.key(subject, module), _Constraint(clause))
        if positive:
            c.allowed = set(values) if c.allowed is None else c.allowed & values
        else:
            c.excluded |= values
        if c.allowed is not None and not c.allowed - c.excluded:
            self.conflict = _Conflict(c.first, clause)


def _enum(typ: t.Type | None) -> set[tuple] | None:
    """The values a string field of the schema can hold (null included), or None."""
    if typ is None or typ.kind != "string" or not typ.enum:
        return None
    keys = {_value_key(v) for v in typ.enum}
    if None in keys:
        return None
    return keys | {_NULL}  # a missing field reads as null


def _enum_detail(ctx: LintContext, subject: n.Expr, values: set[tuple], enum: set[tuple]) -> str:
    name = ctx.text(subject.span, 40)
    shown = sorted(_show(v) for v in values)
    allowed = sorted(v[1] for v in enum if v != _NULL)
    strings = [v[1] for v in values if v[0] == "s"]
    close = difflib.get_close_matches(strings[0], allowed, n=1, cutoff=0.6) if strings else []
    what = shown[0] if len(shown) == 1 else "any of " + ", ".join(shown)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f"`{name}` is never {what}{hint}"


def check_never_fires(ctx: LintContext) -> Iterator[Diagnostic]:
    for module, rule in ctx.rules():
        facts = _Facts(ctx, module.file)
        clauses = [(w, True) for w in rule.whens] + [(u, False) for u in rule.unlesses]
        for expr, holds in clauses:
            facts.add(expr, holds, expr, module.file)
            if facts.conflict is not None:
                break
        conflict = facts.conflict
        if conflict is None:
            continue
        ctx.consumed |= facts.enum_nodes
        word = {id(w): "when" for w in rule.whens} | {id(u): "unless" for u in rule.unlesses}

        def clause(expr: n.Expr, word: dict[int, str] = word) -> str:
            return f"`{word.get(id(expr), 'when')} {ctx.text(expr.span)}`"

        if conflict.detail is not None:
            why = f"{clause(conflict.first)}: {conflict.detail}"
        elif conflict.second is None or conflict.second is conflict.first:
            holds = word.get(id(conflict.first)) != "unless"
            verb = "never holds" if holds else "always holds"
            why = f"{clause(conflict.first)} {verb}"
            if _has_parts(conflict.first):
                why = f"the parts of {clause(conflict.first)} contradict each other"
        else:
            why = f"{clause(conflict.first)} and {clause(conflict.second)} contradict each other"
        yield _warning(
            "never-fires",
            f"rule `{rule.id}` can never fire: {why}",
            rule.id_span,
            "fix the condition, or remove the rule: a rule that never fires protects nothing",
        )


def _has_parts(expr: n.Expr) -> bool:
    return isinstance(expr, (n.And, n.Or, n.Not, n.Name, n.Field))


def check_impossible_values(ctx: LintContext) -> Iterator[Diagnostic]:
    """Comparisons with a value outside a schema enum, wherever they are."""
    constants = _Constants(ctx)
    for module in ctx.program.modules:
        for top in _all_expressions(module):
            for expr in n.walk(top):
                if not isinstance(expr, n.Compare) or id(expr) in ctx.consumed:
                    continue
                found = _impossible(ctx, constants, expr, module.file)
                if found is not None:
                    yield found


def _impossible(
    ctx: LintContext, constants: _Constants, expr: n.Compare, module: str
) -> Diagnostic | None:
    op = expr.op
    if op in ("==", "!="):
        pairs = ((expr.left, expr.right), (expr.right, expr.left))
        for subject, other in pairs:
            enum = _enum(ctx.types.get(id(subject)))
            known, value = constants.value(other, module)
            vkey = _value_key(value) if known and enum is not None else None
            if vkey is not None and vkey not in enum:  # type: ignore[operator]
                return _impossible_warning(ctx, expr, subject, {vkey}, enum, op == "!=")  # type: ignore[arg-type]
        return None
    if op in ("in", "not in", "contains"):
        subject, hay = (expr.right, expr.left) if op == "contains" else (expr.left, expr.right)
        enum = _enum(ctx.types.get(id(subject)))
        members = constants.members(hay, module) if enum is not None else None
        if members and enum is not None and not members & enum:
            return _impossible_warning(ctx, expr, subject, members, enum, op == "not in")
    return None


def _impossible_warning(
    ctx: LintContext,
    expr: n.Compare,
    subject: n.Expr,
    values: set[tuple],
    enum: set[tuple],
    always_true: bool,
) -> Diagnostic:
    outcome = "always true" if always_true else "never true"
    allowed = ", ".join(sorted(v[1] for v in enum if v != _NULL))
    return _warning(
        "impossible-value",
        f"`{ctx.text(expr.span)}` is {outcome}: {_enum_detail(ctx, subject, values, enum)}",
        expr.span,
        f"the activity schema allows only: {allowed}",
    )


# ---------------------------------------------------------------- shadowed rules


def check_shadowed_rules(ctx: LintContext) -> Iterator[Diagnostic]:
    canon = _Canon(ctx)
    first: dict[tuple, n.Rule] = {}
    for module, rule in ctx.rules():
        whens = tuple(sorted((canon.key(w, module.file) for w in rule.whens), key=repr))
        unlesses = tuple(sorted((canon.key(u, module.file) for u in rule.unlesses), key=repr))
        key = (whens, unlesses, rule.effect.kind)
        earlier = first.get(key)
        if earlier is None:
            first[key] = rule
            continue
        yield _warning(
            "shadowed-rule",
            f"rule `{rule.id}` has the same conditions and effect as rule `{earlier.id}` "
            f"({earlier.id_span})",
            rule.id_span,
            "the two fire on exactly the same activities: merge them, or change the conditions "
            "of one",
        )


# ---------------------------------------------------------------- metadata and waivers


def check_unknown_risks(ctx: LintContext) -> Iterator[Diagnostic]:
    for _, rule in ctx.rules():
        for meta in rule.meta:
            if meta.name != "risk" or meta.value in KNOWN_RISKS:
                continue
            close = difflib.get_close_matches(str(meta.value), KNOWN_RISKS, n=1, cutoff=0.6)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            yield _warning(
                "unknown-risk",
                f"unknown risk `{meta.value}` in rule `{rule.id}`{hint}",
                meta.value_span,
                "the known risks are: " + ", ".join(KNOWN_RISKS),
            )


def check_expired_waivers(ctx: LintContext) -> Iterator[Diagnostic]:
    for waiver in ctx.program.waivers:
        if waiver.until >= ctx.today:
            continue
        yield _warning(
            "expired-waiver",
            f"the waiver of rule `{waiver.rule}` expired on {waiver.until.isoformat()} and no "
            "longer applies",
            waiver.span,
            "remove it from waivers.yaml, or renew it with a later `until` once it is approved "
            "again",
        )


# ---------------------------------------------------------------- unused names


def check_unused_names(ctx: LintContext) -> Iterator[Diagnostic]:
    used: set[tuple[str, str]] = set()
    for module in ctx.program.modules:
        scope = ctx.scopes[module.file]
        for top in _all_expressions(module):
            _collect_uses(top, scope, ctx.scopes, frozenset(), used)
    for module in ctx.program.modules:
        for decl in module.declarations:
            if isinstance(decl, n.Let):
                name, span, what = decl.name, decl.name_span, "let"
            elif isinstance(decl, n.Import):
                name, span, what = decl.alias, decl.alias_span, "import"
            else:
                continue
            if (module.file, name) in used:
                continue
            yield _warning(
                "unused-name",
                f"`{name}` is defined (by `{what}`) but never used",
                span,
                "remove it, or use it in a rule; names of a `.smr` file are used from other "
                "files as `alias." + name + "`",
            )


def _collect_uses(
    expr: n.Expr,
    scope: ModuleScope,
    scopes: dict[str, ModuleScope],
    bound: frozenset[str],
    used: set[tuple[str, str]],
) -> None:
    if isinstance(expr, n.Name):
        if expr.name not in bound and expr.name in scope.names:
            used.add((scope.module, expr.name))
        return
    if isinstance(expr, n.Field) and isinstance(expr.obj, n.Name) and expr.obj.name not in bound:
        binding = scope.names.get(expr.obj.name)
        if isinstance(binding, ModuleRef):
            used.add((binding.module, expr.name))
    if isinstance(expr, n.Quantifier):
        _collect_uses(expr.source, scope, scopes, bound, used)
        _collect_uses(expr.body, scope, scopes, bound | {expr.var}, used)
        return
    for child in n.children(expr):
        _collect_uses(child, scope, scopes, bound, used)


# ---------------------------------------------------------------- regexes: ASCII-only escapes

_ASCII_ESCAPES = {"b": "\\b", "B": "\\B", "w": "\\w", "W": "\\W"}
_QUANTIFIER = re.compile(r"[*+?]|\{\d+(,\d*)?\}")


def check_ascii_escapes(ctx: LintContext) -> Iterator[Diagnostic]:
    for module in ctx.program.modules:
        for top in _all_expressions(module):
            for expr in n.walk(top):
                for literal, raw, offset in _patterns(ctx, expr):
                    found = _ascii_escape(raw)
                    if found is None:
                        continue
                    escape, char, at = found
                    span = literal.span
                    if offset is not None:
                        span = Span(span.file, span.line, span.column + offset + at)
                    yield _warning(
                        "ascii-word-escape",
                        f"`{escape}` next to `{char}` in a regex: RE2's `{escape}` knows only "
                        f"ASCII letters, so it does not treat `{char}` as part of a word",
                        span,
                        "for words in any script use `mentions`, or `\\pL` (a letter) and "
                        "`[\\pL\\pN_]` (a word character) in the regex",
                    )


def _patterns(ctx: LintContext, expr: n.Expr) -> Iterator[tuple[n.Expr, str, int | None]]:
    """(literal, pattern text as written, column offset of the pattern in the literal)."""
    if isinstance(expr, n.RegexLiteral):
        raw = ctx.raw(expr.span) or ""
        end = raw.rfind("/")
        if raw.startswith("/") and end > 0:
            yield expr, raw[1:end], 1
        else:
            yield expr, expr.pattern, None
    elif isinstance(expr, n.Compare) and expr.op == "matches":
        right = expr.right
        items = right.items if isinstance(right, n.ListLiteral) else (right,)
        for item in items:
            if isinstance(item, n.Literal) and isinstance(item.value, str):
                yield item, item.value, None


def _ascii_escape(pattern: str) -> tuple[str, str, int] | None:
    """The first `\\b`/`\\B`/`\\w`/`\\W` with a non-ASCII word character next to it."""
    i = 0
    while i < len(pattern):
        if pattern[i] != "\\":
            i += 1
            continue
        letter = pattern[i + 1 : i + 2]
        if letter in _ASCII_ESCAPES:
            before = pattern[i - 1] if i > 0 and not _escaped(pattern, i - 1) else ""
            after_at = i + 2
            if letter in "wW":
                quant = _QUANTIFIER.match(pattern, after_at)
                after_at = quant.end() if quant else after_at
            after = pattern[after_at : after_at + 1]
            for char in (before, after):
                if char and _non_ascii_word(char):
                    return _ASCII_ESCAPES[letter], char, i
        i += 2
    return None


def _escaped(pattern: str, index: int) -> bool:
    """Whether the character at `index` is the letter of an escape (`\\x`)."""
    slashes = 0
    j = index - 1
    while j >= 0 and pattern[j] == "\\":
        slashes += 1
        j -= 1
    return slashes % 2 == 1


def _non_ascii_word(char: str) -> bool:
    return ord(char) > 127 and unicodedata.category(char)[0] in "LMN"


# ---------------------------------------------------------------- mixed scripts

_WORD = re.compile(r"[^\W\d_]+")
_REGEX_ESCAPE = re.compile(r"\\(?:[pP](?:\{[^}]*\}|.)|x(?:\{[^}]*\}|[0-9A-Fa-f]{0,2})|.)")
_CLASS = re.compile(r"\[[^\]]*\]")  # after escapes are gone: `[a-zа-я]` is no word
_LOOKALIKE_SCRIPTS = ("CYRILLIC", "GREEK")


def _script(char: str) -> str | None:
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    return name.split(" ", 1)[0]


def mixed_script_word(text: str) -> tuple[str, str, str] | None:
    """(word, script, first look-alike letter) for the first word of `text` that mixes Latin
    with Cyrillic or Greek letters, else None."""
    for match in _WORD.finditer(text):
        word = match.group(0)
        if word.isascii():
            continue
        scripts = {_script(c) for c in word}
        if "LATIN" not in scripts:
            continue
        for other in _LOOKALIKE_SCRIPTS:
            if other in scripts:
                letter = next(c for c in word if _script(c) == other)
                return word, other, letter
    return None


def _mixed_warning(text: str, span: Span, where: str) -> Diagnostic | None:
    found = mixed_script_word(text)
    if found is None:
        return None
    word, script, letter = found
    name = unicodedata.name(letter)
    return _warning(
        "mixed-script",
        f"`{word}` {where} mixes Latin and {script.title()} letters: `{letter}` is {name}",
        span,
        "retype the word in one script: a look-alike letter from another script never matches "
        "the word as people usually type it",
    )


def check_mixed_scripts(ctx: LintContext) -> Iterator[Diagnostic]:
    for module in ctx.program.modules:
        for top in _all_expressions(module):
            for expr in n.walk(top):
                if isinstance(expr, n.Literal) and isinstance(expr.value, str):
                    plain = _CLASS.sub(" ", _REGEX_ESCAPE.sub(" ", expr.value))  # may be a pattern
                    found = _mixed_warning(plain, expr.span, "in a string")
                elif isinstance(expr, n.RegexLiteral):
                    plain = _CLASS.sub(" ", _REGEX_ESCAPE.sub(" ", expr.pattern))
                    found = _mixed_warning(plain, expr.span, "in a regex")
                else:
                    continue
                if found is not None:
                    yield found
    for name in sorted(ctx.program.data):
        yield from _mixed_in_data(ctx, name)


def _mixed_in_data(ctx: LintContext, name: str) -> Iterator[Diagnostic]:
    """Phrases and names in data files (lexicons, product names) that mix scripts."""
    text = ctx.program.sources.get(name)
    positions: dict = {}
    if text is not None:
        try:
            from .yamlio import load_data_with_positions

            positions = load_data_with_positions(text, name)[1]
        except Exception:  # noqa: BLE001 - positions only place the warning
            positions = {}

    def span_of(path: tuple) -> Span:
        for end in range(len(path), -1, -1):
            pos = positions.get(tuple(path[:end]))
            if pos:
                return Span(name, pos[0], pos[1])
        return Span(name, 1, 1)

    stack: list[tuple[tuple, object]] = [((), ctx.program.data[name].value)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            found = _mixed_warning(value, span_of(path), "in a data file")
            if found is not None:
                yield found
        elif isinstance(value, dict):
            for key in reversed(list(value)):
                found = _mixed_warning(str(key), span_of((*path, key)), "in a data file key")
                if found is not None:
                    yield found
                stack.append(((*path, key), value[key]))
        elif isinstance(value, list):
            for index in reversed(range(len(value))):
                stack.append(((*path, index), value[index]))


# ---------------------------------------------------------------- test files without `now`


def reads_time(program: Program) -> n.Expr | None:
    """The first expression by which the policy reads the time: `time`, `activity.time`,
    `hour(...)` or `weekday(...)`; None if it never does."""
    scopes = build_scopes(program)
    for module in program.modules:
        scope = scopes[module.file]
        for top in _all_expressions(module):
            found = _time_read(top, scope, frozenset())
            if found is not None:
                return found
    return None


def _time_read(expr: n.Expr, scope: ModuleScope, bound: frozenset[str]) -> n.Expr | None:
    if isinstance(expr, n.Name):
        if expr.name == "time" and expr.name not in bound:
            return expr if isinstance(scope.lookup("time"), ActivityFieldRef) else None
        return None
    if isinstance(expr, n.Call) and expr.func in ("hour", "weekday"):
        return expr
    if isinstance(expr, n.Field) and isinstance(expr.obj, n.ActivityRef) and expr.name == "time":
        return expr
    if (
        isinstance(expr, n.Index)
        and isinstance(expr.obj, n.ActivityRef)
        and isinstance(expr.index, n.Literal)
        and expr.index.value == "time"
    ):
        return expr
    if isinstance(expr, n.Quantifier):
        return _time_read(expr.source, scope, bound) or _time_read(
            expr.body, scope, bound | {expr.var}
        )
    for child in n.children(expr):
        found = _time_read(child, scope, bound)
        if found is not None:
            return found
    return None


def lint_test_files(policy_dir: str | os.PathLike[str], program: Program) -> list[Diagnostic]:
    """A warning for each `*.test.yaml` under `policy_dir` that tests this policy and has cases
    without `now` (and without an activity `time`), when the policy reads the time: those cases
    run at 2000-01-01T00:00:00Z, whatever the day the test was written for."""
    reader = reads_time(program)
    if reader is None:
        return []
    root = Path(policy_dir)
    policy = root.resolve()
    search = root if root.is_dir() else root.parent
    shown = f"`{_snippet(program, reader)}` at {reader.span}"
    out: list[Diagnostic] = []
    for path in _test_files(search):
        found = _timeless_cases(path, policy, search)
        if found is None:
            continue
        timeless, total, span = found
        name = _display(path, search)
        if timeless == total:
            count = "every case runs" if total == 1 else f"all {total} cases run"
        else:
            count = f"{timeless} of its {total} cases {'runs' if timeless == 1 else 'run'}"
        out.append(
            _warning(
                "test-without-now",
                f"`{name}` sets no `now`: {count} at {DEFAULT_TEST_NOW}, but the policy "
                f"reads the time ({shown})",
                Span(name, span[0], span[1]),
                "add `now: 2026-11-16T09:00:00+01:00` (the time the cases are meant for) at the "
                "top of the test file, or to each case",
            )
        )
    return out


def _snippet(program: Program, expr: n.Expr) -> str:
    source = program.sources.get(expr.span.file, "")
    lines = source.split("\n")
    span = expr.span
    if span.end_line == span.line and span.end_column and 0 < span.line <= len(lines):
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]
    return "time"


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _test_files(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in filenames:
            if fname.endswith(".test.yaml") and not fname.startswith("."):
                found.append(Path(dirpath) / fname)
    return sorted(found, key=lambda p: p.as_posix().split("/"))


def _load_yaml(text: str, name: str) -> tuple[object, dict]:
    try:
        from .yamlio import yaml_load_with_positions
    except ImportError:  # pragma: no cover - yamlio ships with smrules
        import yaml

        return yaml.safe_load(text), {}
    return yaml_load_with_positions(text, name)


def _timeless_cases(
    path: Path, policy: Path, search: Path
) -> tuple[int, int, tuple[int, int]] | None:
    """(cases without a time, cases, position of the first) for a test file of this policy."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        doc, positions = _load_yaml(text, str(path))
    except Exception:  # noqa: BLE001 - an unreadable test file is `smrules test`'s to report
        return None
    if not isinstance(doc, dict) or "now" in doc:
        return None
    if _policy_under_test(path, doc.get("policy")) != policy:
        return None
    cases = doc.get("cases")
    if not isinstance(cases, list):
        return None
    defaults = doc.get("defaults") if isinstance(doc.get("defaults"), dict) else {}
    timeless = [
        i
        for i, case in enumerate(cases)
        if isinstance(case, dict) and "now" not in case and not _has_time(path, case, defaults)
    ]
    if not timeless:
        return None
    first = positions.get(("cases", timeless[0])) or positions.get(()) or (1, 1)
    return len(timeless), len(cases), (first[0], first[1])


def _has_time(path: Path, case: dict, defaults: dict) -> bool:
    activity = case.get("activity")
    if isinstance(activity, dict) and "time" in activity:
        return True
    if "time" in defaults:
        return True
    given = case.get("activity_file")
    if isinstance(given, str):
        try:
            from .yamlio import load_data

            target = path.parent / given
            value = load_data(target.read_text(encoding="utf-8-sig"), str(target))
        except Exception:  # noqa: BLE001 - a bad activity file is `smrules test`'s to report
            return False
        return isinstance(value, dict) and "time" in value
    return False


def _policy_under_test(path: Path, given: object) -> Path | None:
    """The policy a test file names (`policy:`), else the nearest directory above it with
    `.smr` files (SPEC §6)."""
    here = path.parent
    if isinstance(given, str):
        return Path(os.path.normpath(here / given)).resolve()
    for directory in (here, *here.parents):
        try:
            if any(p.suffix == ".smr" and p.is_file() for p in directory.iterdir()):
                return directory.resolve()
        except OSError:
            return None
    return None


CHECKS: tuple[Callable[[LintContext], Iterator[Diagnostic]], ...] = (
    check_never_fires,  # before impossible values: it claims the comparisons it reports
    check_impossible_values,
    check_shadowed_rules,
    check_unknown_risks,
    check_expired_waivers,
    check_unused_names,
    check_ascii_escapes,
    check_mixed_scripts,
)
