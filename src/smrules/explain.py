"""Why each rule did or did not fire, with the values its deciding condition saw.

Like OPA's `--explain`, but for people: for every rule, the outcome, the `when` or `unless`
that decided it, and the values of the activity fields and sub-expressions in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import nodes as n
from .decision import Decision
from .engine import CompiledRule, Policy, run_rule
from .errors import Span
from .runtime import Ctx
from .values import TOO_DEEP, EvalError, to_json


@dataclass(frozen=True, slots=True)
class SeenValue:
    expression: str
    value: object  # JSON form

    def to_dict(self) -> dict[str, object]:
        return {"expression": self.expression, "value": self.value}


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """What happened to one rule on one activity."""

    rule: str
    effect: str
    mode: str
    outcome: str  # "fired", "not_fired" or "error"
    clause: str | None  # the deciding "when" or "unless" (None when fired)
    index: int | None  # which of them, from 0
    condition: str | None  # its source text
    span: Span | None
    values: tuple[SeenValue, ...]
    error: str | None = None

    @property
    def reason(self) -> str:
        if self.outcome == "fired":
            return "fired"
        if self.outcome == "error":
            return f"failed: {self.error}"
        if self.clause == "when":
            return f"not fired: `when {self.condition}` did not hold"
        return f"not fired: `unless {self.condition}` held"

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "effect": self.effect,
            "mode": self.mode,
            "outcome": self.outcome,
            "clause": self.clause,
            "index": self.index,
            "condition": self.condition,
            "source": None
            if self.span is None
            else {"file": self.span.file, "line": self.span.line, "column": self.span.column},
            "values": [v.to_dict() for v in self.values],
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    decision: Decision
    rules: tuple[RuleTrace, ...]

    def trace(self, rule_id: str) -> RuleTrace | None:
        return next((r for r in self.rules if r.rule == rule_id), None)

    def to_dict(self) -> dict[str, object]:
        return {"decision": self.decision.to_dict(), "rules": [r.to_dict() for r in self.rules]}


def source_text(sources: Mapping[str, str], span: Span) -> str:
    """The source text a span covers, on one line."""
    text = sources.get(span.file)
    if text is None:
        return "?"
    lines = text.splitlines()
    end_line = span.end_line or span.line
    end_col = span.end_column
    if span.line == end_line:
        line = lines[span.line - 1] if span.line <= len(lines) else ""
        return line[span.column - 1 : (end_col - 1) if end_col else None]
    parts = [lines[span.line - 1][span.column - 1 :]]
    parts.extend(lines[span.line : end_line - 1])
    parts.append(lines[end_line - 1][: (end_col - 1) if end_col else None])
    return " ".join(p.strip() for p in parts)


def _value_nodes(expr: n.Expr) -> list[n.Expr]:
    """The sub-expressions worth showing: maximal paths, calls and quantifier results."""
    out: list[n.Expr] = []

    def visit(node: n.Expr) -> None:
        if isinstance(node, (n.Literal, n.RegexLiteral, n.InstantLiteral)):
            return
        if isinstance(node, (n.Name, n.Field, n.Index, n.ActivityRef)):
            out.append(node)
            return
        if isinstance(node, n.Call):
            for arg in node.args:
                visit(arg)
            out.append(node)
            return
        if isinstance(node, n.Quantifier):
            visit(node.source)
            out.append(node)
            return
        for child in n.children(node):
            visit(child)

    visit(expr)
    return out


def _no_recursion(rule: CompiledRule, fn: Callable[[Ctx], object], c: Ctx) -> object:
    """`fn(c)`, with runaway recursion (a very long chain of `let`s) as the rule's run-time
    error, as `Policy.evaluate` reports it."""
    try:
        return fn(c)
    except RecursionError:
        raise EvalError(TOO_DEEP, rule.node.span) from None


def _run_rule(rule: CompiledRule, c: Ctx) -> object:
    return _no_recursion(rule, lambda ctx: run_rule(rule, ctx), c)


def _failed(rule, err: EvalError, sources: Mapping[str, str]) -> RuleTrace:
    """The trace of a rule that failed at run time, at the failing expression."""
    span = err.span or rule.node.span
    info = rule.info
    return RuleTrace(
        info.id,
        info.effect,
        info.mode,
        "error",
        None,
        None,
        source_text(sources, span),
        span,
        (),
        err.message,
    )


def explain(
    policy: Policy, activity: Mapping[str, object], now: dt.datetime | None = None
) -> Explanation:
    """Evaluate `activity` and explain every rule's outcome. Raises `ActivityError`."""
    act = policy.prepare(activity, now)
    decision = policy._decide(act)
    c = policy._context(act)
    sources = policy.program.sources
    tz = policy.settings.tz
    node_fns = policy.compiler.node_fns
    traces = []

    def seen(expr: n.Expr) -> tuple[SeenValue, ...]:
        values = []
        shown: set[str] = set()
        for node in _value_nodes(expr):
            text = source_text(sources, node.span)
            fn = node_fns.get(id(node))
            if fn is None or text in shown:
                continue
            shown.add(text)
            try:
                value = to_json(fn(c), tz)
            except EvalError as err:
                value = f"<error: {err.message}>"
            except RecursionError:
                value = f"<error: {TOO_DEEP}>"
            values.append(SeenValue(text, value))
        return tuple(values)

    for rule in policy.rules_compiled:
        info = rule.info
        try:
            outcome = _run_rule(rule, c)
        except EvalError as err:
            traces.append(_failed(rule, err, sources))
            continue
        if outcome.status == "fired":
            try:  # a message that fails to render fails the rule (SPEC §2.7)
                _no_recursion(rule, rule.message, c)
                _no_recursion(rule, rule.hint, c)
            except EvalError as err:
                traces.append(_failed(rule, err, sources))
                continue
            values: list[SeenValue] = []
            for when in rule.node.whens:
                values.extend(seen(when))
            traces.append(
                RuleTrace(
                    info.id,
                    info.effect,
                    info.mode,
                    "fired",
                    None,
                    None,
                    None,
                    rule.node.span,
                    tuple(values),
                )
            )
            continue
        clause = outcome.status
        node = (rule.node.whens if clause == "when" else rule.node.unlesses)[outcome.index]
        traces.append(
            RuleTrace(
                info.id,
                info.effect,
                info.mode,
                "not_fired",
                clause,
                outcome.index,
                source_text(sources, node.span),
                node.span,
                seen(node),
            )
        )
    return Explanation(decision, tuple(traces))
