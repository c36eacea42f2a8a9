"""Every problem of a policy at once, and the formats tools read them in (SPEC §7 `lint`).

`diagnose_policy(path)` runs what loading runs (reading, parsing, checking, compiling), but
collects instead of raising, then adds the warnings of `smrules.lint`. `render_json`,
`render_github` and `render_sarif` turn the result into what a CI system reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import Diagnostic, PolicyError, sort_key

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
MAX_SHOWN_BYTES = 8 * 1024 * 1024  # a file read only to show a diagnostic's line


def diagnose_policy(
    path: str | os.PathLike[str],
) -> tuple[list[Diagnostic], dict[str, str]]:
    """All load errors and lint warnings of the policy at `path`, sorted by file and line,
    with the text of each file (by its name in the diagnostics) to show the lines."""
    from .engine import compile_with_errors
    from .loader import load_program

    try:
        program = load_program(path)
    except PolicyError as err:
        return list(err.diagnostics), dict(err.sources)
    compiled, _ = compile_with_errors(program)
    warnings = _lint_warnings(program, has_errors=bool(compiled))
    diagnostics = sorted(_dedupe([*compiled, *warnings]), key=sort_key)
    return diagnostics, _with_sources(diagnostics, program.sources, policy_root(path))


def _lint_warnings(program: object, has_errors: bool) -> list[Diagnostic]:
    try:
        from .lint import lint_warnings
    except ImportError:  # the warnings module is optional: errors alone are still useful
        return []
    if not has_errors:
        return list(lint_warnings(program))
    try:  # a policy with errors may trip a check that assumes a sound program
        return list(lint_warnings(program))
    except Exception:  # noqa: BLE001 - the errors are what the user must fix first
        return []


def _dedupe(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per code and place; of two, the one that says more (a "did you mean")."""
    kept: dict[tuple[object, ...], Diagnostic] = {}
    for d in diagnostics:
        span = d.span
        key = (d.code, span.file, span.line, span.column) if span else (d.code, d.message)
        other = kept.get(key)
        if other is None or len(d.message) > len(other.message):
            kept[key] = d
    return list(kept.values())


def _with_sources(
    diagnostics: list[Diagnostic], sources: dict[str, str], root: str
) -> dict[str, str]:
    """Add the text of files diagnostics point into that loading did not keep (test files)."""
    out = dict(sources)
    for d in diagnostics:
        name = d.span.file if d.span else None
        if name is None or name in out:
            continue
        try:
            path = Path(file_path(root, name))
            if path.is_file() and path.stat().st_size <= MAX_SHOWN_BYTES:
                out[name] = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
    return out


def count(diagnostics: Iterable[Diagnostic]) -> tuple[int, int]:
    """(errors, warnings)."""
    errors = warnings = 0
    for d in diagnostics:
        if d.severity == "error":
            errors += 1
        else:
            warnings += 1
    return errors, warnings


def policy_root(path: str | os.PathLike[str]) -> str:
    """The directory diagnostics' file names are relative to: the policy directory, or the
    directory of a single `.smr` file."""
    p = Path(path)
    return str(p.parent if p.is_file() else p)


def file_path(root: str, name: str) -> str:
    """A diagnostic's file name as a POSIX path from the current directory."""
    if os.path.isabs(name):
        return Path(name).as_posix()
    joined = os.path.normpath(os.path.join(root, name))
    return Path(joined).as_posix()


# ---------------------------------------------------------------------------- formats


def render_json(diagnostics: list[Diagnostic], path: str) -> str:
    errors, warnings = count(diagnostics)
    return json.dumps(
        {
            "policy": str(path),
            "errors": errors,
            "warnings": warnings,
            "diagnostics": [d.to_dict() for d in diagnostics],
        },
        ensure_ascii=False,
        indent=2,
    )


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(diag: Diagnostic, root: str) -> str:
    """`::error file=F,line=L,col=C,title=T::message`, escaped as GitHub Actions expects."""
    level = "error" if diag.severity == "error" else "warning"
    props = []
    span = diag.span
    if span is not None:
        props.append(f"file={_gh_prop(file_path(root, span.file))}")
        props.append(f"line={span.line}")
        props.append(f"col={span.column}")
        if span.end_line is not None:
            props.append(f"endLine={span.end_line}")
        if span.end_column is not None and span.end_line == span.line:
            props.append(f"endColumn={span.end_column}")
    props.append(f"title={_gh_prop(f'smrules {diag.code}')}")
    message = diag.message + (f"\nhelp: {diag.help}" if diag.help else "")
    return f"::{level} {','.join(props)}::{_gh_data(message)}"


def render_github(diagnostics: list[Diagnostic], root: str) -> str:
    return "\n".join(github_annotation(d, root) for d in diagnostics)


def render_sarif(
    diagnostics: list[Diagnostic], root: str, descriptions: Mapping[str, str] | None = None
) -> str:
    """A SARIF 2.1.0 log with one run: one reporting rule per error code, one result each."""
    from . import __version__

    codes = sorted({d.code for d in diagnostics})
    index = {code: i for i, code in enumerate(codes)}
    rules = []
    for code in codes:
        rule: dict[str, object] = {"id": code, "name": code}
        if descriptions and code in descriptions:
            rule["shortDescription"] = {"text": descriptions[code]}
        rules.append(rule)
    results = []
    for diag in diagnostics:
        result: dict[str, object] = {
            "ruleId": diag.code,
            "ruleIndex": index[diag.code],
            "level": "error" if diag.severity == "error" else "warning",
            "message": {"text": diag.message + (f" (help: {diag.help})" if diag.help else "")},
        }
        span = diag.span
        if span is not None:
            region: dict[str, int] = {"startLine": span.line, "startColumn": span.column}
            if span.end_line is not None:
                region["endLine"] = span.end_line
                if span.end_column is not None:
                    region["endColumn"] = span.end_column
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": file_path(root, span.file)},
                        "region": region,
                    }
                }
            ]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "smrules",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, ensure_ascii=False, indent=2)
