"""AST to closures (SPEC §2.4–§2.7).

`ExprCompiler.compile(expr, env)` walks an expression once, at load time, and returns a
function of the evaluation context. Everything that does not depend on the activity is done
here: constant sub-expressions are folded, constant lists become sets, regexes and phrase lists
are compiled. Operators that can point at words (`matches`, `mentions`, `near`, `in` on strings,
`pii`) also record evidence when the context asks for it.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import re2

from . import builtins as bi
from . import nodes as n
from .errors import Diagnostic, Span
from .loader import Program
from .patterns import PatternGroup
from .runtime import UNSET, Ctx
from .scope import ActivityFieldRef, DataRef, LetRef, ModuleRef, ModuleScope
from .values import (
    EvalError,
    Regex,
    compile_pattern,
    equal,
    order_operands,
    render,
    type_name,
)

Fn = Callable[[Ctx], object]
MAX_EVIDENCE = 20


class _Failed:
    """A lazily evaluated `let` that failed: every rule using it fails the same way."""

    __slots__ = ("error",)

    def __init__(self, error: EvalError) -> None:
        self.error = error


@dataclass(frozen=True, slots=True)
class Env:
    scope: ModuleScope
    vars: dict[str, int] = field(default_factory=dict)  # quantifier binder -> slot
    before: int | None = None  # inside a `let`: only names declared before it
    evidence: bool = False  # inside a `when`, not under `not`
    pii_kinds: frozenset[str] | None = None  # the kinds a `pii()` here is tested for
    group_tag: object = None  # the rule's index guard: its patterns scan only for its activities


@dataclass(frozen=True, slots=True)
class PathInfo:
    """A field path whose evidence location is known: rooted at the activity or a binder."""

    root_slot: int | None  # None: the activity
    keys: tuple[object, ...]

    def render(self, c: Ctx) -> str | None:
        if self.root_slot is None:
            text = ""
        else:
            base = c.var_paths[self.root_slot]
            if base is None:
                return None
            text = base
        for key in self.keys:
            if isinstance(key, int):
                text += f"[{key}]"
            else:
                text = f"{text}.{key}" if text else str(key)
        return text or None


class CompileFailed(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic


class ExprCompiler:
    """Compiles expressions of one program; shared across its modules."""

    def __init__(self, program: Program, scopes: dict[str, ModuleScope], tz: dt.tzinfo) -> None:
        self.program = program
        self.scopes = scopes
        self.tz = tz
        self.diagnostics: list[Diagnostic] = []
        self.n_lets = 0
        self.n_vars = 0
        self._let_fns: dict[int, Fn] = {}
        self._let_const: dict[int, object] = {}
        self._reads: dict[int, bool] = {}
        # Keyed by node id; each entry keeps its node alive so the id is never reused by a
        # later node (expressions compiled after loading, e.g. `Policy.expression`).
        self._reads_memo: dict[tuple, tuple[n.Expr, bool]] = {}
        self.evidence_sites = 0  # closures compiled so far that may record evidence
        self._time_fns = bi.make_time_functions(tz)
        self.node_fns: dict[int, Fn] = {}  # every compiled node, for explanations
        self.pattern_groups: dict[object, PatternGroup] = {}
        self._slot_sources: dict[int, object] = {}  # quantifier slot -> its source's signature

    # ------------------------------------------------------------ analysis
    def reads_activity(self, expr: n.Expr, env: Env) -> bool:
        """Whether an expression's value can depend on the activity (or a binder)."""
        key = (id(expr), env.before, tuple(env.vars) if env.vars else ())
        hit = self._reads_memo.get(key)
        if hit is None:
            hit = self._reads_memo[key] = (expr, self._reads_activity(expr, env))
        return hit[1]

    def _reads_activity(self, expr: n.Expr, env: Env) -> bool:
        if isinstance(expr, n.ActivityRef):
            return True
        if isinstance(expr, n.Name):
            if expr.name in env.vars:
                return True
            binding = env.scope.lookup(expr.name, env.before)
            if isinstance(binding, ActivityFieldRef):
                return True
            if isinstance(binding, LetRef):
                return self._let_reads(binding)
            return False
        if isinstance(expr, n.Field):
            target = self._module_member(expr, env)
            if target is not None:
                return isinstance(target, LetRef) and self._let_reads(target)
        if isinstance(expr, n.Quantifier):
            inner = replace(env, vars={**env.vars, expr.var: -1})
            return self.reads_activity(expr.source, env) or self.reads_activity(expr.body, inner)
        return any(self.reads_activity(child, env) for child in n.children(expr))

    def _let_reads(self, ref: LetRef) -> bool:
        key = id(ref.let)
        if key not in self._reads:
            self._reads[key] = True  # a cycle cannot be constant; the checker reports it
            scope = self.scopes[ref.module]
            env = Env(scope, before=scope.position[ref.let.name])
            self._reads[key] = self.reads_activity(ref.let.expr, env)
        return self._reads[key]

    def _module_member(self, expr: n.Field, env: Env) -> LetRef | DataRef | ModuleRef | None:
        """`m.x` where `m` is an imported `.smr` file: the binding of `x` in that file."""
        if not isinstance(expr.obj, n.Name) or expr.obj.name in env.vars:
            return None
        binding = env.scope.lookup(expr.obj.name, env.before)
        if isinstance(binding, ModuleRef):
            other = self.scopes.get(binding.module)
            if other is None:
                return None
            target = other.names.get(expr.name)
            if isinstance(target, (LetRef, DataRef, ModuleRef)):
                return target
            return None
        if isinstance(expr.obj, n.Field):
            return None
        return None

    def _resolve_field_chain(self, expr: n.Field, env: Env):
        """Resolve `a.b.c` through module imports; returns the binding or None."""
        if isinstance(expr.obj, n.Field):
            inner = self._resolve_field_chain(expr.obj, env)
            if isinstance(inner, ModuleRef):
                other = self.scopes.get(inner.module)
                return other.names.get(expr.name) if other else None
            return None
        return self._module_member(expr, env)

    # ------------------------------------------------------------ entry points
    def compile(self, expr: n.Expr, env: Env) -> Fn:
        if not isinstance(expr, (n.Literal, n.RegexLiteral)) and not self.reads_activity(expr, env):
            value = self.constant(expr, env)
            fn = _const(value)
        else:
            fn = self._compile(expr, env)
        self.node_fns[id(expr)] = fn
        return fn

    def constant(self, expr: n.Expr, env: Env) -> object:
        """Evaluate an activity-independent expression now (constant folding)."""
        fn = self._compile(expr, replace(env, evidence=False))
        probe = Ctx({}, dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), self.n_lets, self.n_vars)
        try:
            return fn(probe)
        except EvalError as err:
            raise CompileFailed(
                Diagnostic(
                    "type",
                    err.message,
                    err.span or expr.span,
                    help="this expression fails whatever the activity",
                )
            ) from None

    def const_value(self, expr: n.Expr, env: Env) -> tuple[bool, object]:
        if self.reads_activity(expr, env):
            return False, None
        return True, self.constant(expr, env)

    def pattern_group(self, subject: n.Expr, env: Env) -> PatternGroup:
        """The fused-scan group for constant patterns searching this subject."""
        signature = (env.group_tag, self.signature(subject, env))
        group = self.pattern_groups.get(signature)
        if group is None:
            group = self.pattern_groups[signature] = PatternGroup()
        return group

    def signature(self, expr: n.Expr, env: Env) -> object:
        """What kind of string an expression yields: `content.text`, `content.links[].domain`.

        Only for grouping; the scan cache is keyed by the string itself, so any grouping is
        correct and a good one just shares more work.
        """
        info = self.path_info(expr, env)
        if info is None:
            return ("expr", id(expr))
        if info.root_slot is None:
            return ("act", *info.keys)
        return ("item", self._slot_sources.get(info.root_slot, info.root_slot), *info.keys)

    def is_boolean(self, expr: n.Expr) -> bool:
        """Whether an expression always yields true or false (never null or another type).

        For such operands Python's own `and`/`or`/`not` are exact, saving a type check per call.
        """
        if isinstance(expr, (n.Compare, n.And, n.Or, n.Not)):
            return True
        if isinstance(expr, n.Quantifier):
            return expr.kind in ("any", "all")
        if isinstance(expr, n.Call):
            return expr.func == "near"
        if isinstance(expr, n.Literal):
            return type(expr.value) is bool
        return False

    def finalize(self) -> None:
        """Build the fused pattern scans once every rule is compiled."""
        for group in self.pattern_groups.values():
            group.finalize()

    # ------------------------------------------------------------ dispatch
    def _compile(self, expr: n.Expr, env: Env) -> Fn:
        method = getattr(self, "_c_" + type(expr).__name__)
        return method(expr, env)

    def _c_Literal(self, expr: n.Literal, env: Env) -> Fn:
        return _const(expr.value)

    def _c_InstantLiteral(self, expr: n.InstantLiteral, env: Env) -> Fn:
        value = expr.value
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tz)
            # Normalise through UTC so a time in a skipped hour resolves consistently.
            value = value.astimezone(dt.timezone.utc).astimezone(self.tz)
        return _const(value)

    def _c_RegexLiteral(self, expr: n.RegexLiteral, env: Env) -> Fn:
        try:
            compiled = compile_pattern(expr.pattern, expr.flags)
        except ValueError as err:
            raise CompileFailed(
                Diagnostic(
                    "bad-regex",
                    f"invalid regex: {err}",
                    expr.span,
                    help="patterns use RE2 syntax: no look-around, no backreferences",
                )
            ) from None
        return _const(Regex(expr.pattern, expr.flags, compiled))

    def _c_ListLiteral(self, expr: n.ListLiteral, env: Env) -> Fn:
        fns = [self.compile(item, env) for item in expr.items]
        return lambda c: [f(c) for f in fns]

    def _c_ActivityRef(self, expr: n.ActivityRef, env: Env) -> Fn:
        return lambda c: c.act

    def _c_Name(self, expr: n.Name, env: Env) -> Fn:
        slot = env.vars.get(expr.name)
        if slot is not None:
            return shaped(lambda c: c.vars[slot], "var", slot)
        binding = env.scope.lookup(expr.name, env.before)
        return self._binding_fn(binding, expr, env)

    def _binding_fn(self, binding, expr: n.Expr, env: Env) -> Fn:
        if isinstance(binding, ActivityFieldRef):
            key = binding.name
            return shaped(lambda c: c.act.get(key), "path", (key,))
        if isinstance(binding, DataRef):
            return _const(self.program.data[binding.file].value)
        if isinstance(binding, LetRef):
            return self._let_fn(binding)
        if isinstance(binding, ModuleRef):
            raise CompileFailed(
                Diagnostic(
                    "type",
                    "an imported policy file is not a value",
                    expr.span,
                    help="use one of its names, like `module.name`",
                )
            )
        name = getattr(expr, "name", "?")
        raise CompileFailed(Diagnostic("unknown-name", f"unknown name `{name}`", expr.span))

    def _let_fn(self, ref: LetRef) -> Fn:
        key = id(ref.let)
        scope = self.scopes[ref.module]
        env = Env(scope, before=scope.position[ref.let.name])
        if not self._let_reads(ref):
            if key not in self._let_const:
                self._let_const[key] = self.constant(ref.let.expr, env)
            return _const(self._let_const[key])
        if key in self._let_fns:
            return self._let_fns[key]
        slot = self.n_lets
        self.n_lets += 1
        holder: list[Fn] = []

        def let_value(c: Ctx) -> object:
            value = c.lets[slot]
            if value is UNSET:
                try:
                    value = holder[0](c)
                except EvalError as err:
                    value = _Failed(err)
                c.lets[slot] = value
            if type(value) is _Failed:
                raise value.error
            return value

        self._let_fns[key] = let_value
        holder.append(self.compile(ref.let.expr, env))
        return let_value

    # ------------------------------------------------------------ access
    def wants_evidence(self, env: Env) -> bool:
        """Whether the closure being compiled records evidence. Every closure that may record
        some asks here, and is counted: a rule whose `when`s have none skips re-running them
        for evidence."""
        if env.evidence:
            self.evidence_sites += 1
        return env.evidence

    def path_info(self, expr: n.Expr, env: Env) -> PathInfo | None:
        """The static field path of an expression, for evidence; None if it is not one."""
        keys: list[object] = []
        node = expr
        while True:
            if isinstance(node, n.Field):
                keys.append(node.name)
                node = node.obj
            elif (
                isinstance(node, n.Index)
                and isinstance(node.index, n.Literal)
                and type(node.index.value) in (str, int)
            ):
                keys.append(node.index.value)
                node = node.obj
            else:
                break
        keys.reverse()
        if isinstance(node, n.ActivityRef):
            return PathInfo(None, tuple(keys))
        if isinstance(node, n.Name):
            slot = env.vars.get(node.name)
            if slot is not None:
                return PathInfo(slot, tuple(keys))
            binding = env.scope.lookup(node.name, env.before)
            if isinstance(binding, ActivityFieldRef):
                return PathInfo(None, (node.name, *keys))
        return None

    def _c_Field(self, expr: n.Field, env: Env) -> Fn:
        member = self._resolve_field_chain(expr, env)
        if member is not None:
            return self._binding_fn(member, expr, env)
        if (
            isinstance(expr.obj, n.Name)
            and expr.obj.name not in env.vars
            and isinstance(env.scope.lookup(expr.obj.name, env.before), ModuleRef)
        ):
            raise CompileFailed(
                Diagnostic(
                    "unknown-name", f"unknown name `{expr.name}` in `{expr.obj.name}`", expr.span
                )
            )
        info = self.path_info(expr, env)
        if info is not None and info.root_slot is None and all(type(k) is str for k in info.keys):
            return _activity_path(info.keys)
        obj = self.compile(expr.obj, env)
        key = expr.name

        def get_field(c: Ctx) -> object:
            value = obj(c)
            return value.get(key) if type(value) is dict else None

        return shaped(get_field, "field", obj, key)

    def _c_Index(self, expr: n.Index, env: Env) -> Fn:
        obj = self.compile(expr.obj, env)
        idx = self.compile(expr.index, env)

        def get_index(c: Ctx) -> object:
            value = obj(c)
            key = idx(c)
            if type(value) is dict:
                return value.get(key) if type(key) is str else None
            if isinstance(value, (list, tuple)) and type(key) is int:
                return value[key] if 0 <= key < len(value) else None
            if isinstance(value, (list, tuple)) and type(key) is float and key.is_integer():
                i = int(key)
                return value[i] if 0 <= i < len(value) else None
            return None

        return get_index

    # ------------------------------------------------------------ logic
    def _c_And(self, expr: n.And, env: Env) -> Fn:
        left, right = self.compile(expr.left, env), self.compile(expr.right, env)
        lspan, rspan = expr.left.span, expr.right.span
        if self.is_boolean(expr.left) and self.is_boolean(expr.right):
            return shaped(lambda c: left(c) and right(c), "and", left, right)

        def and_(c: Ctx) -> bool:
            a = left(c)
            if a is True:
                b = right(c)
                if b is True:
                    return True
                if b is False or b is None:
                    return False
                raise _not_bool("and", b, rspan)
            if a is False or a is None:
                return False
            raise _not_bool("and", a, lspan)

        return and_

    def _c_Or(self, expr: n.Or, env: Env) -> Fn:
        left, right = self.compile(expr.left, env), self.compile(expr.right, env)
        lspan, rspan = expr.left.span, expr.right.span
        if self.is_boolean(expr.left) and self.is_boolean(expr.right):
            return shaped(lambda c: left(c) or right(c), "or", left, right)

        def or_(c: Ctx) -> bool:
            a = left(c)
            if a is True:
                return True
            if a is False or a is None:
                b = right(c)
                if b is True:
                    return True
                if b is False or b is None:
                    return False
                raise _not_bool("or", b, rspan)
            raise _not_bool("or", a, lspan)

        return or_

    def _c_Not(self, expr: n.Not, env: Env) -> Fn:
        inner = self.compile(expr.operand, replace(env, evidence=False))
        span = expr.operand.span
        if self.is_boolean(expr.operand):
            return shaped(lambda c: not inner(c), "not", inner)

        def not_(c: Ctx) -> bool:
            v = inner(c)
            if v is True:
                return False
            if v is False or v is None:
                return True
            raise _not_bool("not", v, span)

        return not_

    # ------------------------------------------------------------ comparisons
    def _c_Compare(self, expr: n.Compare, env: Env) -> Fn:
        op = expr.op
        if op in ("==", "!="):
            fn = self._equality(expr, env)
            if op == "!=":
                eq = fn
                return shaped(lambda c: not eq(c), "not", eq)
            return fn
        if op in ("<", "<=", ">", ">="):
            return self._ordering(expr, env)
        if op in ("in", "not in"):
            fn = self._membership(expr.left, expr.right, expr, env)
            if op == "not in":
                inside = fn
                return shaped(lambda c: not inside(c), "not", inside)
            return fn
        if op == "contains":
            return self._membership(expr.right, expr.left, expr, env)
        if op == "matches":
            from .matching import compile_matches

            return compile_matches(self, expr, env)
        if op == "mentions":
            from .matching import compile_mentions

            return compile_mentions(self, expr, env)
        if op in ("startswith", "endswith"):
            return self._affix(expr, env)
        if op == "intersects":
            return self._intersects(expr, env)
        raise AssertionError(op)  # pragma: no cover - the grammar has no other operator

    def _equality(self, expr: n.Compare, env: Env) -> Fn:
        left, right = self.compile(expr.left, env), self.compile(expr.right, env)
        for const_side, other, other_node in (
            (expr.right, left, expr.left),
            (expr.left, right, expr.right),
        ):
            known, value = self._literal_const(const_side, env)
            if known and (type(value) is str or value is None):
                return self._equals_constant(other_node, other, value, env)
        tz = self.tz
        return lambda c: equal(left(c), right(c), tz)

    def _equals_constant(self, node: n.Expr, fn: Fn, value: str | None, env: Env) -> Fn:
        """`x == "literal"` or `x == null`: plain Python equality is exact for these."""
        if value is None:
            return shaped(lambda c: fn(c) is None, "is_none", fn)
        keys = self._static_keys(node, env)
        if keys is not None and len(keys) == 1:
            (k0,) = keys
            return shaped(lambda c: c.act.get(k0) == value, "eq_path", keys, value)
        if keys is not None and len(keys) == 2:
            k0, k1 = keys

            def path_equals(c: Ctx) -> bool:
                v = c.act.get(k0)
                return type(v) is dict and v.get(k1) == value

            return shaped(path_equals, "eq_path", keys, value)
        return shaped(lambda c: fn(c) == value, "eq", fn, value)

    def _static_keys(self, expr: n.Expr, env: Env) -> tuple[str, ...] | None:
        """The field names of a plain activity path like `content.text`, else None."""
        if not isinstance(expr, (n.Name, n.Field)):
            return None
        info = self.path_info(expr, env)
        if info is None or info.root_slot is not None or not info.keys:
            return None
        if not all(type(k) is str for k in info.keys):
            return None
        if self._resolve_field_chain(expr, env) is not None if isinstance(expr, n.Field) else False:
            return None
        return info.keys  # type: ignore[return-value]

    def _literal_const(self, expr: n.Expr, env: Env) -> tuple[bool, object]:
        if isinstance(expr, n.Literal):
            return True, expr.value
        return False, None

    def _ordering(self, expr: n.Compare, env: Env) -> Fn:
        left, right = self.compile(expr.left, env), self.compile(expr.right, env)
        op_fn = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[expr.op]
        tz, op, span = self.tz, expr.op, expr.span

        def order(c: Ctx) -> bool:
            a, b = left(c), right(c)
            if type(a) is type(b) and type(a) in (int, float, str):
                return op_fn(a, b)
            try:
                pair = order_operands(a, b, tz, op)
            except EvalError as err:
                raise EvalError(err.message, span) from None
            if pair is None:
                return False
            return op_fn(pair[0], pair[1])

        return shaped(order, "order", left, right, op)

    def _membership(self, needle_node: n.Expr, hay_node: n.Expr, expr: n.Compare, env: Env) -> Fn:
        """`needle in hay` (and `hay contains needle`)."""
        needle = self.compile(needle_node, env)
        hay = self.compile(hay_node, _pii_env(env, hay_node, needle_node))
        tz, span = self.tz, expr.span
        known, hay_value = self.const_value(hay_node, env)
        if (
            known
            and isinstance(hay_value, (list, tuple))
            and all(type(v) is str for v in hay_value)
        ):
            members = frozenset(hay_value)
            items = list(hay_value)
            keys = self._static_keys(needle_node, env)
            if keys is not None and len(keys) == 1:
                (k0,) = keys

                def path_in_strings(c: Ctx) -> bool:
                    x = c.act.get(k0)
                    return type(x) is str and x in members

                return shaped(path_in_strings, "in_strs_path", keys, members)
            if keys is not None and len(keys) == 2:
                k0, k1 = keys

                def path2_in_strings(c: Ctx) -> bool:
                    v = c.act.get(k0)
                    if type(v) is not dict:
                        return False
                    x = v.get(k1)
                    return type(x) is str and x in members

                return shaped(path2_in_strings, "in_strs_path", keys, members)

            def in_strings(c: Ctx) -> bool:
                x = needle(c)
                if type(x) is str:
                    return x in members
                if x is None:
                    return False
                return any(equal(x, item, tz) for item in items)

            return shaped(in_strings, "in_strs", needle, members)
        if known and isinstance(hay_value, dict):
            keys = frozenset(hay_value)
            return lambda c: (x := needle(c)) is not None and type(x) is str and x in keys

        want_evidence = self.wants_evidence(env)
        hay_path = self.path_info(hay_node, env) if want_evidence else None

        def member(c: Ctx) -> bool:
            x = needle(c)
            xs = hay(c)
            if x is None or xs is None:
                return False
            if isinstance(xs, (list, tuple)):
                if type(x) is str:
                    return any(type(v) is str and v == x for v in xs)
                return any(equal(x, v, tz) for v in xs)
            if type(xs) is dict:
                return type(x) is str and x in xs
            if type(xs) is str:
                if type(x) is not str:
                    raise EvalError(
                        f"`in` a string needs a string on the left, got {type_name(x)}", span
                    )
                found = x in xs
                if found and want_evidence and c.evidence is not None:
                    add_substring_evidence(c, hay_path, xs, x)
                return found
            raise EvalError(
                f"`in` needs a list, a map or a string on the right, got {type_name(xs)}", span
            )

        return shaped(member, "member", needle, hay)

    def _affix(self, expr: n.Compare, env: Env) -> Fn:
        left, right = self.compile(expr.left, env), self.compile(expr.right, env)
        op, span = expr.op, expr.span

        def affix(c: Ctx) -> bool:
            s, t = left(c), right(c)
            if s is None or t is None:
                return False
            if type(s) is not str or type(t) is not str:
                bad = s if type(s) is not str else t
                raise EvalError(f"`{op}` needs strings, got {type_name(bad)}", span)
            return s.startswith(t) if op == "startswith" else s.endswith(t)

        return affix

    def _intersects(self, expr: n.Compare, env: Env) -> Fn:
        left = self.compile(expr.left, _pii_env(env, expr.left, expr.right))
        right = self.compile(expr.right, _pii_env(env, expr.right, expr.left))
        tz, span = self.tz, expr.span
        known, value = self.const_value(expr.right, env)
        if known and isinstance(value, (list, tuple)) and all(type(v) is str for v in value):
            members = frozenset(value)

            def intersects_strings(c: Ctx) -> bool:
                xs = left(c)
                if xs is None:
                    return False
                if not isinstance(xs, (list, tuple)):
                    raise EvalError(f"`intersects` needs lists, got {type_name(xs)}", span)
                return any(type(x) is str and x in members for x in xs)

            return shaped(intersects_strings, "intersects_strs", left, members)

        def intersects(c: Ctx) -> bool:
            xs, ys = left(c), right(c)
            if xs is None or ys is None:
                return False
            for v in (xs, ys):
                if not isinstance(v, (list, tuple)):
                    raise EvalError(f"`intersects` needs lists, got {type_name(v)}", span)
            return any(equal(x, y, tz) for x in xs for y in ys)

        return intersects

    # ------------------------------------------------------------ calls and quantifiers
    def _c_Call(self, expr: n.Call, env: Env) -> Fn:
        name = expr.func
        if name not in bi.ARITY:
            from .checker import suggest

            raise CompileFailed(
                Diagnostic(
                    "unknown-function",
                    f"unknown function `{name}`{suggest(name, bi.ARITY)}",
                    expr.span,
                )
            )
        low, high = bi.ARITY[name]
        if not low <= len(expr.args) <= high:
            raise CompileFailed(
                Diagnostic(
                    "arity",
                    f"`{name}` takes {_count_words(low, high)}, got {len(expr.args)}",
                    expr.span,
                )
            )
        if name in ("near", "pii"):
            from .matching import compile_near, compile_pii

            return (compile_near if name == "near" else compile_pii)(self, expr, env, None)
        impl = bi.SIMPLE.get(name) or self._time_fns[name]
        args = [self.compile(a, env) for a in expr.args]
        span = expr.span
        if len(args) == 1:
            (a0,) = args

            def call1(c: Ctx) -> object:
                try:
                    return impl(c, a0(c))
                except EvalError as err:
                    raise _at(err, span) from None

            return shaped(call1, "call1", name, a0)

        def call(c: Ctx) -> object:
            try:
                return impl(c, *[a(c) for a in args])
            except EvalError as err:
                raise _at(err, span) from None

        return call

    def _c_Quantifier(self, expr: n.Quantifier, env: Env) -> Fn:
        source = self.compile(expr.source, env)
        slot = self.n_vars
        self.n_vars += 1
        self._slot_sources[slot] = self.signature(expr.source, env)
        body = self.compile(expr.body, replace(env, vars={**env.vars, expr.var: slot}))
        kind, span, body_span = expr.kind, expr.source.span, expr.body.span
        src_path = self.path_info(expr.source, env) if env.evidence else None

        def items(c: Ctx) -> list | tuple:
            xs = source(c)
            if xs is None:
                return ()
            if isinstance(xs, (list, tuple)):
                return xs
            if type(xs) is dict:
                return list(xs)
            raise EvalError(f"`{kind}` needs a list or a map to go over, got {type_name(xs)}", span)

        def holds(c: Ctx, i: int, x: object) -> bool:
            c.vars[slot] = x
            if src_path is not None and c.evidence is not None:
                base = src_path.render(c)
                c.var_paths[slot] = None if base is None else f"{base}[{i}]"
            v = body(c)
            if v is True:
                return True
            if v is False or v is None:
                return False
            raise _not_bool(kind, v, body_span)

        strict = self.is_boolean(expr.body)
        literal = self._literal_search(expr, source, env) if kind == "any" else None
        if kind == "any" and src_path is None:
            fast = _fast_any(items, body, slot, kind, body_span, strict)
            if literal is not None:
                return shaped(fast, "any_literal", *literal)
            return shaped(fast, "any", source, body, slot, strict)
        if kind == "any":

            def any_(c: Ctx) -> bool:
                xs = items(c)
                if c.evidence is None:
                    return _fast_any_loop(c, xs, body, slot, kind, body_span)
                return any(holds(c, i, x) for i, x in enumerate(xs))

            if literal is not None:
                return shaped(any_, "any_literal", *literal)
            return shaped(any_, "any", source, body, slot, strict)
        if kind == "all":
            return lambda c: all(holds(c, i, x) for i, x in enumerate(items(c)))
        if kind == "count":
            return lambda c: sum(1 for i, x in enumerate(items(c)) if holds(c, i, x))
        return lambda c: [x for i, x in enumerate(items(c)) if holds(c, i, x)]

    def _literal_search(
        self, expr: n.Quantifier, source: Fn, env: Env
    ) -> tuple[tuple[str, ...], PatternGroup, int] | None:
        """`any(x in ["a", "b"]: x in content.text)` on a plain activity field is a search for
        any of the strings: one pattern (their escaped alternation) in the field's fused scan.
        Returns (the field's keys, its pattern group, the pattern's index), or None.

        Exact when the field holds a string: a substring of UTF-8 text is found at a character
        boundary, so the byte search RE2 makes finds the same substrings. The generated code
        uses it only then; the closure stays the reference for any other value.
        """
        body = expr.body
        if not (
            isinstance(body, n.Compare)
            and body.op == "in"
            and isinstance(body.left, n.Name)
            and body.left.name == expr.var
        ):
            return None
        inner = replace(env, vars={**env.vars, expr.var: -1})
        keys = self._static_keys(body.right, inner)
        shape = getattr(source, "shape", None)  # the list, folded to a constant
        if keys is None or shape is None or shape[0] != "const":
            return None
        strings = shape[1]
        if not isinstance(strings, (list, tuple)) or not strings:
            return None
        if not all(type(v) is str for v in strings):
            return None
        try:
            source = "|".join(re2.escape(v) for v in strings)  # type: ignore[arg-type]
            compiled = compile_pattern(source)
        except (ValueError, UnicodeError):
            return None
        group = self.pattern_group(body.right, inner)
        return keys, group, group.add(source, compiled)

    # ------------------------------------------------------------ messages
    def template(self, template: n.Template | None, env: Env) -> Callable[[Ctx], str | None]:
        if template is None:
            return lambda c: None
        if template.is_plain:
            text = "".join(template.parts)  # type: ignore[arg-type]
            return lambda c: text
        tz = self.tz
        pieces: list[object] = []
        for part in template.parts:
            if isinstance(part, str):
                pieces.append(part)
            else:
                pieces.append((self.compile(part, env), part.span))

        def render_template(c: Ctx) -> str:
            out = []
            for piece in pieces:
                if type(piece) is str:
                    out.append(piece)
                else:
                    fn, span = piece  # type: ignore[misc]
                    try:
                        out.append(render(fn(c), tz))
                    except EvalError as err:
                        raise _at(err, span) from None
            return "".join(out)

        return render_template


