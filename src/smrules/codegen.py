"""Rules as one generated Python function: the evaluation hot path.

The closures of `compiler.py` are the reference semantics of the language. Each closure made for
a common operation carries a `shape` tag saying what it computes (`compiler.shaped`); this module
turns a run of rules into the source of one function that tests them all, with those operations
written out inline instead of called: activity fields are read into locals once, a fused pattern
scan is one local shared by every `matches` on its field, and a rule's conditions become nested
`if`s. Per-node calls, the cost of a closure tree, are gone.

Each inlined form is exact only under a type test it makes first (`x < 90` when `x` is an int);
otherwise it calls the node's own closure, which then decides, errors included. Operations with
no shape are always calls. So a generated function gives the same findings and errors as the
closures, and the test suite checks the two against each other.

Nothing from a policy is spliced into the source except literals made by `repr` of exact `str`,
`int` and `bool` values; every other constant, set and closure reaches the function through its
globals. A source that fails to compile (a pathological policy) falls back to the closures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .engine import condition_error, run_rule_test
from .patterns import PatternGroup
from .values import TOO_DEEP, EvalError

if TYPE_CHECKING:
    from .compiler import ExprCompiler, Fn
    from .engine import CompiledRule
    from .runtime import Ctx

# What a block returns: positions of the rules that fired, and (position, error) of those that
# failed, both in the order of the block's rules.
BlockResult = tuple[list[int], list[tuple[int, EvalError]]]
Block = Callable[["Ctx"], BlockResult]

MAX_INLINE_DEPTH = 24  # deeper expressions become calls: Python's parser limits nesting
MAX_INLINE_CONDITIONS = 16  # each condition nests one `if`
_ORDERED_TYPES = (int, float, str, dt.datetime, dt.date)
_PLAINLY_ORDERED = (int, float, str)  # two of one of these: the closure uses Python's operator
_ORDER_OPS = ("<", "<=", ">", ">=")


NOT_YET = object()  # a lazily computed local not computed yet


def project(items: list, key: object) -> list:
    """The values of field `key` of each item (null for an item that is not a map)."""
    return [x.get(key) if type(x) is dict else None for x in items]


def hits_union(group: PatternGroup, values: list) -> frozenset[int] | None:
    """The patterns of `group` found in any of `values`; null values match nothing. None when
    a value is of another type, which the closure reports as an error."""
    found: frozenset[int] = frozenset()
    for value in values:
        if type(value) is str:
            found = found | group.hits(value)
        elif value is not None:
            return None
    return found


def _item_field(operand: Fn, slot: int) -> object:
    """`f` when `operand` reads field `f` of the quantifier's binder at `slot`, else None."""
    shape = getattr(operand, "shape", None)
    if shape is None or shape[0] != "field" or type(shape[2]) is not str:
        return None
    inner = getattr(shape[1], "shape", None)
    return shape[2] if inner is not None and inner[0] == "var" and inner[1] == slot else None


