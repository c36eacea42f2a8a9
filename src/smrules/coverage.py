"""Rule and condition coverage of a test run (`smrules test --coverage`, SPEC §6).

Computed from the explanation of every case (`Policy.explain`), which says for each rule
whether it fired and, if not, which `when` or `unless` stopped it. From that, in source
evaluation order (SPEC §2.7):
- a rule that fired saw all its `when`s true and all its `unless`es false;
- a rule stopped by `when` i saw the `when`s before i true and `when` i false;
- a rule stopped by `unless` j saw every `when` true, the `unless`es before j false and j true;
- a rule that failed saw the conditions before the failing one as above.
Conditions after the deciding one were not evaluated for that case (evaluation stops
there), so they count neither way: like branch coverage, coverage is of what ran.

A rule is *covered* when at least one case made it fire; the percentage is covered rules over
all rules of the policies tested.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Span
from .explain import Explanation, RuleTrace, source_text
from .testing import TestRun, display_path


@dataclass(frozen=True, slots=True)
class ConditionCoverage:
    """One `when` or `unless` of a rule: how often it was true and false when evaluated."""

    clause: str  # "when" or "unless"
    index: int  # from 0, among the rule's conditions of that clause
    text: str
    where: str  # file:line:col
    true: int
    false: int

    @property
    def status(self) -> str:
        if self.true and self.false:
            return "true and false"
        if self.true:
            return "never false"
        if self.false:
            return "never true"
        return "never evaluated"

    def to_dict(self) -> dict[str, object]:
        return {
            "clause": self.clause,
            "index": self.index,
            "condition": self.text,
            "where": self.where,
            "true": self.true,
            "false": self.false,
            "ever_true": self.true > 0,
            "ever_false": self.false > 0,
        }


@dataclass(frozen=True, slots=True)
class RuleCoverage:
    rule: str
    effect: str
    mode: str
    file: str  # the rule's file as users reach it
    line: int
    column: int
    fired: int  # cases that made it fire
    not_fired: int  # cases that evaluated it without it firing
    errors: int  # cases where it failed at run time
    conditions: tuple[ConditionCoverage, ...]

    @property
    def reached(self) -> int:
        return self.fired + self.not_fired + self.errors

    @property
    def covered(self) -> bool:
        return self.fired > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "effect": self.effect,
            "mode": self.mode,
            "source": {"file": self.file, "line": self.line, "column": self.column},
            "fired": self.fired,
            "not_fired": self.not_fired,
            "errors": self.errors,
            "reached": self.reached,
            "covered": self.covered,
            "conditions": [c.to_dict() for c in self.conditions],
        }


def _percent(covered: int, total: int) -> float:
    return 100.0 if total == 0 else 100.0 * covered / total


@dataclass(frozen=True, slots=True)
class PolicyCoverage:
    policy: str
    cases: int  # cases evaluated against the policy
    rules: tuple[RuleCoverage, ...]

    @property
    def covered(self) -> int:
        return sum(1 for r in self.rules if r.covered)

    @property
    def total(self) -> int:
        return len(self.rules)

    @property
    def percent(self) -> float:
        return _percent(self.covered, self.total)

    @property
    def uncovered(self) -> tuple[RuleCoverage, ...]:
        return tuple(r for r in self.rules if not r.covered)

    def to_dict(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "cases": self.cases,
            "covered": self.covered,
            "total": self.total,
            "percent": round(self.percent, 2),
            "uncovered": [r.rule for r in self.uncovered],
            "rules": [r.to_dict() for r in self.rules],
        }


@dataclass(frozen=True, slots=True)
class Coverage:
    policies: tuple[PolicyCoverage, ...]

    @property
    def covered(self) -> int:
        return sum(p.covered for p in self.policies)

    @property
    def total(self) -> int:
        return sum(p.total for p in self.policies)

    @property
    def percent(self) -> float:
        return _percent(self.covered, self.total)

    def below(self, minimum: float) -> bool:
        """Whether rule coverage is under `minimum` percent (compared exactly, not rounded)."""
        return self.covered * 100 < minimum * self.total

    def to_dict(self) -> dict[str, object]:
        return {
            "covered": self.covered,
            "total": self.total,
            "percent": round(self.percent, 2),
            "policies": [p.to_dict() for p in self.policies],
        }


def _contains(outer: Span, inner: Span) -> bool:
    if outer.file != inner.file:
        return False
    start = (outer.line, outer.column)
    end = (outer.end_line or outer.line, outer.end_column or 10**9)
    return start <= (inner.line, inner.column) < end or (inner.line, inner.column) == start


def _truths(rule_node: Any, trace: RuleTrace) -> tuple[list[bool | None], list[bool | None]]:
    """What each `when` and `unless` evaluated to in one case (None: not evaluated)."""
    whens: list[bool | None] = [None] * len(rule_node.whens)
    unlesses: list[bool | None] = [None] * len(rule_node.unlesses)
    if trace.outcome == "fired":
        return [True] * len(whens), [False] * len(unlesses)
    if trace.outcome == "not_fired" and trace.index is not None:
        if trace.clause == "when":
            whens[: trace.index] = [True] * trace.index
            whens[trace.index] = False
        else:
            whens = [True] * len(whens)
            unlesses[: trace.index] = [False] * trace.index
            unlesses[trace.index] = True
        return whens, unlesses
    # A run-time error: the conditions before the failing one ran as usual.
    if trace.span is not None:
        for i, node in enumerate(rule_node.whens):
            if _contains(node.span, trace.span):
                whens[:i] = [True] * i
                return whens, unlesses
        for j, node in enumerate(rule_node.unlesses):
            if _contains(node.span, trace.span):
                return [True] * len(whens), [False] * j + [None] * (len(unlesses) - j)
    # Failed in the message or hint: every condition had held.
    return [True] * len(whens), [False] * len(unlesses)


def policy_coverage(
    policy: Any, policy_name: str, explanations: list[Explanation]
) -> PolicyCoverage:
    """Coverage of one policy from the explanation of each case run against it."""
    sources = policy.program.sources
    by_rule: dict[str, list[tuple[RuleTrace, bool]]] = {}
    for explanation in explanations:
        # A rule whose message or hint failed to render held all its conditions but failed.
        failed = {e.rule for e in explanation.decision.errors}
        for trace in explanation.rules:
            by_rule.setdefault(trace.rule, []).append((trace, trace.rule in failed))
    rules = []
    for compiled in policy.rules_compiled:
        info, node = compiled.info, compiled.node
        seen = by_rule.get(info.id, [])
        counts = {"fired": 0, "not_fired": 0, "error": 0}
        when_true = [0] * len(node.whens)
        when_false = [0] * len(node.whens)
        unless_true = [0] * len(node.unlesses)
        unless_false = [0] * len(node.unlesses)
        for trace, failed in seen:
            outcome = "error" if failed else trace.outcome
            counts[outcome] = counts.get(outcome, 0) + 1
            whens, unlesses = _truths(node, trace)
            for i, value in enumerate(whens):
                when_true[i] += value is True
                when_false[i] += value is False
            for j, value in enumerate(unlesses):
                unless_true[j] += value is True
                unless_false[j] += value is False
        conditions = []
        for clause, nodes, trues, falses in (
            ("when", node.whens, when_true, when_false),
            ("unless", node.unlesses, unless_true, unless_false),
        ):
            for i, cond in enumerate(nodes):
                conditions.append(
                    ConditionCoverage(
                        clause,
                        i,
                        source_text(sources, cond.span),
                        _where(policy, cond.span),
                        trues[i],
                        falses[i],
                    )
                )
        rules.append(
            RuleCoverage(
                rule=info.id,
                effect=info.effect,
                mode=info.mode,
                file=_file(policy, info.source.file),
                line=info.source.line,
                column=info.source.column,
                fired=counts["fired"],
                not_fired=counts["not_fired"],
                errors=counts["error"],
                conditions=tuple(conditions),
            )
        )
    return PolicyCoverage(policy_name, len(explanations), tuple(rules))


def _file(policy: Any, name: str) -> str:
    return display_path(Path(os.path.normpath(policy.program.root / name)))


def _where(policy: Any, span: Span) -> str:
    return f"{_file(policy, span.file)}:{span.line}:{span.column}"


def compute(run: TestRun) -> Coverage:
    """Coverage of every policy in `run`, from the cases that were explained.

    Run the tests with `explain_all=True`; a case with an invalid activity counts for nothing.
    """
    traces: dict[str, list[Explanation]] = {name: [] for name in run.policies}
    for result in run.results:
        if result.explanation is not None and result.policy_name in traces:
            traces[result.policy_name].append(result.explanation)
    return Coverage(
        tuple(policy_coverage(policy, name, traces[name]) for name, policy in run.policies.items())
    )
