"""Reading activities from files and standard input, remembering where each one came from.

`read_inputs(names)` yields, in order, an `ActivityInput` for each activity found or an
`InputError` for input that holds none (an unreadable file, binary data, broken YAML or JSON):

- a `.yaml`/`.yml`/`.json` file (or any other name) holds one activity or a list of them and is
  read whole;
- a `.jsonl`/`.ndjson` file holds one JSON activity per line and is streamed, one line at a
  time, in constant memory; a broken line is an `InputError` and reading goes on;
- `-` is standard input: JSON lines when its first two non-blank lines are each a JSON object,
  else one document.

Every activity keeps its file and the position of each of its fields, so that a problem found
by validation (`content.links[0].url: must be a string`) can be printed at `file:line:col`.
"""

from __future__ import annotations

import bisect
import codecs
import io
import json
import json.decoder
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO, Literal, NamedTuple

from .errors import ActivityError, Diagnostic, Span
from .slots import slot_filler

STDIN = "-"
STDIN_NAME = "<stdin>"
STREAM_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # a document is read whole; streams have no bound
MAX_LINE_BYTES = 16 * 1024 * 1024  # one line of a JSON-lines stream
BLOCK_BYTES = 256 * 1024  # a `LineBlock` holds the whole lines in about this many bytes

Container = Literal["document", "list", "stream"]
PathPart = str | int
Position = tuple[int, int]


# ---------------------------------------------------------------------------- sources


class Source:
    """The text an activity was read from: a whole document, or one line of a stream.

    Positions of paths are computed on first use only, since only invalid activities need them.
    """

    def __init__(
        self,
        name: str,
        text: str,
        first_line: int = 1,
        positions: Mapping[tuple[PathPart, ...], Position] | None = None,
    ) -> None:
        self.name = name
        self.text = text
        self.first_line = first_line  # the line number of the text's first line
        self._positions = positions
        self._lines: list[str] | None = None

    @property
    def positions(self) -> Mapping[tuple[PathPart, ...], Position]:
        if self._positions is None:
            try:
                found = json_positions(self.text)
            except (ValueError, IndexError):  # pragma: no cover - the text parsed as JSON
                found = {}
            shift = self.first_line - 1
            self._positions = {p: (line + shift, col) for p, (line, col) in found.items()}
        return self._positions

    def line_text(self, line: int) -> str | None:
        if self._lines is None:
            self._lines = self.text.splitlines()
        index = line - self.first_line
        return self._lines[index] if 0 <= index < len(self._lines) else None

    def position(self, path: tuple[PathPart, ...]) -> Position | None:
        """The position of `path`, or of its longest prefix that exists."""
        positions = self.positions
        for end in range(len(path), -1, -1):
            found = positions.get(path[:end])
            if found is not None:
                return found
        return None


@dataclass(frozen=True, slots=True, eq=False)
class ActivityInput:
    """One activity, with where it was found."""

    value: object
    file: str
    line: int
    column: int
    container: Container  # a whole document, an item of a list, or a line of a stream
    path: tuple[PathPart, ...]  # where the activity sits in its document: () or (index,)
    source: Source

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def locate(self, problem_path: str) -> Span:
        """The place of a problem's path (`content.links[0].url`), or of its nearest parent."""
        found = self.source.position((*self.path, *parse_path(problem_path)))
        line, column = found if found is not None else (self.line, self.column)
        return Span(self.file, line, column)

    def problems(self, error: ActivityError) -> list[tuple[Diagnostic, str | None]]:
        """One `invalid-activity` diagnostic per problem, each with its source line."""
        out = []
        for problem in error.problems:
            span = self.locate(problem.path)
            message = f"{problem.path}: {problem.message}" if problem.path else problem.message
            out.append(
                (Diagnostic("invalid-activity", message, span), self.source.line_text(span.line))
            )
        return out


