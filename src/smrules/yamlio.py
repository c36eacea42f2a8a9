"""Safe loading of YAML and JSON documents (activities, data files, tests, waivers).

YAML is read with the YAML 1.2 core schema (SPEC §3): `yes`, `no`, `on` and `off` stay strings,
no timestamps are made (dates stay strings: the policy loader converts them, §2.8), only the
standard tags are accepted, and `<<` is an ordinary key. Mapping keys must be strings and unique.
Aliases are expanded into fresh copies, within a node budget, so a "billion laughs" document is
rejected before it is built. Every error is a `YamlError` with file, line and column.

The document is built from PyYAML's parser events (libyaml's when available) rather than its
composer: that gives the checks above, no recursion on deep nesting, and the line and column of
every value (`yaml_load_with_positions`), so later checks can point into the file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml
from yaml import events as ev

from smrules.errors import Diagnostic, SmrulesError, Span

Path = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based line and column
Positions = dict[Path, Position]

MAX_ALIAS_NODES = 100_000  # nodes that alias expansion may add to one document
MAX_DEPTH = 200  # nesting of collections

_EventSource = getattr(yaml, "CBaseLoader", None) or yaml.BaseLoader
# What YAML 1.2 does not allow in a document (its `c-printable` set, inverted); lone surrogates
# included.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class YamlError(SmrulesError, ValueError):
    """A YAML or JSON document that cannot be loaded: `file`, `line`, `column` (1-based; None
    when unknown), `message`, and the same as a `Diagnostic`."""

    def __init__(
        self,
        message: str,
        file: str,
        line: int | None = None,
        column: int | None = None,
        code: str = "yaml",
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = None if line is None else (column or 1)
        self.code = code
        span = None if line is None else Span(file, line, self.column or 1)
        self.diagnostic = Diagnostic(code, message, span)
        super().__init__(f"{span or file}: {message}")

    def __reduce__(self):
        return (YamlError, (self.message, self.file, self.line, self.column, self.code))


# -- public API -------------------------------------------------------------------------------


def yaml_load(text: str, filename: str = "<string>", *, max_alias_nodes: int = MAX_ALIAS_NODES):
    """The value of the single YAML document in `text` (None for an empty one)."""
    return _Builder(filename, max_alias_nodes).load(text)[0]


def yaml_load_with_positions(
    text: str, filename: str = "<string>", *, max_alias_nodes: int = MAX_ALIAS_NODES
) -> tuple[Any, Positions]:
    """The value of `text` and the (line, column) of every value by its path.

    A mapping member is located at its key, a list item at the item, the document at its start.
    Paths are tuples of keys and indexes, `()` for the document. Members of an alias's copy are
    not listed: `position_of` then gives the alias.
    """
    return _Builder(filename, max_alias_nodes, positions=True).load(text)


UNREAD = object()  # what `json_fast_bytes` gives for a text the strict reader must read
# Digits to `9`, every other byte to a space: a run of 19 (2**63 has 19 digits) is then one
# `find`, much faster than a regex over the text.
_DIGIT_RUNS = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))


def _rounds_big_ints() -> bool:
    try:
        return isinstance(orjson.loads(b"18446744073709551616"), float)
    except orjson.JSONDecodeError:  # older versions refuse it, and the strict reader reads it
        return False


_BIG_INTS_ROUNDED = _rounds_big_ints()


def _json_fast(text: str) -> Any:
    """`text` read by orjson when that is the strict reading, else `UNREAD` (see
    `json_fast_bytes`)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in the text itself
        return UNREAD
    return json_fast_bytes(data)


def json_fast_bytes(data: bytes) -> Any:
    r"""UTF-8 `data` read by orjson (several times faster than `json`) when that is the strict
    reading, else `UNREAD` and the strict reader decides (and words any error).

    orjson refuses `NaN`, `Infinity`, invalid UTF-8 and lone surrogate escapes itself, but
    keeps the last of repeated keys. A repeated key is seen by counting colons: outside
    strings each key has one, so writing the value back with the same strings gives as many
    colons as the text holds, unless a key was dropped. Escapes never write a colon, but for
    `\u003a`; a text with a `\u003` escape takes the strict reader. So does one with 19
    digits in a row when this orjson reads an integer beyond 64 bits as a float (newer
    versions do), where Python keeps it exact.
    """
    if b"\\u003" in data:
        return UNREAD
    if _BIG_INTS_ROUNDED and data.translate(_DIGIT_RUNS).find(b"9" * 19) >= 0:
        return UNREAD
    try:
        value = orjson.loads(data)
        same = orjson.dumps(value).count(b":") == data.count(b":")
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return UNREAD
    return value if same else UNREAD


