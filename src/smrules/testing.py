"""Policy unit tests (SPEC §6): load `*.test.yaml` files, run their cases, say why a case failed.

A library: nothing here prints. `discover` finds test files, `load_test_file` validates one
(raising `InvalidTestFile` with every problem, each at a file line and JSON path), and
`run_tests` runs the cases, compiling each policy under test once, and returns a `TestRun`
that `smrules.reporters` renders and `smrules.coverage` summarises.

Choices where SPEC §6 is silent:
- `defaults` are merged under `activity_file` activities too (the file is the case's activity).
- `activity_file` must stay inside the test file's directory tree or, when the test file lives
  inside the policy under test, inside that policy's directory (so `../examples/x.yaml` from
  `policies/tests/` works, `../../etc/passwd` does not); symlinks are resolved before checking.
- `messages` match the message of any finding (audit and waived ones too), never hints.
- A case whose activity is invalid, or whose policy does not load, is an *error*, not a failure.
- The search for the default policy (the nearest parent directory holding `.smr` files) stops
  at a repository root (a directory holding `.git`), so it never picks up an unrelated policy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .decision import Decision, Evidence, Finding
from .errors import ActivityError, Diagnostic, PolicyError, Problem, SmrulesError, Span
from .explain import Explanation, SeenValue

TEST_SUFFIX = ".test.yaml"
DEFAULT_NOW = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
MAX_TEST_FILE_BYTES = 8 * 1024 * 1024
CODE = "invalid-test-file"

PathPart = str | int


# ------------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a case expects; None or () where the case does not say."""

    decision: str | None = None
    rules: tuple[str, ...] | None = None  # exactly these counted rules
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.decision is not None:
            out["decision"] = self.decision
        if self.rules is not None:
            out["rules"] = list(self.rules)
        for key in ("includes", "excludes", "messages"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        return out


@dataclass(frozen=True, slots=True)
class Case:
    """One test case, its activity already merged over the file's `defaults`."""

    name: str
    file: str  # the test file, as displayed
    line: int  # where the case starts in the test file
    index: int  # position in the file's `cases`, from 0
    activity: Mapping[str, Any]
    now: dt.datetime
    expect: Expectation

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


@dataclass(frozen=True, slots=True)
class TestFile:
    """A validated test file."""

    __test__ = False  # not a pytest class

    path: Path
    name: str  # as displayed: relative to the working directory when inside it
    policy: Path  # absolute path of the policy under test
    policy_name: str  # as displayed
    cases: tuple[Case, ...]


class InvalidTestFile(SmrulesError):
    """A test file that cannot be run: every problem found, each with file, line and path."""

    def __init__(self, file: str, diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]):
        self.file = file
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        self.sources = dict(sources)
        super().__init__(self.render())

    def render(self) -> str:
        from .errors import render_diagnostic

        return "\n".join(
            render_diagnostic(d, self.sources.get(d.span.file) if d.span else None)
            for d in self.diagnostics
        )

    def __reduce__(self):
        return (InvalidTestFile, (self.file, self.diagnostics, self.sources))


