"""Validating and preparing activities (SPEC §3, §2.8)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smrules.activity import (
    DEFAULT_LIMITS,
    Limits,
    activity_problems,
    effective_time,
    format_path,
    prepare_activity,
)
from smrules.errors import ActivityError

UTC = timezone.utc
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def full_activity() -> dict:
    """An activity like the benchmark's: every derived field given, already normalised."""
    return {
        "id": "act-000001",
        "kind": "post",
        "time": "2025-01-18T17:25:45Z",
        "platform": "linkedin",
        "audience": "public",
        "actor": {
            "id": "emp-00742",
            "department": "sales",
            "roles": ["engineer"],
            "employment": "employee",
            "tenure_days": 896,
            "spokesperson": False,
            "trainings": ["social-media-basics"],
        },
        "content": {
            "text": "Proud of the team #hiring @acme https://github.com/acme/toolkit",
            "hashtags": ["hiring"],
            "mentions": ["acme"],
            "cashtags": [],
            "links": [{"url": "https://github.com/acme/toolkit", "domain": "github.com"}],
            "attachments": [{"name": "img0.png", "type": "image", "classification": "public"}],
        },
        "approval": {
            "status": "approved",
            "approved_at": "2025-01-17T10:00:00+01:00",
            "valid_until": "2025-02-01T00:00:00.250Z",
        },
    }


def problems_of(activity, **kwargs) -> dict[str, str]:
    with pytest.raises(ActivityError) as raised:
        prepare_activity(activity, NOW, **kwargs)
    return {p.path: p.message for p in raised.value.problems}


# -- preparing valid activities ---------------------------------------------------------------


def test_prepared_activity_converts_dates():
    prepared = prepare_activity(full_activity(), NOW)
    assert prepared["time"] == datetime(2025, 1, 18, 17, 25, 45, tzinfo=UTC)
    approval = prepared["approval"]
    assert approval["approved_at"] == datetime(2025, 1, 17, 9, 0, tzinfo=UTC)
    assert approval["approved_at"].utcoffset() == timedelta(hours=1)
    assert approval["valid_until"] == datetime(2025, 2, 1, 0, 0, 0, 250000, tzinfo=UTC)
    assert effective_time(prepared) == prepared["time"]


def test_caller_activity_is_never_modified():
    activity = full_activity()
    del activity["content"]["cashtags"]
    activity["content"]["hashtags"] = ["#Hiring"]
    activity["account"] = {"handle": "@ACME"}
    before = copy.deepcopy(activity)
    prepared = prepare_activity(activity, NOW)
    assert activity == before
    assert prepared is not activity
    assert prepared["content"] is not activity["content"]
    assert prepared["content"]["hashtags"] == ["hiring"]
    assert prepared["content"]["cashtags"] == []
    assert prepared["account"]["handle"] == "acme"


def test_only_what_changes_is_copied():
    activity = full_activity()
    prepared = prepare_activity(activity, NOW)
    assert prepared is not activity
    for key in ("actor", "content"):  # already complete and normalised
        assert prepared[key] is activity[key]
    assert prepared["approval"] is not activity["approval"]  # its dates were converted
    assert activity["approval"]["approved_at"] == "2025-01-17T10:00:00+01:00"


def test_time_is_filled_with_now():
    activity = {"kind": "post", "actor": {"id": "e1"}}
    prepared = prepare_activity(activity, NOW)
    assert prepared["time"] == NOW
    assert "time" not in activity
    assert "content" not in prepared  # nothing is derived without content


def test_time_given_wins_over_now():
    activity = {"kind": "post", "actor": {"id": "e1"}, "time": "2026-01-01T00:00:00-05:00"}
    assert effective_time(prepare_activity(activity, NOW)) == datetime(2026, 1, 1, 5, tzinfo=UTC)


def test_time_defaults_to_the_clock_in_utc():
    before = datetime.now(UTC)
    prepared = prepare_activity({"kind": "post", "actor": {"id": "e1"}}, None)
    assert before <= prepared["time"] <= datetime.now(UTC)
    assert prepared["time"].utcoffset() == timedelta(0)


