"""Property-based tests: hostile activities never crash the engine, and decisions are
deterministic (SPEC §2.5 "byte for byte", §3, §8).

Activities are generated from the activity schema itself (so every field, enumeration and
format is reached), then mutated with arbitrary JSON-like values, lone surrogates, huge numbers
and odd Python objects. Whatever comes in, `Policy.evaluate` and `prepare_activity` either
answer or raise `ActivityError`, never anything else. Runs are derandomized, so CI sees the
same examples every time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smrules
from smrules.activity import activity_problems, prepare_activity
from smrules.errors import ActivityError
from smrules.schemas import load_schema, validator

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)
REPO = Path(__file__).resolve().parents[1]


def fuzz(examples: int) -> settings:
    """Bounded, reproducible settings: the whole file runs in seconds on a busy machine.

    `SMRULES_FUZZ_SCALE=50` multiplies the examples and draws fresh random ones, for a long
    local hunt; CI leaves it unset and sees the same examples on every run.
    """
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


SCHEMA = load_schema("activity")
DEFS = SCHEMA["$defs"]

# -- strategies -------------------------------------------------------------------------------

# Texts that reach the interesting rules of the default policy and the derived fields.
SEED_TEXTS = [
    "Our Q3 revenue beat guidance! #results $ACME @investors",
    "Check https://bit.ly/3xYz and www.example.com/a?b=c, or example.org/path.",
    "password: hunter2! and AKIAABCDEFGHIJKLMNOP",
    "Card 4111 1111 1111 1111, mail jane.doe@example.com, call +1 (415) 555-0100",
    "We guarantee risk-free returns on ACME stock",
    "ＡＣＭＥ Ｃｌｏｕｄ con\u00adfiden\u200btial",
    "\u0430cme \u202eevil\u202c caf\u0065\u0301",
    "{x} {{7*7}} ${x} %s %(x)s \\n \" ' `",
    "",
    " ",
    "#" * 50,
    "a" * 300,
]
LONE_SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "x\ud83dy"])

plain_text = st.one_of(st.text(max_size=40), st.sampled_from(SEED_TEXTS))
hostile_text = st.one_of(
    plain_text,
    st.builds(lambda a, s, b: a + s + b, plain_text, LONE_SURROGATES, plain_text),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=10),
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**40, -(10**40), 2**63, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
any_json = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)
    ),
    max_leaves=10,
)
# What a Python caller might pass that JSON cannot express.
odd_python = st.sampled_from(
    [
        b"bytes",
        (1, "tuple"),
        {1, 2},
        frozenset(),
        NOW,
        dt.date(2026, 1, 1),
        object(),
        {1: "int key"},
        {None: "none key"},
        {("t",): 1},
        math.nan,
        -math.inf,
        range(3),
    ]
)
hostile_value = st.one_of(any_json, odd_python)

DATE_TIMES = ["2026-11-16T08:00:00Z", "2026-11-16T08:00:00.123+05:30", "2026-03-29T02:30:00+01:00"]
BAD_DATE_TIMES = [
    "2026-02-30T08:00:00Z",
    "2026-11-16T25:00Z",
    "2026-11-16",
    "now",
    "2026-11-16T08:00",
]
DATES = ["2026-11-16", "2024-02-29"]
BAD_DATES = ["2026-02-30", "2026-13-01", "16/11/2026"]


def _resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    return DEFS[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node


def from_schema(node: Mapping[str, Any], *, valid: bool) -> st.SearchStrategy[Any]:
    """Values for a schema node: valid ones, or (valid=False) also wrong formats and types."""
    node = _resolve(node)
    kind = node.get("type")
    types = [kind] if isinstance(kind, str) else list(kind or [])
    options: list[st.SearchStrategy[Any]] = []
    if "enum" in node:
        options.append(st.sampled_from(node["enum"]))
        if not valid:
            options.append(hostile_text)
    elif "string" in types:
        fmt = node.get("format")
        if fmt == "date-time":
            options.append(st.sampled_from(DATE_TIMES + ([] if valid else BAD_DATE_TIMES)))
        elif fmt == "date":
            options.append(st.sampled_from(DATES + ([] if valid else BAD_DATES)))
        else:
            options.append(plain_text if valid else hostile_text)
    if "integer" in types:
        options.append(st.integers(0, 10**6) if valid else st.integers())
    if "number" in types:
        options.append(st.floats(-1e6, 1e6) if valid else st.floats())
    if "boolean" in types:
        options.append(st.booleans())
    if "null" in types:
        options.append(st.none())
    if "array" in types:
        items = from_schema(node.get("items", {}), valid=valid)
        options.append(st.lists(items, max_size=3))
    if "object" in types:
        properties = node.get("properties")
        if properties:
            fields = {k: from_schema(v, valid=valid) for k, v in properties.items()}
            required = {k: fields.pop(k) for k in node.get("required", ()) if valid}
            options.append(st.fixed_dictionaries(required, optional=fields))
        else:  # `context`: free-form
            options.append(
                st.dictionaries(plain_text, any_json if not valid else json_like, max_size=3)
            )
    if not options or not valid:
        options.append(hostile_value if not valid else json_like)
    return st.one_of(options)


json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), plain_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(plain_text, inner, max_size=3)
    ),
    max_leaves=6,
)


def _with_required(activity: dict[str, Any]) -> dict[str, Any]:
    actor = activity.get("actor")
    out = {**activity, "kind": activity.get("kind", "post")}
    out["actor"] = (
        {**actor, "id": actor.get("id", "e1")} if isinstance(actor, dict) else {"id": "e1"}
    )
    return out


def _valid(activity: dict[str, Any]) -> bool:
    return not activity_problems(activity)


valid_activities = from_schema(SCHEMA, valid=True).map(_with_required).filter(_valid)
schema_shaped = from_schema(SCHEMA, valid=False)


@st.composite
def mutated(draw: st.DrawFn) -> object:
    """A schema-shaped activity with a few of its fields replaced by arbitrary values."""
    activity = draw(st.one_of(valid_activities, schema_shaped))
    if not isinstance(activity, dict):
        return activity
    activity = dict(activity)
    for _ in range(draw(st.integers(0, 3))):
        keys = [*SCHEMA["properties"], "extra", "content", "actor"]
        activity[draw(st.sampled_from(keys))] = draw(hostile_value)
    return activity


any_activity = st.one_of(valid_activities, schema_shaped, mutated(), hostile_value)

# -- policies ---------------------------------------------------------------------------------

# Every operator and built-in that reads the activity, so hostile values reach each of them.
EXERCISE = r"""
policy fuzz { default deny for ["tool_request"]  on_error warn  timezone "Europe/Berlin" }

