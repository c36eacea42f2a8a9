"""The complete example policy of SPEC §2.1 and the test cases of SPEC §6."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import smrules

POLICY = Path(__file__).parent / "fixtures" / "spec_example"
NOW = dt.datetime.fromisoformat("2026-11-16T09:00:00+01:00")
EMPLOYEE = {"id": "e1", "department": "marketing", "roles": ["employee"], "tenure_days": 400}


def activity(**fields):
    base = {
        "kind": "post",
        "platform": "linkedin",
        "actor": dict(EMPLOYEE),
        "account": {"type": "personal"},
    }
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


@pytest.fixture(scope="module")
def policy():
    return smrules.load(POLICY)


def test_header(policy):
    assert policy.name == "acme_social_media"
    assert policy.version == "2026.11"
    assert policy.settings.timezone == "Europe/Berlin"
    assert [r.id for r in policy.rules] == [
        "no_mnpi",
        "disclose_affiliation",
        "no_return_promises",
        "no_link_shorteners",
        "no_unapproved_tools",
    ]


def test_earnings_figures_are_denied(policy):
    d = policy.evaluate(activity(content={"text": "Our Q3 revenue beat expectations!"}), now=NOW)
    assert d.decision == "deny"
    assert d.counted_rules == ("no_mnpi",)
    finding = d.to_dict()["findings"][0]
    assert finding["source"] == {"file": "baseline.smr", "line": 19, "column": 1}
    assert finding["evidence"] == [
        {"path": "content.text", "start": 4, "end": 14, "text": "Q3 revenue"}
    ]
    assert finding["ref"] == "SEC Regulation FD"
    assert finding["tags"] == ["finance", "regulatory"]


def test_investor_relations_may_post_results(policy):
    act = activity(
        actor={"department": "investor_relations"},
        content={"text": "Our Q3 revenue release is out."},
    )
    assert policy.evaluate(act, now=NOW).decision == "allow"


def test_affiliation_hint(policy):
    d = policy.evaluate(activity(content={"text": "Try ACME Cloud today"}), now=NOW)
    assert d.decision == "warn"
    assert d.counted_rules == ("disclose_affiliation",)
    assert "work for ACME" in d.findings[0].message
    tagged = activity(content={"text": "Try ACME Cloud today #Employee"})
    assert policy.evaluate(tagged, now=NOW).decision == "allow"


def test_finra_near(policy):
    act = activity(
        actor={"registered_person": True},
        content={"text": "We guarantee strong returns for clients"},
    )
    d = policy.evaluate(act, now=NOW)
    assert d.counted_rules == ("no_return_promises",)


def test_shortened_links(policy):
    d = policy.evaluate(activity(content={"text": "see https://bit.ly/abc now"}), now=NOW)
    assert d.decision == "warn"
    assert d.counted_rules == ("no_link_shorteners",)


def test_unapproved_tool_message_interpolates(policy):
    act = {"kind": "tool_request", "actor": {"id": "e1"}, "tool": {"name": "Zapier"}}
    d = policy.evaluate(act, now=NOW)
    assert d.decision == "deny"
    assert d.findings[0].message == "Zapier is not an approved social media tool."
    assert d.findings[0].hint == "Ask IT to review it: https://it.example.com/tool-review"
    ok = {**act, "tool": {"name": "Buffer"}}
    assert policy.evaluate(ok, now=NOW).decision == "allow"


def test_decision_json_shape(policy):
    d = policy.evaluate(
        {**activity(content={"text": "Our Q3 revenue!"}), "id": "draft-42"}, now=NOW
    ).to_dict()
    assert list(d) == ["decision", "activity_id", "time", "policy", "findings", "errors"]
    assert d["activity_id"] == "draft-42"
    assert d["time"] == "2026-11-16T08:00:00Z"
    assert d["policy"]["digest"].startswith("sha256:")
    assert list(d["findings"][0]) == [
        "rule",
        "effect",
        "audit",
        "waived",
        "message",
        "hint",
        "title",
        "risk",
        "severity",
        "ref",
        "tags",
        "source",
        "evidence",
    ]
