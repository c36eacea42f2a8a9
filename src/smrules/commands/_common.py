"""Pieces every command shares: exit codes, policy resolution, printing diagnostics, guarding
the user from tracebacks."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import click

from ..errors import Diagnostic, PolicyError, render_diagnostic

EXIT_OK = 0
EXIT_FAILED = 1  # denied, a test failed, lint errors
EXIT_USAGE = 2
EXIT_INVALID = 3  # an invalid policy, activity or test file

DEBUG_ENV = "SMRULES_DEBUG"  # set to show the traceback of an internal error

F = TypeVar("F", bound=Callable[..., object])


def default_policy_path() -> Path:
    """`./policies` when present, else the bundled default policy (SPEC §7)."""
    local = Path("policies")
    if local.is_dir():
        return local
    from ..api import bundled_policy_path

    return bundled_policy_path()


def use_color(stream=None) -> bool:
    """Colour only on a terminal, and never when `NO_COLOR` is set (https://no-color.org)."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


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


def guarded(func: F) -> F:
    """Run a command body so that no traceback reaches the user.

    A closed output pipe (`smrules check big.jsonl | head`) ends quietly; Ctrl-C exits 130; any
    other unexpected exception prints one line and exits 3 (its traceback with SMRULES_DEBUG=1).
    """

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except BrokenPipeError:
            _silence_stdout()
            raise SystemExit(EXIT_FAILED) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise SystemExit(130) from None
        except Exception as err:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(
                f"smrules: internal error: {type(err).__name__}: {err}\n"
                f"  set {DEBUG_ENV}=1 to see the traceback, and please report it",
                err=True,
            )
            raise SystemExit(EXIT_INVALID) from None

    return wrapper  # type: ignore[return-value]


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
