"""Diagnostics, source spans and the exception tree.

Every problem smrules reports about user input is a `Diagnostic` with a stable code, a one-line
message and, where it has one, a `Span` into a named file. `render_diagnostic` turns it into
`file:line:col: error[CODE]: message` followed by the source line and a caret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Span:
    """A place in a source file: 1-based line and column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def __reduce__(self):  # a constructor call: cheap to unpickle, and every node has a span
        return (Span, (self.file, self.line, self.column, self.end_line, self.end_column))


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a policy, an activity or a test file."""

    code: str
    message: str
    span: Span | None = None
    severity: Severity = "error"
    help: str | None = None

    def to_dict(self) -> dict[str, object]:
        span = self.span
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "help": self.help,
            "file": span.file if span else None,
            "line": span.line if span else None,
            "column": span.column if span else None,
        }


def render_diagnostic(diag: Diagnostic, source: str | None = None) -> str:
    """Render a diagnostic as a compiler-style block with the offending line and a caret."""
    where = f"{diag.span}: " if diag.span else ""
    lines = [f"{where}{diag.severity}[{diag.code}]: {diag.message}"]
    if diag.span and source is not None:
        text_lines = source.splitlines()
        if 1 <= diag.span.line <= len(text_lines):
            line_text = text_lines[diag.span.line - 1].expandtabs(1)
            width = 1
            if diag.span.end_line == diag.span.line and diag.span.end_column:
                width = max(1, diag.span.end_column - diag.span.column)
            gutter = f"{diag.span.line:>4} | "
            lines.append(gutter + line_text)
            lines.append(" " * (len(gutter) + diag.span.column - 1) + "^" * min(width, 80))
    if diag.help:
        lines.append(f"  help: {diag.help}")
    return "\n".join(lines)


def sort_key(diag: Diagnostic) -> tuple[object, ...]:
    span = diag.span
    if span is None:
        return ((), 0, 0, diag.code, diag.message)  # before every file, comparable with them
    return (tuple(span.file.split("/")), span.line, span.column, diag.code, diag.message)


class SmrulesError(Exception):
    """Root of every error smrules raises on purpose."""


class PolicyError(SmrulesError):
    """A policy could not be loaded: every load error found, each with file, line and column."""

    def __init__(
        self,
        diagnostics: Iterable[Diagnostic],
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(diagnostics, key=sort_key))
        self.sources: dict[str, str] = dict(sources or {})
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(
            render_diagnostic(d, self.sources.get(d.span.file) if d.span else None)
            for d in self.diagnostics
        )

    def __reduce__(self):  # keep pickling (multiprocessing) working
        return (PolicyError, (self.diagnostics, self.sources))


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason an activity is invalid: a JSON path such as `content.links[0].url`."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class ActivityError(SmrulesError, ValueError):
    """An activity does not match the activity schema (or exceeds a limit)."""

    def __init__(self, problems: Iterable[Problem], index: int | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.index = index
        super().__init__(self.message)

    @property
    def message(self) -> str:
        listed = "; ".join(f"{p.path or '(activity)'}: {p.message}" for p in self.problems)
        return f"invalid activity: {listed}"

    def with_index(self, index: int) -> ActivityError:
        return ActivityError(self.problems, index)

    def to_record(self) -> dict[str, object]:
        """The error record that stands in for a decision (SPEC §7)."""
        return {
            "index": self.index,
            "error": self.message,
            "problems": [p.to_dict() for p in self.problems],
        }

    def __reduce__(self):
        return (ActivityError, (self.problems, self.index))
