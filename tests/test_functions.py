"""The built-in functions of SPEC §2.4."""

from __future__ import annotations

import hashlib

import pytest

CASES = [
    ("len(content.text)", {"content": {"text": "héllo"}}, 5),
    ("len(null)", None, 0),
    ("len([1, 2])", None, 2),
    ("len(context.m)", {"context": {"m": {"a": 1}}}, 1),
    ('lower("ÄBC")', None, "äbc"),
    ('upper("abc")', None, "ABC"),
    ('trim("  a b \\t")', None, "a b"),
    ("lower(null)", None, None),
    ('words("Don\'t panic, ACME-Cloud #ad")', None, ["don't", "panic", "acme", "cloud", "#ad"]),
    ("words(null)", None, []),
    ('domain("https://WWW.Example.com:8080/x")', None, "example.com"),
    ('domain("example.org/path")', None, "example.org"),
    ('domain("https://user:pw@sub.example.com/")', None, "sub.example.com"),
    ('domain("bücher.de")', None, "xn--bcher-kva.de"),
    ('domain("not a url")', None, None),
    ("domain(null)", None, None),
    ('pii("mail me at a.b@example.com or 4111 1111 1111 1111")', None, ["credit_card", "email"]),
    ('pii("card 4111 1111 1111 1112")', None, []),
    ('pii("mail a.b@example.com", ["A.B@example.com"])', None, []),
    ("pii(null)", None, []),
    ('near("we guarantee strong returns", ["guarantee*"], ["returns"], 2)', None, True),
    ('near("we guarantee you really strong returns", ["guarantee*"], ["returns"], 2)', None, False),
    ('near("returns are guaranteed", "guarantee*", "returns", 2)', None, True),
    ('near(null, "a", "b", 1)', None, False),
    ('sha256("abc")', None, hashlib.sha256(b"abc").hexdigest()),
    ("sha256(null)", None, None),
    ("hour(2026-01-01T13:45Z)", None, 13),
    ("weekday(2026-11-16)", None, "mon"),
    ("hour(null)", None, None),
    ("days_between(2026-01-01, 2026-01-31)", None, 30),
    ("days_between(2026-01-31T23:00Z, 2026-01-01)", None, -30),
    ("days_between(null, 2026-01-01)", None, None),
    ("hour(time)", {"time": "2026-03-01T07:15:00+02:00"}, 5),
]


@pytest.mark.parametrize(("expr", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_function(value_of, expr, extra, expected):
    assert value_of(expr, extra) == expected


def test_wrong_arity_is_a_load_error(make_policy):
    import smrules

    with pytest.raises(smrules.PolicyError) as err:
        make_policy('rule r { when len("a", "b") > 1 deny "x" }')
    assert err.value.diagnostics[0].code == "arity"
    assert "`len` takes 1 argument, got 2" in err.value.diagnostics[0].message


def test_unknown_function_suggests(make_policy):
    import smrules

    with pytest.raises(smrules.PolicyError) as err:
        make_policy('rule r { when lenght(content.text) > 1 deny "x" }')
    assert "did you mean `len`" in err.value.diagnostics[0].message
