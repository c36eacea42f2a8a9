"""Evidence (SPEC §4): where the conditions of a fired rule found their match."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)


def evidence(policy, activity):
    d = policy.evaluate({"kind": "post", "actor": {"id": "a"}, **activity}, now=NOW)
    return {f.rule: [e.to_dict() for e in f.evidence] for f in d.findings}


def test_regex_evidence_offsets(make_policy):
    policy = make_policy('rule r { when content.text matches /q[1-4] revenue/i deny "x" }')
    got = evidence(policy, {"content": {"text": "Our Q3 revenue and q4 revenue"}})
    assert got["r"] == [
        {"path": "content.text", "start": 4, "end": 14, "text": "Q3 revenue"},
        {"path": "content.text", "start": 19, "end": 29, "text": "q4 revenue"},
    ]


def test_mentions_evidence_is_in_original_offsets(make_policy):
    policy = make_policy(
        'rule r { when content.text mentions ["try acme", "confidential"] warn "x" }'
    )
    text = "😀 Ｔｒｙ ACME: con\u00adfidential!"
    items = evidence(policy, {"content": {"text": text}})["r"]
    assert [text[i["start"] : i["end"]] for i in items] == ["Ｔｒｙ ACME", "con\u00adfidential"]
    assert [i["text"] for i in items] == ["Ｔｒｙ ACME", "con\u00adfidential"]


def test_evidence_from_quantifier_binder_path(make_policy):
    policy = make_policy(
        'rule r { when any(a in content.attachments: a.ocr_text matches /secret/) deny "x" }'
    )
    act = {"content": {"attachments": [{"ocr_text": "fine"}, {"ocr_text": "top secret"}]}}
    assert evidence(policy, act)["r"] == [
        {"path": "content.attachments[1].ocr_text", "start": 4, "end": 10, "text": "secret"}
    ]


def test_no_evidence_from_unless_or_not(make_policy):
    policy = make_policy(
        "rule r {\n when not (content.text matches /x/)\n unless content.text matches /zzz/\n"
        ' warn "w"\n}\n'
    )
    assert evidence(policy, {"content": {"text": "abc"}})["r"] == []


def test_substring_and_function_subject(make_policy):
    policy = make_policy(
        'rule sub { when "Falcon" in content.text deny "x" }\n'
        'rule fn { when lower(content.text) matches /falcon/ deny "y" }\n'
    )
    got = evidence(policy, {"content": {"text": "Project Falcon, Falcon!"}})
    assert [(e["start"], e["end"]) for e in got["sub"]] == [(8, 14), (16, 22)]
    assert got["fn"] == [{"path": None, "start": None, "end": None, "text": "falcon"}] * 2


def test_pii_evidence_only_for_tested_kinds(make_policy):
    policy = make_policy('rule r { when "email" in pii(content.text) deny "x" }')
    text = "write to jane@example.com, card 4111 1111 1111 1111"
    assert evidence(policy, {"content": {"text": text}})["r"] == [
        {"path": "content.text", "start": 9, "end": 25, "text": "jane@example.com"}
    ]


def test_evidence_capped_at_twenty(make_policy):
    policy = make_policy('rule r { when content.text matches /a/ warn "x" }')
    assert len(evidence(policy, {"content": {"text": "a " * 50}})["r"]) == 20


def test_conditions_that_cannot_record_evidence_are_not_rerun(make_policy):
    policy = make_policy(
        """
        rule plain { when kind == "post" and len(content.text) > 3 warn "x" }
        rule text { when kind == "post"  when content.text matches /secret/ warn "y" }
        rule negated { when not (content.text matches /public/) warn "z" }
        """
    )
    records = {r.info.id: len(r.evidence_whens) for r in policy.rules_compiled}
    assert records == {"plain": 0, "text": 1, "negated": 0}
    got = evidence(policy, {"content": {"text": "top secret"}})
    assert got == {
        "plain": [],
        "text": [{"path": "content.text", "start": 4, "end": 10, "text": "secret"}],
        "negated": [],
    }


def test_skipping_evidence_changes_no_finding_of_the_bundled_policy():
    """Every rule re-run for its evidence, against the rules that skip it: the same JSON."""
    from pathlib import Path

    import smrules
    from smrules import testing

    root = Path(__file__).resolve().parents[1]
    skipping, rerun = smrules.load(root / "policies"), smrules.load(root / "policies")
    for rule in rerun.rules_compiled:
        object.__setattr__(rule, "evidence_whens", rule.whens)
    assert any(len(rule.evidence_whens) < len(rule.whens) for rule in skipping.rules_compiled)
    findings = 0
    for path in testing.discover([str(root / "policies"), str(root / "examples")]):
        for case in testing.load_test_file(path).cases:
            a = skipping.evaluate(case.activity, now=case.now or NOW)
            b = rerun.evaluate(case.activity, now=case.now or NOW)
            assert a.to_json() == b.to_json()
            findings += len(a.findings)
    assert findings > 100


_SPAN_PATTERNS = ["a*", "", "b+", "é+", "x|", "(?i)straße", r"\b", "[^a]", "😀a?", "$", "(a)(b)?"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    text=st.text(alphabet="abé😀x \u00adßB", max_size=14),
    source=st.sampled_from(_SPAN_PATTERNS),
    limit=st.sampled_from([0, 1, 3, 80]),
    already=st.integers(0, 2),
)
def test_match_spans_are_the_spans_finditer_gives(text, source, limit, already):
    """The direct RE2 search gives the code-point spans (and the cut-off) of `finditer`."""
    from smrules.patterns import _add_finditer_spans, add_match_spans
    from smrules.values import compile_pattern

    pattern = compile_pattern(source)
    fast, slow = [(0, 1)] * already, [(0, 1)] * already
    add_match_spans(pattern, text, fast, limit)
    _add_finditer_spans(pattern, text, slow, limit)
    assert fast == slow
