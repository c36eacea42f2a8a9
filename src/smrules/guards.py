"""Rule indexing on equality guards: skip rules whose first condition cannot hold.

A rule whose first `when` starts with `path == "value"` or `path in [strings]` (the path a
plain activity field such as `kind` or `actor.department`) is filed under that path and those
values. Evaluating such a guard never fails and, when false, makes the whole first `when`
false, so skipping the rule changes neither findings nor errors (SPEC §2.7). An activity then
visits only the unguarded rules and those filed under its own values, in file order.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import nodes as n
from .compiler import Env, ExprCompiler

MIN_RULES = 48  # below this, testing every rule is as cheap as looking candidates up


def rule_guard(
    compiler: ExprCompiler, rule: n.Rule, env: Env
) -> tuple[tuple[str, ...], frozenset[str]] | None:
    """The (path, values) guard of a rule, or None."""
    if not rule.whens:
        return None
    expr = rule.whens[0]
    while isinstance(expr, n.And):
        expr = expr.left
    if not isinstance(expr, n.Compare) or expr.op not in ("==", "in"):
        return None
    if expr.op == "==":
        for path_node, const_node in ((expr.left, expr.right), (expr.right, expr.left)):
            keys = compiler._static_keys(path_node, env)
            if (
                keys is not None
                and isinstance(const_node, n.Literal)
                and type(const_node.value) is str
            ):
                return keys, frozenset([const_node.value])
        return None
    keys = compiler._static_keys(expr.left, env)
    if keys is None:
        return None
    known, value = compiler.const_value(expr.right, env)
    if known and isinstance(value, (list, tuple)) and value and all(type(v) is str for v in value):
        return keys, frozenset(value)
    return None


class GuardIndex:
    """Groups of rules (positions in file order) and the groups an activity can reach.

    Group 0 holds the unguarded rules; every other group the rules filed under one value of
    one guarded path. A rule sits under one guard, so an activity's groups never share a rule.
    """

    def __init__(self, guards: Sequence[tuple[tuple[str, ...], frozenset[str]] | None]) -> None:
        self.groups: list[tuple[int, ...]] = [tuple(i for i, g in enumerate(guards) if g is None)]
        tables: dict[tuple[str, ...], dict[str, list[int]]] = {}
        for i, guard in enumerate(guards):
            if guard is None:
                continue
            keys, values = guard
            table = tables.setdefault(keys, {})
            for value in sorted(values):
                table.setdefault(value, []).append(i)
        self.tables: tuple[tuple[tuple[str, ...], dict[str, int]], ...] = tuple(
            (keys, {v: self._add_group(p) for v, p in t.items()}) for keys, t in tables.items()
        )

    def _add_group(self, positions: list[int]) -> int:
        self.groups.append(tuple(positions))
        return len(self.groups) - 1

    def candidates(self, act: dict) -> list[int]:
        """The groups `act` can reach: 0, then one per guarded path whose value has rules."""
        found = [0]
        for keys, table in self.tables:
            v: object = act
            for k in keys:
                v = v.get(k) if type(v) is dict else None  # type: ignore[union-attr]
            if type(v) is str:
                group = table.get(v)
                if group is not None:
                    found.append(group)
        return found
