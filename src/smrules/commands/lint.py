"""`smrules lint [PATH]`: every load error of a policy, and the warnings of `smrules.lint`."""

from __future__ import annotations

import os
import sys

import click

from ._common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    default_policy_path,
    guarded,
    use_color,
)

FORMATS = ("text", "json", "github", "sarif")
UNREADABLE = ("policy-not-found", "unreadable-policy")


@click.command("lint", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", required=False, metavar="[PATH]")
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json, github (workflow annotations) or sarif (2.1.0, for code "
    "scanning).",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@guarded
def command(path: str | None, fmt: str, strict: bool) -> None:
    """Check a policy for errors and likely mistakes, without running it.

    PATH is a policy directory or one .smr file (default: ./policies if present, else the
    bundled policy). Errors are everything that stops a policy from loading: syntax, unknown
    fields and type errors against the activity schema, unknown names, duplicate rule ids,
    bad regexes. Warnings are rules that can never fire, shadowed rules, unknown risk names,
    expired waivers and other likely mistakes.

    \b
    Examples:
      smrules lint policies/
      smrules lint --format github policies/     # annotations in a GitHub workflow
      smrules lint --format sarif policies/ > smrules.sarif

    \b
    Exit codes: 0 no errors (warnings allowed unless --strict), 1 errors
    (or warnings under --strict), 3 PATH is missing or unreadable.
    """
    from ..diagnose import count, diagnose_policy, policy_root
    from ..errors import Diagnostic

    target = path if path is not None else str(default_policy_path())
    if os.path.exists(target) and not os.access(target, os.R_OK):
        diagnostics: list[Diagnostic] = [
            Diagnostic("unreadable-policy", f"cannot read `{target}`: permission denied")
        ]
        sources: dict[str, str] = {}
    else:
        diagnostics, sources = diagnose_policy(target)
    root = policy_root(target)
    errors, warnings = count(diagnostics)
    _print(diagnostics, sources, fmt, target, root, errors, warnings)
    if any(d.code in UNREADABLE for d in diagnostics):
        raise SystemExit(EXIT_INVALID)
    if errors or (strict and warnings):
        raise SystemExit(EXIT_FAILED)
    raise SystemExit(EXIT_OK)


def _print(diagnostics, sources, fmt, target, root, errors, warnings) -> None:
    from .. import diagnose

    if fmt == "json":
        click.echo(diagnose.render_json(diagnostics, target))
    elif fmt == "sarif":
        click.echo(diagnose.render_sarif(diagnostics, root))
    elif fmt == "github":
        if diagnostics:
            click.echo(diagnose.render_github(diagnostics, root))
        click.echo(_summary(target, errors, warnings))
    else:
        from ..render import render_diagnostics

        color = use_color(sys.stdout)
        if diagnostics:
            click.echo(render_diagnostics(diagnostics, sources, color))
        click.echo(_summary(target, errors, warnings))


def _summary(target: str, errors: int, warnings: int) -> str:
    if not errors and not warnings:
        return f"{target}: no problems found"
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return f"{target}: {', '.join(parts)}"