@dataclass(frozen=True, slots=True)
class InputError:
    """Input that holds no activity: an unreadable file, binary data, broken YAML or JSON."""

    diagnostic: Diagnostic
    line_text: str | None
    container: Container

    @property
    def message(self) -> str:
        return self.diagnostic.message

    def problems(self) -> list[tuple[Diagnostic, str | None]]:
        return [(self.diagnostic, self.line_text)]


# ---------------------------------------------------------------------------- paths

_PATH_PART = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def parse_path(path: str) -> tuple[PathPart, ...]:
    """`content.links[0].url` -> `("content", "links", 0, "url")`; `["a b"]` for odd keys."""
    parts: list[PathPart] = []
    pos = 0
    while pos < len(path):
        m = _PATH_PART.match(path, pos)
        if m is None:
            break  # not a path we know how to read: point at what was read so far
        name, index, quoted = m.groups()
        if name is not None:
            parts.append(name)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(json.loads(quoted))
        pos = m.end()
    return tuple(parts)


# ---------------------------------------------------------------------------- reading


_new_activity_input = slot_filler(ActivityInput)  # one per line of a large batch


class LineInput(NamedTuple):
    """A line of a `.jsonl` stream not parsed yet, so a worker process can parse it.

    A named tuple: a large batch makes one per line, and they cross to worker processes.
    `data` is the line's bytes without its end; its first byte that is not ASCII white space
    is printable ASCII (`_stream` reads any other line at once), so a byte offset there is a
    character offset too.
    """

    file: str
    line: int
    data: bytes
    container: Container = "stream"

    def parse(self) -> ActivityInput | InputError:
        yamlio = _yamlio()
        value = yamlio.json_fast_bytes(self.data)
        if value is not yamlio.UNREAD:
            source = Source(self.file, self.data.decode("utf-8"), self.line)
        else:  # decoded and read strictly, which words any error
            text = _decode(self.file, self.data, self.line)
            if isinstance(text, InputError):
                return InputError(text.diagnostic, None, "stream")
            parsed = _parse_json(self.file, text, self.line, "stream")
            if isinstance(parsed, InputError):
                return parsed
            value, source = parsed
        column = len(self.data) - len(self.data.lstrip()) + 1
        return _new_activity_input(value, self.file, self.line, column, "stream", (), source)


class LineBlock(NamedTuple):
    """Whole lines of a `.jsonl` file, read but not yet split, for a worker process to split,
    parse and check: the reading process then only moves bytes. Its `items()` are those that
    reading the lines one by one gives."""

    file: str
    line: int  # the number of its first line
    data: bytes
    container: Container = "stream"

    def items(self) -> Iterator[ActivityInput | InputError | LineInput]:
        return _stream(self.file, io.BytesIO(self.data), self.line, defer_lines=True)


def read_inputs(
    names: Iterable[str],
    stdin: BinaryIO | None = None,
    *,
    blocks: bool = False,
) -> Iterator[ActivityInput | InputError | LineBlock]:
    """Activities from each name in turn; `-` reads `stdin` (default: the process's).

    `blocks`: the lines of `.jsonl` files after the first come as `LineBlock`s, split and
    parsed by whoever checks them.
    """
    for name in names:
        if name == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            yield from _read_stdin(stream)
        elif name.lower().endswith(STREAM_SUFFIXES):
            yield from _read_stream_file(name, blocks)
        else:
            yield from _read_document_file(name)


def _error(
    code: str,
    message: str,
    span: Span | None = None,
    line_text: str | None = None,
    container: Container = "document",
    help_text: str | None = None,
) -> InputError:
    return InputError(Diagnostic(code, message, span, help=help_text), line_text, container)


