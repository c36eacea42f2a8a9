"""The combining table (SPEC §2.5), audit rules, default deny, waivers (§5) and ordering."""

from __future__ import annotations

import datetime as dt

import pytest

import smrules

ACT = {"kind": "post", "actor": {"id": "e1", "department": "sales"}}
NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)

RULES = """
rule d { when context.d deny "deny" }
rule w { when context.w warn "warn" }
rule a { when context.a allow }
rule audited { mode audit when context.audit deny "audit" }
rule broken { when context.broken > 1 warn "never" }
"""


@pytest.mark.parametrize(
    ("default", "on_error", "flags", "expected", "rules"),
    [
        ("allow", "deny", {}, "allow", []),
        ("allow", "deny", {"w": True}, "warn", ["w"]),
        ("allow", "deny", {"w": True, "d": True}, "deny", ["d", "w"]),
        ("allow", "deny", {"a": True}, "allow", ["a"]),
        ("allow", "deny", {"audit": True}, "allow", []),
        ("allow", "deny", {"broken": "x"}, "deny", []),
        ("allow", "warn", {"broken": "x"}, "warn", []),
        ("allow", "allow", {"broken": "x"}, "allow", []),
        ("deny", "deny", {}, "deny", ["default"]),
        ("deny", "deny", {"w": True}, "deny", ["default", "w"]),
        ("deny", "deny", {"a": True}, "allow", ["a"]),
        ("deny", "deny", {"a": True, "w": True}, "warn", ["w", "a"]),
        ("deny", "deny", {"a": True, "d": True}, "deny", ["d", "a"]),
        ("deny", "warn", {"a": True, "broken": "x"}, "warn", ["a"]),
    ],
)
def test_combining(make_policy, default, on_error, flags, expected, rules):
    policy = make_policy(f"policy p {{ default {default} on_error {on_error} }}\n" + RULES)
    d = policy.evaluate({**ACT, "context": flags}, now=NOW)
    assert d.decision == expected
    assert list(d.counted_rules) == rules


def test_default_deny_for_kinds(make_policy):
    policy = make_policy(
        'policy p { default deny for ["tool_request"] }\n'
        'rule ok { when tool.name == "Buffer" allow "approved" }\n'
    )
    assert policy.evaluate(ACT, now=NOW).decision == "allow"
    tool = {"kind": "tool_request", "actor": {"id": "a"}, "tool": {"name": "X"}}
    d = policy.evaluate(tool, now=NOW)
    assert d.decision == "deny"
    default = d.to_dict()["findings"][0]
    assert default == {
        "rule": "default",
        "effect": "deny",
        "audit": False,
        "waived": None,
        "message": "No rule allows this activity",
        "hint": None,
        "title": None,
        "risk": None,
        "severity": None,
        "ref": None,
        "tags": [],
        "source": None,
        "evidence": [],
    }
    tool["tool"]["name"] = "Buffer"
    d = policy.evaluate(tool, now=NOW)
    assert d.decision == "allow" and d.findings[0].message == "approved"


def test_audit_allow_does_not_satisfy_default_deny(make_policy):
    policy = make_policy("policy p { default deny }\nrule a { mode audit allow }\n")
    d = policy.evaluate(ACT, now=NOW)
    assert d.decision == "deny"
    assert [(f.rule, f.audit) for f in d.findings] == [("default", False), ("a", True)]


def test_finding_order_groups_then_file_order(make_policy):
    policy = make_policy(
        'rule z_warn { warn "w" }\nrule a_deny { deny "d" }\nrule m_audit { mode audit warn "a" }\n'
        'rule b_allow { allow "ok" }\nrule y_deny { deny "d2" }\n'
    )
    d = policy.evaluate(ACT, now=NOW)
    assert [f.rule for f in d.findings] == ["a_deny", "y_deny", "z_warn", "b_allow", "m_audit"]


WAIVED_POLICY = {
    "main.smr": """
        policy p { timezone "Europe/Berlin" }
        rule hashtags {
          title "Too many hashtags"
          when len(content.hashtags) > 2
          warn "Too many hashtags"
        }
        rule never_waived {
          waivable false
          when context.secret
          deny "no"
        }
        rule allow_me { when context.allow allow }
        """,
    "waivers.yaml": """
        - rule: hashtags
          actors: [e1]
          until: 2026-11-30
          reason: Campaign launch
          approved_by: comms-lead
        """,
}


