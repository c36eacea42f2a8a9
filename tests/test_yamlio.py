"""Safe YAML 1.2 and strict JSON loading (SPEC §3, §2.3)."""

from __future__ import annotations

import math
import pickle
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smrules.yamlio import (
    YamlError,
    json_load,
    json_load_with_positions,
    load_data,
    position_of,
    yaml_load,
    yaml_load_with_positions,
)


def load_error(text: str, filename: str = "f.yaml") -> YamlError:
    with pytest.raises(YamlError) as raised:
        yaml_load(text, filename)
    return raised.value


# -- the core schema --------------------------------------------------------------------------


def test_yes_no_on_off_stay_strings():
    assert yaml_load("on: yes\noff: no\ny: Y\nn: NO\n") == {
        "on": "yes",
        "off": "no",
        "y": "Y",
        "n": "NO",
    }


def test_dates_and_instants_stay_strings():
    doc = yaml_load("d: 2026-11-16\nt: 2026-11-16T08:00:00Z\ns: 2026-11-16 08:00:00\n")
    assert doc == {"d": "2026-11-16", "t": "2026-11-16T08:00:00Z", "s": "2026-11-16 08:00:00"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("~", None),
        ("null", None),
        ("", None),
        ("12", 12),
        ("-7", -7),
        ("+3", 3),
        ("007", 7),
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("-.5", -0.5),
        ("1.", 1.0),
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("2026.11", 2026.11),
        ("'12'", "12"),
        ('"true"', "true"),
        ("!!str 12", "12"),
        ("!!float 3", 3.0),
        ("!!int '12'", 12),
        ("! 12", "12"),
        ("<<", "<<"),
        ("=", "="),
    ],
)
def test_scalars(text, value):
    loaded = yaml_load(f"v: {text}\n")["v"]
    assert loaded == value
    assert type(loaded) is type(value)


def test_special_floats():
    doc = yaml_load("a: .inf\nb: -.Inf\nc: .NaN\n")
    assert doc["a"] == math.inf and doc["b"] == -math.inf and math.isnan(doc["c"])


def test_merge_key_is_an_ordinary_key():
    assert yaml_load("base: &b {x: 1}\nother:\n  <<: *b\n") == {
        "base": {"x": 1},
        "other": {"<<": {"x": 1}},
    }


def test_empty_document_is_none():
    assert yaml_load("") is None
    assert yaml_load("# only a comment\n") is None


# -- what is refused --------------------------------------------------------------------------


def test_duplicate_keys_are_rejected_with_their_line():
    error = load_error("a: 1\nb:\n  c: 2\n  c: 3\n")
    assert (error.file, error.line, error.column) == ("f.yaml", 4, 3)
    assert error.message == "duplicate key `c` (first defined on line 3)"
    assert str(error) == "f.yaml:4:3: duplicate key `c` (first defined on line 3)"
    assert error.diagnostic.span.line == 4


@pytest.mark.parametrize("key", ["1", "true", "null", "~", "1.5", "[a]", "{a: 1}"])
def test_non_string_keys_are_rejected(key):
    text = f"{key}: x\n" if not key.startswith(("[", "{")) else f"? {key}\n: x\n"
    assert "mapping keys must be strings" in load_error(text).message


@pytest.mark.parametrize(
    "text",
    [
        "a: !!binary aGVsbG8=\n",
        "a: !!timestamp 2026-11-16\n",
        "a: !!python/object/apply:os.system [ls]\n",
        "a: !!set {x}\n",
        "a: !custom x\n",
        "a: !!int x\n",
        "a: !!bool yes\n",
    ],
)
def test_unsupported_tags_are_rejected(text):
    error = load_error(text)
    assert error.message.startswith("unsupported tag")
    assert error.line == 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: [1, 2\n", "invalid YAML"),
        ("a: 1\n---\nb: 2\n", "expected one YAML document"),
        ("a: *nowhere\n", "unknown alias"),
        ("a: &x [1, *x]\n", "contains it"),
        ("a: 1\n\x07: 2\n", "U+0007"),
        ("a: 1\nb: x\ud800\n", "U+D800"),
    ],
)
def test_invalid_documents(text, fragment):
    error = load_error(text)
    assert fragment in error.message
    assert error.line is not None


def test_billion_laughs_is_rejected_quickly():
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        name, prev = chr(97 + i), chr(96 + i)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    error = load_error("\n".join(levels) + "\n")
    assert time.perf_counter() - started < 1.0
    assert "aliases expand to more than" in error.message


def test_aliases_within_the_budget_are_fresh_copies():
    doc = yaml_load("a: &x {k: [1]}\nb: *x\n")
    assert doc == {"a": {"k": [1]}, "b": {"k": [1]}}
    assert doc["a"] is not doc["b"] and doc["a"]["k"] is not doc["b"]["k"]
    with pytest.raises(YamlError):
        yaml_load("a: &x [1, 2, 3]\nb: [*x, *x]\n", max_alias_nodes=7)


