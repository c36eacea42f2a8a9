"""Reading activity files and standard input: values, containers, positions and bad input."""

from __future__ import annotations

import io
import json
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smrules import inputs
from smrules.errors import ActivityError, Problem
from smrules.inputs import ActivityInput, InputError, json_positions, parse_path, read_inputs


def read(*names: str, stdin: bytes | None = None) -> list[ActivityInput | InputError]:
    return list(read_inputs(names, stdin=io.BytesIO(stdin) if stdin is not None else None))


def write(tmp_path, name: str, data: str | bytes):
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------- documents


def test_yaml_document_is_one_activity(tmp_path):
    name = write(tmp_path, "a.yaml", "# comment\nkind: post\nactor: {id: e1}\n")
    [item] = read(name)
    assert isinstance(item, ActivityInput)
    assert item.value == {"kind": "post", "actor": {"id": "e1"}}
    assert (item.file, item.line, item.column, item.container) == (name, 2, 1, "document")


def test_yaml_core_schema_keeps_yes_and_dates_as_strings(tmp_path):
    name = write(tmp_path, "a.yml", "kind: post\nactor: {id: yes}\ntime: 2026-11-16\n")
    [item] = read(name)
    assert item.value["actor"]["id"] == "yes"
    assert item.value["time"] == "2026-11-16"


def test_yaml_list_gives_one_activity_per_item_with_its_line(tmp_path):
    name = write(tmp_path, "l.yaml", "- kind: post\n  actor: {id: a}\n\n- kind: share\n")
    items = read(name)
    assert [(i.line, i.column, i.container, i.path) for i in items] == [
        (1, 3, "list", (0,)),
        (4, 3, "list", (1,)),
    ]
    assert items[1].value == {"kind": "share"}


def test_json_document_and_list(tmp_path):
    one = write(tmp_path, "one.json", '{"kind": "post"}')
    many = write(tmp_path, "many.json", '[\n  {"kind": "post"},\n  {"kind": "share"}\n]')
    [item] = read(one)
    assert item.value == {"kind": "post"} and item.container == "document"
    items = read(many)
    assert [(i.value["kind"], i.line, i.column) for i in items] == [("post", 2, 3), ("share", 3, 3)]


def test_unknown_suffix_reads_json_or_yaml(tmp_path):
    as_json = write(tmp_path, "a.txt", '{"kind": "post"}')
    flow_yaml = write(tmp_path, "b.txt", "{kind: post}")
    block_yaml = write(tmp_path, "c", "kind: post\n")
    assert [i.value for i in read(as_json, flow_yaml, block_yaml)] == [{"kind": "post"}] * 3


def test_byte_order_mark_is_ignored(tmp_path):
    name = write(tmp_path, "bom.json", b'\xef\xbb\xbf{"kind": "post"}')
    [item] = read(name)
    assert item.value == {"kind": "post"}


def test_scalar_document_is_passed_on_for_validation_to_reject(tmp_path):
    [item] = read(write(tmp_path, "s.yaml", "42\n"))
    assert isinstance(item, ActivityInput) and item.value == 42


# ---------------------------------------------------------------------------- bad documents


@pytest.mark.parametrize(
    "name, data, code, where",
    [
        ("broken.yaml", "kind: post\nactor: [a\n", "yaml", None),
        ("broken.json", '{"kind": "post",\n "x": }', "json", (2, 7)),
        ("dup.yaml", "kind: post\nkind: share\n", "yaml", (2, 1)),
        ("dup.json", '{"a": 1, "a": 2}', "json", (1, 10)),
        ("nan.json", '{"a": NaN}', "json", None),
        ("tag.yaml", "kind: !!python/object:os.system x\n", "yaml", (1, 7)),
        ("two.yaml", "kind: post\n---\nkind: share\n", "yaml", (2, 1)),
        ("bin.yaml", b"kind: post\nab\x00cd", "binary-file", (2, 3)),
        ("latin.yaml", b"kind: caf\xe9\n", "bad-encoding", (1, 10)),
        ("empty.yaml", "", "empty-input", None),
        ("blank.json", "  \n\n", "empty-input", None),
    ],
)
def test_bad_documents_are_input_errors(tmp_path, name, data, code, where):
    path = write(tmp_path, name, data)
    [item] = read(path)
    assert isinstance(item, InputError)
    assert item.diagnostic.code == code
    if where is not None:
        span = item.diagnostic.span
        assert (span.file, span.line, span.column) == (path, *where)