def test_naive_now_is_read_in_tz():
    berlin = ZoneInfo("Europe/Berlin")
    prepared = prepare_activity(
        {"kind": "post", "actor": {"id": "e1"}}, datetime(2026, 7, 1, 12), tz=berlin
    )
    assert prepared["time"] == datetime(2026, 7, 1, 10, tzinfo=UTC)
    naive_utc = prepare_activity({"kind": "post", "actor": {"id": "e1"}}, datetime(2026, 7, 1, 12))
    assert naive_utc["time"] == datetime(2026, 7, 1, 12, tzinfo=UTC)


def test_derived_fields_are_filled():
    activity = {
        "kind": "post",
        "actor": {"id": "e1"},
        "content": {"text": "Our #Launch with @Partner, $ACME: www.acme.com/new!"},
    }
    content = prepare_activity(activity, NOW)["content"]
    assert content["hashtags"] == ["launch"]
    assert content["mentions"] == ["partner"]
    assert content["cashtags"] == ["ACME"]
    assert content["links"] == [{"url": "www.acme.com/new", "domain": "acme.com"}]


def test_any_mapping_is_accepted_at_the_top():
    activity = MappingProxyType({"kind": "post", "actor": {"id": "e1"}})
    assert prepare_activity(activity, NOW)["kind"] == "post"
    problems = problems_of(MappingProxyType({"kind": "post", "actor": MappingProxyType({})}))
    assert problems == {"actor": "must be an object"}


def test_null_link_domain_and_solicited_by_are_valid():
    activity = {
        "kind": "post",
        "actor": {"id": "e1"},
        "content": {"links": [{"url": "mailto:x@y.z", "domain": None}]},
        "declared": {"solicited_by": None},
    }
    assert prepare_activity(activity, NOW)["content"]["links"][0]["domain"] is None


# -- invalid activities -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [[1, 2], "post", None, 3, ("kind", "post")])
def test_non_object_input(value):
    problems = problems_of(value)
    assert list(problems) == [""]
    assert "must be an object" in problems[""]


def test_missing_required_fields():
    assert problems_of({"actor": {}}) == {"kind": "is required", "actor.id": "is required"}
    assert problems_of({"kind": "post"}) == {"actor": "is required"}


def test_wrong_types():
    problems = problems_of(
        {
            "kind": "post",
            "actor": {"id": 7, "tenure_days": "long", "spokesperson": "yes", "roles": "x"},
            "content": {"text": ["a"], "links": [{"url": 5}], "attachments": {}},
            "declared": {"incentivized": 1},
        }
    )
    assert problems == {
        "actor.id": "must be a string",
        "actor.tenure_days": "must be an integer",
        "actor.spokesperson": "must be a boolean",
        "actor.roles": "must be a list",
        "content.text": "must be a string",
        "content.links[0].url": "must be a string",
        "content.attachments": "must be a list",
        "declared.incentivized": "must be a boolean",
    }


@pytest.mark.parametrize("value", [True, 1.5, -1])
def test_integers(value):
    problems = problems_of({"kind": "post", "actor": {"id": "e", "tenure_days": value}})
    assert list(problems) == ["actor.tenure_days"]


def test_unknown_fields_suggest_the_right_name():
    problems = problems_of(
        {
            "kind": "post",
            "actor": {"id": "e1", "departmnet": "x"},
            "content": {"txt": "hello", "links": [{"url": "u", "host": "h"}]},
            "hashtags": ["x"],
            "extra": 1,
        }
    )
    assert problems == {
        "actor.departmnet": "unknown field `departmnet`; did you mean `department`?",
        "content.txt": "unknown field `txt`; did you mean `text`?",
        "content.links[0].host": "unknown field `host`",
        "hashtags": "unknown field `hashtags`; did you mean `content.hashtags`?",
        "extra": "unknown field `extra`; extra fields belong under `context`",
    }


def test_bad_enumerations():
    problems = problems_of(
        {
            "kind": "Post",
            "actor": {"id": "e1", "employment": "staff"},
            "declared": {"material_connection": ["paid", "gift"], "solicited_by": "boss"},
        }
    )
    assert problems["kind"].startswith("must be one of: post, comment, reply, share, message,")
    assert problems["kind"].endswith("did you mean `post`?")
    assert problems["actor.employment"].startswith("must be one of: employee, contractor")
    assert problems["declared.material_connection[1]"].startswith("must be one of: employee")
    assert problems["declared.solicited_by"] == "must be one of: manager, marketing, agency, null"