def test_waiver_covers_until_end_of_day_in_policy_timezone(make_policy):
    policy = make_policy(files=WAIVED_POLICY)
    act = {**ACT, "content": {"text": "#a #b #c"}}
    inside = dt.datetime(2026, 11, 30, 22, 59, tzinfo=dt.timezone.utc)  # 23:59 in Berlin
    d = policy.evaluate(act, now=inside)
    assert d.decision == "allow"
    (finding,) = d.findings
    assert finding.to_dict()["waived"] == {
        "until": "2026-11-30",
        "reason": "Campaign launch",
        "approved_by": "comms-lead",
    }
    assert d.counted_rules == ()
    after = dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.timezone.utc)  # midnight in Berlin
    assert policy.evaluate(act, now=after).decision == "warn"
    other = {**act, "actor": {"id": "e2"}}
    assert policy.evaluate(other, now=inside).decision == "warn"


@pytest.mark.parametrize(
    ("waiver", "message"),
    [
        (
            "- {rule: never_waived, actors: [e1], until: 2026-12-01, reason: r, approved_by: x}",
            "`waivable false`",
        ),
        (
            "- {rule: allow_me, actors: [e1], until: 2026-12-01, reason: r, approved_by: x}",
            "only deny and warn rules",
        ),
        (
            "- {rule: default, actors: [e1], until: 2026-12-01, reason: r, approved_by: x}",
            "cannot be waived",
        ),
        (
            "- {rule: hashtag, actors: [e1], until: 2026-12-01, reason: r, approved_by: x}",
            "did you mean `hashtags`",
        ),
        (
            "- {rule: hashtags, actors: [e1], departments: [x], until: 2026-12-01, reason: r, "
            "approved_by: x}",
            "exactly one of",
        ),
        (
            "- {rule: hashtags, actors: [e1], until: tomorrow, reason: r, approved_by: x}",
            "`until` must be a date",
        ),
        (
            "- {rule: hashtags, actors: [e1], until: 2026-12-01, reason: r, approved_by: x, "
            "extra: 1}",
            "unknown field `extra`",
        ),
        ("rule: hashtags", "must hold a list"),
    ],
)
def test_bad_waivers_are_load_errors(make_policy, waiver, message):
    with pytest.raises(smrules.PolicyError) as err:
        make_policy(files={**WAIVED_POLICY, "waivers.yaml": waiver + "\n"})
    diag = err.value.diagnostics[0]
    assert diag.span.file == "waivers.yaml"
    assert message in diag.message


def test_decision_is_deterministic_and_json_valid(make_policy):
    import json

    import jsonschema

    from smrules.schemas import load_schema

    policy = make_policy(files=WAIVED_POLICY)
    act = {**ACT, "id": "draft-1", "content": {"text": "#a #b #c #d"}}
    first = policy.evaluate(act, now=NOW).to_json()
    assert all(policy.evaluate(act, now=NOW).to_json() == first for _ in range(5))
    jsonschema.validate(json.loads(first), load_schema("decision"))


def test_message_interpolation(make_policy):
    policy = make_policy(
        'policy p { timezone "Europe/Berlin" }\n'
        'rule r { deny "{tool.name} ({len(tool.scopes)} scopes: {tool.scopes}) at {time} '
        '{{literal}} {context.m} {context.f} {context.missing}." }\n'
    )
    act = {
        "kind": "tool_request",
        "actor": {"id": "a"},
        "time": "2026-01-01T12:00:00Z",
        "tool": {"name": "Zap", "scopes": ["read", "write"]},
        "context": {"m": {"a": [1, 2.5]}, "f": 3.0},
    }
    d = policy.evaluate(act)
    assert d.findings[0].message == (
        'Zap (2 scopes: read, write) at 2026-01-01T13:00:00+01:00 {literal} {"a":[1,2.5]} 3 .'
    )


def test_evaluate_many_streams_and_reports_index(make_policy):
    policy = make_policy('rule r { when kind == "share" warn "w" }')
    items = iter([ACT, {"kind": "nope"}, {**ACT, "kind": "share"}])
    results = list(policy.evaluate_many(items, now=NOW))
    assert results[0].decision == "allow"
    assert isinstance(results[1], smrules.ActivityError) and results[1].index == 1
    assert results[2].decision == "warn"
    with pytest.raises(smrules.ActivityError) as err:
        list(policy.evaluate_many([ACT, {"kind": "nope"}], now=NOW, errors="raise"))
    assert err.value.index == 1