@dataclass(frozen=True, slots=True)
class RuleNote:
    """Why one rule did, or did not, fire: the sentence, the values seen, the evidence."""

    rule: str
    note: str
    where: str | None = None  # `file:line:col` of the deciding condition or the rule
    values: tuple[SeenValue, ...] = ()
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "note": self.note,
            "where": self.where,
            "values": [v.to_dict() for v in self.values],
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one case: `passed`, `failed` or `error`."""

    case: Case
    status: str
    policy_name: str
    decision: Decision | None = None
    failures: tuple[str, ...] = ()  # one line per unmet expectation
    missing: tuple[RuleNote, ...] = ()  # rules expected to fire that did not
    unexpected: tuple[RuleNote, ...] = ()  # rules that fired but should not have
    error: str | None = None  # for `error`: what went wrong
    problems: tuple[Problem, ...] = ()  # for an invalid activity
    duration: float = 0.0  # seconds
    explanation: Explanation | None = field(default=None, compare=False, repr=False)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True, slots=True)
class PolicyFailure:
    """A policy under test that does not load."""

    policy_name: str
    root: str  # the directory its file names are relative to, as displayed
    error: PolicyError

    @classmethod
    def of(cls, policy_name: str, policy_path: Path, error: PolicyError) -> PolicyFailure:
        root = policy_path if policy_path.is_dir() else policy_path.parent
        return cls(policy_name, display_path(root), error)

    def _name(self, file: str) -> str:
        if self.root == ".":
            return file
        return Path(os.path.normpath(Path(self.root) / file)).as_posix()

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """The load errors, their files named as users reach them from here."""
        return tuple(
            dataclasses.replace(d, span=dataclasses.replace(d.span, file=self._name(d.span.file)))
            if d.span
            else d
            for d in self.error.diagnostics
        )

    @property
    def sources(self) -> dict[str, str]:
        return {self._name(name): text for name, text in self.error.sources.items()}

    @property
    def message(self) -> str:
        count = len(self.error.diagnostics)
        return (
            f"policy `{self.policy_name}` does not load: {count} error{'s' if count != 1 else ''}"
        )

    def render(self) -> str:
        from .errors import render_diagnostic

        sources = self.sources
        return "\n".join(
            render_diagnostic(d, sources.get(d.span.file) if d.span else None)
            for d in self.diagnostics
        )


@dataclass(frozen=True, slots=True)
class TestRun:
    """Everything one run found: results in order, invalid test files, broken policies."""

    __test__ = False

    results: tuple[CaseResult, ...]
    invalid_files: tuple[InvalidTestFile, ...] = ()
    policy_failures: tuple[PolicyFailure, ...] = ()
    deselected: int = 0
    policies: Mapping[str, Any] = field(default_factory=dict)  # policy name -> Policy

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.status == "passed")

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.status == "failed")

    @property
    def errors(self) -> int:
        return sum(1 for r in self.results if r.status == "error") + len(self.invalid_files)

    @property
    def summary(self) -> str:
        """`N passed, N failed`, with `, N errors` when there are errors."""
        text = f"{self.passed} passed, {self.failed} failed"
        if self.errors:
            text += f", {self.errors} error{'s' if self.errors != 1 else ''}"
        return text

    @property
    def exit_code(self) -> int:
        """3 for an invalid test file or policy, else 1 when a case failed or erred, else 0."""
        if self.invalid_files or self.policy_failures:
            return 3
        if any(r.status != "passed" for r in self.results):
            return 1
        return 0


# ------------------------------------------------------------------------------ discovery


def display_path(path: Path | str) -> str:
    """A path as users should see it: relative to the working directory when inside it."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            pass
    text = p.as_posix()
    return text or "."


def discover(paths: Sequence[str | os.PathLike[str]] = (".",)) -> list[Path]:
    """The `*.test.yaml` files under `paths`, sorted, without duplicates.

    A file given explicitly is taken whatever its name; directories are searched recursively,
    skipping those whose name starts with `.` and following no directory symlinks.
    """
    found: dict[Path, None] = {}
    for given in paths or (".",):
        root = Path(given)
        if root.is_file():
            found.setdefault(root, None)
            continue
        batch = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for fname in filenames:
                if fname.endswith(TEST_SUFFIX) and not fname.startswith("."):
                    batch.append(Path(dirpath) / fname)
        for path in sorted(batch, key=lambda p: p.as_posix().split("/")):
            found.setdefault(path, None)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


# -------------------------------------------------------------------------------- loading


class _Problems:
    """Diagnostics about one test file, placed with the YAML positions of their JSON paths."""

    def __init__(self, name: str, positions: Mapping[tuple[PathPart, ...], tuple[int, int]]):
        self.name = name
        self.positions = positions
        self.diagnostics: list[Diagnostic] = []

    def span(self, path: tuple[PathPart, ...]) -> Span:
        for end in range(len(path), -1, -1):
            pos = self.positions.get(tuple(path[:end]))
            if pos:
                return Span(self.name, pos[0], pos[1])
        return Span(self.name, 1, 1)

    def add(self, path: tuple[PathPart, ...], message: str, help_text: str | None = None) -> None:
        where = format_path(path)
        text = f"{where}: {message}" if where else message
        self.diagnostics.append(Diagnostic(CODE, text, self.span(path), help=help_text))


def format_path(path: Sequence[PathPart]) -> str:
    """`cases[1].expect.decision`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _read_text(path: Path, name: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, why it cannot be read)."""
    from .loader import read_file_bytes  # refuses pipes and devices instead of hanging on them

    try:
        raw = read_file_bytes(path, MAX_TEST_FILE_BYTES)
        if len(raw) > MAX_TEST_FILE_BYTES:
            return None, f"`{name}` is larger than {MAX_TEST_FILE_BYTES} bytes"
    except IsADirectoryError:
        return None, f"`{name}` is a directory, not a file"
    except OSError as err:
        return None, f"cannot read `{name}`: {err.strerror or err}"
    if b"\x00" in raw:
        return None, f"`{name}` is a binary file, not YAML text"
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        return None, f"`{name}` is not valid UTF-8 (byte {err.start})"