class _Source:
    """The source and globals of one generated function."""

    def __init__(self) -> None:
        self.globals: dict[str, object] = {
            "EvalError": EvalError,
            "cond_error": condition_error,
            "rule_test": run_rule_test,
            "project": project,
            "hits_union": hits_union,
            "NOT_YET": NOT_YET,
        }
        self._names: dict[int, str] = {}  # id(object) -> its global name
        self._paths: dict[tuple[object, ...], str] = {}
        self._hits: dict[object, str] = {}
        self._hit_lines: list[str] = []
        self._temps = 0

    def name_of(self, obj: object, prefix: str) -> str:
        """The global name under which `obj` reaches the generated code."""
        name = self._names.get(id(obj))
        if name is None:
            name = f"{prefix}{len(self._names)}"
            self._names[id(obj)] = name
            self.globals[name] = obj  # also keeps `obj` alive, so its id stays its own
        return name

    def literal(self, value: object) -> str:
        if value is None or type(value) in (bool, int, str):
            return repr(value)  # an exact str/int/bool's repr is a Python literal of it
        return self.name_of(value, "K")

    def temp(self) -> str:
        self._temps += 1
        return f"t{self._temps}"

    def path(self, keys: tuple[object, ...]) -> str:
        """A local holding the activity field at `keys`, read once at the top."""
        name = self._paths.get(keys)
        if name is None:
            if len(keys) > 1:
                self.path(keys[:-1])  # parents first
            name = self._paths[keys] = f"p{len(self._paths)}"
        return name

    def projection(self, items: str, key: object) -> str:
        """An expression for the values of field `key` of the items of list `items`."""
        name = self._lazy(("projection", items, key), "q", "None")
        values = f"project({items}, {self.literal(key)})"
        return f"({name} if {name} is not None else ({name} := {values}))"

    def hits_union(self, group: PatternGroup, values: str) -> str:
        """An expression for the patterns of `group` found in any of `values` (None when one
        is neither a string nor null)."""
        name = self._lazy(("union", group.key, values), "u", "NOT_YET")
        g = self.name_of(group, "G")
        return f"({name} if {name} is not NOT_YET else ({name} := hits_union({g}, {values})))"

    def _lazy(self, key: object, prefix: str, initial: str) -> str:
        name = self._hits.get(key)
        if name is None:
            name = self._hits[key] = f"{prefix}{len(self._hits)}"
            self._hit_lines.append(f"{name} = {initial}")
        return name

    def prologue(self) -> list[str]:
        """Reading the activity fields into locals, one type test per object on the way."""
        children: dict[tuple[object, ...], list[tuple[object, ...]]] = {}
        for keys in self._paths:
            children.setdefault(keys[:-1], []).append(keys)
        lines: list[str] = []

        def below(keys: tuple[object, ...]) -> list[str]:
            out = []
            for child in children.get(keys, ()):
                out += [self._paths[child], *below(child)]
            return out

        def read(keys: tuple[object, ...], source: str, indent: str) -> None:
            name = self._paths[keys]
            lines.append(f"{indent}{name} = {source}.get({self.literal(keys[-1])})")
            if keys in children:
                lines.append(f"{indent}if type({name}) is dict:")
                for child in children[keys]:
                    read(child, name, indent + "    ")
                lines.append(f"{indent}else:")
                lines.append(f"{indent}    {' = '.join(below(keys))} = None")

        for keys in children.get((), ()):
            read(keys, "act", "")
        return lines + self._hit_lines

    def hits(self, group: PatternGroup, hits_fn: Fn | None, text: str | None) -> str:
        """An expression for the pattern hits of a group on its field, scanned on first use.

        `text`: a local holding the field, when it is one; a string is scanned directly,
        anything else goes through the closure `hits_fn` (null matches nothing, other types
        fail). Without `hits_fn`, the caller has made sure `text` holds a string.
        """
        name = self._hits.get(group.key)
        if name is None:
            name = self._hits[group.key] = f"h{len(self._hits)}"
            self._hit_lines.append(f"{name} = None")
        if text is not None:
            direct = f"{self.name_of(group, 'G')}.hits({text})"
            if hits_fn is not None:
                direct += f" if type({text}) is str else {self.name_of(hits_fn, 'H')}(c)"
        else:
            assert hits_fn is not None
            direct = f"{self.name_of(hits_fn, 'H')}(c)"
        return f"({name} if {name} is not None else ({name} := {direct}))"


