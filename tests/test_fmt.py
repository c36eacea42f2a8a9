"""`smrules fmt` and `smrules.fmt.format_source`: one canonical layout, every comment kept,
idempotent, and never a change to what a policy decides."""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import smrules
from smrules.cli import main
from smrules.fmt import format_source, same_tree
from smrules.parser import ParseFailed, _lark, parse_module

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "fmt"
BENCH = Path("/work/shared/bench")
GOLDEN = sorted(p.name[: -len(".before.smr")] for p in FIXTURES.glob("*.before.smr"))


def repository_smr_files() -> list[Path]:
    roots = [REPO / "policies", REPO / "examples", REPO / "tests" / "fixtures", BENCH / "policy"]
    found: set[Path] = set()
    for root in roots:
        if root.is_dir():
            found.update(p.resolve() for p in root.rglob("*.smr") if p.is_file())
    return sorted(found)


SMR_FILES = repository_smr_files()


def comments(text: str) -> list[str]:
    return [t.value.rstrip() for t in _lark().lex(text, dont_ignore=True) if t.type == "COMMENT"]


# ---------------------------------------------------------------- golden files


def test_golden_files_exist():
    assert {"layout", "comments", "long", "spec_example"} <= set(GOLDEN)


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_before_and_after(name):
    before = (FIXTURES / f"{name}.before.smr").read_text(encoding="utf-8")
    after = (FIXTURES / f"{name}.after.smr").read_text(encoding="utf-8")
    assert format_source(before, f"{name}.smr") == after
    assert format_source(after, f"{name}.smr") == after


def test_the_spec_example_is_already_canonical():
    # SPEC §2.1's layout is the canonical one, up to the spacing before a trailing comment.
    before = (FIXTURES / "spec_example.before.smr").read_text(encoding="utf-8")
    after = (FIXTURES / "spec_example.after.smr").read_text(encoding="utf-8")
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert changed == [
        (
            'let personal_public = kind in public_kinds and account.type == "personal"'
            "   # reads the activity",
            'let personal_public = kind in public_kinds and account.type == "personal"'
            "  # reads the activity",
        )
    ]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("let x=1", "let x = 1\n"),
        ("", ""),
        ("\n\n  \n", ""),
        ("# only a comment", "# only a comment\n"),
        ("let x = [ ]\n", "let x = []\n"),
        ("let x = f( a , b , )\n", "let x = f(a, b)\n"),
        ("let x = not a in b\n", "let x = not (a in b)\n"),
        ("let x = a not in b\n", "let x = a not in b\n"),
        ("let x = ((a))\n", "let x = a\n"),
        ("let x = (a or b) and c\n", "let x = (a or b) and c\n"),
        ("let x = a or (b and c)\n", "let x = a or (b and c)\n"),
        ("let x = a or (b or c)\n", "let x = a or (b or c)\n"),
        ("let x = (a and b) and c\n", "let x = a and b and c\n"),
        ("let x = not not a\n", "let x = not not a\n"),
        ("let x = (a or b).c\n", "let x = (a or b).c\n"),
        ('let x = a["k"][0].b\n', 'let x = a["k"][0].b\n'),
        ('let x = "a # not a comment" # a comment\n', 'let x = "a # not a comment"  # a comment\n'),
        ('let x = "\\u{1F600} \\" \\\\ \\t"\n', 'let x = "\\u{1F600} \\" \\\\ \\t"\n'),
        ("let x = /a\\/b#c/ims\n", "let x = /a\\/b#c/ims\n"),
        ("let x = 1.50\nlet y = -0.0\n", "let x = 1.50\nlet y = -0.0\n"),
        ("let x = 2026-12-15T08:00:00.500+01:00\n", "let x = 2026-12-15T08:00:00.500+01:00\n"),
        ("rule r { allow }", "rule r {\n  allow\n}\n"),
        ("policy p {}", "policy p {}\n"),
        ("policy p { }\r\nlet x = 1\r\n", "policy p {}\n\nlet x = 1\n"),
        ("\ufefflet x = 1\n", "let x = 1\n"),
    ],
)
def test_small_layouts(source, expected):
    assert format_source(source) == expected
    assert format_source(expected) == expected


