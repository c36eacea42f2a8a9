"""The shipped JSON schemas (SPEC §3, §4, §6) and their date formats (§2.8)."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone

import jsonschema
import pytest

from smrules.schemas import (
    SCHEMA_NAMES,
    load_schema,
    parse_date,
    parse_date_time,
    schema_path,
    schema_text,
    validator,
)
from smrules.yamlio import yaml_load

SPEC_DECISION = json.loads(
    """
{
  "decision": "deny",
  "activity_id": "draft-42",
  "time": "2026-11-16T08:00:00Z",
  "policy": {"name": "acme_social_media", "version": "2026.11", "digest": "sha256:..."},
  "findings": [
    {"rule": "no_mnpi", "effect": "deny", "audit": false, "waived": null,
     "message": "Financial results may only be published by Investor Relations.",
     "hint": "Share the official release link once it is public, or ask Investor Relations.",
     "title": "No material non-public financial information", "risk": "confidentiality",
     "severity": "critical", "ref": "SEC Regulation FD", "tags": ["finance", "regulatory"],
     "source": {"file": "baseline.smr", "line": 19, "column": 1},
     "evidence": [{"path": "content.text", "start": 4, "end": 14, "text": "Q3 revenue"}]}
  ],
  "errors": []
}
"""
)

DEFAULT_FINDING = {
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

SPEC_TEST_FILE = """
policy: ..                 # the policy under test, relative to this file
now: 2026-11-16T09:00:00+01:00   # effective time of activities without `time`
defaults:                  # deep-merged under every case's activity
  kind: post
  platform: linkedin
  actor: {id: e1, department: marketing, roles: [employee], tenure_days: 400}
  account: {type: personal}
cases:
  - name: earnings figures are denied
    activity:
      content: {text: "Our Q3 revenue beat expectations!"}
    expect:
      decision: deny
      rules: [no_mnpi]             # exactly these rules fired
  - name: investor relations may post results
    activity:
      actor: {department: investor_relations}
      content: {text: "Our Q3 revenue release is out."}
    expect: {decision: allow}
  - name: affiliation hint
    activity_file: ../examples/product-post.yaml   # instead of `activity`
    expect:
      decision: warn
      includes: [disclose_affiliation]             # at least these fired
      excludes: [no_mnpi]                          # none of these fired
      messages: ["work for ACME"]                  # each is a substring of some finding's message