def load_test_file(path: str | os.PathLike[str]) -> TestFile:
    """Read and validate one test file. Raises `InvalidTestFile` listing every problem."""
    from .yamlio import YamlError, yaml_load_with_positions

    path = Path(path)
    name = display_path(path)
    text, why = _read_text(path, name)
    if text is None:
        raise InvalidTestFile(name, [Diagnostic(CODE, why or "unreadable", Span(name, 1, 1))], {})
    sources = {name: text}
    try:
        value, positions = yaml_load_with_positions(text, name)
    except YamlError as err:
        raise InvalidTestFile(name, [err.diagnostic], sources) from None
    problems = _Problems(name, positions)
    if not isinstance(value, dict):
        what = "empty" if value is None else f"a {_kind(value)}"
        problems.add((), f"a test file must be a mapping with `cases`, not {what}")
        raise InvalidTestFile(name, problems.diagnostics, sources)
    _schema_problems(value, problems)
    if problems.diagnostics:
        raise InvalidTestFile(name, problems.diagnostics, sources)
    return _build(path, name, value, problems, sources)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


_TYPE_NAMES = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


def _schema_problems(value: dict, problems: _Problems) -> None:
    """Check the file against `schemas/policy-test.schema.json` in plain words."""
    from .schemas import validator

    found: dict[tuple[tuple[PathPart, ...], str], str | None] = {}
    for error in validator("policy-test").iter_errors(value):
        for where, message, help_text in _explain(error):
            found.setdefault((where, message), help_text)
    # A wrong type makes the other complaints about the same value noise.
    typed = {where for (where, message) in found if message.startswith("must be ")}
    for (where, message), help_text in found.items():
        if where in typed and not message.startswith("must be "):
            continue
        problems.add(where, message, help_text)
    # In file order, as a reader goes through the file.
    problems.diagnostics.sort(key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))


def _explain(error: Any) -> list[tuple[tuple[PathPart, ...], str, str | None]]:
    path = tuple(error.absolute_path)
    kind, expected, instance = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = list(error.schema.get("properties", {}))
        out = []
        for key in instance:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = (
                f"did you mean `{close[0]}`?"
                if close
                else "expected one of " + ", ".join(f"`{k}`" for k in known)
            )
            out.append(((*path, key), f"unknown field `{key}`", hint))
        return out
    if kind == "required" and isinstance(instance, dict):
        return [(path, f"missing `{key}`", None) for key in expected if key not in instance]
    if kind == "oneOf" and isinstance(instance, dict):  # a case's activity or activity_file
        if "activity" in instance and "activity_file" in instance:
            return [(path, "give only one of `activity` or `activity_file`", None)]
        return [(path, "missing `activity` (or `activity_file`)", None)]
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return [(path, "must be " + " or ".join(_TYPE_NAMES.get(t, t) for t in names), None)]
    if kind == "enum":
        return [(path, "must be one of " + ", ".join(str(v) for v in expected), None)]
    if kind == "format":
        return [(path, "must be a date-time with an offset, such as 2026-11-16T09:00:00Z", None)]
    if kind == "minLength":
        return [(path, "must not be empty", None)]
    if kind == "minProperties" and path and path[-1] == "expect":
        return [
            (
                path,
                "must say what to expect",
                "give at least one of `decision`, `rules`, `includes`, `excludes`, `messages`",
            )
        ]
    return [(path, error.message, None)]


def _build(
    path: Path, name: str, value: dict, problems: _Problems, sources: dict[str, str]
) -> TestFile:
    from .schemas import parse_date_time

    here = path.absolute().parent
    policy = _policy_path(here, value.get("policy"), problems)
    file_now = parse_date_time(value["now"]) if "now" in value else DEFAULT_NOW
    defaults = value.get("defaults") or {}
    roots = [here.resolve()]
    if policy is not None:
        policy_dir = (policy if policy.is_dir() else policy.parent).resolve()
        if _within(here.resolve(), policy_dir):
            roots.append(policy_dir)
    cases: list[Case] = []
    for index, item in enumerate(value["cases"]):
        where: tuple[PathPart, ...] = ("cases", index)
        if "activity" in item:
            activity = item["activity"]
        else:
            activity = _activity_file(here, roots, item["activity_file"], where, problems, sources)
            if activity is None:
                continue
        expect = item["expect"]
        cases.append(
            Case(
                name=item["name"],
                file=name,
                line=problems.span(where).line,
                index=index,
                activity=deep_merge(defaults, activity),
                now=parse_date_time(item["now"]) if "now" in item else file_now,  # type: ignore[arg-type]
                expect=Expectation(
                    decision=expect.get("decision"),
                    rules=tuple(expect["rules"]) if "rules" in expect else None,
                    includes=tuple(expect.get("includes", ())),
                    excludes=tuple(expect.get("excludes", ())),
                    messages=tuple(expect.get("messages", ())),
                ),
            )
        )
    if problems.diagnostics or policy is None:
        raise InvalidTestFile(name, problems.diagnostics, sources)
    return TestFile(path, name, policy, display_path(policy), tuple(cases))


