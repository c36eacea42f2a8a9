"""The generated rule code (`codegen.py`) decides exactly as the closures it inlines.

Every test compares a policy with its "closure twin": the same compiled rules, tested by the
reference loop over each rule's closure instead of the generated function. Decisions are
compared whole (decision, findings with messages and evidence, errors with their positions).
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smrules
from smrules import codegen
from smrules.engine import Policy, closure_block
from smrules.errors import ActivityError

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)

SHAPES_POLICY = r"""
policy codegen_shapes {
  default allow
}

let greek   = ["alpha", "beta"]
let secret  = /\bsecret\b/i
let earlier = 2026-01-01T00:00:00Z

rule eq_str          { when context.a == "x"                 deny "eq" }
rule ne_str          { when context.a != "x"                 warn "ne" }
rule is_null         { when context.a == null                warn "null" }
rule in_list         { when context.a in ["x", "y"]          deny "in" }
rule not_in_list     { when context.b not in greek           warn "not in" }
rule in_expr         { when lower(context.a) in greek        warn "lower in" }
rule order_int       { when context.n < 5                    warn "lt" }
rule order_float     { when context.n >= 2.5                 warn "ge" }
rule order_str       { when context.a > "m"                  warn "str gt" }
rule order_pair      { when context.n > context.m            warn "gt" }
rule order_time      { when time >= earlier                  warn "after" }
rule member_const    { when "x" in context.list              warn "member" }
rule member_var      { when context.a in context.b           deny "substring" }
rule member_text     { when "alpha" in content.text          warn "alpha" }
rule overlap         { when context.list intersects ["x", "y"] warn "inter" }
rule any_list        { when any(item in context.list: item == "x") deny "any" }
rule any_field       { when any(item in context.items: item.name in greek) warn "any field" }
rule any_scan        { when any(item in context.items: item.name matches secret) warn "any scan" }
rule any_nonstrict   { when any(item in context.list: item)  warn "nonstrict any" }
rule any_nested      { when any(x in context.items: any(y in x.tags: y == x.name)) warn "nested" }
rule all_items       { when all(item in context.list: item != "z") warn "all" }
rule list_length     { when len(context.list) > 2            warn "len" }
rule text_scan       { when content.text matches secret       deny "scan" }
rule text_scans      { when content.text matches [/alpha/, /beta/i] warn "scans" }
rule field_scan      { when context.a matches /^x+$/          warn "field scan" }
rule nonstrict_when  { when context.flag                      warn "flag" }
rule nonstrict_unless {
  when   context.a == "x"
  unless context.flag
  deny   "unless flag"
}
rule logic {
  when (context.a == "x" or context.b == "y") and not (context.n == null)
  warn "logic"
}
rule deep_path       { when context.deep.er.value == "v"      warn "deep" }
rule index_path      { when context.list[1] == "x"            warn "index" }
rule message_error   { when context.a == "boom"               deny "value {lower(context.n)}" }
rule many_conditions {
  when context.a != null
  when context.b != null
  when context.n != null
  unless context.flag
  unless context.m == 1
  warn "many"
}
"""


def closure_twin(policy: Policy) -> Policy:
    """The same policy, its rules tested by their closures instead of generated code (and
    the policy itself switched to generated code)."""
    twin = copy.copy(policy)
    twin._blocks = [closure_block(g) for g in policy._groups]
    twin._cold = [0] * len(policy._groups)
    policy.generate_code()
    return twin


def outcome(policy: Policy, activity: object) -> object:
    try:
        return json.dumps(policy.evaluate(activity, NOW).to_dict(), sort_keys=True)
    except ActivityError as err:
        return ("invalid", str(err))


def assert_same(policy: Policy, activities) -> int:
    twin = closure_twin(policy)
    assert not any(b.__code__.co_filename == GENERATED for b in twin._blocks)
    assert all(b.__code__.co_filename == GENERATED for b in policy._blocks)
    seen = 0
    for activity in activities:
        assert outcome(policy, activity) == outcome(twin, activity), activity
        seen += 1
    return seen


@pytest.fixture
def shapes_policy(make_policy):
    return make_policy(SHAPES_POLICY)


GENERATED = "<smrules generated rules>"


def test_rules_become_generated_code_after_their_first_decisions(shapes_policy):
    from smrules.engine import WARM_UP_DECISIONS

    activity = {"kind": "post", "actor": {"id": "e1"}, "context": {"a": "x"}}
    first = shapes_policy.evaluate(activity, NOW).to_json()
    assert shapes_policy._blocks[0].__code__.co_filename != GENERATED  # a one-off check
    for _ in range(WARM_UP_DECISIONS):
        assert shapes_policy.evaluate(activity, NOW).to_json() == first
    (block,) = shapes_policy._blocks
    assert block.__code__.co_filename == GENERATED
    assert shapes_policy.evaluate(activity, NOW).to_json() == first
    source, _ = codegen.generate_block(
        shapes_policy.compiler, list(enumerate(shapes_policy.rules_compiled))
    )
    # the common forms are inlined, not called
    assert "in S" in source and "act.get('context')" in source and "for cv[" in source


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),
    st.sampled_from([2.5, -0.0, 1e300, float("inf"), 10**30]),
    st.sampled_from(["x", "y", "z", "xx", "alpha", "beta", "m", "boom", "secret", "", "X"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["name", "tags", "er", "value"]), inner, max_size=3),
    ),
    max_leaves=8,
)
contexts = st.dictionaries(
    st.sampled_from(["a", "b", "n", "m", "list", "items", "flag", "deep"]), values, max_size=8
)
texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["a secret plan", "alpha and BETA", "Secret!", "nothing here", ""]),
)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(context=contexts, text=texts, time=st.sampled_from(["2025-06-01T00:00:00Z", None]))
def test_generated_code_decides_as_the_closures_on_any_values(shapes_policy, context, text, time):
    activity = {"kind": "post", "actor": {"id": "e1"}, "content": {"text": text}}
    if context:
        activity["context"] = context
    if time:
        activity["time"] = time
    assert_same(shapes_policy, [activity])


def test_type_mismatches_fail_the_same_way(shapes_policy):
    activities = [
        {"kind": "post", "actor": {"id": "e1"}, "context": context}
        for context in (
            {"n": "five"},  # ordering a string with a number
            {"n": True},  # a boolean is not a number
            {"a": 3, "b": "3x"},  # `in` a string with a number on the left
            {"list": "xyz"},  # `any` over a string
            {"list": 7},  # `len` and `intersects` of a number
            {"items": [{"name": 3}]},  # `matches` on a number
            {"flag": "yes"},  # a condition that is not true or false
            {"a": "boom", "n": 3},  # the message fails
            {"items": {"name": "alpha"}},  # `any` over a map goes over its keys
            {"list": [{"name": "x"}, ["x"], "x"]},  # unhashable items: the closures decide
        )
    ]
    twin = closure_twin(shapes_policy)
    for activity in activities:
        decision = shapes_policy.evaluate(activity, NOW)
        assert decision.to_dict() == twin.evaluate(activity, NOW).to_dict()
    assert shapes_policy.evaluate(activities[0], NOW).errors  # the mismatches did fail


def test_the_default_policy_and_its_test_activities(tmp_path):
    policy = smrules.load(REPO / "policies")
    from smrules.testing import discover, load_test_file

    activities = []
    for path in discover([REPO / "policies" / "tests", REPO / "examples"]):
        for case in load_test_file(path).cases:
            activities.append(case.activity)
    assert len(activities) > 100
    assert assert_same(policy, activities) == len(activities)


def test_an_indexed_policy_runs_one_generated_block_per_guard(tmp_path):
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    try:
        from large_policy import generate_policy
    finally:
        sys.path.remove(str(REPO / "bench"))
    source = generate_policy(200)
    (tmp_path / "large.smr").write_text(source, encoding="utf-8")
    policy = smrules.load(tmp_path)
    assert policy._index is not None and len(policy._blocks) > 10
    kinds = ["post", "comment", "review", "job_ad"]
    platforms = ["linkedin", "x", "tiktok", "github"]
    pairs = re.findall(r"/\\b(\w+)\\b\.\{0,40\}\\b(\w+)\\b/", source)[:12]
    texts = [f"{a} and then {b}" for a, b in pairs] + ["nothing at all"]
    activities = [
        {
            "kind": kind,
            "platform": platform,
            "actor": {"id": "e1", "department": dept},
            "content": {"text": f"{text} {i}"},
        }
        for i, (kind, platform, dept, text) in enumerate(
            (k, p, d, t)
            for k in kinds
            for p in platforms
            for d in ("marketing", "legal")
            for t in texts
        )
    ]
    assert assert_same(policy, activities) == len(activities)
    fired = [policy.evaluate(a, NOW) for a in activities]
    assert any(d.findings for d in fired)


# -- the generated source ----------------------------------------------------------------------

HOSTILE = '"); __import__("os").system("echo pwned"); ("'
HOSTILE_SMR = HOSTILE.replace('"', '\\"')  # as a string literal of the policy language


def test_policy_strings_reach_the_code_only_as_literals(make_policy):
    source = f"""
    policy hostile {{ default allow }}
    let odd = ["{HOSTILE_SMR}", "a'b", "line\\nbreak"]
    rule r1 {{ when context["{HOSTILE_SMR}"] == "{HOSTILE_SMR}" deny "hostile" }}
    rule r2 {{ when context.k in odd warn "odd" }}
    rule r3 {{ when "{HOSTILE_SMR}" in content.text warn "text" }}
    """
    policy = make_policy(source)
    generated, namespace = codegen.generate_block(
        policy.compiler, list(enumerate(policy.rules_compiled))
    )
    tree = ast.parse(generated)
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert HOSTILE in strings  # as one string constant, never as code
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    called = {n.func.id for n in calls if isinstance(n.func, ast.Name)}
    ours = {"type", "len", "any", "bool", "cond_error", "fired_append", "errors_append"}
    assert called <= ours | set(namespace)
    assert "__import__" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    hostile = {"kind": "post", "actor": {"id": "e1"}, "context": {HOSTILE: HOSTILE}}
    assert policy.evaluate(hostile, NOW).decision == "deny"
    text = {"kind": "post", "actor": {"id": "e1"}, "content": {"text": "x" + HOSTILE}}
    assert policy.evaluate(text, NOW).decision == "warn"
    assert policy.evaluate({"kind": "post", "actor": {"id": "e1"}, "context": {"k": "a'b"}}, NOW)


def test_a_block_python_cannot_compile_falls_back_to_the_closures(make_policy, monkeypatch):
    monkeypatch.setattr(codegen, "generate_block", lambda compiler, rules: ("def block(:\n", {}))
    policy = make_policy(SHAPES_POLICY)
    policy.generate_code()
    (block,) = policy._blocks
    assert block.__code__.co_filename != GENERATED
    decision = policy.evaluate({"kind": "post", "actor": {"id": "e1"}, "context": {"a": "x"}}, NOW)
    assert "eq_str" in {f.rule for f in decision.findings}


def test_deeply_nested_expressions_are_called_not_inlined(make_policy):
    condition = " and ".join(f'(context.a != "{i}"' for i in range(60)) + ")" * 60
    policy = make_policy(f'policy deep {{ default allow }}\nrule r {{ when {condition} warn "w" }}')
    policy.generate_code()
    (block,) = policy._blocks
    assert block.__code__.co_filename == GENERATED
    activity = {"kind": "post", "actor": {"id": "e1"}, "context": {"a": "zz"}}
    assert policy.evaluate(activity, NOW).decision == "warn"
    assert_same(policy, [activity, {**activity, "context": {"a": "7"}}])


def test_closure_block_is_the_reference_loop(shapes_policy):
    rules = list(enumerate(shapes_policy.rules_compiled))
    block = closure_block(rules)
    shapes_policy.generate_code()
    act = shapes_policy.prepare({"kind": "post", "actor": {"id": "e1"}, "context": {"a": "x"}}, NOW)
    fired, errors = block(shapes_policy._context(act))
    generated = shapes_policy._blocks[0](shapes_policy._context(act))
    assert (fired, errors) == generated
    assert [rules[i][1].info.id for i in fired][:2] == ["eq_str", "in_list"]