def json_load(text: str, filename: str = "<string>") -> Any:
    """Strict JSON: duplicate keys, `NaN` and `Infinity` are errors."""
    value = _json_fast(text)
    if value is not UNREAD:
        return value
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise YamlError(f"invalid JSON: {e.msg}", filename, e.lineno, e.colno, "json") from None
    except _DuplicateKey as e:
        # json does not say where; the YAML reader of the same text usually can.
        message = f"duplicate key `{e.key}`"
        try:
            yaml_load(text, filename)
        except YamlError as located:
            if located.line is not None and located.message.startswith(message):
                line, column = located.line, located.column
                raise YamlError(located.message, filename, line, column, "json") from None
        raise YamlError(message, filename, code="json") from None
    except _NotFinite as e:
        raise YamlError(f"`{e.args[0]}` is not valid JSON", filename, code="json") from None
    except RecursionError:
        raise YamlError("JSON nested too deeply", filename, code="json") from None


def json_load_with_positions(text: str, filename: str = "<string>") -> tuple[Any, Positions]:
    """Like `json_load`, with positions read by the YAML reader when it can read the text."""
    value = json_load(text, filename)
    try:
        return value, yaml_load_with_positions(text, filename)[1]
    except YamlError:
        return value, {}


def load_data(text: str, filename: str = "<string>") -> Any:
    """A `.json` file as strict JSON, anything else as YAML. Data is text: a JSON escape of
    half a surrogate pair (`"\\ud800"`) is an error, as it is in YAML."""
    if filename.lower().endswith(".json"):
        _no_lone_surrogate(text, filename)
        return json_load(text, filename)
    return yaml_load(text, filename)


def load_data_with_positions(text: str, filename: str = "<string>") -> tuple[Any, Positions]:
    if filename.lower().endswith(".json"):
        _no_lone_surrogate(text, filename)
        return json_load_with_positions(text, filename)
    return yaml_load_with_positions(text, filename)


# A `\uD800`-`\uDFFF` escape, with the backslashes before it (an even run is escaped backslashes).
_SURROGATE_ESCAPE = re.compile(r"(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})")


def _no_lone_surrogate(text: str, filename: str) -> None:
    """Raise `YamlError` at the first surrogate escape that is not half of a pair.

    JSON allows `\\ud800` alone, and Python's `json` then makes a string that is not text.
    """
    pending: tuple[int, int, str] | None = None  # a high surrogate: start, end, escape
    for match in _SURROGATE_ESCAPE.finditer(text) if "\\u" in text else ():
        if len(match.group(1)) % 2 == 0:
            continue  # `\\ud800`: an escaped backslash, then plain letters
        start = match.end() - 6
        escape = text[start : match.end()]
        if int(match.group(2), 16) < 0xDC00:  # high: the first half of a pair
            if pending is not None:
                break
            pending = (start, match.end(), escape)
        elif pending is not None and pending[1] == start:
            pending = None  # a complete pair
        else:
            pending = (start, match.end(), escape)
            break
    if pending is None:
        return
    start, _, escape = pending
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    message = f"invalid JSON: `{escape}` is half of a surrogate pair, not a character"
    raise YamlError(message, filename, line, column, "json")