def _within(inner: Path, outer: Path) -> bool:
    try:
        inner.relative_to(outer)
    except ValueError:
        return False
    return True


def _has_smr(directory: Path) -> bool:
    try:
        return any(p.suffix == ".smr" and p.is_file() for p in directory.iterdir())
    except OSError:
        return False


def _policy_path(here: Path, given: object, problems: _Problems) -> Path | None:
    if isinstance(given, str):
        target = Path(os.path.normpath(here / given))
        if not target.exists():
            problems.add(("policy",), f"policy `{given}` not found (looked for `{target}`)")
            return None
        return target
    for directory in (here, *here.parents):
        if _has_smr(directory):
            return directory
        if (directory / ".git").exists():  # never reach outside the repository
            break
    problems.add(
        (),
        "no policy found: no directory above the test file holds `.smr` files",
        "name the policy under test with `policy: PATH`, relative to the test file",
    )
    return None


def _activity_file(
    here: Path,
    roots: list[Path],
    given: str,
    where: tuple[PathPart, ...],
    problems: _Problems,
    sources: dict[str, str],
) -> dict | None:
    from .yamlio import YamlError, load_data

    at = (*where, "activity_file")
    if not given or Path(given).is_absolute():
        problems.add(at, "must be a path relative to the test file")
        return None
    target = here / given
    try:
        resolved = target.resolve()
    except (OSError, RuntimeError):
        problems.add(at, f"cannot resolve `{given}`")
        return None
    if not any(_within(resolved, root) for root in roots):
        problems.add(
            at,
            f"`{given}` is outside the test file's directory",
            "activity files must live beside the test file, below it, or inside the policy "
            "under test (symbolic links are followed before this check)",
        )
        return None
    file_name = display_path(Path(os.path.normpath(target)))
    text, why = _read_text(resolved, file_name)
    if text is None:
        problems.add(at, why or "cannot read the file")
        return None
    try:
        value = load_data(text, file_name)
    except YamlError as err:
        sources[file_name] = text
        problems.diagnostics.append(err.diagnostic)
        return None
    if isinstance(value, list):
        problems.add(
            at,
            f"`{given}` holds a list of {len(value)} activities; an activity file holds one",
        )
        return None
    if not isinstance(value, dict):
        what = "nothing" if value is None else f"a {_kind(value)}"
        problems.add(at, f"`{given}` must hold one activity (a mapping), not {what}")
        return None
    return value


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` merged over `base`: maps merge key by key; a list or scalar in `over` replaces."""
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(below, value)
        else:
            out[key] = value
    return out


# -------------------------------------------------------------------------------- selection


_K_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def name_matcher(pattern: str | None) -> Callable[[str], bool]:
    """`-k`: a case-insensitive substring of the case name, or words joined with `and`, `or`,
    `not` and parentheses (`-k "deny and not finance"`), as pytest reads simple words.

    Raises `ValueError` for an expression that does not parse.
    """
    if not pattern:
        return lambda name: True
    tokens = _K_TOKEN.findall(pattern)
    if not any(t in ("and", "or", "not", "(", ")") for t in tokens):
        needle = pattern.strip().casefold()
        return lambda name: needle in name.casefold()
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def parse_or() -> Callable[[str], bool]:
        left = parse_and()
        while peek() == "or":
            take()
            a, b = left, parse_and()
            left = lambda s, a=a, b=b: a(s) or b(s)  # noqa: E731
        return left

    def parse_and() -> Callable[[str], bool]:
        left = parse_not()
        while peek() == "and":
            take()
            a, b = left, parse_not()
            left = lambda s, a=a, b=b: a(s) and b(s)  # noqa: E731
        return left

    def parse_not() -> Callable[[str], bool]:
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda s: not inner(s)
        token = peek()
        if token is None or token in ("and", "or", ")"):
            raise ValueError(f"-k `{pattern}`: expected a word, got {token or 'the end'}")
        take()
        if token == "(":
            inner = parse_or()
            if peek() != ")":
                raise ValueError(f"-k `{pattern}`: missing `)`")
            take()
            return inner
        word = token.casefold()
        return lambda s: word in s.casefold()

    matcher = parse_or()
    if pos != len(tokens):
        raise ValueError(f"-k `{pattern}`: unexpected `{tokens[pos]}`")
    return matcher


# -------------------------------------------------------------------------------- running


def run_tests(
    files: Sequence[TestFile | InvalidTestFile],
    select: Callable[[str], bool] | None = None,
    explain_all: bool = False,
) -> TestRun:
    """Run the cases of `files` (loaded test files, or the errors loading them produced).

    Each policy is compiled once. `explain_all` explains every case (coverage needs the
    traces); otherwise only failing cases are explained.
    """
    from .api import load

    select = select or (lambda name: True)
    invalid = tuple(f for f in files if isinstance(f, InvalidTestFile))
    loaded = [f for f in files if isinstance(f, TestFile)]
    # Group by policy, first seen first, so output reads policy by policy.
    order: dict[Path, list[TestFile]] = {}
    for test_file in loaded:
        order.setdefault(test_file.policy, []).append(test_file)
    results: list[CaseResult] = []
    failures: list[PolicyFailure] = []
    policies: dict[str, Any] = {}
    deselected = 0
    for policy_path, group in order.items():
        policy_name = group[0].policy_name
        cases = [c for f in group for c in f.cases]
        chosen = [c for c in cases if select(c.name)]
        deselected += len(cases) - len(chosen)
        if not chosen:
            continue
        try:
            policy = load(policy_path)
        except PolicyError as err:
            failure = PolicyFailure.of(policy_name, policy_path, err)
            failures.append(failure)
            results.extend(
                CaseResult(c, "error", policy_name, error=failure.message) for c in chosen
            )
            continue
        policies[policy_name] = policy
        for case in chosen:
            results.append(run_case(policy, case, policy_name, explain_all))
    return TestRun(tuple(results), invalid, tuple(failures), deselected, policies)


def run_case(
    policy: Any, case: Case, policy_name: str = "", explain_all: bool = False
) -> CaseResult:
    """Run one case against a loaded policy; never raises for a bad activity."""
    started = time.perf_counter()
    result = _run_case(policy, case, policy_name, explain_all)
    return dataclasses.replace(result, duration=time.perf_counter() - started)


def _run_case(policy: Any, case: Case, policy_name: str, explain_all: bool) -> CaseResult:
    try:
        if explain_all:
            explanation = policy.explain(case.activity, case.now)
            decision = explanation.decision
        else:
            explanation = None
            decision = policy.evaluate(case.activity, case.now)
        failures = check(case.expect, decision)
        if not failures:
            return CaseResult(case, "passed", policy_name, decision, explanation=explanation)
        if explanation is None:
            explanation = policy.explain(case.activity, case.now)
        missing, unexpected = _notes(policy, case, decision, explanation)
    except ActivityError as err:
        return CaseResult(
            case, "error", policy_name, error="invalid activity", problems=err.problems
        )
    except RecursionError:
        return CaseResult(case, "error", policy_name, error="the activity is nested too deeply")
    except Exception as err:  # a bug in smrules: report it on the case, keep running the rest
        return CaseResult(
            case, "error", policy_name, error=f"internal error: {type(err).__name__}: {err}"
        )
    return CaseResult(
        case,
        "failed",
        policy_name,
        decision,
        tuple(failures),
        missing,
        unexpected,
        explanation=explanation,
    )


def _fmt(rules: Iterable[str]) -> str:
    items = list(rules)
    return "[" + ", ".join(items) + "]" if items else "[] (none)"


def check(expect: Expectation, decision: Decision) -> list[str]:
    """The unmet expectations of a case, one plain sentence each ([] when it passes)."""
    counted = list(dict.fromkeys(decision.counted_rules))
    fired = set(counted)
    out = []
    if expect.decision is not None and expect.decision != decision.decision:
        out.append(f"decision: expected {expect.decision}, got {decision.decision}")
    if expect.rules is not None and set(expect.rules) != fired:
        want = list(dict.fromkeys(expect.rules))
        line = f"rules: expected exactly {_fmt(sorted(want))}, got {_fmt(sorted(fired))}"
        absent = [r for r in want if r not in fired]
        extra = [r for r in counted if r not in set(want)]
        parts = []
        if absent:
            parts.append("did not fire: " + ", ".join(absent))
        if extra:
            parts.append("not expected: " + ", ".join(extra))
        out.append(line + " (" + "; ".join(parts) + ")")
    absent = [r for r in expect.includes if r not in fired]
    if absent:
        out.append("includes: expected to fire, did not: " + ", ".join(absent))
    present = [r for r in expect.excludes if r in fired]
    if present:
        out.append("excludes: expected not to fire, fired: " + ", ".join(present))
    messages = [f.message for f in decision.findings if f.message]
    for wanted in expect.messages:
        if not any(wanted in m for m in messages):
            out.append(f'messages: no finding message contains "{wanted}"')
    return out


def _notes(
    policy: Any, case: Case, decision: Decision, explanation: Explanation | None
) -> tuple[tuple[RuleNote, ...], tuple[RuleNote, ...]]:
    expect = case.expect
    kind = case.activity.get("kind")
    fired = set(decision.counted_rules)
    wanted = list(dict.fromkeys([*(expect.rules or ()), *expect.includes]))
    unwanted: list[str] = [r for r in expect.excludes if r in fired]
    if expect.rules is not None:
        unwanted += [r for r in decision.counted_rules if r not in set(expect.rules)]
    missing = tuple(
        _why_not(policy, rule, kind, decision, explanation) for rule in wanted if rule not in fired
    )
    unexpected = tuple(
        _why(policy, rule, decision, explanation) for rule in dict.fromkeys(unwanted)
    )
    return missing, unexpected


def _finding(decision: Decision, rule: str) -> Finding | None:
    return next((f for f in decision.findings if f.rule == rule), None)


def _why_not(
    policy: Any, rule: str, kind: object, decision: Decision, explanation: Explanation | None
) -> RuleNote:
    """Why a rule expected to fire did not count."""
    if rule == "default":
        if not policy.settings.default_denies(kind):
            return RuleNote(rule, f"the policy does not deny `{kind}` activities by default")
        allows = [f.rule for f in decision.findings if f.effect == "allow" and f.counts]
        if allows:
            return RuleNote(rule, "default deny did not apply: allowed by " + ", ".join(allows))
        return RuleNote(rule, "default deny did not apply: a deny rule decided first")
    ids = [r.id for r in policy.rules]
    if rule not in ids:
        close = difflib.get_close_matches(rule, ids, n=1)
        suggestion = f"; did you mean `{close[0]}`?" if close else ""
        return RuleNote(rule, f"the policy has no rule `{rule}`{suggestion}")
    finding = _finding(decision, rule)
    if finding is not None and finding.audit:
        return RuleNote(rule, "fired, but it is an audit rule: its findings never count")
    if finding is not None and finding.waived is not None:
        w = finding.waived
        return RuleNote(
            rule,
            f"fired, but a waiver covers it (until {w.until.isoformat()}: {w.reason}, "
            f"approved by {w.approved_by})",
        )
    error = next((e for e in decision.errors if e.rule == rule), None)
    if error is not None:
        span = Span(error.file, error.line, error.column) if error.file and error.line else None
        return RuleNote(rule, f"failed at run time: {error.message}", source_location(policy, span))
    trace = explanation.trace(rule) if explanation else None
    if trace is None:
        return RuleNote(rule, "did not fire")
    return RuleNote(rule, trace.reason, source_location(policy, trace.span), trace.values)


def source_location(policy: Any, span: Span | None) -> str | None:
    """`file:line:col` of a policy span, the file shown as users reach it from here."""
    if span is None:
        return None
    path = Path(os.path.normpath(policy.program.root / span.file))
    return f"{display_path(path)}:{span.line}:{span.column}"


def _why(policy: Any, rule: str, decision: Decision, explanation: Explanation | None) -> RuleNote:
    """Why a rule that should not have counted fired: its evidence and what its `when`s saw."""
    finding = _finding(decision, rule)
    if rule == "default":
        return RuleNote(
            rule, "no allow rule fired and the policy denies this kind of activity by default"
        )
    trace = explanation.trace(rule) if explanation else None
    message = f": {finding.message}" if finding and finding.message else ""
    return RuleNote(
        rule,
        f"fired{message}",
        source_location(policy, trace.span if trace else None),
        trace.values if trace else (),
        finding.evidence if finding else (),
    )