"""


def errors(name: str, instance: object) -> list[str]:
    return [e.message for e in validator(name).iter_errors(instance)]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schemas_are_valid_2020_12_schemas(name):
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert json.loads(schema_text(name)) == schema
    assert schema_path(name).name == f"{name}.schema.json"


def test_schemas_are_loaded_once():
    assert load_schema("activity") is load_schema("activity")
    assert validator("decision") is validator("decision")


def test_unknown_schema_name():
    with pytest.raises(ValueError, match="unknown schema"):
        schema_path("nope")


# -- activity schema --------------------------------------------------------------------------


def _objects(node, path="#"):
    """Every object schema in the activity schema, with where it is."""
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{path}/{i}")


def test_every_activity_object_is_closed_except_context():
    schema = load_schema("activity")
    seen = []
    for path, node in _objects(schema):
        if path == "#/properties/context":
            assert node.get("additionalProperties", True) is True
            continue
        assert node.get("additionalProperties") is False, path
        assert node.get("title") or path == "#", path
        for field, sub in node["properties"].items():
            assert "description" in sub or "$ref" in sub, f"{path}/{field}"
        seen.append(path)
    assert len(seen) >= 15


def test_activity_required_fields():
    schema = load_schema("activity")
    assert schema["required"] == ["kind", "actor"]
    assert schema["$defs"]["actor"]["required"] == ["id"]
    assert errors("activity", {"kind": "post", "actor": {"id": "e1"}}) == []
    assert errors("activity", {"kind": "post", "actor": {}})
    assert errors("activity", {"actor": {"id": "e1"}})


def test_activity_enumerations_follow_the_spec():
    schema = load_schema("activity")
    props, defs = schema["properties"], schema["$defs"]
    assert props["kind"]["enum"] == [
        "post",
        "comment",
        "reply",
        "share",
        "message",
        "livestream",
        "review",
        "job_ad",
        "profile_update",
        "tool_request",
        "account_connection",
    ]
    assert "enum" not in props["platform"]
    assert props["audience"]["enum"] == [
        "public",
        "followers",
        "connections",
        "group",
        "internal",
        "private",
    ]
    assert len(props["use_case"]["enum"]) == 9
    assert defs["account"]["properties"]["type"]["enum"] == [
        "corporate",
        "personal",
        "brand",
        "executive",
        "employee_advocacy",
        "pseudonymous",
    ]
    assert defs["attachment"]["properties"]["source"]["enum"][-1] == "ugc"
    assert defs["declared"]["properties"]["solicited_by"]["enum"] == [
        "manager",
        "marketing",
        "agency",
        None,
    ]
    devices = defs["tool"]["properties"]["devices"]["items"]["enum"]
    assert devices == ["corporate_managed", "personal_byod"]
    assert defs["review_target"]["properties"]["category"]["enum"][0] == "product_review"


def test_activity_date_time_fields():
    schema = load_schema("activity")
    approval = schema["$defs"]["approval"]["properties"]
    for node in (schema["properties"]["time"], approval["valid_until"], approval["approved_at"]):
        assert node["format"] == "date-time"
    base = {"kind": "post", "actor": {"id": "e1"}}
    assert errors("activity", {**base, "time": "2026-11-16T08:00:00Z"}) == []
    assert errors("activity", {**base, "time": "2026-11-16"})
    assert errors("activity", {**base, "approval": {"approved_at": "2026-02-30T08:00:00Z"}})


def test_activity_context_is_free_form():
    activity = {"kind": "post", "actor": {"id": "e1"}, "context": {"any": {"thing": [1, None]}}}
    assert errors("activity", activity) == []


def test_activity_field_types():
    base = {"kind": "post", "actor": {"id": "e1"}}
    ok = {
        **base,
        "actor": {"id": "e1", "tenure_days": 3, "supervisor": True, "roles": ["a"]},
        "content": {"static": False, "links": [{"url": "x", "domain": None}]},
        "job": {"title": "t", "targeting": {"age_min": 18, "genders": ["f"]}},
        "declared": {"material_connection": ["paid"], "solicited_by": None},
        "tool": {"dpa_signed": True, "devices": ["personal_byod"], "data_residency": ["eu"]},
    }
    assert errors("activity", ok) == []
    assert errors("activity", {**base, "actor": {"id": "e1", "tenure_days": True}})
    assert errors("activity", {**base, "actor": {"id": "e1", "spokesperson": "yes"}})
    assert errors("activity", {**base, "content": {"links": [{"domain": "x.com"}]}})


# -- decision schema --------------------------------------------------------------------------


def test_spec_example_decision_validates():
    assert errors("decision", SPEC_DECISION) == []
    assert errors("decision", {**SPEC_DECISION, "decision_id": "d-1"}) == []


def test_default_and_waived_findings_validate():
    waived = {
        **SPEC_DECISION["findings"][0],
        "waived": {"until": "2026-12-31", "reason": "launch", "approved_by": "cfo"},
    }
    decision = {
        **SPEC_DECISION,
        "activity_id": None,
        "policy": {**SPEC_DECISION["policy"], "version": None},
        "findings": [DEFAULT_FINDING, waived],
        "errors": [{"rule": "r", "message": "type error", "file": "a.smr", "line": 3, "column": 9}],
    }
    assert errors("decision", decision) == []


@pytest.mark.parametrize("key", list(DEFAULT_FINDING))
def test_every_finding_key_is_required(key):
    finding = {k: v for k, v in DEFAULT_FINDING.items() if k != key}
    assert errors("decision", {**SPEC_DECISION, "findings": [finding]})


@pytest.mark.parametrize(
    "change",
    [
        {"decision": "maybe"},
        {"extra": 1},
        {"findings": [{**DEFAULT_FINDING, "effect": "block"}]},
        {"findings": [{**DEFAULT_FINDING, "waived": {"until": "2026-12-31"}}]},
        {"findings": [{**DEFAULT_FINDING, "source": {"file": "a.smr", "line": 0, "column": 1}}]},
        {"findings": [{**DEFAULT_FINDING, "evidence": [{"path": None, "start": None}]}]},
        {"errors": [{"rule": "r", "message": "m"}]},
        {"policy": {"name": "p", "version": None, "digest": "md5:00"}},
    ],
)
def test_invalid_decisions_are_rejected(change):
    assert errors("decision", {**copy.deepcopy(SPEC_DECISION), **change})


# -- policy-test schema -----------------------------------------------------------------------


def test_spec_example_test_file_validates():
    doc = yaml_load(SPEC_TEST_FILE, "x.test.yaml")
    assert doc["now"] == "2026-11-16T09:00:00+01:00"  # YAML makes no timestamps
    assert errors("policy-test", doc) == []


@pytest.mark.parametrize(
    "case",
    [
        {"name": "both", "activity": {}, "activity_file": "a.yaml", "expect": {"decision": "deny"}},
        {"name": "neither", "expect": {"decision": "deny"}},
        {"name": "bad key", "activity": {}, "expect": {"decision": "deny", "rule": ["x"]}},
        {"name": "bad decision", "activity": {}, "expect": {"decision": "block"}},
        {"name": "bad now", "activity": {}, "now": "tomorrow", "expect": {"decision": "deny"}},
        {"name": "extra", "activity": {}, "skip": True, "expect": {"decision": "deny"}},
        {"activity": {}, "expect": {"decision": "deny"}},
    ],
)
def test_invalid_test_cases_are_rejected(case):
    assert errors("policy-test", {"cases": [case]})


def test_test_file_top_level_is_closed():
    case = {"name": "n", "activity": {"anything": {"goes": 1}}, "expect": {"rules": []}}
    assert errors("policy-test", {"cases": [case]}) == []
    assert errors("policy-test", {"cases": [case], "nw": "2026-11-16T09:00:00Z"})
    assert errors("policy-test", {"cases": [case], "now": "2026-11-16"})


# -- formats ----------------------------------------------------------------------------------

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-16T08:00:00Z", datetime(2026, 11, 16, 8, tzinfo=UTC)),
        ("2026-11-16t08:00:00z", datetime(2026, 11, 16, 8, tzinfo=UTC)),
        ("2026-11-16T08:00Z", datetime(2026, 11, 16, 8, tzinfo=UTC)),
        ("2026-11-16T08:00:00+00:00", datetime(2026, 11, 16, 8, tzinfo=UTC)),
        (
            "2026-11-16T08:00:00.5+01:00",
            datetime(2026, 11, 16, 8, 0, 0, 500000, tzinfo=timezone(timedelta(hours=1))),
        ),
        (
            "2026-11-16T08:00:00.123456789-05:30",
            datetime(2026, 11, 16, 8, 0, 0, 123456, tzinfo=timezone(-timedelta(hours=5.5))),
        ),
    ],
)
def test_parse_date_time(text, expected):
    parsed = parse_date_time(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-16T08:00:00",  # no offset
        "2026-11-16",
        "2026-02-30T08:00:00Z",
        "2026-11-16T24:00:00Z",
        "2026-11-16T08:00:60Z",
        "2026-11-16T08:00:00+24:00",
        "2026-11-16 08:00:00Z",
        "２０２６-11-16T08:00:00Z",
        "2026-11-16T08:00:00Z\n",
        "",
        None,
        20261116,
    ],
)
def test_parse_date_time_rejects(text):
    assert parse_date_time(text) is None


def test_parse_date():
    assert parse_date("2026-12-15") == date(2026, 12, 15)
    for bad in ("2026-13-01", "2026-02-29", "2026-1-1", "2026-12-15T00:00Z", None):
        assert parse_date(bad) is None
