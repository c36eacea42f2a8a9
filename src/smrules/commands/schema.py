"""`smrules schema activity|decision|policy-test`: print a shipped JSON schema."""

from __future__ import annotations

import click

from ._common import guarded

NAMES = ("activity", "decision", "policy-test")


@click.command("schema", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name", type=click.Choice(NAMES), metavar="NAME")
@guarded
def command(name: str) -> None:
    """Print the JSON schema (draft 2020-12) NAME: activity, decision or policy-test.

    \b
    Examples:
      smrules schema activity > activity.schema.json
      smrules schema decision
    """
    from ..schemas import schema_text

    text = schema_text(name)
    click.echo(text, nl=not text.endswith("\n"))
