"""Rendering a test run (`smrules.testing.TestRun`) as text, JSON, JUnit XML, GitHub
annotations or TAP version 13. Every function returns a string; the caller prints it.

`failure_text` is the one explanation of a failing case: the text report, JUnit's failure
details, TAP's YAML block, GitHub's annotation and the pytest plugin all show it.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from .coverage import Coverage
from .errors import Diagnostic
from .testing import CaseResult, RuleNote, TestRun

FORMATS = ("text", "json", "junit", "github", "tap")
MAX_VALUE_CHARS = 200

_STATUS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}


# ------------------------------------------------------------------------ shared pieces


def _value(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _rules(rules: Iterable[str]) -> str:
    items = list(rules)
    return "[" + ", ".join(items) + "]"


def _expected(result: CaseResult) -> str:
    e = result.case.expect
    parts = []
    if e.decision is not None:
        parts.append(f"decision {e.decision}")
    if e.rules is not None:
        parts.append(f"rules {_rules(sorted(set(e.rules)))}")
    if e.includes:
        parts.append(f"includes {_rules(e.includes)}")
    if e.excludes:
        parts.append(f"excludes {_rules(e.excludes)}")
    if e.messages:
        parts.append("messages " + ", ".join(json.dumps(m, ensure_ascii=False) for m in e.messages))
    return "; ".join(parts)


def _note_lines(note: RuleNote, indent: str) -> list[str]:
    where = f"  ({note.where})" if note.where else ""
    lines = [f"{indent}{note.rule}: {note.note}{where}"]
    for seen in note.values:
        lines.append(f"{indent}    {seen.expression} = {_value(seen.value)}")
    for ev in note.evidence:
        at = f"{ev.path}[{ev.start}:{ev.end}]" if ev.path is not None else "(computed value)"
        lines.append(f"{indent}    evidence: {at} {_value(ev.text)}")
    return lines


def failure_text(result: CaseResult, policy_error: str | None = None) -> str:
    """Why a case failed or erred, in plain text lines (no trailing newline)."""
    lines: list[str] = []
    if result.status == "error":
        lines.append(f"error: {result.error}")
        for p in result.problems:
            lines.append(f"  {p.path or '(activity)'}: {p.message}")
        if policy_error:
            lines.extend(policy_error.splitlines())
        return "\n".join(lines)
    decision = result.decision
    lines.append(f"expected: {_expected(result)}")
    if decision is not None:
        counted = list(dict.fromkeys(decision.counted_rules))
        lines.append(f"actual:   decision {decision.decision}; rules {_rules(sorted(counted))}")
    lines.extend(result.failures)
    if decision is not None:
        if decision.findings:
            lines.append("findings:")
            for f in decision.findings:
                marks = ""
                if f.audit:
                    marks += " [audit]"
                if f.waived is not None:
                    marks += f" [waived until {f.waived.until.isoformat()}]"
                message = f": {f.message}" if f.message else ""
                lines.append(f"  {f.effect} {f.rule}{marks}{message}")
        else:
            lines.append("findings: none")
        for err in decision.errors:
            lines.append(
                f"rule error: {err.rule} at {err.file}:{err.line}:{err.column}: {err.message}"
            )
    if result.missing:
        lines.append("expected to fire, but did not:")
        for note in result.missing:
            lines.extend(_note_lines(note, "  "))
    if result.unexpected:
        lines.append("fired, but not expected:")
        for note in result.unexpected:
            lines.extend(_note_lines(note, "  "))
    return "\n".join(lines)


def headline(result: CaseResult) -> str:
    """The first line of a failure: the unmet expectation or the error."""
    if result.status == "error":
        return f"error: {result.error}"
    return result.failures[0] if result.failures else "failed"


def policy_errors(run: TestRun) -> dict[str, str]:
    """Rendered load errors of each broken policy, by policy name."""
    return {f.policy_name: f.render() for f in run.policy_failures}


def _location(result: CaseResult) -> str:
    return f"{result.case.file}:{result.case.line}"


# -------------------------------------------------------------------------------- text


def render_text(run: TestRun, coverage: Coverage | None = None) -> str:
    out: list[str] = []
    broken = policy_errors(run)
    current = None
    for result in run.results:
        if result.policy_name != current:
            current = result.policy_name
            if out:
                out.append("")
            out.append(f"policy {current}")
        out.append(f"  {_STATUS[result.status]:<5} {result.case.name}  ({_location(result)})")
    for invalid in run.invalid_files:
        out.append(f"ERROR invalid test file {invalid.file}")
    bad = [r for r in run.results if r.status != "passed"]
    if bad:
        out.append("")
        out.append("=" * 20 + " failures " + "=" * 20)
        shown: set[str] = set()
        for result in bad:
            out.append("")
            out.append(f"{_STATUS[result.status]} {result.case.name}  ({_location(result)})")
            error = broken.get(result.policy_name)
            if error and result.policy_name in shown:
                error = "(see the policy errors above)"
            shown.add(result.policy_name)
            out.extend("  " + line for line in failure_text(result, error).splitlines())
    for invalid in run.invalid_files:
        out.append("")
        out.append(f"ERROR invalid test file {invalid.file}")
        out.extend("  " + line for line in invalid.render().splitlines())
    if coverage is not None:
        out.append("")
        out.append(render_coverage_text(coverage))
    out.append("")
    if run.deselected:
        out.append(f"{run.deselected} deselected by -k")
    out.append(run.summary)
    return "\n".join(out) + "\n"


def render_coverage_text(coverage: Coverage) -> str:
    out: list[str] = []
    for pc in coverage.policies:
        out.append(
            f"coverage of policy {pc.policy} ({pc.cases} case{'s' if pc.cases != 1 else ''})"
        )
        width = max([len(r.rule) for r in pc.rules] + [4])
        out.append(f"  {'rule':<{width}}  effect  fired  not fired  errors")
        for r in pc.rules:
            flag = "" if r.covered else "  UNCOVERED"
            out.append(
                f"  {r.rule:<{width}}  {r.effect:<6}  {r.fired:>5}  {r.not_fired:>9}  "
                f"{r.errors:>6}{flag}"
            )
        conditions = [(r, c) for r in pc.rules for c in r.conditions]
        if conditions:
            out.append("  conditions (times true / false when evaluated):")
            for r, c in conditions:
                flag = "" if c.true and c.false else f"  {c.status.upper()}"
                out.append(
                    f"    {r.rule} {c.clause} {c.text}  true {c.true}, false {c.false}{flag}"
                )
        if pc.uncovered:
            out.append("  uncovered rules: " + ", ".join(r.rule for r in pc.uncovered))
        out.append(f"  rule coverage: {pc.percent:.1f}% ({pc.covered} of {pc.total} rules fired)")
    out.append(
        f"rule coverage: {coverage.percent:.1f}% "
        f"({coverage.covered} of {coverage.total} rules fired by some case)"
    )
    return "\n".join(out)


# -------------------------------------------------------------------------------- json


def result_dict(result: CaseResult) -> dict[str, object]:
    decision = result.decision
    return {
        "name": result.case.name,
        "file": result.case.file,
        "line": result.case.line,
        "policy": result.policy_name,
        "status": result.status,
        "duration": round(result.duration, 6),
        "expected": result.case.expect.to_dict(),
        "actual": None
        if decision is None
        else {
            "decision": decision.decision,
            "rules": sorted(set(decision.counted_rules)),
        },
        "failures": list(result.failures),
        "missing": [n.to_dict() for n in result.missing],
        "unexpected": [n.to_dict() for n in result.unexpected],
        "error": result.error,
        "problems": [p.to_dict() for p in result.problems],
        "decision": decision.to_dict() if decision is not None else None,
    }


def render_json(run: TestRun, coverage: Coverage | None = None) -> str:
    doc: dict[str, object] = {
        "summary": {
            "passed": run.passed,
            "failed": run.failed,
            "errors": run.errors,
            "deselected": run.deselected,
            "text": run.summary,
        },
        "results": [result_dict(r) for r in run.results],
        "invalid_files": [
            {"file": f.file, "diagnostics": [d.to_dict() for d in f.diagnostics]}
            for f in run.invalid_files
        ],
        "policy_errors": [
            {"policy": f.policy_name, "diagnostics": [d.to_dict() for d in f.diagnostics]}
            for f in run.policy_failures
        ],
    }
    if coverage is not None:
        doc["coverage"] = coverage.to_dict()
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


# ------------------------------------------------------------------------------- junit

# Characters XML 1.0 allows: tab, newline, carriage return and the ranges below.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold (escaping is the serializer's job)."""
    return _XML_ILLEGAL.sub("", text)