def test_consecutive_lets_and_imports_stay_together():
    source = 'import "a.smr" as a\nlet x = 1\n\n\n\nlet yy = 2\nlet z = 3\nrule r { allow }\n'
    assert format_source(source) == (
        'import "a.smr" as a\nlet x = 1\n\nlet yy = 2\nlet z  = 3\n\nrule r {\n  allow\n}\n'
    )


def test_blank_lines_inside_blocks_are_kept_but_not_doubled():
    source = 'rule r {\n\n  risk security\n\n\n\n  when a\n  deny "x"\n\n}\n'
    assert format_source(source) == 'rule r {\n  risk security\n\n  when a\n  deny "x"\n}\n'


# ---------------------------------------------------------------- comments


COMMENTED = """\
# head
policy p { # brace
  title "t" # title
  # own
} # after policy
let x = [ # open
  1, # one
  # own in list
  2 # two
  # before close
] # after list
rule r { # r
  when a # a
    or # or
    b # b
  unless not # not
    c
  deny "d" # d
  hint "h"
  # last in rule
} # after rule
# tail
"""


@pytest.mark.parametrize(
    "path", [None, *SMR_FILES], ids=lambda p: "inline" if p is None else p.name
)
def test_every_comment_is_kept_in_order(path):
    text = COMMENTED if path is None else path.read_text(encoding="utf-8-sig")
    try:
        formatted = format_source(text, "x.smr")
    except ParseFailed:
        return  # a fixture with a syntax error on purpose: covered below
    assert comments(formatted) == comments(text)


def test_comment_lines_stay_comment_lines_and_trailing_comments_stay_trailing():
    out = format_source(COMMENTED)
    lines = out.splitlines()
    assert "# head" in lines and "  # own" in lines and "# tail" in lines
    assert "  # own in list" in lines and "  # before close" in lines
    assert "  # last in rule" in lines
    for trailing in ("# brace", "# title", "# one", "# two", "# d", "# after rule"):
        (line,) = [line for line in lines if line.endswith(trailing)]
        assert line.strip() != trailing, trailing
    assert format_source(out) == out


def test_trailing_comments_of_consecutive_lines_line_up():
    out = format_source('policy p {\n  title "a" # one\n  version "2026.1" # two\n}\n')
    assert out == ('policy p {\n  title   "a"       # one\n  version "2026.1"  # two\n}\n')


# ---------------------------------------------------------------- idempotence and meaning


@pytest.mark.parametrize("path", SMR_FILES, ids=lambda p: str(p))
def test_formatting_every_repository_file_is_idempotent(path):
    text = path.read_text(encoding="utf-8-sig")
    try:
        once = format_source(text, path.name)
    except ParseFailed:
        with pytest.raises(ParseFailed):
            parse_module(text, path.name)
        return
    assert format_source(once, path.name) == once
    assert same_tree(parse_module(text, "a"), parse_module(once, "b"))


def test_the_repository_has_policies_to_check():
    assert any("policies" in p.parts for p in SMR_FILES)
    assert len(SMR_FILES) >= 10


TOKENS_SOURCE = (FIXTURES / "long.before.smr").read_text(encoding="utf-8") + (
    FIXTURES / "layout.before.smr"
).read_text(encoding="utf-8")


def _tokens(text: str) -> list[str]:
    return [t.value for t in _lark().lex(text, dont_ignore=False)]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_the_layout_does_not_depend_on_the_original_whitespace(data):
    tokens = _tokens(TOKENS_SOURCE)
    gaps = data.draw(
        st.lists(
            st.sampled_from([" ", "   ", "\n", " \n    ", "\t"]),
            min_size=len(tokens),
            max_size=len(tokens),
        )
    )
    spaced = "".join(tok + gap for tok, gap in zip(tokens, gaps, strict=True))
    assert format_source(spaced) == format_source(" ".join(tokens))


