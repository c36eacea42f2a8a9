"""Lint warnings (SPEC §7 `smrules lint`): each with a case that warns and a near miss that
does not."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from smrules.cli import main
from smrules.lint import lint_test_files, lint_warnings, mixed_script_word
from smrules.loader import load_program

TODAY = dt.date(2026, 11, 16)
FIXTURES = Path(__file__).parent / "fixtures" / "lint"


def warnings_of(tmp_path: Path, source: str, **files: str) -> list:
    root = tmp_path / "policy"
    for name, text in {"main.smr": source, **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return lint_warnings(load_program(root), today=TODAY)


def codes(diagnostics, code: str | None = None) -> list:
    return [d for d in diagnostics if code is None or d.code == code]


def rule(body: str, name: str = "r", effect: str = 'deny "no"') -> str:
    return f"rule {name} {{\n{textwrap.indent(textwrap.dedent(body), '  ')}  {effect}\n}}\n"


# ---------------------------------------------------------------- rules that can never fire


@pytest.mark.parametrize(
    "body",
    [
        'when kind == "post"\nwhen kind == "share"\n',
        'when kind == "post" and kind == "share"\n',
        'when actor.department == "a" and actor.department != "a"\n',
        "when false\n",
        "when null\n",
        "unless true\n",
        "when not true\n",
        'when kind in ["post", "share"]\nwhen kind == "comment"\n',
        'when kind == "post"\nunless kind == "post"\n',
        'when kind == "post"\nunless kind in ["post", "share"]\n',
        'when not (kind == "post" or kind == "share")\nwhen kind == "share"\n',
        'when actor.department == "it"\nwhen actor.department not in ["it", "hr"]\n',
        'when "legal" in actor.roles\nwhen "legal" not in actor.roles\n',
        "when actor.supervisor == true\nwhen actor.supervisor == false\n",
        "when actor.tenure_days == 1\nwhen actor.tenure_days != 1.0\n",
        'when lower(actor.department) == "it"\nwhen lower(actor.department) == "hr"\n',
        'when activity.kind == "post"\nwhen kind == "share"\n',
        'when activity["kind"] == "post"\nwhen kind == "share"\n',
    ],
)
def test_contradictory_conditions_never_fire(tmp_path, body):
    found = codes(warnings_of(tmp_path, rule(body)), "never-fires")
    assert len(found) == 1
    assert found[0].severity == "warning"
    assert found[0].message.startswith("rule `r` can never fire: ")
    assert (found[0].span.file, found[0].span.line, found[0].span.column) == ("main.smr", 1, 6)
    assert found[0].help


@pytest.mark.parametrize(
    "body",
    [
        'when kind == "post"\nwhen audience == "public"\n',
        'when kind == "post" or kind == "share"\n',
        'when kind == "post"\nunless kind == "share"\n',
        'when kind in ["post", "share"]\nwhen kind == "share"\n',
        'when kind != "post"\nwhen kind != "share"\n',
        'when actor.department == "it"\nwhen actor.department not in ["hr"]\n',
        'when "legal" in actor.roles\nwhen "hr" in actor.roles\n',
        "when true\n",
        "unless false\n",
        "when actor.tenure_days == 1\nwhen actor.tenure_days == 1.0\n",
        # booleans never equal numbers, and null is not a member of any list:
        "when actor.supervisor != true\nwhen actor.supervisor != 1\n",
        'when actor.department not in [null, "it"]\nwhen actor.department == null\n',
        # a condition inside a quantifier talks about each element, not one value:
        'when any(a in content.attachments: a.type == "image")\n'
        'when any(a in content.attachments: a.type == "video")\n',
        'when not (kind == "post" and audience == "public")\nwhen kind == "post"\n',
        "when len(content.text) > 10\nwhen len(content.text) < 100\n",
    ],
)
def test_satisfiable_conditions_are_not_reported(tmp_path, body):
    assert codes(warnings_of(tmp_path, rule(body)), "never-fires") == []


def test_never_fires_names_the_two_clauses(tmp_path):
    found = codes(
        warnings_of(tmp_path, rule('when kind == "post"\nwhen kind == "share"\n')), "never-fires"
    )
    assert found[0].message == (
        'rule `r` can never fire: `when kind == "post"` and `when kind == "share"` '
        "contradict each other"
    )


def test_never_fires_through_lets_and_constant_lists(tmp_path):
    source = 'let public_kinds = ["post", "share"]\nlet broadcast = kind in public_kinds\n' + rule(
        'when broadcast\nwhen kind == "message"\n'
    )
    assert len(codes(warnings_of(tmp_path, source), "never-fires")) == 1


def test_never_fires_through_another_files_lets(tmp_path):
    common = (
        'let internal = audience == "internal"\n'
        'let external = kind in ["post", "share"] and not internal\n'
    )
    source = 'import "common.smr" as common\n' + rule(
        "when common.external\nwhen common.internal\n"
    )
    found = codes(warnings_of(tmp_path, source, **{"common.smr": common}), "never-fires")
    assert len(found) == 1
    assert "`when common.external` and `when common.internal`" in found[0].message


def test_never_fires_with_data_file_lists(tmp_path):
    source = 'import "data/k.yaml" as k\n' + rule(
        'when actor.department in k.blocked\nwhen actor.department == "sales"\n'
    )
    found = warnings_of(tmp_path, source, **{"data/k.yaml": "blocked: [it, hr]\n"})
    assert len(codes(found, "never-fires")) == 1
    near = 'import "data/k.yaml" as k\n' + rule(
        'when actor.department in k.blocked\nwhen actor.department == "hr"\n'
    )
    assert codes(warnings_of(tmp_path, near, **{"data/k.yaml": "blocked: [it, hr]\n"})) == []


def test_a_value_outside_the_schema_enum_is_a_rule_that_never_fires(tmp_path):
    found = warnings_of(tmp_path, rule('when kind == "pots"\n'))
    assert [d.code for d in found] == ["never-fires"]
    assert '`kind` is never "pots"; did you mean "post"?' in found[0].message


def test_enum_values_in_other_places_are_impossible_comparisons(tmp_path):
    source = rule('when kind == "post" or audience == "publik"\n')
    found = warnings_of(tmp_path, source)
    assert [d.code for d in found] == ["impossible-value"]
    diag = found[0]
    assert diag.message == (
        '`audience == "publik"` is never true: `audience` is never "publik"; did you mean "public"?'
    )
    assert (diag.span.line, diag.span.column) == (2, 26)
    assert "public" in diag.help and "private" in diag.help


@pytest.mark.parametrize(
    "expr, outcome",
    [
        ('audience != "publik"', "always true"),
        ('actor.employment in ["staff", "temp"]', "never true"),
        ('any(a in content.attachments: a.classification == "secert")', "never true"),
        ('["tempo"] contains actor.employment', "never true"),
    ],
)
def test_impossible_values_anywhere(tmp_path, expr, outcome):
    source = f"let x = {expr}\n" + rule('when x or kind == "post"\n')
    found = codes(warnings_of(tmp_path, source), "impossible-value")
    assert len(found) == 1 and outcome in found[0].message


@pytest.mark.parametrize(
    "expr",
    [
        'audience == "public"',
        'actor.employment in ["staff", "intern"]',
        'actor.department == "publik"',  # free text: no enum
        "declared.solicited_by == null",
        "kind == null",
    ],
)
def test_values_the_schema_allows_are_not_reported(tmp_path, expr):
    source = f"let x = {expr}\n" + rule("when x\n")
    assert codes(warnings_of(tmp_path, source), "impossible-value") == []


# ---------------------------------------------------------------- shadowed rules


def test_a_rule_with_the_same_conditions_and_effect_is_shadowed(tmp_path):
    first = rule('when kind == "post"\nwhen audience == "public"\n', "a", 'warn "one"')
    second = rule('when audience=="public"   \nwhen kind == "post"\n', "b", 'warn "two"')
    found = warnings_of(tmp_path, first + second)
    assert [d.code for d in found] == ["shadowed-rule"]
    assert found[0].message == (
        "rule `b` has the same conditions and effect as rule `a` (main.smr:1:6)"
    )
    assert found[0].span.line == 6


@pytest.mark.parametrize(
    "second",
    [
        rule('when kind == "post"\nwhen audience == "public"\n', "b", 'deny "other effect"'),
        rule('when kind == "post"\n', "b", 'warn "fewer conditions"'),
        rule('when kind == "post"\nunless audience == "public"\n', "b", 'warn "unless"'),
        rule('when kind == "share"\nwhen audience == "public"\n', "b", 'warn "value"'),
    ],
)
def test_similar_rules_are_not_shadowed(tmp_path, second):
    first = rule('when kind == "post"\nwhen audience == "public"\n', "a", 'warn "one"')
    assert codes(warnings_of(tmp_path, first + second), "shadowed-rule") == []


def test_same_text_naming_different_lets_is_not_shadowed(tmp_path):
    files = {
        "a.smr": 'let x = kind == "post"\n' + rule("when x\n", "a"),
        "b.smr": 'let x = kind == "share"\n' + rule("when x\n", "b"),
    }
    assert codes(warnings_of(tmp_path, "", **files), "shadowed-rule") == []


# ---------------------------------------------------------------- risks, waivers, names


def test_unknown_risk_names(tmp_path):
    source = rule("risk reputaton\n") + rule('risk security\nwhen kind == "post"\n', "s")
    found = warnings_of(tmp_path, source)
    assert [d.code for d in found] == ["unknown-risk"]
    assert "did you mean `reputation`" in found[0].message
    assert (found[0].span.line, found[0].span.column) == (2, 8)


WAIVERS = """\
- rule: r
  actors: [e1]
  until: {until}
  reason: launch
  approved_by: legal