def _suite_attrs(results: list[CaseResult], invalid: int = 0) -> dict[str, str]:
    return {
        "tests": str(len(results) + invalid),
        "failures": str(sum(r.status == "failed" for r in results)),
        "errors": str(sum(r.status == "error" for r in results) + invalid),
        "skipped": "0",
        "time": f"{sum(r.duration for r in results):.6f}",
    }


def _classname(file: str) -> str:
    stem = file[: -len(".test.yaml")] if file.endswith(".test.yaml") else file
    return xml_safe(stem.replace("/", "."))


def render_junit(run: TestRun, coverage: Coverage | None = None) -> str:
    """JUnit XML as Jenkins, GitLab and GitHub test reporters read it: one testsuite per test
    file, one testcase per case, `failure`/`error` elements with a message and details."""
    broken = policy_errors(run)
    root = ET.Element("testsuites", {"name": "smrules"})
    suites: dict[str, list[CaseResult]] = {}
    for result in run.results:
        suites.setdefault(result.case.file, []).append(result)
    for file, results in suites.items():
        suite = ET.SubElement(root, "testsuite", {"name": xml_safe(file), **_suite_attrs(results)})
        for result in results:
            case = ET.SubElement(
                suite,
                "testcase",
                {
                    "classname": _classname(file),
                    "name": xml_safe(result.case.name),
                    "file": xml_safe(file),
                    "line": str(result.case.line),
                    "time": f"{result.duration:.6f}",
                },
            )
            if result.status == "passed":
                continue
            tag = "failure" if result.status == "failed" else "error"
            element = ET.SubElement(
                case,
                tag,
                {
                    "message": xml_safe(headline(result)),
                    "type": "PolicyTestFailure" if tag == "failure" else "PolicyTestError",
                },
            )
            element.text = xml_safe(failure_text(result, broken.get(result.policy_name)))
    for invalid in run.invalid_files:
        suite = ET.SubElement(
            root, "testsuite", {"name": xml_safe(invalid.file), **_suite_attrs([], 1)}
        )
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": _classname(invalid.file),
                "name": "invalid test file",
                "file": xml_safe(invalid.file),
                "time": "0",
            },
        )
        first = invalid.diagnostics[0].message if invalid.diagnostics else "invalid test file"
        element = ET.SubElement(
            case, "error", {"message": xml_safe(first), "type": "InvalidTestFile"}
        )
        element.text = xml_safe(invalid.render())
    all_results = list(run.results)
    root.attrib.update(_suite_attrs(all_results, len(run.invalid_files)))
    if coverage is not None:  # as properties of each suite, where JUnit readers keep them
        for suite in root:
            props = ET.Element("properties")
            for key, value in (
                ("coverage.percent", f"{coverage.percent:.2f}"),
                ("coverage.covered", str(coverage.covered)),
                ("coverage.total", str(coverage.total)),
            ):
                ET.SubElement(props, "property", {"name": key, "value": value})
            suite.insert(0, props)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


