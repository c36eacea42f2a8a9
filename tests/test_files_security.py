"""Files: nothing outside a policy's directory (or a test file's) is read through `..`, absolute
paths or symbolic links, and unreadable, special and binary files are clear, located errors,
never hangs or tracebacks (SPEC §1, §2.3, §6, §7; docs/security.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import smrules
from smrules.errors import PolicyError

RULE = 'rule r { when content.text mentions "x" deny "x" }\n'


def load_errors(path: Path) -> list[tuple[str, str, str, int, int]]:
    """(code, message, file, line, column) of every load error of the policy at `path`."""
    with pytest.raises(PolicyError) as raised:
        within(10, lambda: smrules.load(path, cache=False))
    return [
        (d.code, d.message, d.span.file, d.span.line, d.span.column)
        for d in raised.value.diagnostics
    ]


def within(seconds: float, fn):
    """`fn()`, failing the test (instead of hanging it) when it takes longer than `seconds`."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as err:  # re-raised in the test's thread
            outcome["error"] = err

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smrules", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "SMRULES_NO_CACHE": "1"},
        timeout=60,  # a hang fails the test
    )


@pytest.fixture
def outside(tmp_path) -> Path:
    """A secret file next to the policy directory, which no policy may read."""
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: hunter2\n")
    return secret


@pytest.fixture
def policy_dir(tmp_path) -> Path:
    root = tmp_path / "policy"
    (root / "data").mkdir(parents=True)
    (root / "data" / "ok.yaml").write_text("words: [x]\n")
    return root


# -- imports, policy files and waivers stay inside the policy directory -----------------------


@pytest.mark.parametrize(
    "target",
    ["../secret.yaml", "data/../../secret.yaml", "./../secret.yaml", "{outside}"],
)
def test_imports_cannot_leave_the_policy_directory(policy_dir, outside, target):
    target = target.format(outside=outside)
    (policy_dir / "main.smr").write_text(f'import "{target}" as s\n{RULE}')
    assert load_errors(policy_dir) == [
        ("import-outside", f"import `{target}` leaves the policy directory", "main.smr", 1, 8)
    ]


def test_an_import_through_a_symlink_to_a_file_outside_is_refused(policy_dir, outside):
    (policy_dir / "data" / "link.yaml").symlink_to(outside)
    (policy_dir / "main.smr").write_text(f'import "data/link.yaml" as s\n{RULE}')
    assert [e[0] for e in load_errors(policy_dir)] == ["import-outside"]


def test_an_import_through_a_directory_symlink_to_outside_is_refused(policy_dir, outside):
    (policy_dir / "elsewhere").symlink_to(outside.parent, target_is_directory=True)
    (policy_dir / "main.smr").write_text(f'import "elsewhere/secret.yaml" as s\n{RULE}')
    assert [e[0] for e in load_errors(policy_dir)] == ["import-outside"]


def test_symlinks_that_stay_inside_are_fine(policy_dir):
    (policy_dir / "data" / "alias.yaml").symlink_to(policy_dir / "data" / "ok.yaml")
    (policy_dir / "main.smr").write_text(
        'import "data/alias.yaml" as d\nrule r { when content.text mentions d.words deny "x" }\n'
    )
    policy = smrules.load(policy_dir, cache=False)
    activity = {"kind": "post", "actor": {"id": "e1"}, "content": {"text": "x"}}
    assert policy.evaluate(activity).decision == "deny"


def test_a_policy_file_that_links_outside_is_refused(policy_dir, tmp_path):
    foreign = tmp_path / "foreign.smr"
    foreign.write_text('rule foreign { deny "from elsewhere" }\n')
    (policy_dir / "main.smr").write_text(RULE)
    (policy_dir / "linked.smr").symlink_to(foreign)
    assert load_errors(policy_dir) == [
        ("outside-policy", "`linked.smr` links outside the policy directory", "linked.smr", 1, 1)
    ]


def test_directory_symlinks_are_not_followed_when_finding_policy_files(policy_dir, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "extra.smr").write_text('rule foreign { deny "from elsewhere" }\n')
    (policy_dir / "main.smr").write_text(RULE)
    (policy_dir / "more").symlink_to(foreign, target_is_directory=True)
    policy = smrules.load(policy_dir, cache=False)
    assert [r.id for r in policy.rules] == ["r"]


def test_a_waivers_file_that_links_outside_is_refused(policy_dir, tmp_path):
    foreign = tmp_path / "waivers.yaml"
    foreign.write_text("- rule: r\n  actors: [e1]\n  until: 2099-01-01\n  reason: x\n")
    (policy_dir / "main.smr").write_text(RULE)
    (policy_dir / "waivers.yaml").symlink_to(foreign)
    assert load_errors(policy_dir) == [
        (
            "outside-policy",
            "`waivers.yaml` links outside the policy directory",
            "waivers.yaml",
            1,
            1,
        )
    ]