"""


@pytest.mark.parametrize(
    "until, today, expired",
    [
        ("2026-11-15", TODAY, True),
        ("2026-11-16", TODAY, False),  # until is inclusive
        ("2027-01-01", TODAY, False),
    ],
)
def test_expired_waivers(tmp_path, until, today, expired):
    root = tmp_path / "policy"
    root.mkdir()
    (root / "main.smr").write_text(rule('when kind == "post"\n'), encoding="utf-8")
    (root / "waivers.yaml").write_text(WAIVERS.format(until=until), encoding="utf-8")
    found = codes(lint_warnings(load_program(root), today=today), "expired-waiver")
    assert bool(found) is expired
    if expired:
        assert found[0].span.file == "waivers.yaml" and found[0].span.line == 1
        assert "2026-11-15" in found[0].message


def test_expired_waivers_use_the_policy_time_zone_by_default(tmp_path):
    # Far in the past, whatever the clock says: the default `today` is a real date.
    root = tmp_path / "policy"
    root.mkdir()
    header = 'policy p {\n  timezone "Pacific/Kiritimati"\n}\n'
    (root / "main.smr").write_text(header + rule('when kind == "post"\n'), encoding="utf-8")
    (root / "waivers.yaml").write_text(WAIVERS.format(until="2001-01-01"), encoding="utf-8")
    assert codes(lint_warnings(load_program(root)), "expired-waiver")


def test_unused_lets_and_imports(tmp_path):
    source = (
        'import "data/x.yaml" as x\n'
        'import "data/y.yaml" as y\n'
        "let used = 1\n"
        "let unused = 2\n"
        "let used_in_message = 3\n"
        + rule("when len(x.items) > used\n", effect='deny "{used_in_message} items"')
    )
    found = warnings_of(
        tmp_path, source, **{"data/x.yaml": "items: [1]\n", "data/y.yaml": "items: [1]\n"}
    )
    unused = codes(found, "unused-name")
    assert [(d.span.line, d.span.column) for d in unused] == [(2, 25), (4, 5)]
    assert "`y`" in unused[0].message and "`unused`" in unused[1].message


def test_a_name_used_only_by_another_file_counts_as_used(tmp_path):
    files = {
        "common.smr": "let shared = 1\nlet only_here = 2\n",
        "main.smr": 'import "common.smr" as common\n' + rule("when common.shared > 0\n"),
    }
    unused = codes(warnings_of(tmp_path, "", **files), "unused-name")
    assert [d.message.split("`")[1] for d in unused] == ["only_here"]


def test_a_quantifier_binder_does_not_use_a_let(tmp_path):
    source = "let items = 1\n" + rule(
        "when any(l in content.links: l.domain == null)\nwhen items > 0\n"
    )
    assert codes(warnings_of(tmp_path, source), "unused-name") == []


# ---------------------------------------------------------------- regexes and scripts


@pytest.mark.parametrize(
    "pattern, escape, char",
    [
        (r"/\bcafé\b/", r"\b", "é"),
        (r"/\bÄrger/", r"\b", "Ä"),
        (r"/ß\B/", r"\B", "ß"),
        (r"/[\wé]+/", r"\w", "é"),
        (r"/\w+ü/", r"\w", "ü"),
        (r"/\Wñ/", r"\W", "ñ"),
    ],
)
def test_ascii_only_escapes_next_to_non_ascii_letters(tmp_path, pattern, escape, char):
    source = f"let p = {pattern}\n" + rule("when content.text matches p\n")
    found = codes(warnings_of(tmp_path, source), "ascii-word-escape")
    assert len(found) == 1
    assert f"`{escape}` next to `{char}`" in found[0].message
    assert found[0].span.line == 1


def test_ascii_escape_column_points_at_the_escape(tmp_path):
    source = r"let p = /x\bcafé\b/" + "\n" + rule("when content.text matches p\n")
    (diag,) = codes(warnings_of(tmp_path, source), "ascii-word-escape")
    assert diag.span.column == len("let p = /x\\bcafé") + 1


@pytest.mark.parametrize(
    "pattern",
    [
        r"/\bcafe\b/",  # ASCII only
        r"/\bcafé /",  # \b next to c, é next to a space
        r"/\\bé/",  # an escaped backslash, then the letter b
        r"/\pL+é/",  # \pL is Unicode-aware
        r"/\d+€/",  # \d is not a word escape, € is not a letter
        r"/\b’s/",  # a punctuation mark is not a word character
    ],
)
def test_patterns_without_the_problem(tmp_path, pattern):
    source = f"let p = {pattern}\n" + rule("when content.text matches p\n")
    assert codes(warnings_of(tmp_path, source), "ascii-word-escape") == []


def test_string_patterns_of_matches_are_checked(tmp_path):
    source = rule('when content.text matches ["ok", "\\\\bélan"]\n')
    (diag,) = codes(warnings_of(tmp_path, source), "ascii-word-escape")
    assert "`\\b` next to `é`" in diag.message
    assert (diag.span.line, diag.span.column) == (2, 36)
    near = rule('when content.text matches ["ok", "\\\\belan"]\n')
    assert codes(warnings_of(tmp_path, near), "ascii-word-escape") == []


def test_mixed_scripts_in_strings_regexes_and_data(tmp_path):
    source = (
        'import "data/lex.yaml" as lex\n'
        + rule('when content.text mentions "аcme"\n', "s")  # Cyrillic а
        + rule("when content.text matches /ΑCME corp/\n", "g")  # Greek Α
        + rule("when content.text mentions lex.names\n", "d")
    )
    lexicon = "names:\n  - Acme\n  - Асme Cloud\n"  # Cyrillic А and с
    found = codes(warnings_of(tmp_path, source, **{"data/lex.yaml": lexicon}), "mixed-script")
    assert [(d.span.file, d.span.line) for d in found] == [
        ("data/lex.yaml", 3),
        ("main.smr", 3),
        ("main.smr", 7),
    ]
    assert "CYRILLIC SMALL LETTER A" in found[1].message
    assert "Latin and Greek" in found[2].message


@pytest.mark.parametrize(
    "text",
    ["acme", "Müller", "привет", "Ελλάδα", "acme привет", "naïve café", "1a2б"],
)
def test_words_in_one_script_are_not_mixed(text):
    assert mixed_script_word(text) is None


def test_regex_classes_and_escapes_are_not_words(tmp_path):
    source = rule("when content.text matches /[a-zа-я]+ \\bпривет/\n")
    assert codes(warnings_of(tmp_path, source), "mixed-script") == []


# ---------------------------------------------------------------- test files without now

TIMED = rule("when hour(time) >= 22\n", effect='warn "late"')
CASE = """\
  - name: {name}
    activity: {{kind: post, actor: {{id: e1}}{extra}}}
    expect: {{decision: allow}}