class _ExprWriter:
    """Python source for the value of a compiled node (see the module docstring)."""

    def __init__(self, src: _Source) -> None:
        self.src = src
        self.depth = 0

    def expr(self, fn: Fn) -> str:
        shape = getattr(fn, "shape", None)
        if shape is None or self.depth >= MAX_INLINE_DEPTH:
            return self.call(fn)
        write = getattr(self, "_" + str(shape[0]), None)
        if write is None:
            return self.call(fn)
        self.depth += 1
        try:
            return write(fn, *shape[1:])
        finally:
            self.depth -= 1

    def call(self, fn: Fn) -> str:
        return f"{self.src.name_of(fn, 'F')}(c)"

    # -- values
    def _const(self, fn: Fn, value: object) -> str:
        return self.src.literal(value)

    def _path(self, fn: Fn, keys: tuple[object, ...]) -> str:
        return self.src.path(keys)

    def _var(self, fn: Fn, slot: int) -> str:
        return f"cv[{slot!r}]"  # a quantifier's binder: its loop stores the item there

    def _field(self, fn: Fn, obj: Fn, key: object) -> str:
        t = self.src.temp()
        k = self.src.literal(key)
        return f"({t}.get({k}) if type({t} := {self.expr(obj)}) is dict else None)"

    # -- logic: the closures are Python's own `and`/`or`/`not`, so these are too
    def _and(self, fn: Fn, left: Fn, right: Fn) -> str:
        return f"({self.expr(left)} and {self.expr(right)})"

    def _or(self, fn: Fn, left: Fn, right: Fn) -> str:
        return f"({self.expr(left)} or {self.expr(right)})"

    def _not(self, fn: Fn, inner: Fn) -> str:
        return f"(not {self.expr(inner)})"

    # -- comparisons
    def _is_none(self, fn: Fn, operand: Fn) -> str:
        return f"({self.expr(operand)} is None)"

    def _eq(self, fn: Fn, operand: Fn, value: str) -> str:
        return f"({self.expr(operand)} == {self.src.literal(value)})"

    def _eq_path(self, fn: Fn, keys: tuple[object, ...], value: str) -> str:
        return f"({self.src.path(keys)} == {self.src.literal(value)})"

    def _order(self, fn: Fn, left: Fn, right: Fn, op: str) -> str:
        if op not in _ORDER_OPS:  # pragma: no cover - the compiler makes no other
            return self.call(fn)
        right_shape = getattr(right, "shape", None)
        t = self.src.temp()
        if right_shape is not None and right_shape[0] == "const":
            value = right_shape[1]
            if type(value) in _ORDERED_TYPES:
                # The closure orders two values of one of these types directly.
                kind = self.src.name_of(type(value), "T")
                k = self.src.literal(value)
                test = f"type({t} := {self.expr(left)}) is {kind}"
                return f"({t} {op} {k} if {test} else {self.call(fn)})"
        u = self.src.temp()
        same = f"type({t} := {self.expr(left)}) is type({u} := {self.expr(right)})"
        plain = f"type({t}) in {self.src.name_of(_PLAINLY_ORDERED, 'K')}"
        return f"({t} {op} {u} if {same} and {plain} else {self.call(fn)})"

    def _in_strs_path(self, fn: Fn, keys: tuple[object, ...], members: frozenset[str]) -> str:
        p = self.src.path(keys)
        return f"(type({p}) is str and {p} in {self.src.name_of(members, 'S')})"

    def _in_strs(self, fn: Fn, needle: Fn, members: frozenset[str]) -> str:
        t = self.src.temp()
        s = self.src.name_of(members, "S")
        return f"({t} in {s} if type({t} := {self.expr(needle)}) is str else {self.call(fn)})"

    def _member(self, fn: Fn, needle: Fn, hay: Fn) -> str:
        shape = getattr(needle, "shape", None)
        t = self.src.temp()
        if shape is None or shape[0] != "const" or type(shape[1]) is not str:
            u = self.src.temp()
            strings = (
                f"type({t} := {self.expr(needle)}) is str and type({u} := {self.expr(hay)}) is str"
            )
            return f"({t} in {u} if {strings} else {self.call(fn)})"
        # A substring of a string; for a list, no item equal to the string is false whatever
        # the items' types.
        k = self.src.literal(shape[1])
        # A list holding the string decides when its first equal item is exactly a string.
        exact = f"(True if type({t}[{t}.index({k})]) is str else {self.call(fn)})"
        in_list = f"({exact} if {k} in {t} else False)"
        in_list = f"({in_list} if type({t}) is list else {self.call(fn)})"
        return f"({k} in {t} if type({t} := {self.expr(hay)}) is str else {in_list})"

    def _intersects_strs(self, fn: Fn, left: Fn, members: frozenset[str]) -> str:
        # No item equal to a member: false. (An unhashable item raises TypeError, and the
        # rule is then decided by its closures.)
        t = self.src.temp()
        s = self.src.name_of(members, "S")
        found = f"(False if {s}.isdisjoint({t}) else {self.call(fn)})"
        return f"({found} if type({t} := {self.expr(left)}) is list else {self.call(fn)})"

    def _any_literal(
        self, fn: Fn, keys: tuple[object, ...], group: PatternGroup, index: int
    ) -> str:
        text = self.src.path(keys)
        found = f"{index!r} in {self.src.hits(group, None, text)}"
        return f"({found} if type({text}) is str else {self.call(fn)})"

    def _any(self, fn: Fn, source: Fn, body: Fn, slot: int, strict: bool) -> str:
        projected = self._any_over_field(fn, source, body, slot)
        if projected is not None:
            return projected
        t = self.src.temp()
        items = self.expr(source)
        if not strict:  # the closure checks that each value is true or false
            return f"({self.call(fn)} if type({t} := {items}) is not list or {t} else False)"
        # The loop stores each item in the binder's slot, where any closure the body calls
        # finds it, as the closure's own loop does.
        found = f"any({self.expr(body)} for cv[{slot!r}] in {t})"
        return f"(bool({t}) and {found} if type({t} := {items}) is list else {self.call(fn)})"

    def _any_over_field(self, fn: Fn, source: Fn, body: Fn, slot: int) -> str | None:
        """`any(x in L: x.f in S)`, `x.f == "v"` or `x.f matches P`, for a list field `L`:
        the values of `f` across the items are gathered once and tested together, and the
        other rules on the same items share them.

        A yes from `in S` and any item value that is neither a string nor null send the
        question to the closure, which then answers as it always does.
        """
        source_shape = getattr(source, "shape", None)
        body_shape = getattr(body, "shape", None)
        if source_shape is None or source_shape[0] != "path" or body_shape is None:
            return None
        kind = body_shape[0]
        if kind not in ("in_strs", "eq", "scan"):
            return None
        key = _item_field(body_shape[1], slot)
        if key is None:
            return None
        items = self.src.path(source_shape[1])
        values = self.src.projection(items, key)
        if kind == "in_strs":
            members = self.src.name_of(body_shape[2], "S")
            found = f"(False if {members}.isdisjoint({values}) else {self.call(fn)})"
        elif kind == "eq":
            found = f"({self.src.literal(body_shape[2])} in {values})"
        else:
            group, index = body_shape[2].__self__, body_shape[3]
            hits = self.src.hits_union(group, values)
            t = self.src.temp()
            found = f"({index!r} in {t} if ({t} := {hits}) is not None else {self.call(fn)})"
        return f"({found} if type({items}) is list else {self.call(fn)})"

    def _scan(self, fn: Fn, subject: Fn, scan: object, index: int, check: object) -> str:
        t = self.src.temp()
        scan_name, check_name = self.src.name_of(scan, "H"), self.src.name_of(check, "H")
        found = f"{index!r} in {scan_name}(c, {t})"
        return f"({found} if type({t} := {self.expr(subject)}) is str else {check_name}({t}))"

    def _call1(self, fn: Fn, name: str, arg: Fn) -> str:
        if name != "len":
            return self.call(fn)
        t = self.src.temp()
        sized = f"type({t} := {self.expr(arg)}) is list or type({t}) is str"
        return f"(len({t}) if {sized} else {self.call(fn)})"

    def _hits(
        self, fn: Fn, hits_fn: Fn, group: PatternGroup, indices: tuple[int, ...], subject: Fn
    ) -> str:
        shape = getattr(subject, "shape", None)
        text = self.src.path(shape[1]) if shape is not None and shape[0] == "path" else None
        hits = self.src.hits(group, hits_fn, text)
        if len(indices) == 1:
            return f"({indices[0]!r} in {hits})"
        return f"(not {self.src.name_of(frozenset(indices), 'S')}.isdisjoint({hits}))"