def test_symlink_loops_are_errors_not_hangs(policy_dir):
    (policy_dir / "main.smr").write_text(f'import "data/a.yaml" as a\n{RULE}')
    (policy_dir / "data" / "a.yaml").symlink_to(policy_dir / "data" / "b.yaml")
    (policy_dir / "data" / "b.yaml").symlink_to(policy_dir / "data" / "a.yaml")
    (policy_dir / "loop.smr").symlink_to(policy_dir / "loop.smr")
    loop = "Too many levels of symbolic links"
    assert sorted(load_errors(policy_dir)) == [
        ("unreadable-file", f"cannot read `data/a.yaml`: {loop}", "main.smr", 1, 8),
        ("unreadable-file", f"cannot read `loop.smr`: {loop}", "loop.smr", 1, 1),
    ]


# -- unreadable, special and binary files -----------------------------------------------------


def test_a_broken_symlink_is_a_located_error(policy_dir):
    (policy_dir / "main.smr").write_text(RULE)
    (policy_dir / "gone.smr").symlink_to(policy_dir / "nowhere.smr")
    assert load_errors(policy_dir) == [
        (
            "unreadable-file",
            "cannot read `gone.smr`: No such file or directory",
            "gone.smr",
            1,
            1,
        )
    ]


def test_a_directory_where_a_data_file_is_expected(policy_dir):
    (policy_dir / "data" / "dir.yaml").mkdir()
    (policy_dir / "main.smr").write_text(f'import "data/dir.yaml" as d\n{RULE}')
    assert load_errors(policy_dir) == [
        ("unreadable-file", "`data/dir.yaml` is a directory, not a file", "main.smr", 1, 8)
    ]


