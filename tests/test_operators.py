"""Every operator of SPEC §2.4 with its edge cases: null, empty lists, Unicode, mixed types."""

from __future__ import annotations

import datetime as dt

import pytest

import smrules

CASES = [
    # equality
    ("1 == 1.0", None, True),
    ("true == 1", None, False),
    ("null == null", None, True),
    ("context.x == null", None, True),
    ('"a" == "a"', None, True),
    ('"a" == "A"', None, False),
    ("[1, 2] == [1, 2.0]", None, True),
    ("[1, 2] == [2, 1]", None, False),
    ("context.m == context.n", {"context": {"m": {"a": [1]}, "n": {"a": [1.0]}}}, True),
    ("2026-12-15 == 2026-12-15T00:00Z", None, True),
    ("2026-12-15 != 2026-12-15T00:00:01Z", None, True),
    ('1 != "1"', None, True),
    # ordering
    ("1 < 2", None, True),
    ("2 <= 2.0", None, True),
    ('"a" < "b"', None, True),
    ('"B" < "a"', None, True),  # code points
    ("2026-12-15 < 2026-12-15T00:00:01Z", None, True),
    ("context.x < 1", None, False),  # null operand
    ("context.x >= context.y", None, False),
    # membership
    ('"a" in ["a", "b"]', None, True),
    ('"c" in ["a", "b"]', None, False),
    ("1 in [1.0, 2]", None, True),
    ("true in [1]", None, False),
    ('"k" in context.m', {"context": {"m": {"k": 1}}}, True),
    ('"ell" in "hello"', None, True),
    ('"x" not in context.missing', None, True),
    ('context.missing in ["a"]', None, False),
    ("null in [null]", None, False),
    ('["a", "b"] contains "b"', None, True),
    ('"hello" contains "ell"', None, True),
    ("[] contains 1", None, False),
    ('not "a" in ["a"]', None, False),
    # matches
    ('"Q3 revenue" matches /q[1-4] revenue/i', None, True),
    ('"Q3 revenue" matches /q[1-4] revenue/', None, False),
    ('"abc" matches "b"', None, True),
    ('"abc" matches ["x", /C/i]', None, True),
    ("context.missing matches /a/", None, False),
    ('"a/b" matches /a\\/b/', None, True),
    ('"line1\\nline2" matches /^line2$/m', None, True),
    ('"a\\nb" matches /a.b/s', None, True),
    ('"a\\nb" matches /a.b/', None, False),
    # mentions
    ('"We love ACME Cloud!" mentions "acme cloud"', None, True),
    ('"acmecloud" mentions "acme"', None, False),
    ('"the acme-cloud launch" mentions ["acme cloud"]', None, True),
    ('"Ｃｏｎｆｉｄｅｎｔｉａｌ memo" mentions "confiden*"', None, True),
    ('"con\u00adfidential" mentions "confidential"', None, True),
    ('"STRASSE" mentions "straße"', None, True),
    ('"hello" mentions context.missing', None, False),
    ('"tag #ad here" mentions "ad"', None, False),
    ('"tag #ad here" mentions "#ad"', None, True),
    # affixes
    ('"hello" startswith "he"', None, True),
    ('"hello" endswith "lo"', None, True),
    ('"hello" startswith "lo"', None, False),
    ('context.missing startswith "a"', None, False),
    # intersects
    ('["a", "b"] intersects ["b", "c"]', None, True),
    ('["a"] intersects []', None, False),
    ("[1] intersects [1.0]", None, True),
    ("context.missing intersects [1]", None, False),
    # boolean logic
    ("true and context.missing", None, False),
    ("context.missing or true", None, True),
    ("not context.missing", None, True),
    ("false and (context.x < 1)", None, False),
    # access
    ("content.text", {"content": {"text": "hi"}}, "hi"),
    ("content.missing.deeper", {"content": {"text": "hi"}}, None),
    ('context["k"]', {"context": {"k": 5}}, 5),
    ("context.xs[1]", {"context": {"xs": [1, 2]}}, 2),
    ("context.xs[5]", {"context": {"xs": [1, 2]}}, None),
    ("context.xs[-1]", {"context": {"xs": [1, 2]}}, None),
    ("activity.kind", None, "post"),
    ("activity.context.default", {"context": {"default": 1}}, 1),
    # quantifiers
    ("any(x in [1, 2, 3]: x > 2)", None, True),
    ("all(x in []: x > 2)", None, True),
    ("any(x in context.missing: x > 2)", None, False),
    ("count(x in [1, 2, 3]: x >= 2)", None, 2),
    ("filter(x in [3, 1, 2]: x >= 2)", None, [3, 2]),
    ('any(k in context.m: k == "b")', {"context": {"m": {"a": 1, "b": 2}}}, True),
    ("all(x in [1, null]: x == 1)", None, False),
]


