"""`smrules log export|show`: read the decision service's log (SPEC §8)."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ..decisionlog import DECISIONS, DEFAULT_LOG_PATH, LogError, LoggedDecision, read_decisions
from ..schemas import parse_date, parse_date_time
from ._common import EXIT_INVALID


class InstantType(click.ParamType):
    """An RFC 3339 date-time with an offset, or a date (midnight UTC)."""

    name = "INSTANT"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        instant = parse_date_time(value)
        if instant is not None:
            return instant
        day = parse_date(value)
        if day is not None:
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        self.fail(
            f"`{value}` is not a date-time with an offset (2026-11-16T08:00:00Z) or a date",
            param,
            ctx,
        )


def filter_options(func: Callable[..., None]) -> Callable[..., None]:
    """The options `export` and `show` share."""

    @click.option(
        "--log",
        "log_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_LOG_PATH,
        show_default=True,
        help="The decision log written by `smrules serve --log`.",
    )
    @click.option(
        "--since",
        type=InstantType(),
        default=None,
        help="Only decisions made at or after this instant (a date means midnight UTC).",
    )
    @click.option(
        "--decision",
        type=click.Choice(DECISIONS),
        default=None,
        help="Only decisions with this answer.",
    )
    @click.option(
        "--rule",
        default=None,
        metavar="ID",
        help="Only decisions with a finding of this rule.",
    )
    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> None:
        func(**kwargs)

    return wrapper


def _decisions(
    log_path: Path, since: dt.datetime | None, decision: str | None, rule: str | None
) -> Iterator[LoggedDecision]:
    try:
        yield from read_decisions(log_path, since=since, decision=decision, rule=rule)
    except LogError as err:
        click.echo(f"Error: {err}", err=True)
        raise SystemExit(EXIT_INVALID) from None


@click.group()
def command() -> None:
    """Read the decision log of `smrules serve`."""


@command.command()
@filter_options
def export(
    log_path: Path, since: dt.datetime | None, decision: str | None, rule: str | None
) -> None:
    """Write decisions as JSON Lines: each the decision JSON with its decision_id.

    \b
    Example:
        smrules log export --log decisions.db --decision deny --since 2026-11-01
    """
    for entry in _decisions(log_path, since, decision, rule):
        click.echo(entry.document)


HEADER = ("MADE AT (UTC)", "DECISION", "ACTIVITY", "RULES", "DECISION ID")
MAX_WIDTHS = (19, 8, 24, 48, 36)
FIRST_PAGE = 1000  # column widths come from these rows; later rows stream at those widths


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cells(entry: LoggedDecision) -> tuple[str, ...]:
    return (
        entry.made_at[:19].replace("T", " "),
        entry.decision,
        entry.activity_id or "-",
        ", ".join(entry.rules) or "-",
        entry.decision_id,
    )


@command.command()
@filter_options
def show(log_path: Path, since: dt.datetime | None, decision: str | None, rule: str | None) -> None:
    """Print decisions as a table, oldest first.

    \b
    Example:
        smrules log show --log decisions.db --rule no_mnpi
    """
    rows = (_cells(e) for e in _decisions(log_path, since, decision, rule))
    first = list(itertools.islice(rows, FIRST_PAGE))
    if not first:
        click.echo("no decisions match", err=True)
        return
    widths = [
        min(limit, max(len(r[i]) for r in [HEADER, *first])) for i, limit in enumerate(MAX_WIDTHS)
    ]
    count = 0
    for row in itertools.chain([HEADER], first, rows):
        cells = (_shorten(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
        count += 1
    count -= 1  # the header
    click.echo(f"{count} decision{'s' if count != 1 else ''}", err=True)