def test_a_directory_named_waivers_yaml_is_an_error_not_silently_skipped(policy_dir):
    (policy_dir / "main.smr").write_text(RULE)
    (policy_dir / "waivers.yaml").mkdir()
    assert load_errors(policy_dir) == [
        ("unreadable-file", "`waivers.yaml` is a directory, not a file", "waivers.yaml", 1, 1)
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_named_pipes_are_errors_not_hangs(policy_dir):
    os.mkfifo(policy_dir / "pipe.smr")
    os.mkfifo(policy_dir / "data" / "pipe.yaml")
    (policy_dir / "main.smr").write_text(f'import "data/pipe.yaml" as p\n{RULE}')
    message = "`{}` is not a regular file (a pipe, socket or device)"
    assert sorted(load_errors(policy_dir)) == [
        ("unreadable-file", message.format("data/pipe.yaml"), "main.smr", 1, 8),
        ("unreadable-file", message.format("pipe.smr"), "pipe.smr", 1, 1),
    ]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_device_is_an_error_not_an_endless_read(policy_dir):
    (policy_dir / "data" / "zero.yaml").symlink_to("/dev/zero")
    (policy_dir / "main.smr").write_text(f'import "data/zero.yaml" as z\n{RULE}')
    assert load_errors(policy_dir) == [  # /dev/zero is outside, and it is no regular file
        ("import-outside", "import `data/zero.yaml` leaves the policy directory", "main.smr", 1, 8)
    ]


def test_binary_and_badly_encoded_files_are_located(policy_dir):
    (policy_dir / "main.smr").write_text(f'import "data/blob.yaml" as b\n{RULE}')
    (policy_dir / "data" / "blob.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (policy_dir / "bin.smr").write_bytes(b'rule b {\n  deny "\x00" }\n')
    (policy_dir / "latin1.smr").write_bytes(b'# caf\xe9\nrule c { deny "x" }\n')
    assert sorted(load_errors(policy_dir)) == [
        ("bad-encoding", "`latin1.smr` is not valid UTF-8 (byte 5)", "latin1.smr", 1, 6),
        ("binary-file", "`bin.smr` is a binary file, not text", "bin.smr", 2, 9),
        ("binary-file", "`data/blob.yaml` is a binary file, not text", "main.smr", 1, 8),
    ]


def test_a_byte_order_mark_is_accepted(policy_dir):
    (policy_dir / "main.smr").write_bytes("\ufeff".encode() + RULE.encode())
    assert [r.id for r in smrules.load(policy_dir, cache=False).rules] == ["r"]


def test_a_bad_byte_after_a_byte_order_mark_is_located_in_the_file(policy_dir):
    (policy_dir / "main.smr").write_bytes(b"\xef\xbb\xbf# \xff\n" + RULE.encode())
    assert load_errors(policy_dir) == [
        ("bad-encoding", "`main.smr` is not valid UTF-8 (byte 5)", "main.smr", 1, 3)
    ]


# -- the command line: exit 3, file:line:col, never a traceback -------------------------------


@pytest.fixture
def broken_policy(policy_dir, outside) -> Path:
    (policy_dir / "main.smr").write_text(f'import "../secret.yaml" as s\n{RULE}')
    (policy_dir / "bin.smr").write_bytes(b'rule b {\n  deny "\x00" }\n')
    (policy_dir / "gone.smr").symlink_to(policy_dir / "nowhere.smr")
    if hasattr(os, "mkfifo"):
        os.mkfifo(policy_dir / "pipe.smr")
    return policy_dir


EXPECTED_LINES = [
    "main.smr:1:8: error[import-outside]: import `../secret.yaml` leaves the policy directory",
    "bin.smr:2:9: error[binary-file]: `bin.smr` is a binary file, not text",
    "gone.smr:1:1: error[unreadable-file]: cannot read `gone.smr`",
]


def test_check_exits_3_with_located_errors(broken_policy):
    proc = cli("check", "--policy", str(broken_policy), "--text", "hello")
    assert proc.returncode == 3
    for line in EXPECTED_LINES:
        assert line in proc.stderr
    if hasattr(os, "mkfifo"):
        assert "pipe.smr:1:1: error[unreadable-file]: `pipe.smr` is not a regular file" in (
            proc.stderr
        )
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "hunter2" not in proc.stderr + proc.stdout


def test_lint_reports_the_same_errors_without_a_traceback(broken_policy):
    proc = cli("lint", str(broken_policy))
    assert proc.returncode == 1  # load errors are lint errors (docs/cli.md)
    for line in EXPECTED_LINES:
        assert line in proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "hunter2" not in proc.stderr + proc.stdout


# -- test files: `activity_file` stays beside the test file or inside the policy ---------------


@pytest.fixture
def test_tree(tmp_path, outside) -> Path:
    """A policy with a tests/ directory and an examples/ directory inside it."""
    root = tmp_path / "repo" / "policy"
    (root / "tests").mkdir(parents=True)
    (root / "examples").mkdir()
    (root / "main.smr").write_text(RULE)
    (root / "examples" / "post.yaml").write_text("kind: post\nactor: {id: e1}\n")
    (tmp_path / "repo" / "elsewhere.yaml").write_text("kind: post\nactor: {id: e2}\n")
    return root


def write_test(root: Path, activity_file: str) -> Path:
    path = root / "tests" / "files.test.yaml"
    path.write_text(
        "policy: ..\n"
        "cases:\n"
        "  - name: from a file\n"
        f"    activity_file: {activity_file}\n"
        "    expect: {decision: allow}\n"
    )
    return path


def test_activity_files_inside_the_policy_are_allowed(test_tree):
    from smrules.testing import load_test_file

    test_file = load_test_file(write_test(test_tree, "../examples/post.yaml"))
    assert [case.name for case in test_file.cases] == ["from a file"]


@pytest.mark.parametrize(
    "target",
    ["../../elsewhere.yaml", "../../../secret.yaml", "{outside}", "link.yaml", "dirlink/x.yaml"],
)
def test_activity_files_cannot_leave_their_tree(test_tree, outside, target):
    from smrules.testing import InvalidTestFile, load_test_file

    (test_tree / "tests" / "link.yaml").symlink_to(outside)
    (test_tree / "tests" / "dirlink").symlink_to(outside.parent, target_is_directory=True)
    (outside.parent / "x.yaml").write_text("kind: post\nactor: {id: e3}\n")
    test_path = write_test(test_tree, target.format(outside=outside))
    with pytest.raises(InvalidTestFile) as raised:
        load_test_file(test_path)
    (diag,) = raised.value.diagnostics
    assert diag.span.file.endswith("files.test.yaml") and diag.span.line == 4
    assert "outside the test file's directory" in diag.message or "relative" in diag.message
    assert "hunter2" not in raised.value.render()


def test_smrules_test_exits_3_for_an_activity_file_outside(test_tree):
    write_test(test_tree, "../../elsewhere.yaml")
    proc = cli("test", str(test_tree / "tests"))
    assert proc.returncode == 3
    assert "files.test.yaml:4:" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_binary_and_directory_activity_files_are_clear_errors(test_tree):
    from smrules.testing import InvalidTestFile, load_test_file

    (test_tree / "examples" / "blob.yaml").write_bytes(b"kind: post\x00\x01")
    (test_tree / "examples" / "folder.yaml").mkdir()
    for name, fragment in [("blob.yaml", "binary"), ("folder.yaml", "directory")]:
        with pytest.raises(InvalidTestFile) as raised:
            load_test_file(write_test(test_tree, f"../examples/{name}"))
        assert fragment in raised.value.diagnostics[0].message
