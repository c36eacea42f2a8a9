"""An on-disk cache of parsed and checked policies, so a second load skips the parser.

Closures cannot be stored, but parsing and checking dominate loading; a cache entry holds the
parsed `Program` of a policy that loaded without errors. Entries are keyed by the smrules
version, the Python version, the policy's path and the content of its `.smr` files, and each
holds a manifest of every file the load read (data files, waivers, base policies, directory
listings). An entry is used only when every one of those files still has the same content, so
a stale entry is never served; an unreadable or corrupt one is ignored and rewritten.

The cache lives in `$SMRULES_CACHE_DIR`, else `$XDG_CACHE_HOME/smrules`, else
`~/.cache/smrules`; `SMRULES_NO_CACHE=1` turns it off. The directory is created private
(0700), and a directory that other users can write is never read: cache entries are pickles.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from pathlib import Path

from .loader import Program, discover, read_file_bytes

FORMAT = b"smrules-cache-1\n"


def cache_dir() -> Path | None:
    if os.environ.get("SMRULES_NO_CACHE", "").strip() not in ("", "0"):
        return None
    explicit = os.environ.get("SMRULES_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "smrules"


def _private_dir(create: bool) -> Path | None:
    directory = cache_dir()
    if directory is None:
        return None
    try:
        if create:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return None
    return directory


def source_key(path: str | os.PathLike[str]) -> str | None:
    """The key of a policy's current sources, or None when it cannot be computed."""
    from . import __version__

    target = Path(os.path.normpath(Path(path).absolute()))
    digest = hashlib.sha256()
    digest.update(f"{__version__}\0{sys.version_info[:2]}\0{target}\0".encode())
    try:
        files = [target] if target.is_file() else discover(target)
        for file in sorted(files):
            digest.update(str(file).encode("utf-8", "surrogateescape") + b"\0")
            digest.update(hashlib.sha256(read_file_bytes(file)).digest())
    except OSError:
        return None
    return digest.hexdigest()


def _fresh(program: Program) -> bool:
    manifest = program.manifest
    if manifest is None:
        return False
    for directory, listing in manifest.listings:
        if tuple(sorted(str(f) for f in discover(Path(directory)))) != listing:
            return False
    for file, expected in manifest.files:
        path = Path(file)
        if expected is None:
            if path.exists():
                return False
            continue
        try:
            if hashlib.sha256(read_file_bytes(path)).hexdigest() != expected:
                return False
        except OSError:
            return False
    return True


def read(key: str) -> Program | None:
    """A fresh cached program for `key`, or None."""
    directory = _private_dir(create=False)
    if directory is None:
        return None
    entry = directory / f"{key}.pickle"
    try:
        with open(entry, "rb") as handle:
            if handle.read(len(FORMAT)) != FORMAT:
                return None
            program = pickle.load(handle)  # noqa: S301 - private, owner-only directory
    except Exception:  # a corrupt or foreign entry is a miss, never an error
        return None
    if not isinstance(program, Program) or not _fresh(program):
        return None
    return program


def write(key: str, program: Program) -> None:
    """Store a program that loaded without errors; failures are silent (it is a cache)."""
    directory = _private_dir(create=True)
    if directory is None:
        return
    try:
        data = FORMAT + pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".pickle")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, directory / f"{key}.pickle")
        except BaseException:
            os.unlink(tmp)
            raise
    except Exception:
        return
