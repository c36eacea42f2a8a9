"""Reading a policy from disk: `.smr` discovery and file order, imports, data files, waivers,
base policies (`extends`) and the digest (SPEC §1, §2.3, §4, §5).

The result is a `Program`: parsed modules in file order plus everything they import, ready
for the checker and the compiler. Every problem found is collected; `load_program` raises one
`PolicyError` listing them all.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import nodes as n
from .errors import Diagnostic, PolicyError, Span

DATA_SUFFIXES = (".yaml", ".yml", ".json")
MAX_SOURCE_BYTES = 8 * 1024 * 1024

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSTANT_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")


@dataclass(frozen=True, slots=True)
class DataFile:
    name: str  # relative POSIX path, as in findings and the digest
    value: object


@dataclass(frozen=True, slots=True)
class Program:
    """A loaded, parsed policy: the input of the checker and the compiler."""

    name: str
    root: Path
    modules: tuple[n.Module, ...]  # file order
    headers: tuple[n.PolicyHeader, ...]  # base policies' first, this policy's last
    data: dict[str, DataFile]  # by relative name
    imports: dict[str, dict[str, str]]  # module name -> alias -> imported file name
    waivers: tuple[WaiverEntry, ...]
    sources: dict[str, str]  # every text file by relative name, for error rendering
    digest: str
    is_base: frozenset[str] = frozenset()  # module names that come from a base policy
    manifest: Manifest | None = None  # what was read, so a cached copy can prove it is fresh


@dataclass(frozen=True, slots=True)
class Manifest:
    files: tuple[tuple[str, str | None], ...]  # absolute path, sha256 (None: absent)
    listings: tuple[tuple[str, tuple[str, ...]], ...]  # directory, its `.smr` files


@dataclass(frozen=True, slots=True)
class WaiverEntry:
    rule: str
    actors: tuple[str, ...] | None
    departments: tuple[str, ...] | None
    until: dt.date
    reason: str
    approved_by: str
    span: Span


@dataclass
class _Collector:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    digest_parts: dict[str, bytes] = field(default_factory=dict)
    # What a cached copy must re-check: file -> content hash (None: must not exist) and
    # directory -> the `.smr` files found in it.
    files: dict[str, str | None] = field(default_factory=dict)
    listings: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def error(self, code: str, message: str, span: Span | None, help_text: str | None = None):
        self.diagnostics.append(Diagnostic(code, message, span, help=help_text))


def path_key(name: str) -> tuple[str, ...]:
    """File order: a relative POSIX path compared as a tuple of components by code point."""
    return tuple(name.split("/"))


def load_program(path: str | os.PathLike[str]) -> Program:
    """Read and parse the policy at `path` (a directory or one `.smr` file)."""
    col = _Collector()
    target = Path(os.path.normpath(Path(path).absolute()))
    if not target.exists():
        raise PolicyError(
            [
                Diagnostic(
                    "policy-not-found",
                    f"policy path `{path}` does not exist",
                    None,
                    help="pass a policy directory or a `.smr` file",
                )
            ]
        )
    program = _load(target, col, prefix="", chain=())
    if col.diagnostics or program is None:
        raise PolicyError(col.diagnostics, col.sources)
    manifest = Manifest(
        tuple(sorted(col.files.items(), key=lambda kv: kv[0])), tuple(sorted(col.listings.items()))
    )
    return replace(program, manifest=manifest)


def _relname(prefix: str, rel: str) -> str:
    return os.path.normpath(os.path.join(prefix, rel)).replace(os.sep, "/") if prefix else rel


def discover(root: Path) -> list[Path]:
    """The `.smr` files of a policy directory (dot-directories skipped, no directory links)."""
    return _discover(root)


def _discover(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in filenames:
            if fname.endswith(".smr") and not fname.startswith("."):
                found.append(Path(dirpath) / fname)
    return found


class NotARegularFile(OSError):
    """A path that names a FIFO, socket or device where a file is expected."""


def read_file_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of the regular file at `path`, at most `max_bytes` + 1 of them.

    The file is opened without blocking and checked before it is read, so a FIFO or a device
    named like a policy file is an error (`NotARegularFile`), never a hang or an endless read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise NotARegularFile(errno.EINVAL, "not a regular file", str(path))
        return handle.read() if max_bytes is None else handle.read(max_bytes + 1)


def _read_text(
    path: Path, name: str, col: _Collector, span: Span | None
) -> tuple[str, bytes] | None:
    """The text of a policy, data or waivers file, or None after reporting why it has none.

    Problems are reported at `span` (the import that names a data file) or, for a file read
    for itself, at the file: its first line, or the offending byte of a binary or non-UTF-8 one.
    """
    at = span or Span(name, 1, 1)
    try:
        raw = read_file_bytes(path, MAX_SOURCE_BYTES)
        col.files[str(path)] = hashlib.sha256(raw).hexdigest()
    except IsADirectoryError:
        col.error("unreadable-file", f"`{name}` is a directory, not a file", at)
        return None
    except NotARegularFile:
        col.error(
            "unreadable-file",
            f"`{name}` is not a regular file (a pipe, socket or device)",
            at,
            "policy and data files are ordinary text files",
        )
        return None
    except OSError as err:
        col.error(
            "unreadable-file",
            f"cannot read `{name}`: {err.strerror or err}",
            at,
            "check that the file exists and is readable",
        )
        return None
    if len(raw) > MAX_SOURCE_BYTES:
        col.error("file-too-large", f"`{name}` is larger than {MAX_SOURCE_BYTES} bytes", at)
        return None
    if b"\x00" in raw:
        col.error(
            "binary-file",
            f"`{name}` is a binary file, not text",
            span or _byte_span(name, raw, raw.index(b"\x00")),
            "policy and data files are UTF-8 text",
        )
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        bad = err.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        col.error(
            "bad-encoding",
            f"`{name}` is not valid UTF-8 (byte {bad})",
            span or _byte_span(name, raw, bad),
            "save the file as UTF-8",
        )
        return None
    return text, raw


def _byte_span(name: str, raw: bytes, offset: int) -> Span:
    """The line and column (in characters) of byte `offset` of a file."""
    start = raw.rfind(b"\n", 0, offset) + 1
    before = raw[start:offset]
    if start == 0 and before.startswith(b"\xef\xbb\xbf"):  # a byte order mark is no column
        before = before[3:]
    column = len(before.decode("utf-8", "replace")) + 1
    return Span(name, raw.count(b"\n", 0, offset) + 1, column)


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, its links followed, is inside `root`. A loop of links counts as inside:
    it leads nowhere, and reading it then reports the loop."""
    try:
        path.resolve().relative_to(root.resolve())
    except RuntimeError:  # Python before 3.13: a loop of symbolic links
        return True
    except OSError as err:
        return err.errno == errno.ELOOP
    except ValueError:
        return False
    return True


