"""The public entry points: load a policy from disk."""

from __future__ import annotations

import os
from pathlib import Path

from .engine import Policy, compile_program
from .loader import load_program


def load(path: str | os.PathLike[str]) -> Policy:
    """Parse, check and compile the policy at `path` (a directory or one `.smr` file).

    Raises `smrules.PolicyError` listing every load error with file, line and column.
    """
    return compile_program(load_program(path))


def bundled_policy_path() -> Path:
    """Where the default policy shipped with smrules lives."""
    return Path(__file__).resolve().parent / "policies"
