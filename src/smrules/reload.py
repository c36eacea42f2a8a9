"""Hot reload for the HTTP service: watch a policy's files and swap in each valid edit.

A background thread polls the files every `interval` seconds (stat calls only, no dependency on
an OS notification API). When something changed it loads the policy again: a valid policy
replaces the served one in a single attribute assignment, so every request sees either the old
or the new policy, never a mix; a policy with load errors is not served, the last good one stays,
and the errors are kept for `GET /v1/policy` until a later edit loads.

Watched files: every `.smr`, `.yaml`, `.yml` and `.json` file under the policy directory (hidden
directories skipped, as the loader does), plus every file the last load read from elsewhere (a base
policy, `extends`). For a single-file policy, that file and what it read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .engine import Policy
from .errors import Diagnostic, PolicyError
from .values import format_instant

WATCHED_SUFFIXES = (".smr", ".yaml", ".yml", ".json")
DEFAULT_INTERVAL = 0.5
# Files changed this recently are also hashed: on file systems with coarse timestamps an edit
# can keep both the size and the mtime of the previous version.
_RECENT_NS = 2_000_000_000

# path -> (size, mtime_ns, content hash or None)
Snapshot = dict[Path, tuple[int, int, "str | None"]]


@dataclass(frozen=True, slots=True)
class ReloadError:
    """Why the latest edit of the policy was not loaded."""

    time: dt.datetime
    message: str  # every diagnostic rendered with its source line
    diagnostics: tuple[Diagnostic, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "time": format_instant(self.time),
            "message": self.message,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }


def _policy_files(root: Path) -> Iterable[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith(WATCHED_SUFFIXES) and not name.startswith("."):
                yield Path(dirpath) / name


def snapshot(paths: Iterable[Path]) -> Snapshot:
    """What the files look like now: size, mtime and, for recent ones, a content hash."""
    now = time.time_ns()
    out: Snapshot = {}
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue  # gone: its absence changes the snapshot
        content = None
        if now - st.st_mtime_ns < _RECENT_NS:
            try:
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                content = "unreadable"
        out[path] = (st.st_size, st.st_mtime_ns, content)
    return out


def changed(old: Snapshot, new: Snapshot) -> bool:
    """Whether a file appeared, disappeared or changed (a hash counts only when both have one)."""
    if old.keys() != new.keys():
        return True
    for path, (size, mtime, content) in new.items():
        old_size, old_mtime, old_content = old[path]
        if (size, mtime) != (old_size, old_mtime):
            return True
        if content is not None and old_content is not None and content != old_content:
            return True
    return False


class PolicyWatcher:
    """Holds the served policy and reloads it when its files change."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        policy: Policy,
        *,
        interval: float = DEFAULT_INTERVAL,
        loader: Callable[[Path], Policy] | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        from .api import load

        self.path = Path(path)
        self.interval = interval
        self._load = loader or load
        self._report = report or (lambda message: None)
        self.policy = policy  # read once per request; replaced whole, never mutated
        self.loaded_at = dt.datetime.now(dt.timezone.utc)
        self.last_error: ReloadError | None = None
        self._extra: frozenset[Path] = self._read_files(policy.program.sources)
        self._seen = self._snapshot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read_files(self, sources: Iterable[str]) -> frozenset[Path]:
        """Files a load read, by their names relative to the policy root (`../base/x.smr`)."""
        root = self.path if self.path.is_dir() else self.path.parent
        return frozenset(Path(os.path.normpath(root / name)) for name in sources)

    def _snapshot(self) -> Snapshot:
        return snapshot({*_policy_files(self.path), *self._extra})

    def check(self) -> bool:
        """Poll once; reload if anything changed. Returns whether a new policy is now served."""
        current = self._snapshot()
        if not changed(self._seen, current):
            self._seen = current
            return False
        # Let a multi-file save settle before loading it.
        while True:
            time.sleep(0.05)
            settled = self._snapshot()
            if not changed(current, settled):
                break
            current = settled
        self._seen = current
        return self.reload()

    def reload(self) -> bool:
        """Load the policy again now; returns whether a new policy is now served."""
        try:
            policy = self._load(self.path)
        except PolicyError as err:
            self._watch(self._extra | self._read_files(err.sources))
            self.last_error = ReloadError(
                dt.datetime.now(dt.timezone.utc), err.render(), err.diagnostics
            )
            count = len(err.diagnostics)
            self._report(
                f"policy edit not loaded ({count} error{'s' if count != 1 else ''}); "
                f"still serving {self.policy.digest}\n{err.render()}"
            )
            return False
        self._watch(self._read_files(policy.program.sources))
        self.last_error = None
        if policy.digest == self.policy.digest:
            return False
        policy.generate_code()  # before it serves, so no request waits for it
        self.policy = policy
        self.loaded_at = dt.datetime.now(dt.timezone.utc)
        self._report(f"reloaded policy `{policy.name}` {policy.digest}")
        return True

    def _watch(self, extra: frozenset[Path]) -> None:
        """Change the set of files read from outside the policy directory."""
        if extra != self._extra:
            self._extra = extra
            self._seen = self._snapshot()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="smrules-policy-watcher", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        # A policy served from the on-disk cache never built the parser; build it now, so the
        # first reload does not pay for it (about a second) inside its two-second budget.
        try:
            from .parser import parse_module

            parse_module("", "<warm-up>.smr")
        except Exception:  # only an optimisation
            pass
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception as err:  # a watcher that dies would silently stop reloads
                self._report(f"policy watcher: {type(err).__name__}: {err}")