def _load(target: Path, col: _Collector, prefix: str, chain: tuple[Path, ...]) -> Program | None:
    single_file = target.is_file()
    root = target.parent if single_file else target
    if single_file:
        files = [target]
    else:
        files = _discover(target)
        col.listings[str(target)] = tuple(sorted(str(f) for f in files))
        if not files:
            col.error(
                "empty-policy",
                f"no `.smr` files found under `{target}`",
                None,
                "a policy is a directory of `.smr` files, or one `.smr` file",
            )
            return None
    own: list[tuple[str, Path]] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        own.append((_relname(prefix, rel), path))
    own.sort(key=lambda item: path_key(item[0]))

    from .parser import ParseFailed, parse_module  # lark loads only when something is parsed

    modules: dict[str, n.Module] = {}
    for name, path in own:
        if not _inside(path, root):
            col.error(
                "outside-policy",
                f"`{name}` links outside the policy directory",
                Span(name, 1, 1),
                "policy files must live inside the policy directory",
            )
            continue
        read = _read_text(path, name, col, None)
        if read is None:
            continue
        text, raw = read
        col.sources[name] = text
        col.digest_parts[name] = raw
        try:
            modules[name] = parse_module(text, name)
        except ParseFailed as failed:
            col.diagnostics.extend(failed.diagnostics)

    headers = [(name, m.header) for name, m in modules.items() if m.header is not None]
    for name, module in modules.items():
        extra = [d for d in module.declarations if isinstance(d, n.PolicyHeader)][1:]
        for dup in extra:
            col.error(
                "duplicate-policy",
                "more than one `policy` header in the policy",
                dup.span,
                f"the first is at {module.header.span if module.header else name}",
            )
    if len(headers) > 1:
        first = headers[0][1]
        for _, header in headers[1:]:
            col.error(
                "duplicate-policy",
                "more than one `policy` header in the policy",
                header.span,
                f"the first is at {first.span}",
            )
    own_header = headers[0][1] if headers else None

    base: Program | None = None
    if own_header is not None:
        extends = next((s for s in own_header.settings if s.name == "extends"), None)
        if extends is not None:
            base = _load_base(extends, root, col, prefix, chain + (root.resolve(),))

    imports: dict[str, dict[str, str]] = {}
    data: dict[str, DataFile] = dict(base.data) if base else {}
    disk = dict(own)
    for name, module in modules.items():
        imports[name] = _resolve_imports(name, disk[name], module, root, prefix, modules, data, col)
    _check_import_cycles(modules, imports, col)

    waivers = _load_waivers(root, prefix, col)

    all_modules = (list(base.modules) if base else []) + [
        modules[k] for k, _ in own if k in modules
    ]
    all_headers = (list(base.headers) if base else []) + ([own_header] if own_header else [])
    if base:
        imports = {**base.imports, **imports}
        waivers = base.waivers + waivers
    if own_header is not None:
        policy_name = own_header.name
    elif base is not None:
        policy_name = base.name
    else:
        policy_name = target.stem if single_file else target.resolve().name
    digest = hashlib.sha256()
    for name in sorted(col.digest_parts, key=path_key):
        raw = col.digest_parts[name]
        digest.update(name.encode("utf-8") + b"\0" + str(len(raw)).encode() + b"\0" + raw)
    return Program(
        name=policy_name,
        root=root,
        modules=tuple(all_modules),
        headers=tuple(h for h in all_headers if h is not None),
        data=data,
        imports=imports,
        waivers=waivers,
        sources=dict(col.sources),
        digest="sha256:" + digest.hexdigest(),
        is_base=frozenset(m.file for m in (base.modules if base else ()))
        | (base.is_base if base else frozenset()),
    )


