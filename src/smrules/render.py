"""Text a person reads: decisions, findings, explanations, summaries and located problems.

Everything here returns strings; printing and choosing whether to colour is the caller's job
(`color=True` adds ANSI styles through `click.style`). The layout puts the decision first, then
one block per finding, so that a draft's author sees the answer before the reasons:

    deny  draft-42
      deny   no_mnpi  No material non-public financial information
             Financial results may only be published by Investor Relations.
             hint      Share the official release link once it is public.
             risk      confidentiality, severity critical, ref SEC Regulation FD
             source    baseline.smr:19:1
             evidence  content.text: Our Q3 revenue beat expectations!
                                         ^^^^^^^^^^
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import click

from .decision import Decision, Evidence, Finding
from .errors import Diagnostic

DECISION_COLORS = {"deny": "red", "warn": "yellow", "allow": "green"}
CONTEXT_CHARS = 32  # characters of context on each side of a piece of evidence
VALUE_CHARS = 120  # longest value shown in an explanation
INDENT = "  "
LABEL_WIDTH = 10
TRACE_WIDTH = 9  # "not fired"


def paint(text: str, color: bool, **style: object) -> str:
    return click.style(text, **style) if color else text  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- decisions


def render_decision(
    decision: Decision,
    *,
    activity: object = None,
    label: str | None = None,
    color: bool = False,
) -> str:
    """The decision, then each finding with its rule, message, hint, metadata and evidence.

    `activity` (the activity as given) lets evidence show the words around a match; `label`
    names the activity in the heading when it has no `id` (a file and line, say).
    """
    head = paint(decision.decision, color, fg=DECISION_COLORS.get(decision.decision), bold=True)
    name = decision.activity_id or label
    if decision.activity_id and label:
        name = f"{decision.activity_id}  ({label})"
    lines = [f"{head}  {name}" if name else head]
    if not decision.findings and not decision.errors:
        lines.append(f"{INDENT}no rule fired")
    for finding in decision.findings:
        lines.extend(_finding_lines(finding, activity, color))
    for error in decision.errors:
        where = f" ({error.file}:{error.line}:{error.column})" if error.file else ""
        tag = paint("error".ljust(6), color, fg="magenta", bold=True)
        lines.append(f"{INDENT}{tag} {error.rule}  rule failed: {safe_text(error.message)}{where}")
    return "\n".join(lines)


def finding_tag(finding: Finding) -> str:
    if finding.waived is not None:
        return "waived"
    if finding.audit:
        return "audit"
    return finding.effect


def _finding_lines(finding: Finding, activity: object, color: bool) -> list[str]:
    tag = finding_tag(finding)
    styled_tag = paint(tag.ljust(6), color, fg=DECISION_COLORS.get(tag, "cyan"), bold=True)
    heading = f"{INDENT}{styled_tag} {paint(finding.rule, color, bold=True)}"
    if finding.title:
        heading += f"  {safe_text(finding.title)}"
    lines = [heading]
    pad = INDENT + " " * 7
    if finding.message:
        lines.append(pad + safe_text(finding.message))
    rows: list[tuple[str, str]] = []
    if finding.audit and finding.waived is None:
        rows.append(("audit", f"would {finding.effect}; audit rules never change the decision"))
    if finding.waived is not None:
        w = finding.waived
        rows.append(
            ("waived", f"{finding.effect} waived until {w.until.isoformat()} by {w.approved_by}")
        )
        rows.append(("reason", safe_text(w.reason)))
    if finding.hint:
        rows.append(("hint", safe_text(finding.hint)))
    meta = [
        f"{key} {value}" if key != "risk" else str(value)
        for key, value in (
            ("risk", finding.risk),
            ("severity", finding.severity),
            ("ref", finding.ref),
        )
        if value
    ]
    if meta:
        rows.append(("risk" if finding.risk else "meta", ", ".join(meta)))
    if finding.tags:
        rows.append(("tags", ", ".join(finding.tags)))
    if finding.source is not None:
        s = finding.source
        rows.append(("source", f"{s.file}:{s.line}:{s.column}"))
    for label, text in rows:
        lines.append(f"{pad}{paint(label.ljust(LABEL_WIDTH), color, dim=True)}{text}")
    for evidence in finding.evidence:
        lines.extend(_evidence_lines(evidence, activity, pad, color))
    return lines


def _evidence_lines(evidence: Evidence, activity: object, pad: str, color: bool) -> list[str]:
    label = pad + paint("evidence".ljust(LABEL_WIDTH), color, dim=True)
    whole = _string_at(activity, evidence.path) if evidence.path else None
    start, end = evidence.start, evidence.end
    if (
        whole is None
        or start is None
        or end is None
        or not 0 <= start <= end <= len(whole)
        or whole[start:end] != evidence.text
    ):
        subject = f"{evidence.path}: " if evidence.path else ""
        return [f"{label}{subject}{paint(_one_line(evidence.text), color, bold=True)}"]
    lo = max(0, start - CONTEXT_CHARS)
    hi = min(len(whole), end + CONTEXT_CHARS)
    before = ("..." if lo > 0 else "") + _one_line(whole[lo:start])
    match = _one_line(whole[start:end])
    after = _one_line(whole[end:hi]) + ("..." if hi < len(whole) else "")
    prefix = f"{evidence.path}: "
    text = before + paint(match, color, fg="red", bold=True, underline=True) + after
    caret_at = len(label_plain(pad)) + display_width(prefix + before)
    carets = "^" * max(1, display_width(match))
    return [f"{label}{prefix}{text}", " " * caret_at + paint(carets, color, fg="red")]


def label_plain(pad: str) -> str:
    return pad + " " * LABEL_WIDTH


def _string_at(activity: object, path: str) -> str | None:
    from .inputs import parse_path

    value = activity
    for part in parse_path(path):
        if isinstance(part, int) and isinstance(value, list) and 0 <= part < len(value):
            value = value[part]
        elif isinstance(part, str) and isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value if isinstance(value, str) else None


def safe_text(text: str) -> str:
    """Text from a policy or an activity made safe for a terminal: control characters other
    than newline and tab (an escape sequence could clear the screen or retitle the window)
    are shown as `\\xNN` / `\\u0085` escapes instead of being sent."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in "\n\t" or unicodedata.category(ch) != "Cc":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def _one_line(text: str) -> str:
    """Control characters (newlines, tabs) as spaces, so the caret below stays aligned."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


def display_width(text: str) -> int:
    """Terminal columns: wide East Asian characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