def _size(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 else f"{limit:,} bytes"


def _os_error(name: str, err: OSError) -> InputError:
    if isinstance(err, IsADirectoryError):
        return _error("unreadable-file", f"`{name}` is a directory, not an activity file")
    reason = err.strerror or str(err)
    return _error(
        "unreadable-file",
        f"cannot read `{name}`: {reason}",
        help_text="check that the file exists and is readable",
    )


def _position_of_byte(raw: bytes, offset: int) -> Position:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _decode(name: str, raw: bytes, first_line: int = 1) -> str | InputError:
    """UTF-8 text of `raw` (a byte-order mark is dropped), or why it is not text."""
    nul = raw.find(b"\x00")
    if nul != -1:
        line, column = _position_of_byte(raw, nul)
        return _error(
            "binary-file",
            f"`{name}` is a binary file, not text",
            Span(name, line + first_line - 1, column),
            help_text="activities are YAML, JSON or JSON-lines text in UTF-8",
        )
    try:
        # (the "utf-8-sig" codec would drop a byte-order mark too, but it is written in Python)
        return (raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw).decode("utf-8")
    except UnicodeDecodeError as err:
        line, column = _position_of_byte(raw, err.start)
        return _error(
            "bad-encoding",
            f"`{name}` is not valid UTF-8 (byte {err.start})",
            Span(name, line + first_line - 1, column),
            help_text="save the file as UTF-8",
        )


def _read_document_file(name: str) -> Iterator[ActivityInput | InputError]:
    try:
        with open(name, "rb") as fh:
            raw = fh.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as err:
        yield _os_error(name, err)
        return
    yield from _document(name, raw, name.lower())


def _document(name: str, raw: bytes, kind_hint: str) -> Iterator[ActivityInput | InputError]:
    """The activities of one YAML or JSON document: itself, or the items of a list."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        yield _error(
            "file-too-large",
            f"`{name}` is larger than {_size(MAX_DOCUMENT_BYTES)}",
            help_text="write many activities as JSON lines (`.jsonl`): they are read one by one",
        )
        return
    text = _decode(name, raw)
    if isinstance(text, InputError):
        yield text
        return
    if not text.strip():
        yield _error(
            "empty-input",
            f"`{name}` holds no activity",
            help_text="write one activity (a YAML or JSON object) or a list of them",
        )
        return
    parsed = _parse_document(name, text, kind_hint)
    if isinstance(parsed, InputError):
        yield parsed
        return
    value, source = parsed
    if isinstance(value, list):
        for index, item in enumerate(value):
            line, column = source.position((index,)) or (1, 1)
            yield ActivityInput(item, name, line, column, "list", (index,), source)
        return
    line, column = source.position(()) or (1, 1)
    yield ActivityInput(value, name, line, column, "document", (), source)


def _parse_document(name: str, text: str, kind_hint: str) -> tuple[object, Source] | InputError:
    as_json = kind_hint.endswith(JSON_SUFFIXES) or (
        not kind_hint.endswith(YAML_SUFFIXES) and text.lstrip()[:1] in ("{", "[")
    )
    if as_json:
        parsed = _parse_json(name, text)
        if not isinstance(parsed, InputError) or kind_hint.endswith(JSON_SUFFIXES):
            return parsed
        # Not JSON after all (a YAML flow mapping, say): read it as YAML below.
    return _parse_yaml(name, text)


def _parse_json(
    name: str, text: str, first_line: int = 1, container: Container = "document"
) -> tuple[object, Source] | InputError:
    """Strict JSON (duplicate keys are errors); `first_line` numbers the text's first line."""
    yamlio = _yamlio()
    try:
        value = yamlio.json_load(text, name)
    except yamlio.YamlError as err:
        diag = err.diagnostic
        span = diag.span
        if span is None:
            span = Span(name, first_line, 1)
        else:
            span = Span(name, span.line + first_line - 1, span.column)
        located = Diagnostic(diag.code, diag.message, span, diag.severity, diag.help)
        return InputError(located, Source(name, text, first_line).line_text(span.line), container)
    return value, Source(name, text, first_line)


@cache
def _yamlio():  # noqa: ANN202 - a module
    """`smrules.yamlio`, imported when a file is first read (`--text` needs none of it)."""
    from . import yamlio

    return yamlio


def _parse_yaml(name: str, text: str) -> tuple[object, Source] | InputError:
    from .yamlio import YamlError, yaml_load_with_positions

    try:
        value, positions = yaml_load_with_positions(text, name)
    except YamlError as err:
        diag = err.diagnostic
        line_text = Source(name, text).line_text(diag.span.line) if diag.span else None
        return InputError(diag, line_text, "document")
    except RecursionError:
        return _error("yaml", f"`{name}` is nested too deeply", Span(name, 1, 1))
    return value, Source(name, text, positions=positions)


def _read_stream_file(
    name: str, blocks: bool = False
) -> Iterator[ActivityInput | InputError | LineBlock]:
    try:
        fh = open(name, "rb")  # noqa: SIM115 - closed below, also when the reader stops early
    except OSError as err:
        yield _os_error(name, err)
        return
    try:
        if blocks:
            yield from _blocks(name, fh)
        else:
            yield from _stream(name, fh)
    except OSError as err:
        yield _os_error(name, err)
    finally:
        fh.close()


def _blocks(name: str, fh: BinaryIO) -> Iterator[ActivityInput | InputError | LineBlock]:
    """The first line as `_stream` reads it (a binary file stops there), then `LineBlock`s."""
    first = next(_lines(fh), None)
    if first is None:
        return
    for item in _stream(name, io.BytesIO(), 1, [first]):
        yield item
        if isinstance(item, InputError) and item.diagnostic.code == "binary-file":
            return
    line_no = 2
    carry = b""
    while True:
        data = fh.read(BLOCK_BYTES)
        if not data:
            if carry:  # the last line, without a line end
                yield LineBlock(name, line_no, carry)
            return
        data = carry + data if carry else data
        cut = data.rfind(b"\n") + 1
        if cut:
            yield LineBlock(name, line_no, data[:cut])
            line_no += data.count(b"\n", 0, cut)
            carry = data[cut:]
        else:
            carry = data
        if len(carry) > MAX_LINE_BYTES:  # as `_lines` finds it: an error, and the rest skipped
            yield _overlong(name, line_no)
            while carry and not carry.endswith(b"\n"):
                carry = fh.readline(MAX_LINE_BYTES)
            line_no += 1
            carry = b""


def _lines(fh: BinaryIO, limit: int | None = None) -> Iterator[tuple[bytes, bool]]:
    """Lines of `fh`, each at most `limit` bytes: (line, complete); longer ones are cut."""
    limit = MAX_LINE_BYTES if limit is None else limit
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n"):
            while True:  # drop the rest of the overlong line
                more = fh.readline(limit)
                if not more or more.endswith(b"\n"):
                    break
            yield raw, False
        else:
            yield raw, True


def _overlong(name: str, line_no: int) -> InputError:
    return _error(
        "file-too-large",
        f"line {line_no} of `{name}` is longer than {_size(MAX_LINE_BYTES)}",
        Span(name, line_no, 1),
        container="stream",
    )


def _stream(
    name: str,
    fh: BinaryIO,
    start_line: int = 1,
    first: Iterable[tuple[bytes, bool]] = (),
    defer_lines: bool = False,
) -> Iterator[ActivityInput | InputError | LineInput]:
    """One activity per non-blank line; a broken line is an error and reading goes on."""
    from itertools import chain

    line_no = start_line - 1
    for raw, complete in chain(first, _lines(fh)):
        line_no += 1
        if not complete:
            yield _overlong(name, line_no)
            continue
        stripped = raw.strip()
        if not stripped:
            continue
        if defer_lines and 0x20 < stripped[0] < 0x7F and line_no > 1:
            # Decoded and read by whoever checks it. The first line is decoded here: a
            # binary file stops the stream there.
            yield LineInput(name, line_no, raw.rstrip(b"\r\n"))
            continue
        text = _decode(name, raw, line_no)
        if isinstance(text, InputError):
            yield InputError(text.diagnostic, None, "stream")
            if text.diagnostic.code == "binary-file" and line_no == 1:
                return  # a binary file, not one bad line: stop here
            continue
        text = text.rstrip("\r\n")
        parsed = _parse_json(name, text, line_no, "stream")
        if isinstance(parsed, InputError):
            yield parsed
            continue
        value, source = parsed
        column = len(text) - len(text.lstrip()) + 1
        yield ActivityInput(value, name, line_no, column, "stream", (), source)


def _read_stdin(fh: BinaryIO) -> Iterator[ActivityInput | InputError]:
    """JSON lines when the first two non-blank lines each hold a JSON object, else a document."""
    head: list[tuple[bytes, bool]] = []
    objects = 0
    for raw, complete in _lines(fh, MAX_DOCUMENT_BYTES):
        head.append((raw, complete))
        if not raw.strip():
            continue
        if not complete or not _is_json_object(raw):
            break
        objects += 1
        if objects == 2:
            break
    if objects == 2:
        yield from _stream(STDIN_NAME, fh, 1, head)
        return
    if head and not head[-1][1]:
        yield _error(
            "file-too-large",
            f"`{STDIN_NAME}` is larger than {_size(MAX_DOCUMENT_BYTES)}",
        )
        return
    rest = fh.read(MAX_DOCUMENT_BYTES + 1)
    raw = b"".join(line for line, _ in head) + rest
    yield from _document(STDIN_NAME, raw, "")


def _is_json_object(raw: bytes) -> bool:
    stripped = raw.strip()
    if not stripped.startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(stripped), dict)
    except (ValueError, RecursionError):
        return False