def generate_block(
    compiler: ExprCompiler, rules: Sequence[tuple[int, CompiledRule]]
) -> tuple[str, dict[str, object]]:
    """The source and globals of `block(c)`, which tests `rules` (position, rule) in order."""
    src = _Source()
    writer = _ExprWriter(src)
    body: list[str] = []
    for position, rule in rules:
        body.append("try:")
        body.extend("    " + line for line in _rule_lines(compiler, src, writer, position, rule))
        body.append("except EvalError as err:")
        body.append(f"    errors_append(({position!r}, err))")
        body.append("except RecursionError:")
        deep = src.name_of(EvalError(TOO_DEEP, rule.node.span), "E")
        body.append(f"    errors_append(({position!r}, {deep}))")
        body.append("except Exception:")
        test = src.name_of(rule.test, "F")
        body.append(f"    rule_test(c, {position!r}, {test}, {deep}, fired_append, errors_append)")
    lines = [
        "def block(c):",
        "    act = c.act",
        "    cv = c.vars",
        "    fired = []",
        "    errors = []",
        "    fired_append = fired.append",
        "    errors_append = errors.append",
        *("    " + line for line in src.prologue()),
        *("    " + line for line in body),
        "    return fired, errors",
    ]
    return "\n".join(lines) + "\n", src.globals