def test_deep_nesting_is_an_error_not_a_crash():
    # Newer PyYAML releases refuse very deep documents in their own parser first; either way
    # it is a located YAML error, never a crash.
    huge = load_error("[" * 50_000 + "]" * 50_000).message
    assert "nested more than" in huge or "exceeded maximum nesting depth" in huge
    assert "nested more than" in load_error("[" * 300 + "]" * 300).message
    assert (
        "nested more than"
        in load_error(
            "a: &a " + "[" * 150 + "]" * 150 + "\n" + "b: " + "[" * 100 + "*a" + "]" * 100 + "\n"
        ).message
    )


def test_yaml_error_pickles():
    error = load_error("a: 1\na: 2\n")
    again = pickle.loads(pickle.dumps(error))
    assert (again.file, again.line, again.column, again.message) == (
        error.file,
        error.line,
        error.column,
        error.message,
    )


# -- positions --------------------------------------------------------------------------------


def test_positions_of_values():
    text = "policy: ..\ncases:\n  - name: x\n    activity:\n      content: {txt: hi}\n  - name: y\n"
    value, positions = yaml_load_with_positions(text, "t.test.yaml")
    assert value["cases"][0]["activity"] == {"content": {"txt": "hi"}}
    assert positions[()] == (1, 1)
    assert positions[("cases",)] == (2, 1)  # a mapping member is located at its key
    assert positions[("cases", 0)] == (3, 5)
    assert positions[("cases", 0, "activity", "content", "txt")] == (5, 17)
    assert positions[("cases", 1, "name")] == (6, 5)
    # a path that is not in the document is located at its nearest ancestor
    assert position_of(positions, ("cases", 0, "activity", "actor", "id")) == (4, 5)
    assert position_of({}, ("x",)) is None


# -- JSON -------------------------------------------------------------------------------------


def test_json_is_strict():
    assert json_load('{"a": [1, 2.5, "\\ud83d\\ude00", null, true]}') == {
        "a": [1, 2.5, "😀", None, True]
    }
    with pytest.raises(YamlError) as raised:
        json_load('{"a": 1,\n "a": 2}', "x.json")
    assert raised.value.message.startswith("duplicate key `a`")
    assert raised.value.line == 2
    for bad in ('{"a": NaN}', '{"a": 1,}', "{'a': 1}", "[" * 100_000):
        with pytest.raises(YamlError):
            json_load(bad, "x.json")


def test_json_positions_and_dispatch():
    value, positions = json_load_with_positions('{\n  "a": {"b": 1}\n}', "x.json")
    assert value == {"a": {"b": 1}}
    assert positions[("a", "b")] == (2, 9)
    assert load_data('{"on": "yes"}', "x.JSON") == {"on": "yes"}
    assert load_data("on: yes\n", "x.yaml") == {"on": "yes"}
    with pytest.raises(YamlError):
        load_data("on: yes\n", "x.json")


# -- the fast JSON reader agrees with the strict one --------------------------------------------

_keys = st.text(alphabet=st.sampled_from(["a", "b", ":", '"', "\\", "é", "\n", " "]), max_size=3)
_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        _keys,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=12,
)


def _strict(text: str):
    import json

    def pairs(items):
        out = dict(items)
        if len(out) != len(items):
            raise ValueError("duplicate")
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except ValueError:
        return "refused"


def _fast(text: str):
    try:
        return json_load(text)
    except YamlError:
        return "refused"


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(value=_json_values, ascii_only=st.booleans(), repeat=st.booleans())
def test_the_fast_json_reader_reads_as_the_strict_one(value, ascii_only, repeat):
    import json

    text = json.dumps(value, ensure_ascii=ascii_only)
    if repeat and text.startswith("{") and text != "{}":
        text = '{"k": [1, ":"], "k": 2, ' + text[1:]  # a repeated key, colons elsewhere
    assert _fast(text) == _strict(text)
    if repeat and text.startswith('{"k"'):
        assert _fast(text) == "refused"


def test_an_escaped_colon_cannot_hide_a_repeated_key():
    text = '{"a": 1, "a": "\\u003a"}'  # the escape adds back the colon the lost key took
    with pytest.raises(YamlError, match="duplicate key"):
        json_load(text)


@pytest.mark.parametrize("number", ["9223372036854775808", "-9223372036854775809", "1" * 30])
def test_integers_beyond_64_bits_stay_exact(number):
    assert json_load(f'{{"n": {number}, "list": [{number}]}}') == {
        "n": int(number),
        "list": [int(number)],
    }
