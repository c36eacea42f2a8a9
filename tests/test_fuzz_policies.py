"""Property-based tests: whatever a policy's source holds, loading it either succeeds or
raises `PolicyError` with located diagnostics, never another exception (SPEC §1 "load error").

Real `.smr` files are mutated token by token (deleted, duplicated, swapped, replaced), have
random characters inserted, and are truncated; random token soup and random text are loaded
too. Runs are derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smrules
from smrules.errors import PolicyError, render_diagnostic

REPO = Path(__file__).resolve().parents[1]
SPEC_EXAMPLE = REPO / "tests" / "fixtures" / "spec_example"
NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)


def fuzz(examples: int) -> settings:
    """Bounded, reproducible settings (`SMRULES_FUZZ_SCALE=50` for a long, random local hunt)."""
    scale = int(os.environ.get("SMRULES_FUZZ_SCALE", "0") or 0)
    return settings(
        max_examples=examples * max(scale, 1),
        deadline=None,
        derandomize=not scale,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


# A rough lexer: strings, regexes, words and single characters. Good enough to cut real
# sources at token boundaries, which is where mutations hurt a parser most.
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|/(?:[^/\\\n]|\\.)+/[a-z]*|#[^\n]*|\w+|\S')

KEYWORDS = (
    "policy import as let rule when unless deny warn allow hint and or not in contains matches "
    "mentions startswith endswith intersects any all count filter true false null default "
    "activity title version description owner on_error timezone extends for risk severity ref "
    "tags mode waivable enforce audit low medium high critical"
).split()
FRAGMENTS = [
    *'{}[]()"\\/#.,:=<>!*-+\n\t ',
    "==",
    "!=",
    "<=",
    ">=",
    "not in",
    "\u00e9",
    "\x00",
    "\x7f",
    "\u202e",
    "\u200b",
    "\ufeff",
    '"\\u{0}"',
    '"\\u{110000}"',
    '"\\u{D800}"',
    '"\\u{}"',
    '"\\q"',
    '"{x}"',
    '"{{"',
    '"}"',
    '"{"',
    '"{kind"',
    '"{1 +}"',
    "/(/",
    "/a/q",
    "/a/ii",
    "/\\//",
    "/[z-a]/",
    "/(?P<n>x)/",
    "/a{1001}/",
    "2026-02-30",
    "2026-12-15T08:00Z",
    "2026-12-15T25:00",
    "9" * 5000,
    "-0.5",
    "1.",
    ".5",
    "3abc",
    "notin",
    "orb",
    "__import__('os').system('x')",
    "{{7*7}}",
    "${x}",
    "%s",
    'import "../x.yaml" as x',
    'import "/etc/passwd" as p',
    'extends "."',
    'extends ".."',
]
VOCABULARY = [*KEYWORDS, *FRAGMENTS, "kind", "content", "text", "actor", "x", "r1", '"post"', "1"]


def sources() -> list[tuple[str, str]]:
    """(name, text) of the real policy files the mutations start from."""
    files = sorted((REPO / "policies").glob("*.smr")) + [SPEC_EXAMPLE / "baseline.smr"]
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


SOURCES = sources()


@st.composite
def mutated_source(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(1, 4))):
        tokens = [m.span() for m in TOKEN.finditer(text)] or [(0, 0)]
        start, end = draw(st.sampled_from(tokens))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert", "cut"]))
        if op == "delete":
            text = text[:start] + text[end:]
        elif op == "duplicate":
            text = text[:end] + " " + text[start:end] + text[end:]
        elif op == "swap":
            other_start, other_end = draw(st.sampled_from(tokens))
            if other_start >= end:
                text = (
                    text[:start]
                    + text[other_start:other_end]
                    + text[end:other_start]
                    + text[start:end]
                    + text[other_end:]
                )
        elif op == "replace":
            text = text[:start] + draw(st.sampled_from(VOCABULARY)) + text[end:]
        elif op == "insert":
            extra = draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)))
            text = text[:start] + extra + text[start:]
        else:
            text = text[: draw(st.integers(0, len(text)))]
    return text


def _write(path: Path, text: str) -> None:
    # `surrogatepass`: a drawn lone surrogate becomes bytes that are not UTF-8, as on disk.
    path.write_bytes(text.encode("utf-8", "surrogatepass"))


def assert_loads_or_policy_error(path: Path) -> smrules.Policy | None:
    """Load `path`: a policy, or a PolicyError whose every diagnostic renders."""
    try:
        return smrules.load(path, cache=False)
    except PolicyError as err:
        assert err.diagnostics, "a PolicyError always lists what is wrong"
        for diag in err.diagnostics:
            source = err.sources.get(diag.span.file) if diag.span else None
            rendered = render_diagnostic(diag, source)
            assert f"[{diag.code}]" in rendered
            rendered.encode("utf-8")  # printable as it is
        err.render()
        return None


def _smoke(policy: smrules.Policy | None) -> None:
    """A policy that loads also evaluates, without raising."""
    if policy is None:
        return
    activity = {
        "kind": "post",
        "actor": {"id": "e1", "department": "marketing"},
        "audience": "public",
        "content": {"text": "Our Q3 revenue: see https://bit.ly/x #ad @acme ACME Cloud"},
    }
    policy.evaluate(activity).to_json()


@pytest.fixture(scope="module")
def spec_copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("spec") / "policy"
    shutil.copytree(SPEC_EXAMPLE, root)
    return root


@pytest.fixture(scope="module")
def bundled_copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bundled") / "policy"
    shutil.copytree(REPO / "policies", root, ignore=shutil.ignore_patterns("tests", "waivers.yaml"))
    return root


# -- mutations of real files ------------------------------------------------------------------

SPEC_TEXT = (SPEC_EXAMPLE / "baseline.smr").read_text(encoding="utf-8")


@fuzz(60)
@given(text=mutated_source(SPEC_TEXT))
def test_mutated_spec_example_loads_or_raises_policy_error(spec_copy, text):
    """The SPEC's example, with its data files beside it, so the checker runs fully."""
    target = spec_copy / "baseline.smr"
    try:
        _write(target, text)
        _smoke(assert_loads_or_policy_error(spec_copy))
    finally:
        target.write_text(SPEC_TEXT, encoding="utf-8")