def _rule_lines(
    compiler: ExprCompiler, src: _Source, writer: _ExprWriter, position: int, rule: CompiledRule
) -> list[str]:
    node = rule.node
    conditions = [("when", fn, expr) for fn, expr in zip(rule.whens, node.whens, strict=True)]
    conditions += [("unless", fn, e) for fn, e in zip(rule.unlesses, node.unlesses, strict=True)]
    fire = f"fired_append({position!r})"
    if len(conditions) > MAX_INLINE_CONDITIONS:
        return [f"if {src.name_of(rule.test, 'F')}(c):", "    " + fire]
    lines: list[str] = []
    indent = ""
    for kind, fn, expr in conditions:
        code = writer.expr(fn)
        if compiler.is_boolean(expr):  # always true or false: Python's truth is exact
            lines.append(f"{indent}if {'not ' if kind == 'unless' else ''}{code}:")
        else:
            span = src.name_of(expr.span, "P")
            lines.append(f"{indent}v = {code}")
            if kind == "when":
                lines.append(f"{indent}if v is not True:")
                lines.append(f"{indent}    if v is not False and v is not None:")
            else:
                lines.append(f"{indent}if v is not False and v is not None:")
                lines.append(f"{indent}    if v is not True:")
            lines.append(f"{indent}        raise cond_error({kind!r}, v, {span})")
            lines.append(f"{indent}else:")
        indent += "    "
    lines.append(indent + fire)
    return lines


def compile_block(
    compiler: ExprCompiler, rules: Sequence[tuple[int, CompiledRule]]
) -> Block | None:
    """The generated function for `rules`, or None when Python cannot compile its source."""
    source, namespace = generate_block(compiler, rules)
    try:
        code = compile(source, "<smrules generated rules>", "exec")
        exec(code, namespace)  # noqa: S102 - our own source; policy values are globals, not text
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    return namespace["block"]  # type: ignore[return-value]
