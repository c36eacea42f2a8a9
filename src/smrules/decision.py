"""Decisions and findings (SPEC §4): what an evaluation answers, and its JSON form."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from .slots import slot_filler
from .values import format_instant


@dataclass(frozen=True, slots=True)
class SourceRef:
    file: str
    line: int
    column: int

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column}


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a condition of a fired rule found its match: code-point offsets, end exclusive."""

    path: str | None
    start: int | None
    end: int | None
    text: str

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class Waived:
    until: dt.date
    reason: str
    approved_by: str

    def to_dict(self) -> dict[str, object]:
        return {
            "until": self.until.isoformat(),
            "reason": self.reason,
            "approved_by": self.approved_by,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired on one activity."""

    rule: str
    effect: str
    audit: bool
    waived: Waived | None
    message: str | None
    hint: str | None
    title: str | None
    risk: str | None
    severity: str | None
    ref: str | None
    tags: tuple[str, ...]
    source: SourceRef | None
    # The evidence, or a function computing it on first access: most callers never read it.
    lazy_evidence: tuple[Evidence, ...] | Callable[[], tuple[Evidence, ...]] = field(
        default=(), repr=False, compare=False
    )

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        """Where the conditions of the rule matched (SPEC §4), computed once when first read."""
        value = self.lazy_evidence
        if callable(value):
            value = value()
            object.__setattr__(self, "lazy_evidence", value)
        return value

    @property
    def counts(self) -> bool:
        """Whether the finding counts in combining and in tests: not audit, not waived."""
        return not self.audit and self.waived is None

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "effect": self.effect,
            "audit": self.audit,
            "waived": self.waived.to_dict() if self.waived else None,
            "message": self.message,
            "hint": self.hint,
            "title": self.title,
            "risk": self.risk,
            "severity": self.severity,
            "ref": self.ref,
            "tags": list(self.tags),
            "source": self.source.to_dict() if self.source else None,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule that failed at run time, at the failing expression (SPEC §2.7)."""

    rule: str
    message: str
    file: str | None
    line: int | None
    column: int | None

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


@dataclass(frozen=True, slots=True)
class PolicyRef:
    name: str
    version: str | None
    digest: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "digest": self.digest}


@dataclass(frozen=True, slots=True)
class Decision:
    """The combined answer for one activity."""

    decision: str
    activity_id: str | None
    time: dt.datetime
    policy: PolicyRef
    findings: tuple[Finding, ...]
    errors: tuple[RuleError, ...]

    @property
    def counted_rules(self) -> tuple[str, ...]:
        """Rule ids of the findings that count (not audit, not waived), `default` included."""
        return tuple(f.rule for f in self.findings if f.counts)

    def to_dict(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "activity_id": self.activity_id,
            "time": format_instant(self.time.astimezone(dt.timezone.utc)),
            "policy": self.policy.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "errors": [e.to_dict() for e in self.errors],
        }

    def to_json(self, indent: int | None = None) -> str:
        """The JSON form as text: `json.dumps(self.to_dict())`, byte for byte.

        Without `indent` it is written from pieces, the parts that come from the policy alone
        made once per rule: several times faster, which matters when millions of decisions
        are streamed.
        """
        if indent is not None:
            return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)
        time = format_instant(self.time.astimezone(dt.timezone.utc))
        head = f'{{"decision": "{self.decision}", "activity_id": {_text(self.activity_id)}, '
        head += f'"time": "{time}", "policy": {_policy_json(self.policy)}, "findings": ['
        findings = ", ".join([_finding_json(f) for f in self.findings]) if self.findings else ""
        if not self.errors:
            return head + findings + '], "errors": []}'
        errors = ", ".join([json.dumps(e.to_dict(), ensure_ascii=False) for e in self.errors])
        return head + findings + '], "errors": [' + errors + "]}"


def _text(value: str | None) -> str:
    """A JSON string (or null), as `json.dumps(value, ensure_ascii=False)` writes it."""
    return "null" if value is None else _encode_string(value)


_encode_string: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _finding_json(finding: Finding) -> str:
    head, tail = _finding_frame(
        finding.rule,
        finding.effect,
        finding.audit,
        finding.title,
        finding.risk,
        finding.severity,
        finding.ref,
        finding.tags,
        finding.source,
    )
    waived = json.dumps(finding.waived.to_dict(), ensure_ascii=False) if finding.waived else "null"
    evidence = ", ".join(
        [
            f'{{"path": {_text(e.path)}, "start": {_number(e.start)}, '
            f'"end": {_number(e.end)}, "text": {_encode_string(e.text)}}}'
            for e in finding.evidence
        ]
    )
    return (
        f'{head}{waived}, "message": {_text(finding.message)}, "hint": {_text(finding.hint)}'
        f"{tail}{evidence}]}}"
    )


def _number(value: int | None) -> str:
    return "null" if value is None else int.__repr__(value)


@lru_cache(maxsize=4096)
def _finding_frame(
    rule: str,
    effect: str,
    audit: bool,
    title: str | None,
    risk: str | None,
    severity: str | None,
    ref: str | None,
    tags: tuple[str, ...],
    source: SourceRef | None,
) -> tuple[str, str]:
    """The JSON of a finding's fields that come from its rule: before `waived`, and from
    `title` to the opening of `evidence`."""
    head = f'{{"rule": {_text(rule)}, "effect": {_text(effect)}, '
    head += f'"audit": {"true" if audit else "false"}, "waived": '
    source_json = json.dumps(source.to_dict(), ensure_ascii=False) if source else "null"
    tail = (
        f', "title": {_text(title)}, "risk": {_text(risk)}, "severity": {_text(severity)}, '
        f'"ref": {_text(ref)}, "tags": {json.dumps(list(tags), ensure_ascii=False)}, '
        f'"source": {source_json}, "evidence": ['
    )
    return head, tail


@lru_cache(maxsize=64)
def _policy_json(policy: PolicyRef) -> str:
    return json.dumps(policy.to_dict(), ensure_ascii=False)


new_decision = slot_filler(Decision)
new_finding = slot_filler(Finding)
new_evidence = slot_filler(Evidence)