"""


def _test_file(now: str = "", cases: tuple[str, ...] = ("",)) -> str:
    body = "".join(CASE.format(name=f"case {i}", extra=extra) for i, extra in enumerate(cases))
    return f"policy: ..\n{now}cases:\n{body}"


def lint_tests(tmp_path: Path, source: str, test_text: str) -> list:
    root = tmp_path / "policy"
    (root / "tests").mkdir(parents=True)
    (root / "main.smr").write_text(source, encoding="utf-8")
    (root / "tests" / "t.test.yaml").write_text(test_text, encoding="utf-8")
    return lint_test_files(root, load_program(root))


def test_a_test_file_without_now_warns_when_the_policy_reads_the_time(tmp_path):
    (diag,) = lint_tests(tmp_path, TIMED, _test_file())
    assert diag.code == "test-without-now" and diag.severity == "warning"
    assert diag.span.file == "tests/t.test.yaml" and diag.span.line == 3
    assert "2000-01-01T00:00:00Z" in diag.message and "hour(time)" in diag.message


@pytest.mark.parametrize(
    "source",
    [
        rule("when time > 2026-01-01T00:00Z\n"),
        rule('when weekday(activity.time) == "sat"\n'),
        "let late = hour(time) > 20\n" + rule("when late\n"),
    ],
)
def test_every_way_of_reading_the_time_counts(tmp_path, source):
    assert [d.code for d in lint_tests(tmp_path, source, _test_file())] == ["test-without-now"]


def test_only_the_cases_without_a_time_count(tmp_path):
    text = _test_file(cases=("", ", time: 2026-11-16T22:30:00Z", ""))
    (diag,) = lint_tests(tmp_path, TIMED, text)
    assert "2 of its 3 cases run" in diag.message


@pytest.mark.parametrize(
    "source, text",
    [
        (TIMED, _test_file(now="now: 2026-11-16T09:00:00Z\n")),
        (TIMED, _test_file(cases=(", time: 2026-11-16T22:30:00Z",))),
        (rule('when kind == "post"\n'), _test_file()),  # the policy never reads the time
        (TIMED, _test_file().replace("policy: ..", "policy: ../../elsewhere")),
    ],
)
def test_no_warning_when_cases_have_a_time_or_time_does_not_matter(tmp_path, source, text):
    (tmp_path / "elsewhere").mkdir()
    assert lint_tests(tmp_path, source, text) == []


def test_a_case_level_now_is_enough(tmp_path):
    case_now = "  - name: case 0\n    now: 2026-11-16T09:00:00Z\n"
    text = _test_file().replace("  - name: case 0\n", case_now)
    assert lint_tests(tmp_path, TIMED, text) == []


def test_lint_warnings_include_test_files(tmp_path):
    root = tmp_path / "policy"
    (root / "tests").mkdir(parents=True)
    (root / "main.smr").write_text(TIMED, encoding="utf-8")
    (root / "tests" / "t.test.yaml").write_text(_test_file(), encoding="utf-8")
    assert [d.code for d in lint_warnings(load_program(root), today=TODAY)] == ["test-without-now"]


# ---------------------------------------------------------------- the shipped policies and the CLI


def test_clean_policies_have_no_warnings():
    for path in (Path(__file__).parents[1] / "policies", FIXTURES / "clean"):
        assert lint_warnings(load_program(path), today=TODAY) == [], path


def test_smrules_lint_prints_the_warnings():
    result = CliRunner().invoke(main, ["lint", "--format", "json", str(FIXTURES / "warnings")])
    report = json.loads(result.output)
    found = {d["code"] for d in report["diagnostics"]}
    assert found == {
        "never-fires",
        "impossible-value",
        "shadowed-rule",
        "unknown-risk",
        "unused-name",
        "ascii-word-escape",
        "mixed-script",
        "expired-waiver",
        "test-without-now",
    }
    assert all(d["severity"] == "warning" for d in report["diagnostics"])
    assert result.exit_code == 0
    strict = CliRunner().invoke(main, ["lint", "--strict", str(FIXTURES / "warnings")])
    assert strict.exit_code == 1
    assert "warning[never-fires]" in strict.output