_GAPS = [" ", "  ", "\t", "\n", "\n    ", "  # trailing\n", "\n# own line\n", "\n\n# apart\n\n"]


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_comments_anywhere_are_kept_and_formatting_stays_idempotent(data):
    tokens = _tokens(TOKENS_SOURCE)
    gaps = data.draw(st.lists(st.sampled_from(_GAPS), min_size=len(tokens), max_size=len(tokens)))
    text = "".join(
        tok + gap.replace("#", f"#{i}")
        for i, (tok, gap) in enumerate(zip(tokens, gaps, strict=True))
    )
    once = format_source(text)
    assert comments(once) == comments(text)
    assert format_source(once) == once
    assert same_tree(parse_module(text, "a"), parse_module(once, "b"))


def _strip_positions(value: object) -> object:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("line", "column", "digest"):
                continue
            out[key] = _strip_positions(item)
        return out
    if isinstance(value, list):
        return [_strip_positions(item) for item in value]
    return value


def _policy_targets() -> list[Path]:
    """Every directory of the repository's `.smr` files that loads as a policy; for the others,
    each of its files that loads alone (fixtures holding several policies, or broken ones)."""
    targets: list[Path] = []
    for directory in sorted({p.parent for p in SMR_FILES}):
        try:
            smrules.load(directory)
        except smrules.PolicyError:
            for file in sorted(directory.glob("*.smr")):
                try:
                    smrules.load(file)
                except smrules.PolicyError:
                    continue
                targets.append(file)
        else:
            targets.append(directory)
    return targets


POLICY_TARGETS = _policy_targets()


def _activities_for(target: Path) -> list[tuple[dict, object]]:
    """(activity, now) pairs: the bench's generated activities, the cases of the policy's test
    files, and a few simple activities."""
    import datetime as dt

    now = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)
    out: list[tuple[dict, object]] = []
    if target.resolve() == (BENCH / "policy").resolve():
        spec = importlib.util.spec_from_file_location("bench_activities", BENCH / "activities.py")
        assert spec and spec.loader
        sys.path.insert(0, str(BENCH))
        try:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            out += [(a, now) for a in module.generate(300, 7)]
        finally:
            sys.path.remove(str(BENCH))
    from smrules.testing import discover, load_test_file

    search = target if target.is_dir() else target.parent
    for path in discover([search]):
        try:
            test_file = load_test_file(path)
        except Exception:  # noqa: BLE001 - a test file for another policy, or a broken one
            continue
        if test_file.policy.resolve() != target.resolve():
            continue
        out += [(dict(case.activity), case.now) for case in test_file.cases]
    texts = ["Hello world", "Our Q3 revenue beat expectations!", "Project Falcon at bit.ly/x"]
    for kind in ("post", "comment", "message", "tool_request", "account_connection"):
        for text in texts:
            activity = {
                "kind": kind,
                "actor": {"id": "e1", "department": "marketing", "roles": ["employee"]},
                "account": {"type": "personal"},
                "audience": "public",
                "content": {"text": text},
                "tool": {"name": "Hootsuite"},
            }
            out.append((activity, now))
    return out


def test_there_are_policies_to_compare():
    names = {t.name for t in POLICY_TARGETS}
    assert "policies" in names
    if (BENCH / "policy").is_dir():
        assert any(t.resolve() == (BENCH / "policy").resolve() for t in POLICY_TARGETS)