def _load_base(
    extends: n.Setting, root: Path, col: _Collector, prefix: str, chain: tuple[Path, ...]
) -> Program | None:
    rel = str(extends.value)
    base_dir = Path(os.path.normpath(root / rel))
    span = extends.span
    if not base_dir.is_dir():
        col.error(
            "bad-extends",
            f"base policy `{rel}` is not a directory",
            span,
            "`extends` names a policy directory relative to this policy's directory",
        )
        return None
    here, there = root.resolve(), base_dir.resolve()
    if there in chain:
        col.error("extends-cycle", f'`extends "{rel}"` makes a cycle of base policies', span)
        return None
    if _is_within(here, there) or _is_within(there, here):
        col.error(
            "bad-extends", f"base policy `{rel}` and this policy may not contain each other", span
        )
        return None
    base_prefix = _relname(prefix, os.path.relpath(there, here).replace(os.sep, "/"))
    return _load(base_dir, col, base_prefix, chain)


def _is_within(inner: Path, outer: Path) -> bool:
    try:
        inner.relative_to(outer)
    except ValueError:
        return False
    return True


def _resolve_imports(
    name: str,
    disk_path: Path,
    module: n.Module,
    root: Path,
    prefix: str,
    modules: dict[str, n.Module],
    data: dict[str, DataFile],
    col: _Collector,
) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for decl in module.declarations:
        if not isinstance(decl, n.Import):
            continue
        target = Path(os.path.normpath(disk_path.parent / decl.path))
        if os.path.isabs(decl.path) or not _is_within(target, root) or not _inside(target, root):
            col.error(
                "import-outside",
                f"import `{decl.path}` leaves the policy directory",
                decl.path_span,
                "imports must name files inside the policy directory",
            )
            continue
        imported = _relname(prefix, target.relative_to(root).as_posix())
        suffix = target.suffix.lower()
        if suffix == ".smr":
            if imported not in modules:
                col.error(
                    "bad-import",
                    f"cannot import `{decl.path}`: no such policy file",
                    decl.path_span,
                    "a `.smr` import names another file of the same policy",
                )
                continue
            aliases[decl.alias] = imported
        elif suffix in DATA_SUFFIXES:
            if imported not in data:
                value = _load_data_file(target, imported, decl.path_span, col)
                if value is _FAILED:
                    continue
                data[imported] = DataFile(imported, value)
            aliases[decl.alias] = imported
        else:
            col.error(
                "bad-import",
                f"cannot import `{decl.path}`: unsupported file type",
                decl.path_span,
                "import `.smr`, `.yaml`, `.yml` or `.json` files",
            )
    return aliases


_FAILED = object()


def _load_data_file(path: Path, name: str, span: Span, col: _Collector) -> object:
    read = _read_text(path, name, col, span)
    if read is None:
        return _FAILED
    text, raw = read
    col.sources[name] = text
    col.digest_parts[name] = raw
    value = parse_data_text(text, name, col)
    if value is _FAILED:
        return _FAILED
    return convert_dates(value)


def parse_data_text(text: str, name: str, col: _Collector) -> object:
    from .yamlio import YamlError, load_data

    try:
        return load_data(text, name)  # `.json` files as strict JSON, others as YAML
    except YamlError as err:
        col.diagnostics.append(err.diagnostic)
        return _FAILED