def stdin_bytes(data: bytes) -> BinaryIO:
    """A binary stream over `data`, to feed `read_inputs` in place of standard input."""
    return io.BytesIO(data)


# ---------------------------------------------------------------------------- JSON positions


class _LineIndex:
    """Offsets to 1-based (line, column), columns counted in code points."""

    def __init__(self, text: str) -> None:
        self.starts = [0]
        pos = text.find("\n")
        while pos != -1:
            self.starts.append(pos + 1)
            pos = text.find("\n", pos + 1)

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1


_WS = " \t\n\r"
_DECODER = json.JSONDecoder()


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def json_positions(text: str) -> dict[tuple[PathPart, ...], Position]:
    """Where each value of the valid JSON document `text` starts, by path.

    An object member is placed at its name (`"text": 5` points at `"text"`), a list item or the
    root at the value. Iterative, so any nesting `json.loads` accepts is fine.
    """
    index = _LineIndex(text)
    i = _skip(text, 0)
    out: dict[tuple[PathPart, ...], Position] = {(): index.position(i)}
    stack: list[tuple[tuple[PathPart, ...], bool, int]] = []  # (container path, object?, seen)
    path: tuple[PathPart, ...] = ()
    while True:
        i = _skip(text, i)
        if i >= len(text):
            return out
        ch = text[i]
        if ch in "{[":
            stack.append((path, ch == "{", 0))
            i += 1
        elif ch == '"':
            _, i = json.decoder.scanstring(text, i + 1)
        else:
            _, i = _DECODER.raw_decode(text, i)
        while True:  # after a value or an opening bracket: close containers, find the next member
            if not stack:
                return out
            i = _skip(text, i)
            container, is_object, seen = stack[-1]
            ch = text[i] if i < len(text) else ""
            if ch in "}]" and ch:
                stack.pop()
                i += 1
                continue
            if ch == ",":
                i = _skip(text, i + 1)
            stack[-1] = (container, is_object, seen + 1)
            if is_object:
                key_at = i
                key, i = json.decoder.scanstring(text, i + 1)
                i = _skip(text, i) + 1  # past the colon
                path = (*container, key)
                out[path] = index.position(key_at)
            else:
                path = (*container, seen)
                out[path] = index.position(i)
            break
