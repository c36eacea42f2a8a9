"""`smrules fmt [PATH...]`: rewrite `.smr` files in the canonical layout of `smrules.fmt`."""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from ..errors import Diagnostic, Span
from ._common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, guarded, print_diagnostics

MAX_BYTES = 8 * 1024 * 1024  # like the policy loader


@dataclass(frozen=True, slots=True)
class _Outcome:
    name: str
    before: str | None = None  # None: the file could not be formatted
    after: str | None = None

    @property
    def changed(self) -> bool:
        return self.before is not None and self.before != self.after


@click.command("fmt", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.option("--check", is_flag=True, help="Write nothing; list the files that would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff.")
@guarded
def command(paths: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Format .smr files in the canonical layout, in place, keeping every comment.

    PATH is a .smr file or a directory, searched recursively for .smr files (skipping
    directories whose name starts with `.`); the default is the current directory. `-` reads
    a policy file from stdin and writes it, formatted, to stdout.

    The layout: two-space indentation in blocks, one item per line, the values of a run of
    lines aligned after their keywords, one blank line between declarations, long conditions
    broken before `or`/`and`. Formatting twice gives the same text, and formatting never changes
    what a policy decides.

    \b
    Examples:
      smrules fmt policies/                # rewrite the files that need it
      smrules fmt --check policies/        # in CI: exit 1 if a file is not formatted
      smrules fmt --diff policies/rd.smr   # show what would change
      cat draft.smr | smrules fmt -        # format stdin to stdout

    \b
    Exit codes: 0 done (or nothing to change), 1 a file would change (--check, --diff),
    3 a file has a syntax error or cannot be read (it is left as it is).
    """
    dry = check or show_diff
    outcomes: list[_Outcome] = []
    for name, read in _inputs(paths or (".",)):
        outcome = _format(name, read)
        if outcome.before is not None and outcome.after is not None:
            if show_diff and outcome.changed:
                click.echo(_diff(outcome), nl=False)
            if check and outcome.changed:
                click.echo(f"would reformat {name}")
            if name == "-" and not dry:
                click.echo(outcome.after, nl=False)
            elif outcome.changed and not dry:
                if _write(name, outcome.after):
                    click.echo(f"reformatted {name}", err=True)
                else:
                    outcome = _Outcome(name)
        outcomes.append(outcome)
    failed = sum(1 for o in outcomes if o.before is None)
    changed = sum(1 for o in outcomes if o.changed)
    if not any(o.name == "-" for o in outcomes) or len(outcomes) > 1:
        click.echo(_summary(len(outcomes), changed, failed, dry), err=True)
    if failed:
        raise SystemExit(EXIT_INVALID)
    raise SystemExit(EXIT_FAILED if dry and changed else EXIT_OK)


def _summary(total: int, changed: int, failed: int, dry: bool) -> str:
    def files(count: int) -> str:
        return f"{count} file{'s' if count != 1 else ''}"

    verb = "would be reformatted" if dry else "reformatted"
    parts = [f"{files(changed)} {verb}", f"{files(total - changed - failed)} left unchanged"]
    if failed:
        parts.append(f"{files(failed)} not formatted because of errors")
    return ", ".join(parts)


def _inputs(paths: tuple[str, ...]) -> Iterator[tuple[str, object]]:
    """(name, reader) for every file to format, in order, each once."""
    seen: set[str] = set()
    for given in paths:
        if given == "-":
            yield "-", _read_stdin
            continue
        path = Path(given)
        if path.is_dir():
            found = sorted(_discover(path), key=lambda p: p.as_posix().split("/"))
        else:
            found = [path]
        for file in found:
            key = os.path.realpath(file)
            if key not in seen:
                seen.add(key)
                yield str(file), file


def _discover(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in filenames:
            if fname.endswith(".smr") and not fname.startswith("."):
                yield Path(dirpath) / fname


def _read_stdin() -> bytes:
    return sys.stdin.buffer.read()


def _format(name: str, read: object) -> _Outcome:
    from ..fmt import FormatError, format_source
    from ..parser import ParseFailed

    text = _read_text(name, read)
    if text is None:
        return _Outcome(name)
    try:
        return _Outcome(name, text, format_source(text, name))
    except ParseFailed as failed:
        print_diagnostics(failed.diagnostics, {name: text})
    except FormatError as err:
        _error(name, "fmt-internal", f"cannot format this file safely: {err}")
    except RecursionError:
        _error(name, "too-deep", "the file nests expressions too deeply to format")
    return _Outcome(name)


def _read_text(name: str, read: object) -> str | None:
    try:
        if callable(read):
            raw = read()
        else:
            from ..loader import read_file_bytes  # a pipe named x.smr is an error, not a hang

            raw = read_file_bytes(Path(str(read)), MAX_BYTES)
    except FileNotFoundError:
        _error(name, "not-found", "no such file or directory")
        return None
    except IsADirectoryError:
        _error(name, "unreadable-file", "is a directory")
        return None
    except OSError as err:
        _error(name, "unreadable-file", f"cannot read: {err.strerror or err}")
        return None
    if len(raw) > MAX_BYTES:
        _error(name, "file-too-large", f"larger than {MAX_BYTES} bytes")
        return None
    if b"\x00" in raw:
        _error(name, "binary-file", "a binary file, not a policy", "policy files are UTF-8 text")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        _error(name, "bad-encoding", f"not valid UTF-8 (byte {err.start})", "save it as UTF-8")
        return None


def _error(name: str, code: str, message: str, help_text: str | None = None) -> None:
    print_diagnostics([Diagnostic(code, message, Span(name, 1, 1), help=help_text)], {})


def _diff(outcome: _Outcome) -> str:
    lines = difflib.unified_diff(
        (outcome.before or "").splitlines(keepends=True),
        (outcome.after or "").splitlines(keepends=True),
        fromfile=f"{outcome.name} (original)",
        tofile=f"{outcome.name} (formatted)",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _write(name: str, text: str) -> bool:
    """Replace the file (the target of a symbolic link) in one step, keeping its permissions:
    an interrupted run leaves either the old or the new text, never half of it."""
    path = Path(os.path.realpath(name))
    tmp: str | None = None
    try:
        mode = path.stat().st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        _error(name, "unwritable-file", f"cannot write: {err.strerror or err}")
        return False
    return True
