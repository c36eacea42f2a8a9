"""Pieces every command shares: exit codes, policy resolution, printing diagnostics."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import click

from ..errors import Diagnostic, PolicyError, render_diagnostic

EXIT_OK = 0
EXIT_FAILED = 1  # denied, a test failed, lint errors
EXIT_USAGE = 2
EXIT_INVALID = 3  # an invalid policy, activity or test file


def default_policy_path() -> Path:
    """`./policies` when present, else the bundled default policy (SPEC §7)."""
    local = Path("policies")
    if local.is_dir():
        return local
    from ..api import bundled_policy_path

    return bundled_policy_path()


def use_color(stream=None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def print_diagnostics(
    diagnostics: Iterable[Diagnostic], sources: Mapping[str, str], err: bool = True
) -> None:
    """Print `file:line:col: error[CODE]: message`, the line and a caret, for each."""
    for diag in diagnostics:
        text = render_diagnostic(diag, sources.get(diag.span.file) if diag.span else None)
        color = "red" if diag.severity == "error" else "yellow"
        first, _, rest = text.partition("\n")
        click.secho(
            first, fg=color, bold=True, err=err, color=use_color(sys.stderr if err else None)
        )
        if rest:
            click.echo(rest, err=err)


def load_policy_or_exit(path: str | os.PathLike[str]):
    """Load a policy; on a load error print every problem and exit 3."""
    from ..api import load

    try:
        return load(path)
    except PolicyError as err:
        print_diagnostics(err.diagnostics, err.sources)
        count = len(err.diagnostics)
        click.echo(
            f"policy `{path}` is invalid: {count} error{'s' if count != 1 else ''}", err=True
        )
        raise SystemExit(EXIT_INVALID) from None