# ---------------------------------------------------------------------------- explanations


def render_explanation(explanation: object, color: bool = False) -> str:
    """For every rule: fired, or which `when`/`unless` stopped it, with the values it saw."""
    traces = getattr(explanation, "rules", ())
    lines = [paint("rules", color, bold=True)]
    if not traces:
        lines.append(f"{INDENT}the policy has no rules")
    for trace in traces:
        lines.extend(_trace_lines(trace, color))
    return "\n".join(lines)


def _trace_lines(trace: object, color: bool) -> list[str]:
    rule = getattr(trace, "rule", "?")
    effect = getattr(trace, "effect", "?")
    mode = getattr(trace, "mode", "enforce")
    outcome = getattr(trace, "outcome", "?")
    clause = getattr(trace, "clause", None)
    condition = getattr(trace, "condition", None)
    span = getattr(trace, "span", None)
    kind = f"{effect}, audit" if mode == "audit" else effect
    where = f" ({span.file}:{span.line})" if span is not None else ""
    pad = INDENT + " " * (TRACE_WIDTH + 1)
    if outcome == "fired":
        mark = paint("fired".ljust(TRACE_WIDTH), color, fg=DECISION_COLORS.get(effect), bold=True)
        detail = [f"every `when` held and no `unless` did{where}"]
    elif outcome == "error":
        mark = paint("failed".ljust(TRACE_WIDTH), color, fg="magenta", bold=True)
        detail = [f"{getattr(trace, 'error', None)}{where}"]
        if condition:
            detail.append(f"in {condition}")
    else:
        mark = paint("not fired".ljust(TRACE_WIDTH), color, dim=True)
        why = "did not hold" if clause == "when" else "held"
        detail = [f"{clause} {condition}  <- {why}{where}"]
    lines = [f"{INDENT}{mark} {paint(rule, color, bold=True)} ({kind})"]
    lines.extend(pad + text for text in detail)
    for seen in getattr(trace, "values", ()):
        lines.append(f"{pad}{seen.expression} was {format_value(seen.value)}")
    return lines