@fuzz(40)
@given(data=st.data(), index=st.integers(0, len(SOURCES) - 1))
def test_mutated_default_policy_files_load_or_raise_policy_error(bundled_copy, data, index):
    """Each file of the default policy, mutated and loaded alone (its data files beside it)."""
    name, original = SOURCES[index]
    text = data.draw(mutated_source(original))
    target = bundled_copy / f"fuzzed-{name}"
    _write(target, text)
    try:
        _smoke(assert_loads_or_policy_error(target))
    finally:
        target.unlink()


# -- random sources ---------------------------------------------------------------------------

token_soup = st.lists(st.sampled_from(VOCABULARY), max_size=40).map(" ".join)
rule_soup = token_soup.map(lambda body: "rule r {\n  " + body + "\n}\n")


@fuzz(80)
@given(text=st.one_of(token_soup, rule_soup, st.text(max_size=200)))
def test_random_sources_load_or_raise_policy_error(tmp_path_factory, text):
    root = tmp_path_factory.mktemp("soup")
    _write(root / "main.smr", text)
    _smoke(assert_loads_or_policy_error(root))


@fuzz(80)
@given(text=st.one_of(token_soup, st.text(max_size=80)))
def test_random_expressions_compile_or_raise_policy_error(spec_policy, text):
    try:
        value = spec_policy.expression(text)
    except PolicyError as err:
        assert err.diagnostics
        err.render()
        return
    value({"kind": "post", "actor": {"id": "e1"}, "content": {"text": "Q3 revenue"}})


@pytest.fixture(scope="module")
def spec_policy() -> smrules.Policy:
    return smrules.load(SPEC_EXAMPLE)


# -- hostile shapes, each a load error with a place, never a crash ----------------------------


def _deep(kind: str, depth: int) -> str:
    if kind == "not":
        return "rule r { when " + "not " * depth + 'kind == "post" deny "x" }'
    if kind == "or":
        return "rule r { when " + 'kind == "a" or ' * depth + 'kind == "post" deny "x" }'
    if kind == "list":
        return "let x = " + "[" * depth + "]" * depth + '\nrule r { when len(x) == 1 deny "x" }'
    if kind == "field":
        return "rule r { when context" + ".a" * depth + ' == null deny "x" }'
    if kind == "index":
        return "rule r { when context" + "[0]" * depth + ' == null deny "x" }'
    if kind == "call":
        return "rule r { when " + "lower(" * depth + "kind" + ")" * depth + ' == "post" deny "x" }'
    if kind == "quantifier":
        body = "".join(f"any(x{i} in [1]: " for i in range(depth))
        return "rule r { when " + body + "true" + ")" * depth + ' deny "x" }'
    if kind == "interpolation":
        return 'rule r { deny "{context' + ".a" * depth + '}" }'
    raise AssertionError(kind)


