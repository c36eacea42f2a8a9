"""The public entry points: load a policy from disk."""

from __future__ import annotations

import os
from pathlib import Path

from .engine import Policy, compile_program
from .loader import load_program


def load(path: str | os.PathLike[str], *, cache: bool = True) -> Policy:
    """Parse, check and compile the policy at `path` (a directory or one `.smr` file).

    Raises `smrules.PolicyError` listing every load error with file, line and column. With
    `cache` (the default), a policy loaded before with the same files is taken from the
    on-disk cache of parsed policies (see `smrules.cache`), skipping the parser and checker.
    """
    from . import cache as disk_cache

    key = disk_cache.source_key(path) if cache else None
    if key is not None:
        program = disk_cache.read(key)
        if program is not None:
            return compile_program(program, checked=True)
    program = load_program(path)
    policy = compile_program(program)
    if key is not None:
        disk_cache.write(key, program)
    return policy


def bundled_policy_path() -> Path:
    """Where the default policy shipped with smrules lives."""
    return Path(__file__).resolve().parent / "policies"