# ---------------------------------------------------------------- helpers


def _pii_env(env: Env, node: n.Expr, other: n.Expr) -> Env:
    """Inside `"ssn" in pii(s)` or `pii(s) intersects [...]`, evidence shows only those kinds."""
    if not (isinstance(node, n.Call) and node.func == "pii"):
        return env
    kinds: list[str] = []
    if isinstance(other, n.Literal) and type(other.value) is str:
        kinds = [other.value]
    elif isinstance(other, n.ListLiteral):
        kinds = [i.value for i in other.items if isinstance(i, n.Literal) and type(i.value) is str]
    return replace(env, pii_kinds=frozenset(kinds)) if kinds else env


def _fast_any_loop(c: Ctx, xs, body: Fn, slot: int, kind: str, span: Span) -> bool:
    variables = c.vars
    for x in xs:
        variables[slot] = x
        v = body(c)
        if v is True:
            return True
        if v is not False and v is not None:
            raise _not_bool(kind, v, span)
    return False


def _fast_any(items, body: Fn, slot: int, kind: str, span: Span, strict: bool) -> Fn:
    """`any` without evidence bookkeeping; with a strictly boolean body, no type checks."""
    if strict:

        def any_strict(c: Ctx) -> bool:
            variables = c.vars
            for x in items(c):
                variables[slot] = x
                if body(c):
                    return True
            return False

        return any_strict
    return lambda c: _fast_any_loop(c, items(c), body, slot, kind, span)