def format_value(value: object) -> str:
    """A value as JSON on one line, cut to VALUE_CHARS; `null` reads as `null (absent)`."""
    if value is None:
        return "null (absent)"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > VALUE_CHARS:
        text = text[: VALUE_CHARS - 3] + "..."
    return _one_line(text)


# ---------------------------------------------------------------------------- summaries


@dataclass
class Tally:
    """Counts of outcomes over a run of many activities."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"deny": 0, "warn": 0, "allow": 0, "invalid": 0}
    )

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def add_all(self, outcomes: Iterable[str]) -> None:
        for outcome, count in Counter(outcomes).items():
            self.counts[outcome] = self.counts.get(outcome, 0) + count

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def render_summary(tally: Tally, color: bool = False) -> str:
    """`4 activities: 1 denied, 1 warned, 1 allowed, 1 invalid`."""
    words = {"deny": "denied", "warn": "warned", "allow": "allowed", "invalid": "invalid"}
    colors = {"deny": "red", "warn": "yellow", "allow": "green", "invalid": "magenta"}
    total = tally.total
    parts = [
        paint(f"{count} {words.get(key, key)}", color, fg=colors.get(key))
        for key, count in tally.counts.items()
        if count
    ]
    noun = "activity" if total == 1 else "activities"
    return f"{total} {noun}: " + ", ".join(parts) if parts else f"{total} {noun}"


# ---------------------------------------------------------------------------- diagnostics


def render_problem(diag: Diagnostic, line_text: str | None, color: bool = False) -> str:
    """`file:line:col: error[CODE]: message`, the source line and a caret under the column.

    The same layout as `errors.render_diagnostic`, but given only the offending line, as for one
    line of a stream too large to keep.
    """
    span = diag.span
    where = f"{span}: " if span else ""
    first = f"{where}{diag.severity}[{diag.code}]: {diag.message}"
    fg = "red" if diag.severity == "error" else "yellow"
    lines = [paint(first, color, fg=fg, bold=True)]
    if span is not None and line_text is not None:
        width = 1
        if span.end_line == span.line and span.end_column:
            width = max(1, span.end_column - span.column)
        gutter = f"{span.line:>4} | "
        lines.append(gutter + line_text.expandtabs(1))
        lines.append(" " * (len(gutter) + span.column - 1) + "^" * min(width, 80))
    if diag.help:
        lines.append(f"  help: {diag.help}")
    return "\n".join(lines)


def render_problems(problems: Iterable[tuple[Diagnostic, str | None]], color: bool = False) -> str:
    return "\n".join(render_problem(diag, line, color) for diag, line in problems)


def render_diagnostics(
    diagnostics: Iterable[Diagnostic], sources: Mapping[str, str], color: bool = False
) -> str:
    """Diagnostics of a policy, each with its line and caret from `sources`."""
    out = []
    for diag in diagnostics:
        source = sources.get(diag.span.file) if diag.span else None
        line = None
        if diag.span is not None and source is not None:
            lines = source.splitlines()
            if 1 <= diag.span.line <= len(lines):
                line = lines[diag.span.line - 1]
        out.append(render_problem(diag, line, color))
    return "\n".join(out)