def convert_dates(value: object) -> object:
    """Data-file strings that are exactly a date or an instant with offset become one (§2.8)."""
    if isinstance(value, str):
        if len(value) == 10 and _DATE_RE.fullmatch(value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return value
        if _INSTANT_RE.fullmatch(value):
            from .parser import parse_instant_text

            parsed = parse_instant_text(value)
            return parsed if parsed is not None else value
        return value
    if isinstance(value, list):
        return [convert_dates(v) for v in value]
    if isinstance(value, dict):
        return {k: convert_dates(v) for k, v in value.items()}
    return value


def _check_import_cycles(
    modules: dict[str, n.Module], imports: dict[str, dict[str, str]], col: _Collector
) -> None:
    graph = {name: [t for t in imports.get(name, {}).values() if t in modules] for name in modules}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt] if nxt in stack else [node, nxt]
                decl = next(
                    (
                        d
                        for d in modules[node].declarations
                        if isinstance(d, n.Import) and imports[node].get(d.alias) == nxt
                    ),
                    None,
                )
                col.error(
                    "import-cycle",
                    "import cycle: " + " -> ".join(cycle),
                    decl.path_span if decl else None,
                )
            elif state.get(nxt) is None:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for name in sorted(graph, key=path_key):
        if state.get(name) is None:
            visit(name, [name])


_WAIVER_KEYS = {"rule", "actors", "departments", "until", "reason", "approved_by"}


def _load_waivers(root: Path, prefix: str, col: _Collector) -> tuple[WaiverEntry, ...]:
    path = root / "waivers.yaml"
    if not os.path.lexists(path):
        col.files[str(path)] = None
        return ()
    name = _relname(prefix, "waivers.yaml")
    if not _inside(path, root):  # a link to a file elsewhere: never read, as for imports
        col.error(
            "outside-policy",
            f"`{name}` links outside the policy directory",
            Span(name, 1, 1),
            "policy files must live inside the policy directory",
        )
        return ()
    read = _read_text(path, name, col, None)  # a directory, pipe or broken link is an error
    if read is None:
        return ()
    text, raw = read
    col.sources[name] = text
    col.digest_parts[name] = raw
    from .yamlio import YamlError, yaml_load_with_positions

    try:
        value, positions = yaml_load_with_positions(text, name)
    except YamlError as err:
        col.diagnostics.append(err.diagnostic)
        return ()

    def span_at(*path: object) -> Span:
        pos = positions.get(tuple(path))
        return Span(name, pos[0], pos[1]) if pos else Span(name, 1, 1)

    if value is None:
        return ()
    if not isinstance(value, list):
        col.error(
            "bad-waiver",
            "waivers.yaml must hold a list of waivers",
            span_at(),
            "write each waiver as a `- rule: ...` list item",
        )
        return ()
    entries: list[WaiverEntry] = []
    for i, item in enumerate(value):
        where = span_at(i)
        if not isinstance(item, dict):
            col.error("bad-waiver", f"waiver {i + 1} must be a mapping", where)
            continue
        problems = []
        unknown = sorted(set(item) - _WAIVER_KEYS)
        for key in unknown:
            problems.append((f"unknown field `{key}`", span_at(i, key)))
        for key in ("rule", "until", "reason", "approved_by"):
            if key not in item:
                problems.append((f"missing `{key}`", where))
        has_actors, has_departments = "actors" in item, "departments" in item
        if has_actors == has_departments:
            problems.append(("give exactly one of `actors` or `departments`", where))
        for key in ("rule", "reason", "approved_by"):
            if key in item and not isinstance(item[key], str):
                problems.append((f"`{key}` must be a string", span_at(i, key)))
        for key in ("actors", "departments"):
            if key in item and not (
                isinstance(item[key], list) and all(isinstance(v, str) for v in item[key])
            ):
                problems.append((f"`{key}` must be a list of strings", span_at(i, key)))
        until = item.get("until")
        until_date: dt.date | None = None
        if "until" in item:
            if isinstance(until, str) and _DATE_RE.fullmatch(until):
                try:
                    until_date = dt.date.fromisoformat(until)
                except ValueError:
                    pass
            if until_date is None:
                problems.append(("`until` must be a date like 2026-12-31", span_at(i, "until")))
        for message, span in problems:
            col.error("bad-waiver", f"waiver {i + 1}: {message}", span)
        if problems or until_date is None:
            continue
        entries.append(
            WaiverEntry(
                rule=item["rule"],
                actors=tuple(item["actors"]) if has_actors else None,
                departments=tuple(item["departments"]) if has_departments else None,
                until=until_date,
                reason=item["reason"],
                approved_by=item["approved_by"],
                span=span_at(i, "rule"),
            )
        )
    return tuple(entries)