let t = content.text
rule m1 { when t matches /\b(revenue|earnings)\b/i  deny "money in {t}" }
rule m2 { when t matches context.pattern  warn "dynamic {context.pattern}" }
rule m3 { when t mentions ["acme cloud", "confiden*"]  warn "words {words(t)}" }
rule m4 { when near(t, ["guarantee*"], ["returns", "risk-free"], 4)  deny "promise" }
rule m5 { when "email" in pii(t) or pii(t, ["4111 1111 1111 1111"]) intersects ["credit_card"]
          warn "pii {pii(t)}" }
rule m6 { when any(l in content.links: l.domain in ["bit.ly"] or domain(l.url) == "t.co")
          warn "short {content.links}" }
rule m7 { when len(content.hashtags) > 1 or content.mentions contains "acme"
          or content.cashtags intersects ["ACME"]  warn "tags {content.hashtags}" }
rule m8 { when hour(time) < 6 or weekday(time) == "sun"  warn "night {time}" }
rule m9 { when days_between(approval.approved_at, time) > 30  warn "stale {approval}" }
rule m10 { when actor.tenure_days < 90 and lower(actor.department) startswith "mark"
           warn "new {actor}" }
rule m11 { when sha256(t) == approval.content_sha256  allow "approved {approval.approver}" }
rule m12 { when count(a in content.attachments: a.classification in ["confidential", "secret"]) > 0
           deny "{filter(a in content.attachments: a.contains_faces)}" }