def _const(value: object) -> Fn:
    return shaped(lambda c: value, "const", value)


def shaped(fn: Fn, *shape: object) -> Fn:
    """Tag a closure with what it computes, for the code generator (`codegen.py`) to inline.

    The tag names an exact fast path; the closure stays the reference for everything else.
    """
    fn.shape = shape  # type: ignore[attr-defined]
    return fn


def _at(err: EvalError, span: Span) -> EvalError:
    return err if err.span is not None else EvalError(err.message, span)


def _not_bool(op: str, value: object, span: Span) -> EvalError:
    return EvalError(f"`{op}` needs true or false, got {type_name(value)}", span)


def _count_words(low: int, high: int) -> str:
    def word(k: int) -> str:
        return f"{k} argument" + ("" if k == 1 else "s")

    return word(low) if low == high else f"{low} or {high} arguments"


def _activity_path(keys: tuple[object, ...]) -> Fn:
    """A getter for `a.b.c` on the activity, unrolled for the common short paths."""
    if len(keys) == 1:
        (k0,) = keys
        return shaped(lambda c: c.act.get(k0), "path", keys)
    if len(keys) == 2:
        k0, k1 = keys

        def get2(c: Ctx) -> object:
            v = c.act.get(k0)
            return v.get(k1) if type(v) is dict else None

        return shaped(get2, "path", keys)

    def get_path(c: Ctx) -> object:
        v: object = c.act
        for k in keys:
            if type(v) is not dict:
                return None
            v = v.get(k)
        return v

    return shaped(get_path, "path", keys)


def add_substring_evidence(c: Ctx, path: PathInfo | None, hay: str, needle: str) -> None:
    if c.evidence is None or not needle:
        return
    where = path.render(c) if path is not None else None
    start = hay.find(needle)
    count = 0
    while start >= 0 and count < MAX_EVIDENCE:
        end = start + len(needle)
        c.evidence.append(evidence_item(where, start, end, hay[start:end]))
        count += 1
        start = hay.find(needle, end)


def evidence_item(path: str | None, start: int | None, end: int | None, text: str) -> dict:
    if path is None:
        start = end = None
    return {"path": path, "start": start, "end": end, "text": text}
