"""pytest plugin: `*.test.yaml` policy tests (SPEC §6) as pytest items, with the same failure
reports as `smrules test`.

Registered through the `pytest11` entry point, so it loads in every pytest run of an
environment where smrules is installed. It stays inert unless a `*.test.yaml` file is about
to be collected, and collects one only when
- `--smrules` is on the command line, or `smrules = true` is set in the ini file
  (`[tool.pytest.ini_options]`): then every `*.test.yaml` pytest walks into is collected; or
- the file, or a directory above it, was named explicitly on the command line
  (`pytest policies/`, `pytest policies/tests/baseline.test.yaml`).
Paths that come from the `testpaths` setting or from the working directory (a bare `pytest`)
are not "explicit". So a project whose `pytest` run already calls `smrules test` on its
policies does not run those tests twice: a bare `pytest` collects no `*.test.yaml` file unless
the ini option says so. `-p no:smrules` switches the plugin off entirely.

Each case is an item named after the case; the policy under test is compiled once per
session. `pytest -k` selects cases by name as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUFFIX = ".test.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smrules", "smrules policy tests")
    group.addoption(
        "--smrules",
        action="store_true",
        default=False,
        help="collect smrules policy tests (*.test.yaml) wherever collection goes",
    )
    parser.addini(
        "smrules",
        type="bool",
        default=False,
        help="collect smrules policy tests (*.test.yaml) wherever collection goes",
    )


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("smrules", False) or config.getini("smrules"))


_ROOTS = pytest.StashKey[list]()


def _explicit_roots(config: pytest.Config) -> list[Path]:
    """The paths the user named on the command line (not `testpaths`, not the cwd default)."""
    if _ROOTS not in config.stash:
        config.stash[_ROOTS] = _find_roots(config)
    return config.stash[_ROOTS]


def _find_roots(config: pytest.Config) -> list[Path]:
    source_kind = getattr(pytest.Config, "ArgsSource", None)
    source = getattr(config, "args_source", None)
    if source_kind is not None and source is not None:
        if source != source_kind.ARGS:
            return []
        args = list(config.args)
    else:  # older pytest: fall back to the raw command line
        args = [a for a in config.invocation_params.args if not str(a).startswith("-")]
    base = Path(config.invocation_params.dir)
    roots = []
    for arg in args:
        path = Path(base, str(arg).split("::", 1)[0])
        if path.exists():
            roots.append(path.resolve())
    return roots


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not file_path.name.endswith(SUFFIX):
        return None
    config = parent.config
    if not _enabled(config):
        resolved = file_path.resolve()
        if not any(r == resolved or r in resolved.parents for r in _explicit_roots(config)):
            return None
    return PolicyTestFile.from_parent(parent, path=file_path)


_POLICIES = pytest.StashKey[dict]()


def _policy(config: pytest.Config, path: Path) -> Any:
    """The compiled policy at `path`, loaded once per session (or the PolicyError it raised)."""
    from .api import load
    from .errors import PolicyError

    cache = config.stash.setdefault(_POLICIES, {})
    if path not in cache:
        try:
            cache[path] = load(path)
        except PolicyError as err:
            cache[path] = err
    return cache[path]


class PolicyTestFile(pytest.File):
    """A `*.test.yaml` file: one item per case."""

    def collect(self) -> Iterator[pytest.Item]:
        from .testing import InvalidTestFile, load_test_file

        try:
            test_file = load_test_file(self.path)
        except InvalidTestFile as err:
            raise self.CollectError(f"invalid test file {err.file}\n{err.render()}") from None
        for case in test_file.cases:
            yield PolicyTestItem.from_parent(
                self,
                name=case.name,
                case=case,
                policy_path=test_file.policy,
                policy_name=test_file.policy_name,
            )


class PolicyCaseFailed(Exception):
    """A case that failed or erred; carries its result for the report."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class PolicyTestItem(pytest.Item):
    """One case of a test file."""

    def __init__(self, *, case: Any, policy_path: Path, policy_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.policy_path = policy_path
        self.policy_name = policy_name

    def runtest(self) -> None:
        from .errors import PolicyError
        from .reporters import failure_text
        from .testing import PolicyFailure, run_case

        policy = _policy(self.config, self.policy_path)
        if isinstance(policy, PolicyError):
            failure = PolicyFailure.of(self.policy_name, self.policy_path, policy)
            raise PolicyCaseFailed(f"error: {failure.message}\n{failure.render()}")
        result = run_case(policy, self.case, self.policy_name)
        if not result.passed:
            raise PolicyCaseFailed(failure_text(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        if isinstance(excinfo.value, PolicyCaseFailed):
            return f"{self.case.file}:{self.case.line}: {self.case.name}\n{excinfo.value.text}"
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int, str]:
        # Not a suffix of the node id: pytest would read a suffix as a dotted Python name.
        return (
            self.path,
            self.case.line - 1,
            f"{self.case.name} ({self.case.file}:{self.case.line})",
        )
