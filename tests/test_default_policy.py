"""The bundled default policy (`policies/`): it loads, every rule is documented and tested, its
YAML tests and the examples pass, and speech protected by NLRA Section 7 is never restricted."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

import smrules
from smrules import testing

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies"
EXAMPLES = ROOT / "examples"
RESTRICTIVE = EXAMPLES / "restrictive"
NOW = dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))

KNOWN_RISKS = {
    "confidentiality",
    "regulatory",
    "privacy",
    "security",
    "reputation",
    "legal",
    "employment",
}
FAMILIES = ("conf", "mnpi", "finra", "ftc", "priv", "sec", "tool", "rep", "legal", "hr", "gov")


@pytest.fixture(scope="module")
def policy():
    return smrules.load(POLICY)


@cache
def _load(path: Path):
    return smrules.load(path)


def _cases(*paths: Path):
    out = []
    for test_path in testing.discover([str(p) for p in paths]):
        test_file = testing.load_test_file(test_path)
        for case in test_file.cases:
            out.append(pytest.param(test_file.policy, case, id=case.id))
    return out


def _run(policy_path: Path, case) -> None:
    result = testing.run_case(_load(policy_path), case)
    assert result.status == "passed", "\n".join(
        [result.error or "", *result.failures]
        + [
            f"  {f.rule} {f.effect}: {f.message}"
            for f in (result.decision.findings if result.decision else ())
        ]
    )


# ------------------------------------------------------------------------- the policy itself


def test_the_policy_is_complete_and_documented(policy):
    rules = policy.rules
    assert len(rules) >= 40
    families = Counter(r.id.split("_", 1)[0] for r in rules)
    assert set(families) == set(FAMILIES), families
    for rule in rules:
        assert rule.title, rule.id
        assert rule.risk in KNOWN_RISKS, rule.id
        assert rule.severity in {"low", "medium", "high", "critical"}, rule.id
        assert rule.ref, rule.id
        assert rule.owner, rule.id
        if rule.severity == "critical":
            assert rule.waivable is False, f"{rule.id} is critical and must not be waivable"
    assert any(r.mode == "audit" for r in rules)


def test_every_rule_fires_in_some_test_case(policy):
    fired = Counter()
    for param in _cases(POLICY / "tests"):
        policy_path, case = param.values
        decision = _load(policy_path).evaluate(case.activity, now=case.now)
        fired.update(f.rule for f in decision.findings)
    assert [r.id for r in policy.rules if not fired[r.id]] == []


def test_every_finding_tells_what_to_do_instead(policy):
    for param in _cases(POLICY / "tests", EXAMPLES / "examples.test.yaml"):
        policy_path, case = param.values
        decision = _load(policy_path).evaluate(case.activity, now=case.now)
        for finding in decision.findings:
            assert finding.message, (case.name, finding.rule)
            assert finding.to_dict()["hint"], (case.name, finding.rule)
        assert decision.to_dict()["errors"] == [], case.name


# ------------------------------------------------------------------------------- YAML tests


@pytest.mark.parametrize(("policy_path", "case"), _cases(POLICY / "tests"))
def test_policy_case(policy_path, case):
    _run(policy_path, case)


@pytest.mark.parametrize(("policy_path", "case"), _cases(EXAMPLES / "examples.test.yaml"))
def test_example_case(policy_path, case):
    _run(policy_path, case)


@pytest.mark.parametrize(("policy_path", "case"), _cases(RESTRICTIVE))
def test_restrictive_variant_case(policy_path, case):
    _run(policy_path, case)


# ------------------------------------------------------------------------------ NLRA Section 7

WORKER = {
    "id": "e-5120",
    "department": "logistics",
    "roles": ["employee"],
    "employment": "employee",
}

SECTION_7 = {
    "unpaid overtime, inviting colleagues to act together": {
        "platform": "facebook",
        "content": {
            "text": "Night shift at Example Corp's Leipzig DC still hasn't been paid the overtime "
            "we were promised. Who else is affected? Let's go to HR together."
        },
    },
    "comparing pay": {
        "platform": "linkedin",
        "content": {
            "text": "I make $52k as a warehouse lead at Example Corp after 4 years. What are you "
            "all paid? Pay transparency helps all of us."
        },
    },
    "safety complaint about the incident site": {
        "platform": "x",
        "content": {
            "text": "We told management twice that the sprinklers in Hall B were a safety problem. "
            "Colleagues, let's raise it together."
        },
    },
    "a critical employer review": {
        "kind": "review",
        "platform": "glassdoor",
        "review_target": {"category": "employer_review", "subject": "Example Corp"},
        "content": {
            "text": "Schedules change with 12 hours notice, overtime is mandatory and management "
            "ignores complaints. Pay is below market."
        },
    },
    "organising with a union": {
        "platform": "x",
        "content": {
            "text": "A few of us at the Example Corp warehouse are talking to the union about a "
            "works council. DM me if you want to join Thursday's meeting."
        },
    },
    "a class action about overtime": {
        "platform": "facebook",
        "content": {
            "text": "I joined the overtime class action against Example Corp. Others on night "
            "shift should look into it too."
        },
    },
    "a former employee on staffing": {
        "actor": {"employment": "former"},
        "content": {
            "text": "Left Example Corp last month. Understaffed for two years, the workload "
            "burned out half the team, and management knew."
        },
    },
    "an anonymous account on bonuses": {
        "platform": "reddit",
        "account": {"type": "pseudonymous", "handle": "tired_picker"},
        "content": {
            "text": "Anyone else at Example Corp get their bonus cut this year? Less pay, same work"
        },
    },
    "hours on a customer project": {
        "content": {
            "text": "Working 60-hour weeks on the Initech rollout with no overtime pay. Who else "
            "on the Initech team is burned out?"
        },
    },
    "an expert post on on-call pay": {
        "use_case": "thought_leadership",
        "content": {
            "text": "Example Corp's engineers deserve better on-call pay. Here is what we proposed "
            "to management together."
        },
    },
    "praising the product team while criticising pay": {
        "platform": "instagram",
        "content": {
            "text": "I love my colleagues on the Example Mesh team but the pay is terrible. Who "
            "else thinks we need a union?"
        },
    },
    "a reply to colleagues about harassment complaints": {
        "kind": "comment",
        "platform": "linkedin",
        "content": {
            "text": "Same here. Harassment complaints at Example Corp go nowhere. Let's write a "
            "petition to the works council.",
            "reply_to": {"author_type": "employee", "text": "HR ignored my complaint for months."},
        },
    },
}


def _activity(overrides: dict) -> dict:
    activity = {
        "kind": "post",
        "platform": "linkedin",
        "audience": "public",
        "actor": dict(WORKER),
        "account": {"type": "personal", "handle": "kai_w"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(activity.get(key), dict):
            activity[key] = {**activity[key], **value}
        else:
            activity[key] = value
    return activity


@pytest.mark.parametrize("overrides", SECTION_7.values(), ids=list(SECTION_7))
def test_section_7_speech_is_never_warned_or_denied(policy, overrides):
    decision = policy.evaluate(_activity(overrides), now=NOW)
    assert decision.decision == "allow"
    # Not even an audit or waived finding may warn or deny protected speech.
    assert [(f.rule, f.effect) for f in decision.findings if f.effect in ("warn", "deny")] == []


def test_section_7_does_not_cover_supervisors(policy):
    activity = _activity(
        {
            "actor": {"supervisor": True},
            "content": {
                "text": "The Leipzig fire: the night shift safety checks were skipped for weeks."
            },
        }
    )
    assert [f.rule for f in policy.evaluate(activity, now=NOW).findings] == ["rep_crisis_lockdown"]


def test_section_7_does_not_unlock_bank_details(policy):
    activity = _activity(
        {
            "content": {
                "text": "Still not paid the overtime we were promised, look at this payslip",
                "attachments": [
                    {
                        "name": "payslip.jpg",
                        "type": "image",
                        "ocr_text": "IBAN DE89 3704 0044 0532 0130 00",
                    }
                ],
            }
        }
    )
    decision = policy.evaluate(activity, now=NOW)
    assert (decision.decision, [f.rule for f in decision.findings]) == ("deny", ["priv_iban"])


# --------------------------------------------------------------------- audit rules and waivers


def test_the_audit_rule_reports_without_deciding(policy):
    activity = {
        "kind": "post",
        "time": "2026-11-15T03:00:00Z",
        "platform": "x",
        "actor": {"id": "e-2001", "roles": ["employee", "social_media_manager"]},
        "account": {"type": "corporate", "handle": "ExampleCorp", "mfa": "hardware"},
        "content": {"text": "Weekend reading: how mesh networks pick their path."},
    }
    decision = policy.evaluate(activity, now=NOW)
    assert decision.decision == "allow"
    assert [(f.rule, f.audit) for f in decision.findings] == [("gov_after_hours_audit", True)]


def test_a_waiver_is_reported_with_its_reason(policy):
    activity = {
        "kind": "post",
        "platform": "x",
        "actor": {"id": "e-2301", "roles": ["employee", "social_media_manager"]},
        "account": {"type": "corporate", "handle": "ExampleRegionalEU", "mfa": "sms"},
        "content": {"text": "Guten Morgen from our team in Berlin!"},
    }
    decision = policy.evaluate(activity, now=NOW)
    assert decision.decision == "allow"
    (finding,) = decision.findings
    assert finding.rule == "sec_sms_mfa"
    waived = finding.to_dict()["waived"]
    assert waived["approved_by"] and waived["reason"]
    assert str(waived["until"]) == "2027-01-31"


def test_bundled_policy_tests_pass_with_full_coverage_from_the_command_line():
    """What CI runs for the bundled policy: every case passes and every rule is fired."""
    from click.testing import CliRunner

    from smrules.cli import main

    result = CliRunner().invoke(main, ["test", str(POLICY), "--coverage", "--min-coverage", "100"])
    assert result.exit_code == 0, result.output
    assert "rule coverage: 100.0%" in result.output
    assert " 0 failed" in result.output