def test_explain_reports_message_failure_as_error(make_policy):
    policy = make_policy(
        'policy p { on_error warn }\nrule m { when kind == "post" warn "v {lower(context.x)}" }\n'
    )
    act = {**ACT, "context": {"x": [1]}}
    explanation = policy.explain(act, now=NOW)
    assert explanation.decision.decision == "warn"
    assert explanation.decision.findings == ()
    trace = explanation.trace("m")
    assert trace.outcome == "error" and "`lower` needs a string" in trace.error


def test_explain_names_deciding_condition_and_values(make_policy):
    policy = make_policy(
        'rule r {\n when kind == "post"\n when len(content.text) > 5\n unless actor.department'
        ' == "legal"\n warn "long"\n}\n'
    )
    short = policy.explain({**ACT, "content": {"text": "hi"}}, now=NOW).trace("r")
    assert (short.outcome, short.clause, short.index) == ("not_fired", "when", 1)
    assert short.condition == "len(content.text) > 5"
    assert [(v.expression, v.value) for v in short.values] == [
        ("content.text", "hi"),
        ("len(content.text)", 2),
    ]
    legal = {**ACT, "actor": {"id": "e", "department": "legal"}, "content": {"text": "long text"}}
    trace = policy.explain(legal, now=NOW).trace("r")
    assert (trace.clause, trace.reason) == (
        "unless",
        'not fired: `unless actor.department == "legal"` held',
    )


def test_limits_can_be_set_per_evaluation(make_policy):
    from smrules.activity import Limits

    policy = make_policy('rule r { warn "x" }')
    act = {**ACT, "content": {"text": "x" * 200}}
    assert policy.evaluate(act, now=NOW).decision == "warn"
    with pytest.raises(smrules.ActivityError) as err:
        policy.evaluate(act, now=NOW, limits=Limits(max_text_bytes=100))
    assert err.value.problems[0].path == "content.text"
    (result,) = policy.evaluate_many([act], now=NOW, limits=Limits(max_text_bytes=100))
    assert isinstance(result, smrules.ActivityError)


@pytest.mark.parametrize("activity_id", [None, "plain", 'q"uo\\te\n é 😀 \u2028'])
def test_to_json_is_the_json_of_to_dict(make_policy, activity_id):
    import json

    policy = make_policy('rule r { when context.w warn "w" }')
    for context in ({}, {"w": True}):
        act = {**ACT, "context": context}
        if activity_id is not None:
            act["id"] = activity_id
        decision = policy.evaluate(act, now=NOW)
        assert decision.to_json() == json.dumps(decision.to_dict(), ensure_ascii=False)
        assert json.loads(decision.to_json()) == decision.to_dict()


HOSTILE = 'q"uo\\te\n\t\x01 é 😀 \u2028 </script>'


def test_to_json_of_findings_errors_and_waivers_is_the_json_of_to_dict(make_policy):
    """Findings are written from pieces made once per rule; they must stay byte for byte
    what `json.dumps(to_dict())` gives, whatever the strings hold."""
    import json

    policy = make_policy(
        """
        policy p { default allow }
        rule quoted {
          title    "a \\"quoted\\" \\\\ title é 😀"
          severity high
          tags     ["a", "b\\"c"]
          when     content.text matches /q"uo/
          deny     "saw {content.text}"
          hint     "fix {lower(content.text)}"
        }
        rule waived_one { when content.text matches /uo/ warn "w" }
        rule failing { when lower(context.n) == "x" deny "never" }
        rule audited { mode audit when content.text matches /e/ deny "audit" }
        """,
        files={
            "waivers.yaml": "- rule: waived_one\n  actors: [e1]\n  until: 2099-01-01\n"
            "  reason: 'a \"quoted\" reason'\n  approved_by: ciso\n"
        },
    )
    act = {**ACT, "content": {"text": HOSTILE}, "context": {"n": 5}}
    decision = policy.evaluate(act, now=NOW)
    assert {f.rule for f in decision.findings} == {"quoted", "waived_one", "audited"}
    assert decision.errors and any(f.evidence for f in decision.findings)
    assert decision.to_json() == json.dumps(decision.to_dict(), ensure_ascii=False)