def test_wrong_type_for_an_enumeration_reports_the_type_only():
    assert problems_of({"kind": 5, "actor": {"id": "e1"}}) == {"kind": "must be a string"}


@pytest.mark.parametrize(
    "value",
    ["2026-11-16", "2026-11-16T08:00:00", "2026-02-30T08:00:00Z", "tomorrow", "2026-11-16 08:00Z"],
)
def test_bad_date_times(value):
    problems = problems_of(
        {"kind": "post", "actor": {"id": "e1"}, "approval": {"valid_until": value}, "time": value}
    )
    assert set(problems) == {"time", "approval.valid_until"}
    assert problems["time"].startswith("must be a date-time")


def test_all_problems_are_reported_at_once():
    with pytest.raises(ActivityError) as raised:
        prepare_activity({"kind": "blog", "actor": {"id": 1}, "time": "now", "x": 1}, NOW)
    error = raised.value
    assert [p.path for p in error.problems] == ["actor.id", "kind", "time", "x"]
    assert error.message.startswith("invalid activity: actor.id: must be a string; kind: ")
    record = error.with_index(4).to_record()
    assert record["index"] == 4
    assert record["problems"][0] == {"path": "actor.id", "message": "must be a string"}


def test_many_problems_are_capped():
    roles = list(range(500))
    with pytest.raises(ActivityError) as raised:
        prepare_activity({"kind": "post", "actor": {"id": "e", "roles": roles}}, NOW)
    problems = raised.value.problems
    assert len(problems) == 101
    assert problems[-1].message == "and 400 more problems"


# -- limits -----------------------------------------------------------------------------------


def test_default_limits():
    assert DEFAULT_LIMITS == Limits(max_text_bytes=1 << 20, max_depth=32, max_list_items=10_000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_depth = 3  # type: ignore[misc]


def test_text_size_is_counted_in_bytes():
    base = {"kind": "post", "actor": {"id": "e1"}}
    prepare_activity({**base, "content": {"text": "a" * (1 << 20)}}, NOW)  # exactly the limit
    prepare_activity({**base, "content": {"text": "é" * 300_000}}, NOW)  # 600,000 bytes
    problems = problems_of({**base, "content": {"text": "a" * ((1 << 20) + 1)}})
    assert problems == {"content.text": "is 1,048,577 bytes long; the limit is 1,048,576 bytes"}
    problems = problems_of({**base, "content": {"text": "日" * 400_000}})  # 1,200,000 bytes
    assert list(problems) == ["content.text"]


def test_limits_are_checked_inside_context():
    base = {"kind": "post", "actor": {"id": "e1"}}
    nested: dict = {}
    inner = nested
    for _ in range(40):
        inner["a"] = {}
        inner = inner["a"]
    problems = problems_of({**base, "context": {"deep": nested}})
    ((path, message),) = problems.items()
    assert path.startswith("context.deep.a.a.")
    assert message == "is nested more than 32 levels deep"
    problems = problems_of({**base, "context": {"big": list(range(10_001)), "k" * 2_000_000: 1}})
    assert problems["context.big"] == "has 10,001 items; the limit is 10,000"
    assert any(m.startswith("field name is 2,000,000 bytes") for m in problems.values())


def test_custom_limits():
    limits = Limits(max_text_bytes=12, max_depth=3, max_list_items=3)
    activity = {"kind": "post", "actor": {"id": "e1", "roles": ["a", "b", "c", "d"]}}
    assert problems_of(activity, limits=limits) == {"actor.roles": "has 4 items; the limit is 3"}
    activity = {"kind": "post", "actor": {"id": "e1"}, "context": {"a": 1, "b": 2, "c": 3, "d": 4}}
    assert problems_of(activity, limits=limits) == {"context": "has 4 fields; the limit is 3"}
    activity = {"kind": "post", "actor": {"id": "e1"}, "content": {"text": "x" * 13}}
    assert list(problems_of(activity, limits=limits)) == ["content.text"]
    activity = {"kind": "post", "actor": {"id": "e1"}, "content": {"attachments": [{"name": "a"}]}}
    assert problems_of(activity, limits=limits) == {
        "content.attachments[0]": "is nested more than 3 levels deep"
    }
    activity = {"kind": "post", "actor": {"id": "e1", "roles": ["a", "b", "c"]}}
    prepare_activity(activity, NOW, limits=limits)


def test_limits_come_before_the_schema():
    problems = problems_of({"kind": "nope", "actor": {"id": "e1", "roles": list(range(20_000))}})
    assert problems == {"actor.roles": "has 20,000 items; the limit is 10,000"}


# -- the fast check agrees with the full one --------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["post", "image", "2026-11-16T08:00:00Z", "2026-02-30T08:00:00Z"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELD_PATHS = [
    ("kind",),
    ("time",),
    ("audience",),
    ("actor",),
    ("actor", "id"),
    ("actor", "tenure_days"),
    ("actor", "roles"),
    ("content",),
    ("content", "text"),
    ("content", "links"),
    ("content", "attachments"),
    ("content", "attachments", 0, "type"),
    ("approval", "approved_at"),
    ("declared", "solicited_by"),
    ("context",),
    ("job",),
    ("unknown",),
]


