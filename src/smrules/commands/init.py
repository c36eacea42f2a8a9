"""`smrules init [DIR]`: scaffold a policy repository from the templates in `smrules/scaffold`."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import click

from ._common import EXIT_FAILED, EXIT_INVALID, guarded

VERSION_MARK = "@SMRULES_VERSION@"  # replaced in template text by the installed version


@dataclass(frozen=True, slots=True)
class ScaffoldFile:
    path: str  # POSIX path relative to the new repository
    text: str


def scaffold_files() -> list[ScaffoldFile]:
    """Every template file, with its text ready to write, in path order."""
    from .. import __version__

    root = resources.files("smrules") / "scaffold"
    files = [
        ScaffoldFile(rel, item.read_text(encoding="utf-8").replace(VERSION_MARK, __version__))
        for rel, item in _walk(root, "")
    ]
    return sorted(files, key=lambda f: f.path)


def _walk(node: Traversable, prefix: str):
    for child in node.iterdir():
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, rel + "/")
        else:
            yield rel, child


@click.command("init", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("directory", default=".", type=click.Path(file_okay=False), metavar="[DIR]")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@guarded
def command(directory: str, force: bool) -> None:
    """Scaffold a policy repository in DIR (default: the current directory).

    \b
    Writes:
      policies/main.smr               a policy header and two rules
      policies/data/lexicon.yaml      word lists the rules use
      policies/tests/main.test.yaml   tests for the rules (run: smrules test)
      .pre-commit-config.yaml         lint, format and test before each commit
      .github/workflows/smrules.yml   the same checks in CI

    Existing files are never overwritten unless --force is given.

    \b
    Example:
      smrules init my-policy && cd my-policy && smrules test

    Exit codes: 0 written, 1 a file already exists (nothing written),
    3 DIR cannot be written.
    """
    root = Path(directory)
    files = scaffold_files()
    existing = [f.path for f in files if (root / f.path).exists()]
    if existing and not force:
        click.echo(f"smrules init: not overwriting existing files in `{root}`:", err=True)
        for path in existing:
            click.echo(f"  {path}", err=True)
        click.echo("nothing was written; use --force to overwrite them", err=True)
        raise SystemExit(EXIT_FAILED)
    try:
        for f in files:
            target = root / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.text, encoding="utf-8", newline="\n")
    except OSError as err:
        click.echo(f"smrules init: cannot write `{err.filename or root}`: {err.strerror}", err=True)
        raise SystemExit(EXIT_INVALID) from None
    for f in files:
        click.echo(f"created {(root / f.path).as_posix()}")
    where = "" if root == Path(".") else f"cd {root.as_posix()} && "
    click.echo(f"\nNext: {where}smrules test --coverage")