def position_of(positions: Mapping[Path, Position], path: Path) -> Position | None:
    """The position of `path`, else of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        found = positions.get(tuple(path[:end]))
        if found is not None:
            return found
    return None


# -- YAML 1.2 core schema ---------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"
_NULL = re.compile(r"(?:~|null|Null|NULL|)\Z")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"[-+]?[0-9]+\Z")
_INT8 = re.compile(r"0o[0-7]+\Z")
_INT16 = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)\Z")
_NO_VALUE = object()


def _core(text: str) -> Any:
    """The value of a plain (unquoted, untagged) scalar under the core schema."""
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    return _number(text, ints=True, floats=True)


def _number(text: str, *, ints: bool, floats: bool) -> Any:
    if ints:
        if _INT10.match(text):
            return int(text)
        if _INT8.match(text):
            return int(text[2:], 8)
        if _INT16.match(text):
            return int(text[2:], 16)
    if floats:
        if _FLOAT.match(text):
            return float(text)
        if _INF.match(text):
            return -math.inf if text.startswith("-") else math.inf
        if _NAN.match(text):
            return math.nan
    return text if ints and floats else _NO_VALUE


def _tagged(text: str, tag: str) -> Any:
    """The value of a scalar with an explicit standard tag, or `_NO_VALUE`."""
    name = tag.removeprefix(_TAG)
    if name == "str":
        return text
    if name == "null":
        return None if _NULL.match(text) else _NO_VALUE
    if name == "bool":
        return _BOOL.get(text, _NO_VALUE)
    if name == "int":
        return _number(text, ints=True, floats=False)
    if name == "float":
        value = _number(text, ints=False, floats=True)
        if value is _NO_VALUE and _INT10.match(text):
            return float(text)
        return value
    return _NO_VALUE


# -- building a document from events ----------------------------------------------------------


@dataclass(slots=True)
class _Frame:
    """A mapping or sequence being built."""

    value: dict[str, Any] | list[Any]
    path: Path
    anchor: str | None
    size: int = 1
    depth: int = 1  # nesting below this collection, itself included
    key: Any = _NO_VALUE  # a mapping's key waiting for its value
    key_marks: dict[str, int] = field(default_factory=dict)  # key -> line, for duplicates


class _Builder:
    def __init__(self, filename: str, max_alias_nodes: int, positions: bool = False) -> None:
        self.filename = filename
        self.max_alias_nodes = max_alias_nodes
        self.alias_nodes = 0
        self.positions: Positions | None = {} if positions else None
        self.anchors: dict[str, tuple[Any, int, int]] = {}  # value, node count, depth
        self.open_anchors: set[str] = set()
        self.stack: list[_Frame] = []
        self.root: Any = _NO_VALUE

    def error(self, message: str, mark: Any = None) -> YamlError:
        if mark is None:
            return YamlError(message, self.filename)
        return YamlError(message, self.filename, mark.line + 1, mark.column + 1)

    def bad_character(self, text: str, index: int) -> YamlError:
        # libyaml reports a byte offset, PyYAML's reader a character index: find the character.
        found = _NOT_PRINTABLE.search(text)
        if found is None:
            return self.error("invalid YAML: a character that YAML does not allow")
        index = found.start()
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1) + 1
        message = f"invalid YAML: character U+{ord(text[index]):04X} is not allowed"
        return YamlError(message, self.filename, line, column)

    def load(self, text: str) -> tuple[Any, Positions]:
        try:
            parser = _EventSource(text)
        except UnicodeEncodeError as e:  # a lone surrogate, from a decoder that let it through
            raise self.bad_character(text, e.start) from None
        documents = 0
        try:
            while parser.check_event():
                event = parser.get_event()
                if isinstance(event, ev.DocumentStartEvent):
                    documents += 1
                    if documents > 1:
                        raise self.error(
                            "expected one YAML document, found several", event.start_mark
                        )
                else:
                    self.handle(event)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            problem = e.problem or e.context or "invalid YAML"
            raise self.error(f"invalid YAML: {problem}", mark) from None
        except yaml.reader.ReaderError as e:  # a character YAML does not allow; no mark object
            raise self.bad_character(text, e.position) from None
        except yaml.YAMLError as e:
            raise self.error(f"invalid YAML: {e}") from None
        finally:
            parser.dispose()
        value = None if self.root is _NO_VALUE else self.root
        return value, self.positions if self.positions is not None else {}

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.ScalarEvent):
            self.place(self.scalar(event), event, 1, 0)
        elif isinstance(event, (ev.MappingStartEvent, ev.SequenceStartEvent)):
            self.open(event)
        elif isinstance(event, (ev.MappingEndEvent, ev.SequenceEndEvent)):
            frame = self.stack.pop()
            if frame.anchor is not None:
                self.open_anchors.discard(frame.anchor)
                self.anchors[frame.anchor] = (frame.value, frame.size, frame.depth)
            self.attach(frame.value, frame.size, frame.depth)
        elif isinstance(event, ev.AliasEvent):
            self.alias(event)

    def scalar(self, event: ev.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            return _core(event.value) if tag is None and event.implicit[0] else event.value
        value = _tagged(event.value, tag) if tag.startswith(_TAG) else _NO_VALUE
        if value is _NO_VALUE:
            message = f"unsupported tag `{_short(tag)}` for `{event.value}`"
            raise self.error(message, event.start_mark)
        return value

    def open(self, event: ev.CollectionStartEvent) -> None:
        kind = "map" if isinstance(event, ev.MappingStartEvent) else "seq"
        if event.tag not in (None, "!", _TAG + kind):
            raise self.error(f"unsupported tag `{_short(event.tag)}`", event.start_mark)
        if len(self.stack) >= MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        path = self.claim(event, is_collection=True)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        value: dict[str, Any] | list[Any] = {} if kind == "map" else []
        self.stack.append(_Frame(value, path, event.anchor))

    def alias(self, event: ev.AliasEvent) -> None:
        name = event.anchor
        if name in self.open_anchors:
            raise self.error(
                f"alias `*{name}` refers to a collection that contains it", event.start_mark
            )
        if name not in self.anchors:
            raise self.error(f"unknown alias `*{name}`", event.start_mark)
        value, size, depth = self.anchors[name]
        self.alias_nodes += size
        if self.alias_nodes > self.max_alias_nodes:
            raise self.error(
                f"aliases expand to more than {self.max_alias_nodes:,} nodes; "
                "the document is too large once expanded",
                event.start_mark,
            )
        if len(self.stack) + depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self.place(_copy(value), event, size, depth, is_alias=True)

    def place(self, value: Any, event: ev.NodeEvent, size: int, depth: int, is_alias=False) -> None:
        """A complete node (scalar or alias) at the current position."""
        if not is_alias and isinstance(event, ev.ScalarEvent) and event.anchor is not None:
            self.anchors[event.anchor] = (value, 1, 0)
        self.claim(event, is_collection=isinstance(value, (dict, list)), value=value)
        self.attach(value, size, depth)

    def claim(self, event: ev.NodeEvent, *, is_collection: bool, value: Any = _NO_VALUE) -> Path:
        """Check a node that starts here, as a key or a value; record where it is; its path."""
        mark = event.start_mark
        if not self.stack:
            path: Path = ()
        elif isinstance(self.stack[-1].value, list):
            path = (*self.stack[-1].path, len(self.stack[-1].value))
        elif self.stack[-1].key is not _NO_VALUE:
            return (*self.stack[-1].path, self.stack[-1].key)  # located at its key already
        else:
            path = (*self.stack[-1].path, self.check_key(value, is_collection, mark))
        if self.positions is not None:
            self.positions[path] = (mark.line + 1, mark.column + 1)
        return path

    def check_key(self, key: Any, is_collection: bool, mark: Any) -> str:
        top = self.stack[-1]
        if is_collection:
            raise self.error("mapping keys must be strings, not collections", mark)
        if not isinstance(key, str):
            shown = "null" if key is None else json.dumps(key)
            raise self.error(f"mapping keys must be strings; `{shown}` is not", mark)
        first = top.key_marks.get(key)
        if first is not None:
            raise self.error(f"duplicate key `{key}` (first defined on line {first})", mark)
        top.key_marks[key] = mark.line + 1
        return key

    def attach(self, value: Any, size: int, depth: int) -> None:
        """Put a complete value into the collection being built (or make it the document)."""
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.size += size
        top.depth = max(top.depth, depth + 1)
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is _NO_VALUE:
            top.key = value
        else:
            top.value[top.key] = value
            top.key = _NO_VALUE


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _copy(value: Any) -> Any:
    """A fresh copy of an anchored value, so no two places of the document share an object."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _NotFinite(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # built in C; only an object with a repeated key needs the slow look
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _no_constant(name: str) -> Any:
    raise _NotFinite(name)