# ------------------------------------------------------------------------------ github


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: str, message: str, file: str | None, line: int | None, col: int | None, title: str
) -> str:
    """`::error file=F,line=L,title=T::message`, escaped as GitHub Actions expects."""
    props = []
    if file:
        props.append(f"file={_gh_prop(file)}")
        if line:
            props.append(f"line={line}")
        if col:
            props.append(f"col={col}")
    props.append(f"title={_gh_prop(title)}")
    return f"::{level} {','.join(props)}::{_gh_data(message)}"


def _diag_annotation(diag: Diagnostic, title: str) -> str:
    span = diag.span
    return annotation(
        "error" if diag.severity == "error" else "warning",
        diag.message + (f"\nhelp: {diag.help}" if diag.help else ""),
        span.file if span else None,
        span.line if span else None,
        span.column if span else None,
        title,
    )


def render_github(run: TestRun, coverage: Coverage | None = None) -> str:
    """Annotations for failing cases at their line in the test file, then the summary."""
    broken = policy_errors(run)
    out = []
    for result in run.results:
        out.append(f"{_STATUS[result.status]} {result.case.name} ({_location(result)})")
        if result.status != "passed":
            first = headline(result)
            details = failure_text(result, broken.get(result.policy_name)).splitlines()
            if details and details[0] == first:
                details = details[1:]
            message = "\n".join([f"{result.case.name}: {first}", *details])
            out.append(
                annotation(
                    "error",
                    message,
                    result.case.file,
                    result.case.line,
                    None,
                    f"smrules test {result.status}: {result.case.name}",
                )
            )
    for invalid in run.invalid_files:
        for diag in invalid.diagnostics:
            out.append(_diag_annotation(diag, "invalid test file"))
    for failure in run.policy_failures:
        for diag in failure.diagnostics:
            out.append(_diag_annotation(diag, "policy does not load"))
    if coverage is not None:
        for pc in coverage.policies:
            for r in pc.uncovered:
                out.append(
                    annotation(
                        "warning",
                        f"rule `{r.rule}` is not fired by any test case",
                        r.file,
                        r.line,
                        r.column,
                        "uncovered rule",
                    )
                )
        out.append(render_coverage_text(coverage))
    out.append(run.summary)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------- tap