def test_missing_file_and_directory(tmp_path):
    missing, directory = read(str(tmp_path / "nope.yaml"), str(tmp_path))
    assert missing.diagnostic.code == "unreadable-file"
    assert "No such file or directory" in missing.message
    assert directory.diagnostic.code == "unreadable-file"
    assert "is a directory" in directory.message


def test_oversized_document(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_DOCUMENT_BYTES", 10)
    [item] = read(write(tmp_path, "big.yaml", "kind: post\nactor: {id: a}\n"))
    assert item.diagnostic.code == "file-too-large"
    assert ".jsonl" in item.diagnostic.help


def test_broken_yaml_error_shows_its_line(tmp_path):
    [item] = read(write(tmp_path, "b.yaml", "kind: post\nactor: {id: a]\nx: 1\n"))
    span = item.diagnostic.span
    assert (span.line, span.column) == (2, 14)
    assert item.line_text == "actor: {id: a]"


# ---------------------------------------------------------------------------- streams


def test_jsonl_one_activity_per_line_skipping_blank_lines(tmp_path):
    name = write(tmp_path, "s.jsonl", '{"id": "a"}\n\n   \n  {"id": "b"}\r\n{"id": "c"}')
    items = read(name)
    assert [(i.value["id"], i.line, i.column, i.container) for i in items] == [
        ("a", 1, 1, "stream"),
        ("b", 4, 3, "stream"),
        ("c", 5, 1, "stream"),
    ]


def test_jsonl_broken_line_is_an_error_and_reading_goes_on(tmp_path):
    name = write(tmp_path, "s.ndjson", '{"id": "a"}\n{"id": \n[1, 2]\n{"id": "d"}\n')
    a, broken, listed, d = read(name)
    assert isinstance(broken, InputError) and broken.container == "stream"
    assert (broken.diagnostic.span.line, broken.diagnostic.span.column) == (2, 8)
    assert broken.line_text == '{"id": '
    assert listed.value == [1, 2]  # not an object: validation rejects it in its place
    assert d.value == {"id": "d"}


def test_jsonl_is_read_lazily(tmp_path):
    name = write(tmp_path, "s.jsonl", '{"id": "a"}\n{"id": "b"}\n')
    reader = read_inputs([name])
    first = next(reader)
    assert first.value == {"id": "a"}
    reader.close()  # stopping early closes the file


def test_jsonl_binary_file_is_one_error(tmp_path):
    name = write(tmp_path, "s.jsonl", b"\x00\x01\x02\n\x00\x00\n\x00\n")
    items = read(name)
    assert len(items) == 1 and items[0].diagnostic.code == "binary-file"


def test_jsonl_bad_encoding_on_one_line(tmp_path):
    name = write(tmp_path, "s.jsonl", b'{"id": "a"}\n{"id": "caf\xe9"}\n{"id": "c"}\n')
    a, bad, c = read(name)
    assert bad.diagnostic.code == "bad-encoding"
    assert (bad.diagnostic.span.line, bad.diagnostic.span.column) == (2, 12)
    assert c.value == {"id": "c"}


def test_jsonl_overlong_line_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_LINE_BYTES", 40)
    long = json.dumps({"id": "x" * 100})
    name = write(tmp_path, "s.jsonl", f'{{"id": "a"}}\n{long}\n{{"id": "c"}}\n')
    a, too_long, c = read(name)
    assert too_long.diagnostic.code == "file-too-large"
    assert too_long.diagnostic.span.line == 2
    assert (a.value["id"], c.value["id"], c.line) == ("a", "c", 3)


def _summary(item):
    if isinstance(item, InputError):
        span = item.diagnostic.span
        where = (span.line, span.column) if span else None
        return ("error", item.diagnostic.code, item.diagnostic.message, where, item.line_text)
    source = item.source.text if item.source else None
    return ("activity", item.value, item.line, item.column, item.container, source)


def test_jsonl_lines_read_later_read_as_lines_read_at_once(tmp_path):
    """Lines of a block parsed by whoever checks them, from their bytes, give the same
    activities, errors and positions as reading each line at once."""
    lines = [
        b'{"id": "first"}',
        b"   ",
        "\u3000\u2028".encode(),  # white space to Python, not to bytes.strip: an error
        b"\x1c",
        b'  \t{"id": "indented"}\r',
        b'\xef\xbb\xbf{"id": "bom"}',
        b'{"id": "nul\x00"}',
        b'{"id": "caf\xe9"}',
        b'{"id": "a", "id": "b"}',
        b'{"a\\u003a": 1, "a": 2, "a": 3}',
        b'{"n": 123456789012345678901234567890}',
        b'{"text": "caf\xc3\xa9 \xf0\x9f\x98\x80", "x": NaN}',
        b'{"text": "caf\xc3\xa9 \xf0\x9f\x98\x80"}',
        b'{"s": "\\ud800"}',
        b'{"id": 1} trailing',
        b"[1, 2]",
        b'"just a string"',
    ]
    name = write(tmp_path, "edge.jsonl", b"\n".join(lines) + b"\n")
    at_once = [_summary(i) for i in read_inputs([name])]
    assert _read_blocks(name) == at_once
    assert len(at_once) == len(lines) - 1  # the blank line


def _read_blocks(name: str) -> list:
    out = []
    for item in read_inputs([name], blocks=True):
        items = item.items() if isinstance(item, inputs.LineBlock) else [item]
        out += [_summary(i.parse() if isinstance(i, inputs.LineInput) else i) for i in items]
    return out


@pytest.mark.parametrize("block", [7, 40, 1000])
def test_jsonl_blocks_give_what_reading_line_by_line_gives(tmp_path, monkeypatch, block):
    """Blocks of whole lines (for worker processes) split and read as the lines of the file:
    blank lines, broken ones, overlong ones across blocks, a last line without its end."""
    monkeypatch.setattr(inputs, "MAX_LINE_BYTES", 30)
    monkeypatch.setattr(inputs, "BLOCK_BYTES", block)
    lines = [
        b'{"id": "first"}',
        b"",
        b'{"id": "' + b"x" * 60 + b'"}',
        b'{"id": "b"}\r',
        b"   ",
        b'{"id": "\x00"}',
        b'{"id": "caf\xe9"}',
        b'{"id": "' + b"y" * 28 + b'"}',
        b'{"id": "' + b"z" * 200 + b'"}',
        b"[1]",
        b'{"id": "last"}',
    ]
    for end in (b"", b"\n"):
        name = write(tmp_path, "b.jsonl", b"\n".join(lines) + end)
        expected = [_summary(i) for i in read_inputs([name])]
        assert _read_blocks(name) == expected
        assert [s[2] for s in expected if s[0] == "activity"] == [1, 4, 10, 11]


def test_jsonl_blocks_stop_at_a_binary_first_line(tmp_path):
    name = write(tmp_path, "bin.jsonl", b"\x00\x01\n" + b'{"id": "a"}\n' * 3)
    assert _read_blocks(name) == [_summary(i) for i in read_inputs([name])]
    assert len(_read_blocks(name)) == 1


# ---------------------------------------------------------------------------- stdin


def test_stdin_two_json_objects_is_a_stream():
    items = read("-", stdin=b'{"id": "a"}\n\n{"id": "b"}\n{"id": "c"}\n')
    assert [(i.value["id"], i.line, i.file, i.container) for i in items] == [
        ("a", 1, "<stdin>", "stream"),
        ("b", 3, "<stdin>", "stream"),
        ("c", 4, "<stdin>", "stream"),
    ]


def test_stdin_one_json_line_is_a_document():
    [item] = read("-", stdin=b'{"id": "a"}\n')
    assert item.container == "document"


def test_stdin_pretty_json_and_yaml_are_documents():
    [pretty] = read("-", stdin=b'{\n  "id": "a"\n}\n')
    assert pretty.value == {"id": "a"} and pretty.container == "document"
    items = read("-", stdin=b"- id: a\n- id: b\n")
    assert [i.value["id"] for i in items] == ["a", "b"]
    [flow] = read("-", stdin=b"{id: a}\n{id: b}\n")  # not JSON: one YAML document, broken
    assert isinstance(flow, InputError)


def test_stdin_empty():
    [item] = read("-", stdin=b"")
    assert item.diagnostic.code == "empty-input"


# ---------------------------------------------------------------------------- locating problems


def test_problems_are_located_at_their_field_or_nearest_parent(tmp_path):
    name = write(
        tmp_path,
        "a.yaml",
        "kind: post\nactor:\n  name: Sam\ncontent:\n  links:\n    - url: 5\n",
    )
    [item] = read(name)
    error = ActivityError(
        [
            Problem("content.links[0].url", "must be a string"),
            Problem("actor.id", "is required"),
            Problem("", "whole activity"),
            Problem("nowhere.deep[3]", "missing"),
        ]
    )
    located = item.problems(error)
    spans = [(d.span.line, d.span.column) for d, _ in located]
    assert spans == [(6, 7), (2, 1), (1, 1), (1, 1)]
    assert [d.message for d, _ in located][:3] == [
        "content.links[0].url: must be a string",
        "actor.id: is required",
        "whole activity",
    ]
    assert located[0][1] == "    - url: 5"
    assert all(d.code == "invalid-activity" for d, _ in located)


def test_problem_in_a_list_item_of_a_json_file(tmp_path):
    name = write(tmp_path, "l.json", '[{"kind": "post"},\n {"kind": "post", "actor": {"id": 3}}]')
    _, second = read(name)
    [(diag, line)] = second.problems(ActivityError([Problem("actor.id", "must be a string")]))
    assert (diag.span.line, diag.span.column) == (2, 29)
    assert line == ' {"kind": "post", "actor": {"id": 3}}]'


def test_problem_in_a_stream_line(tmp_path):
    name = write(tmp_path, "s.jsonl", '{"kind": "post"}\n{"context": {"a b": {"x": 1}}}\n')
    _, second = read(name)
    [(diag, line)] = second.problems(ActivityError([Problem('context["a b"].x', "bad")]))
    assert (diag.span.line, diag.span.column) == (2, 22)
    assert line == '{"context": {"a b": {"x": 1}}}'


@pytest.mark.parametrize(
    "path, parts",
    [
        ("", ()),
        ("kind", ("kind",)),
        ("content.links[0].url", ("content", "links", 0, "url")),
        ('context["a.b"][2]', ("context", "a.b", 2)),
        ('context["q\\"x"]', ("context", 'q"x')),
        ("a..b", ("a",)),  # unreadable after that: the readable prefix
    ],
)
def test_parse_path(path, parts):
    assert parse_path(path) == parts


# ---------------------------------------------------------------------------- JSON positions

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(string.printable, max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


@settings(max_examples=150, deadline=None)
@given(json_values, st.sampled_from([None, 2, 0]))
def test_json_positions_point_at_each_member_name_or_item(value, indent):
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    positions = json_positions(text)
    for path in _paths(value):
        assert path in positions
        at = _offset(text, *positions[path])
        if path and isinstance(path[-1], str):
            assert text.startswith(json.dumps(path[-1], ensure_ascii=False), at)
        else:
            target = value
            for part in path:
                target = target[part]
            decoded, _ = json.JSONDecoder().raw_decode(text, at)
            assert decoded == target


def test_json_positions_of_deep_nesting_do_not_recurse():
    depth = 5000
    text = "[" * depth + "]" * depth
    positions = json_positions(text)
    assert positions[(0,) * (depth - 1)] == (1, depth)