def _copy_with_bases(target: Path, policy: smrules.Policy, into: Path) -> tuple[Path, list[Path]]:
    """Copy the policy and the base policies it extends, keeping their relative places; return
    the copied target and its `.smr` files (bases included)."""
    root = REPO if target.resolve().is_relative_to(REPO) else target.resolve().parent.parent
    here = target if target.is_dir() else target.parent
    files = [(here / m.file).resolve() for m in policy.program.modules]
    tops = {f.relative_to(root).parts[0] for f in files}
    for top in sorted(tops):
        shutil.copytree(root / top, into / top, symlinks=True)
    copied_files = [into / f.relative_to(root) for f in files]
    return into / target.resolve().relative_to(root), copied_files


@pytest.mark.parametrize("target", POLICY_TARGETS, ids=lambda p: str(p))
def test_formatting_never_changes_what_a_policy_decides(tmp_path, target):
    before = smrules.load(target)
    copied, files = _copy_with_bases(target, before, tmp_path)
    for file in files:
        text = file.read_text(encoding="utf-8-sig")
        file.write_text(format_source(text, file.name), encoding="utf-8")
    after = smrules.load(copied)
    assert [r.id for r in before.rules] == [r.id for r in after.rules]
    activities = _activities_for(target)
    assert activities
    compared = 0
    for activity, now in activities:
        try:
            expected = before.evaluate(copy.deepcopy(activity), now=now)
        except smrules.ActivityError:
            with pytest.raises(smrules.ActivityError):
                after.evaluate(copy.deepcopy(activity), now=now)
            continue
        got = after.evaluate(copy.deepcopy(activity), now=now)
        assert _strip_positions(got.to_dict()) == _strip_positions(expected.to_dict())
        compared += 1
    assert compared


# ---------------------------------------------------------------- errors


def test_a_syntax_error_is_not_formatted():
    with pytest.raises(ParseFailed) as failed:
        format_source("rule r {\n  when a ==\n}\n", "bad.smr")
    (diag,) = failed.value.diagnostics
    assert (diag.span.file, diag.span.line) == ("bad.smr", 3)


def test_a_literal_error_is_not_formatted():
    with pytest.raises(ParseFailed):
        format_source('let x = "\\q"\n')