def _tap_description(text: str) -> str:
    # `#` starts a directive (SKIP, TODO) in TAP; newlines would end the line.
    return " ".join(text.split()).replace("\\", "\\\\").replace("#", "\\#")


def _tap_block(fields: dict[str, object]) -> list[str]:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # Multi-line details read best as a `|` block; PyYAML quotes them when it must.
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    body = yaml.dump(fields, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1000)
    return ["  ---", *("  " + line for line in body.splitlines()), "  ..."]


def render_tap(run: TestRun, coverage: Coverage | None = None) -> str:
    """TAP version 13: a plan, `ok`/`not ok` per case, a YAML block for each failure."""
    broken = policy_errors(run)
    total = len(run.results) + len(run.invalid_files)
    out = ["TAP version 13", f"1..{total}"]
    n = 0
    for result in run.results:
        n += 1
        description = _tap_description(f"{result.case.file} :: {result.case.name}")
        if result.status == "passed":
            out.append(f"ok {n} - {description}")
            continue
        out.append(f"not ok {n} - {description}")
        out.extend(
            _tap_block(
                {
                    "message": headline(result),
                    "severity": "fail" if result.status == "failed" else "error",
                    "file": result.case.file,
                    "line": result.case.line,
                    "details": failure_text(result, broken.get(result.policy_name)),
                }
            )
        )
    for invalid in run.invalid_files:
        n += 1
        out.append(f"not ok {n} - {_tap_description(invalid.file)} :: invalid test file")
        out.extend(
            _tap_block(
                {
                    "message": "invalid test file",
                    "severity": "error",
                    "file": invalid.file,
                    "details": invalid.render(),
                }
            )
        )
    if coverage is not None:
        out.extend("# " + line for line in render_coverage_text(coverage).splitlines())
    out.append(f"# {run.summary}")
    return "\n".join(out) + "\n"


RENDERERS = {
    "text": render_text,
    "json": render_json,
    "junit": render_junit,
    "github": render_github,
    "tap": render_tap,
}


def render(run: TestRun, fmt: str = "text", coverage: Coverage | None = None) -> str:
    return RENDERERS[fmt](run, coverage)