rule m13 { when context.flag == true or context.n > 3 or context.s endswith "x"
           warn "ctx {context}" }
rule m14 { when trim(upper(profile.new_value)) in ["CEO", ""]  warn "{profile}" }
rule m15 { when all(r in actor.roles: r != "intern") and tool.name not in ["Hootsuite"]
           and kind == "tool_request"  allow }
"""


@pytest.fixture(scope="module")
def exercise_policy(tmp_path_factory) -> smrules.Policy:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "main.smr").write_text(EXERCISE, encoding="utf-8")
    return smrules.load(root, cache=False)


@pytest.fixture(scope="module")
def default_policy() -> smrules.Policy:
    return smrules.load(REPO / "policies")


DECISION_SCHEMA = validator("decision")


def _check_decision(decision: smrules.Decision) -> str:
    text = decision.to_json()
    assert decision.decision in ("allow", "warn", "deny")
    data = json.loads(text)
    errors = sorted(DECISION_SCHEMA.iter_errors(data), key=str)
    assert not errors, errors[0].message
    text.encode("utf-8")  # printable: no lone surrogate ever reaches a decision
    return text


# -- never anything but ActivityError ---------------------------------------------------------


@fuzz(60)
@given(activity=any_activity)
def test_prepare_raises_only_activity_error(activity):
    try:
        prepared = prepare_activity(activity, NOW)
    except ActivityError as err:
        assert err.problems, "an ActivityError always says what is wrong"
        record = err.to_record()
        json.dumps(record, ensure_ascii=False).encode("utf-8")  # every problem is printable
        assert all(isinstance(p["path"], str) and p["message"] for p in record["problems"])
    else:
        assert isinstance(prepared["time"], dt.datetime)


@fuzz(60)
@given(activity=any_activity)
def test_evaluate_raises_only_activity_error(exercise_policy, activity):
    try:
        decision = exercise_policy.evaluate(activity, now=NOW)
    except ActivityError:
        return
    _check_decision(decision)


@fuzz(60)
@given(activity=any_activity)
def test_default_policy_raises_only_activity_error(default_policy, activity):
    try:
        decision = default_policy.evaluate(activity, now=NOW)
    except ActivityError:
        return
    _check_decision(decision)


@fuzz(60)
@given(activity=any_activity)
def test_explain_raises_only_activity_error(exercise_policy, activity):
    try:
        explanation = exercise_policy.explain(activity, now=NOW)
    except ActivityError:
        return
    json.dumps([r.to_dict() for r in explanation.rules], default=str)
    assert explanation.decision.to_json() == exercise_policy.evaluate(activity, now=NOW).to_json()


@fuzz(60)
@given(activity=valid_activities)
def test_valid_activities_are_always_decided(exercise_policy, default_policy, activity):
    for policy in (exercise_policy, default_policy):
        _check_decision(policy.evaluate(activity, now=NOW))


@fuzz(25)
@given(items=st.lists(any_activity, max_size=6))
def test_evaluate_many_yields_one_result_per_item_in_order(exercise_policy, items):
    results = list(exercise_policy.evaluate_many(iter(items), now=NOW))
    assert len(results) == len(items)
    for index, (item, result) in enumerate(zip(items, results, strict=True)):
        if isinstance(result, ActivityError):
            assert result.index == index
            with pytest.raises(ActivityError):
                exercise_policy.evaluate(item, now=NOW)
        else:
            assert result.to_json() == exercise_policy.evaluate(item, now=NOW).to_json()


# -- determinism ------------------------------------------------------------------------------


@st.composite
def reordered(draw: st.DrawFn, value: Any) -> Any:
    """`value` with the keys of every mapping inserted in a drawn order."""
    if isinstance(value, dict):
        keys = draw(st.permutations(list(value)))
        return {k: draw(reordered(value[k])) for k in keys}
    if isinstance(value, list):
        return [draw(reordered(v)) for v in value]
    return value


@fuzz(40)
@given(data=st.data(), activity=valid_activities)
def test_default_policy_is_deterministic_and_ignores_key_order(default_policy, data, activity):
    first = _check_decision(default_policy.evaluate(activity, now=NOW))
    assert default_policy.evaluate(activity, now=NOW).to_json() == first
    shuffled = data.draw(reordered(activity))
    assert default_policy.evaluate(shuffled, now=NOW).to_json() == first


@fuzz(30)
@given(data=st.data(), activity=valid_activities)
def test_exercise_policy_is_deterministic_and_ignores_key_order(exercise_policy, data, activity):
    first = _check_decision(exercise_policy.evaluate(activity, now=NOW))
    shuffled = data.draw(reordered(activity))
    assert exercise_policy.evaluate(shuffled, now=NOW).to_json() == first


def test_a_fresh_load_decides_byte_for_byte_the_same(default_policy):
    activity = {
        "id": "same",
        "kind": "post",
        "actor": {"id": "e1", "department": "sales", "roles": ["employee"]},
        "audience": "public",
        "content": {"text": SEED_TEXTS[0] + " " + SEED_TEXTS[1] + " " + SEED_TEXTS[3]},
    }
    again = smrules.load(REPO / "policies", cache=False)
    first = default_policy.evaluate(activity, now=NOW).to_json()
    assert first == again.evaluate(activity, now=NOW).to_json()
    assert json.loads(first)["findings"], "the sample must fire rules for the check to mean much"


def test_the_caller_activity_is_never_modified(default_policy):
    activity = {
        "kind": "post",
        "actor": {"id": "e1"},
        "content": {"text": SEED_TEXTS[1], "hashtags": ["#Ad"]},
    }
    before = json.dumps(activity, sort_keys=True)
    default_policy.evaluate(activity, now=NOW)
    assert json.dumps(activity, sort_keys=True) == before


# -- the command line -------------------------------------------------------------------------


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, range)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    return repr(value)


def _dumps(value: object) -> str:
    return json.dumps(_jsonable(value), allow_nan=True)  # NaN: not JSON, an error to report


file_contents = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    any_activity.map(lambda a: _dumps(a).encode()),
    st.lists(any_activity, max_size=4).map(lambda xs: _dumps(xs).encode()),
    st.lists(any_activity, max_size=4).map(
        lambda xs: "".join(_dumps(x) + "\n" for x in xs).encode()
    ),
    st.sampled_from(
        [
            b'kind: post\nactor: {id: e1}\ncontent: {text: "\\ud800"}\n',
            b"kind: post\nactor: &a {id: e1}\naccount: *a\n",
            b"- kind: post\n  actor: {id: e1}\n- 3\n- [1, 2]\n",
            b"kind: post\nkind: post\n",
            b"!!python/object/apply:os.system ['true']\n",
            b'\xef\xbb\xbf{"kind": "post", "actor": {"id": "e1"}}',
            b'{"kind": "post", "actor": {"id": "e1"}, "x": NaN}',
            b"[" * 5000 + b"]" * 5000,
            b"---\nkind: post\n---\nkind: post\n",
        ]
    ),
)


@fuzz(40)
@given(content=file_contents, suffix=st.sampled_from([".json", ".yaml", ".yml", ".jsonl", ".txt"]))
def test_smrules_check_never_fails_internally(tmp_path_factory, content, suffix):
    from click.testing import CliRunner

    from smrules.cli import main

    root = tmp_path_factory.mktemp("cli")
    (root / "main.smr").write_text(EXERCISE, encoding="utf-8")
    target = root / f"activity{suffix}"
    target.write_bytes(content)
    result = CliRunner().invoke(
        main,
        ["check", "--policy", str(root), "--now", "2026-11-16T09:00:00Z", "-o", "jsonl",
         str(target)],
    )  # fmt: skip
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 3), result.output
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.output
    for line in result.stdout.splitlines():
        record = json.loads(line)
        assert "decision" in record or record["problems"] or record["error"]