@pytest.mark.parametrize("depth", [50, 300, 1000])
@pytest.mark.parametrize(
    "make",
    [
        lambda d: "[" * d + "]" * d,
        lambda d: " or ".join(f"a{i}" for i in range(d)),
        lambda d: "".join(f"a{i} or (b{i} and (" for i in range(d // 2)) + "z" + "))" * (d // 2),
        lambda d: "not " * d + "a",
    ],
    ids=["lists", "or", "parens", "not"],
)
def test_deep_nesting_is_formatted_or_refused_cleanly(depth, make):
    source = f"let x = {make(depth)}\n"
    try:
        once = format_source(source)
    except ParseFailed as failed:
        assert [d.code for d in failed.diagnostics] == ["too-deep"]
        return
    assert format_source(once) == once


# ---------------------------------------------------------------- the command


UGLY = 'rule r{when kind=="post" deny "no"}\n'
PRETTY = 'rule r {\n  when kind == "post"\n  deny "no"\n}\n'


def run(args: list[str], input: str | None = None):
    return CliRunner().invoke(main, ["fmt", *args], input=input)


def test_fmt_rewrites_files_in_place_recursively(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.smr").write_text(UGLY, encoding="utf-8")
    (tmp_path / "sub" / "b.smr").write_text(PRETTY, encoding="utf-8")
    (tmp_path / ".hidden" / "c.smr").write_text(UGLY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(UGLY, encoding="utf-8")
    result = run([str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.smr").read_text(encoding="utf-8") == PRETTY
    assert (tmp_path / "sub" / "b.smr").read_text(encoding="utf-8") == PRETTY
    assert (tmp_path / ".hidden" / "c.smr").read_text(encoding="utf-8") == UGLY
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == UGLY
    assert f"reformatted {tmp_path / 'a.smr'}" in result.output
    assert "1 file reformatted, 1 file left unchanged" in result.output


def test_fmt_keeps_an_unchanged_file_untouched(tmp_path):
    path = tmp_path / "a.smr"
    path.write_text(PRETTY, encoding="utf-8")
    os.utime(path, (1_000_000, 1_000_000))
    assert run([str(path)]).exit_code == 0
    assert path.stat().st_mtime == 1_000_000


def test_fmt_check_lists_files_and_writes_nothing(tmp_path):
    (tmp_path / "a.smr").write_text(UGLY, encoding="utf-8")
    (tmp_path / "b.smr").write_text(PRETTY, encoding="utf-8")
    result = run(["--check", str(tmp_path)])
    assert result.exit_code == 1
    assert f"would reformat {tmp_path / 'a.smr'}" in result.output
    assert "b.smr" not in result.output.replace("1 file left unchanged", "")
    assert (tmp_path / "a.smr").read_text(encoding="utf-8") == UGLY
    assert run(["--check", str(tmp_path / "b.smr")]).exit_code == 0


def test_fmt_diff_prints_a_unified_diff_and_writes_nothing(tmp_path):
    path = tmp_path / "a.smr"
    path.write_text(UGLY, encoding="utf-8")
    result = run(["--diff", str(path)])
    assert result.exit_code == 1
    assert f"--- {path} (original)" in result.output
    assert f"+++ {path} (formatted)" in result.output
    assert '-rule r{when kind=="post" deny "no"}' in result.output
    assert '+  when kind == "post"' in result.output
    assert path.read_text(encoding="utf-8") == UGLY
    path.write_text(PRETTY, encoding="utf-8")
    clean = run(["--diff", str(path)])
    assert clean.exit_code == 0 and "---" not in clean.output


def test_fmt_stdin_to_stdout():
    result = run(["-"], input=UGLY)
    assert result.exit_code == 0
    assert result.stdout == PRETTY
    assert run(["--check", "-"], input=UGLY).exit_code == 1
    assert run(["--check", "-"], input=PRETTY).exit_code == 0


def test_fmt_syntax_error_exits_3_with_a_location_and_leaves_the_file(tmp_path):
    bad = tmp_path / "bad.smr"
    bad.write_text('rule r {\n  when kind = "post"\n  deny "x"\n}\n', encoding="utf-8")
    good = tmp_path / "good.smr"
    good.write_text(UGLY, encoding="utf-8")
    result = run([str(tmp_path)])
    assert result.exit_code == 3
    assert f"{bad}:2:13: error[syntax]: " in result.output
    assert '   2 |   when kind = "post"' in result.output
    assert "Traceback" not in result.output
    assert bad.read_text(encoding="utf-8").startswith('rule r {\n  when kind = "post"')
    assert good.read_text(encoding="utf-8") == PRETTY  # the other files are still formatted


@pytest.mark.parametrize(
    "content, code",
    [
        (b"\x00\x01binary", "binary-file"),
        (b"let x = \xff\xfe\n", "bad-encoding"),
    ],
)
def test_fmt_unreadable_input_exits_3(tmp_path, content, code):
    path = tmp_path / "x.smr"
    path.write_bytes(content)
    result = run([str(path)])
    assert result.exit_code == 3
    assert f"{path}:1:1: error[{code}]" in result.output
    assert path.read_bytes() == content


def test_fmt_missing_path_exits_3(tmp_path):
    result = run([str(tmp_path / "nope.smr")])
    assert result.exit_code == 3
    assert "nope.smr:1:1: error[not-found]" in result.output


def test_fmt_help_has_an_example():
    result = run(["--help"])
    assert result.exit_code == 0
    assert "smrules fmt --check policies/" in result.output
    assert "--diff" in result.output


def test_fmt_through_the_real_entry_point(tmp_path):
    path = tmp_path / "a.smr"
    path.write_text(UGLY, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "smrules", "fmt", "--check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"would reformat {path}" in done.stdout
    assert "Traceback" not in done.stderr