KINDS = ["not", "or", "list", "field", "index", "call", "quantifier", "interpolation"]


@pytest.mark.parametrize("kind", KINDS)
def test_moderate_nesting_loads_and_evaluates(make_policy, kind):
    policy = make_policy(_deep(kind, 60))
    decision = policy.evaluate({"kind": "post", "actor": {"id": "e1"}})
    assert decision.decision in ("deny", "allow")


@pytest.mark.parametrize("kind", KINDS)
def test_absurd_nesting_is_a_located_load_error(make_policy, kind):
    with pytest.raises(PolicyError) as raised:
        make_policy(_deep(kind, 5000))
    codes = [d.code for d in raised.value.diagnostics]
    assert codes == ["too-deep"]
    assert raised.value.diagnostics[0].span.file == "main.smr"


def test_a_long_chain_of_lets_is_a_run_time_error_of_the_rule_not_a_crash(make_policy):
    chain = ['let l0 = kind == "post"'] + [f"let l{i} = l{i - 1} or false" for i in range(1, 2000)]
    policy = make_policy("\n".join(chain) + '\nrule r { when l1999 deny "x" }')
    activity = {"kind": "post", "actor": {"id": "e1"}}
    decision = policy.evaluate(activity, now=NOW)
    assert decision.decision == "deny"  # on_error deny: the failure fails closed
    assert [(e.rule, e.message) for e in decision.errors] == [("r", "expression too deeply nested")]
    explanation = policy.explain(activity, now=NOW)
    assert [(t.rule, t.outcome) for t in explanation.rules] == [("r", "error")]
    assert explanation.decision.to_json() == decision.to_json()


@pytest.mark.parametrize("literal", ["9" * 5000, "9" * 5000 + ".5", "1" + "0" * 400 + ".0"])
def test_numbers_too_large_are_a_load_error(make_policy, literal):
    with pytest.raises(PolicyError) as raised:
        make_policy(f'rule r {{ when actor.tenure_days > {literal} deny "x" }}')
    diag = raised.value.diagnostics[0]
    assert (diag.code, diag.message, diag.span.line, diag.span.column) == (
        "bad-literal",
        "number is too large",
        1,
        35,
    )


def test_large_but_finite_numbers_are_fine(make_policy):
    policy = make_policy("rule r { when actor.tenure_days < " + "9" * 300 + ' deny "x" }')
    decision = policy.evaluate({"kind": "post", "actor": {"id": "e1", "tenure_days": 5}})
    assert decision.decision == "deny"


def test_many_rules_and_large_phrase_lists_load(make_policy):
    rules = "\n".join(f'rule r{i} {{ when kind == "post" warn "w{i}" }}' for i in range(2000))
    phrases = ", ".join(f'"word{i} other{i}"' for i in range(10_000))
    policy = make_policy(
        rules + f'\nrule big {{ when content.text mentions [{phrases}] deny "x" }}'
    )
    decision = policy.evaluate(
        {"kind": "post", "actor": {"id": "e1"}, "content": {"text": "say WORD9999 other9999!"}}
    )
    assert decision.decision == "deny"
    assert len(decision.findings) == 2001


# -- the command line -------------------------------------------------------------------------


@fuzz(30)
@given(text=mutated_source(SPEC_TEXT))
def test_lint_and_check_never_fail_internally_on_mutated_sources(spec_copy, text):
    from click.testing import CliRunner

    from smrules.cli import main

    target = spec_copy / "baseline.smr"
    try:
        _write(target, text)
        for args, codes in [
            (["lint", str(spec_copy)], (0, 1, 3)),
            (["check", "--policy", str(spec_copy), "--text", "Our Q3 revenue"], (0, 1, 3)),
        ]:
            result = CliRunner().invoke(main, args)
            assert result.exception is None or isinstance(result.exception, SystemExit), args
            assert result.exit_code in codes, result.output
            assert "internal error" not in result.output
            assert "Traceback" not in result.output
    finally:
        target.write_text(SPEC_TEXT, encoding="utf-8")