@pytest.mark.parametrize(("expr", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_operator(value_of, expr, extra, expected):
    result = value_of(expr, extra)
    assert result == expected
    assert type(result) is type(expected)


RUNTIME_TYPE_ERRORS = [
    ("context.x < 1", {"context": {"x": "a"}}, "cannot compare string with number"),
    ("context.x in context.s", {"context": {"x": 1, "s": "abc"}}, "`in` a string needs a string"),
    ("1 in context.n", {"context": {"n": 5}}, "`in` needs a list, a map or a string"),
    ("context.xs matches /a/", {"context": {"xs": ["a"]}}, "`matches` needs a string"),
    ('context.xs mentions "a"', {"context": {"xs": ["a"]}}, "`mentions` needs a string"),
    ('"abc" matches context.p', {"context": {"p": "(a"}}, "invalid regex"),
    ("context.s intersects [1]", {"context": {"s": "a"}}, "`intersects` needs lists"),
    ("context.s and true", {"context": {"s": "a"}}, "`and` needs true or false"),
    ("any(x in context.s: true)", {"context": {"s": "abc"}}, "`any` needs a list or a map"),
    ("any(x in [1]: x)", None, "`any` needs true or false, got number"),
    ("len(context.n)", {"context": {"n": 5}}, "`len` needs a string"),
]


@pytest.mark.parametrize(
    ("expr", "extra", "message"), RUNTIME_TYPE_ERRORS, ids=[c[0] for c in RUNTIME_TYPE_ERRORS]
)
def test_runtime_type_errors(value_of, expr, extra, message):
    from smrules.values import EvalError

    with pytest.raises(EvalError) as err:
        value_of(expr, extra)
    assert message in err.value.message


def test_runtime_error_fails_rule_and_applies_on_error(make_policy):
    policy = make_policy(
        """
        policy p { on_error warn }
        rule bad {
          when context.n > 3
          deny "never"
        }
        rule ok { warn "always" }
        """
    )
    d = policy.evaluate({"kind": "post", "actor": {"id": "a"}, "context": {"n": "x"}})
    assert d.decision == "warn"
    assert [f.rule for f in d.findings] == ["ok"]
    (error,) = d.errors
    assert error.rule == "bad"
    assert (error.file, error.line, error.column) == ("main.smr", 4, 8)
    assert "cannot compare" in error.message


def test_on_error_deny_is_default(make_policy):
    policy = make_policy('rule bad {\n when context.n > 3\n warn "x"\n}\n')
    d = policy.evaluate({"kind": "post", "actor": {"id": "a"}, "context": {"n": "x"}})
    assert d.decision == "deny"
    assert d.findings == ()
    assert d.to_dict()["errors"][0]["rule"] == "bad"


def test_audit_rule_failure_does_not_apply_on_error(make_policy):
    policy = make_policy('rule bad {\n mode audit\n when context.n > 3\n deny "x"\n}\n')
    d = policy.evaluate({"kind": "post", "actor": {"id": "a"}, "context": {"n": "x"}})
    assert d.decision == "allow"
    assert len(d.errors) == 1


def test_static_type_errors_are_load_errors(make_policy):
    with pytest.raises(smrules.PolicyError) as err:
        make_policy(
            'rule r {\n when content.text > 3\n when content.hashtags matches /a/\n deny "x"\n}\n'
        )
    messages = [d.message for d in err.value.diagnostics]
    assert any("cannot compare string with number" in m for m in messages)
    assert any("`matches` needs a string on the left, got list of string" in m for m in messages)


def test_let_reading_activity_is_lazy_and_shared(make_policy):
    policy = make_policy(
        """
        let long_post = len(content.text) > 5
        rule a { when long_post warn "long" }
        rule b { when long_post and kind == "post" warn "long post" }
        """
    )
    act = {"kind": "post", "actor": {"id": "a"}, "content": {"text": "123456"}}
    assert policy.evaluate(act).counted_rules == ("a", "b")


def test_failed_let_fails_each_rule_using_it(make_policy):
    policy = make_policy(
        """
        let broken = context.n > 1
        rule a { when broken warn "a" }
        rule b { when broken warn "b" }
        rule c { warn "c" }
        """
    )
    d = policy.evaluate({"kind": "post", "actor": {"id": "a"}, "context": {"n": "s"}})
    assert [e.rule for e in d.errors] == ["a", "b"]
    assert all(e.line == 2 for e in d.errors)


def test_dates_use_policy_timezone(value_of):
    source = 'policy p { timezone "Europe/Berlin" }\nlet d = 2026-07-01\nlet t = 2026-07-01T00:00\n'
    assert value_of("d == 2026-06-30T22:00Z", source=source) is True
    assert value_of("t == 2026-06-30T22:00Z", source=source) is True
    assert value_of("hour(time)", {"time": "2026-07-01T10:30:00Z"}, source=source) == 12


def test_quantifier_binder_may_not_shadow(make_policy):
    with pytest.raises(smrules.PolicyError) as err:
        make_policy('let xs = [1]\nrule r { when any(xs in xs: true) deny "x" }\n')
    assert any(d.code == "redefined-name" for d in err.value.diagnostics)


def test_now_must_be_aware(make_policy):
    policy = make_policy('rule r { warn "x" }')
    with pytest.raises(TypeError):
        policy.evaluate({"kind": "post", "actor": {"id": "a"}}, now=dt.datetime(2026, 1, 1))