@pytest.mark.parametrize("path", FIELD_PATHS)
@pytest.mark.parametrize("value", ["2026-02-30T08:00:00Z", 1.0, True, None, {}])
def test_fast_and_full_checks_agree_on(path, value):
    test_fast_and_full_checks_agree.hypothesis.inner_test(path, value)


@given(st.sampled_from(FIELD_PATHS), JSON_VALUES)
@settings(max_examples=300, deadline=None)
def test_fast_and_full_checks_agree(path, value):
    activity = full_activity()
    target = activity
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[path[-1]] = value
    problems = activity_problems(activity)
    try:
        prepare_activity(activity, NOW)
    except ActivityError as e:
        assert list(e.problems) == problems
    else:
        assert problems == []


def test_format_path():
    assert format_path(("content", "links", 0, "url")) == "content.links[0].url"
    assert format_path(("context", "a b", 1)) == 'context["a b"][1]'
    assert format_path(()) == ""
    assert date(2026, 1, 1)  # keeps the date import honest for type checkers


# -- the fast check reads every string ---------------------------------------------------------


def _every_field(node: dict, defs: dict) -> object:
    """A valid value for a schema node with every optional field present."""
    if "$ref" in node:
        return _every_field(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in node:
        return node["enum"][0]
    kinds = node.get("type", "object")
    kind = next(k for k in ([kinds] if isinstance(kinds, str) else kinds) if k != "null")
    if kind == "string":
        return {"date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01"}.get(
            node.get("format"), "text"
        )
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return [_every_field(node.get("items", {}), defs)]
    properties = node.get("properties", {})
    if not properties:  # `context`: free-form
        return {"free": "form"}
    return {key: _every_field(sub, defs) for key, sub in properties.items()}


def _places(value: object, path: tuple = ()):
    """(path, kind) of every string and field name in `value`."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key), "key"
            yield from _places(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _places(child, (*path, i))
    elif isinstance(value, str):
        yield path, "string"


def _with_surrogate(value: object, path: tuple, kind: str) -> object:
    value = copy.deepcopy(value)
    parent = value
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if kind == "key":
        parent["\ud800" + last] = parent.pop(last)
    else:
        parent[last] = parent[last] + "\udc00"
    return value


def test_a_lone_surrogate_anywhere_is_refused():
    """The fast check must read every string and field name: a lone surrogate it let through
    would reach RE2 and the output. Each place of an activity with every field is tried."""
    from smrules.schemas import load_schema

    schema = load_schema("activity")
    activity = _every_field(schema, schema["$defs"])
    assert activity_problems(activity) == []
    places = list(_places(activity))
    assert len(places) > 60
    for path, kind in places:
        bad = _with_surrogate(activity, path, kind)
        with pytest.raises(ActivityError) as raised:
            prepare_activity(bad, NOW)
        paths = [p.path for p in raised.value.problems]
        assert paths, (path, kind)


def test_the_fast_check_accepts_an_activity_with_every_field():
    """Valid activities take the fast path, whatever their fields are called (`job.title`)."""
    from smrules.activity import _fast_validator
    from smrules.schemas import load_schema

    schema = load_schema("activity")
    activity = _every_field(schema, schema["$defs"])
    assert activity["job"]["title"] == "text"
    assert _fast_validator(DEFAULT_LIMITS).is_valid(activity)
