"""Loading and running policy test files (SPEC §6): `smrules.testing` and `smrules.coverage`."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pytest

from smrules.coverage import compute
from smrules.testing import (
    DEFAULT_NOW,
    InvalidTestFile,
    deep_merge,
    discover,
    load_test_file,
    name_matcher,
    run_tests,
)

FIXTURE = Path(__file__).parent / "fixtures" / "testing" / "policy"


@pytest.fixture
def policy_dir(tmp_path, monkeypatch):
    """A copy of the fixture policy and its passing tests, the working directory its parent."""
    target = tmp_path / "policy"
    shutil.copytree(FIXTURE, target)
    monkeypatch.chdir(tmp_path)
    return target


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[tuple[int, str]]:
    with pytest.raises(InvalidTestFile) as exc:
        load_test_file(path)
    return [(d.span.line if d.span else 0, d.message) for d in exc.value.diagnostics]


def run(*paths: Path, select=None, explain_all=False):
    files = []
    for path in paths:
        try:
            files.append(load_test_file(path))
        except InvalidTestFile as err:
            files.append(err)
    return run_tests(files, select, explain_all)


# ---------------------------------------------------------------------------- loading


def test_fixture_tests_all_pass(policy_dir):
    result = run(*discover([policy_dir]))
    assert [r.status for r in result.results] == ["passed"] * 12
    assert result.summary == "12 passed, 0 failed"
    assert result.exit_code == 0


def test_discover_finds_test_files_recursively_and_skips_hidden_dirs(policy_dir):
    write(policy_dir / ".hidden" / "x.test.yaml", "cases: []\n")
    write(policy_dir / "tests" / "deeper" / "more.test.yaml", "cases: []\n")
    write(policy_dir / "tests" / "notes.yaml", "cases: []\n")
    found = [p.relative_to(policy_dir).as_posix() for p in discover([policy_dir])]
    assert found == [
        "tests/basic.test.yaml",
        "tests/deeper/more.test.yaml",
        "tests/no_now.test.yaml",
    ]


def test_policy_defaults_to_nearest_parent_with_smr_files(policy_dir):
    loaded = load_test_file(policy_dir / "tests" / "basic.test.yaml")
    assert loaded.policy == policy_dir
    assert loaded.policy_name == "policy"
    assert loaded.name == "policy/tests/basic.test.yaml"


def test_policy_is_relative_to_the_test_file(policy_dir, tmp_path):
    path = write(
        tmp_path / "elsewhere" / "t.test.yaml",
        """\
        policy: ../policy/main.smr
        cases:
          - name: x
            activity: {kind: post, actor: {id: a}}
            expect: {decision: allow}
        """,
    )
    assert load_test_file(path).policy == tmp_path / "policy" / "main.smr"
    assert run(path).summary == "1 passed, 0 failed"


def test_missing_policy_is_an_invalid_test_file(tmp_path):
    path = write(
        tmp_path / "t.test.yaml",
        """\
        policy: ../nowhere
        cases: []
        """,
    )
    [(line, message)] = problems(path)
    assert line == 1
    assert "policy `../nowhere` not found" in message


def test_no_policy_anywhere_above_up_to_the_repository_root(tmp_path):
    (tmp_path / ".git").mkdir()
    path = write(tmp_path / "t.test.yaml", "cases: []\n")
    [(_, message)] = problems(path)
    assert "no policy found" in message


def test_now_defaults_to_fixed_instant_and_case_overrides_file(policy_dir):
    path = write(
        policy_dir / "tests" / "now.test.yaml",
        """\
        now: 2026-11-16T09:00:00+01:00
        cases:
          - name: file now
            activity: {kind: post, actor: {id: a}}
            expect: {decision: allow}
          - name: case now
            now: 2026-11-16T23:00:00Z
            activity: {kind: post, actor: {id: a}}
            expect: {decision: warn}
        """,
    )
    cases = load_test_file(path).cases
    assert cases[0].now == dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.timezone.utc)
    assert cases[1].now == dt.datetime(2026, 11, 16, 23, 0, tzinfo=dt.timezone.utc)
    no_now = load_test_file(policy_dir / "tests" / "no_now.test.yaml")
    assert [c.now for c in no_now.cases] == [DEFAULT_NOW, DEFAULT_NOW]
    assert DEFAULT_NOW == dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    assert run(path).summary == "2 passed, 0 failed"


def test_deep_merge_merges_maps_and_replaces_lists_and_scalars():
    base = {"kind": "post", "actor": {"id": "e1", "roles": ["a", "b"], "x": {"y": 1}}}
    over = {"actor": {"roles": ["c"], "x": {"z": 2}}, "kind": "share"}
    assert deep_merge(base, over) == {
        "kind": "share",
        "actor": {"id": "e1", "roles": ["c"], "x": {"y": 1, "z": 2}},
    }
    assert base["actor"]["x"] == {"y": 1}  # the defaults are not modified


def test_defaults_are_merged_under_activity_files(policy_dir):
    loaded = load_test_file(policy_dir / "tests" / "basic.test.yaml")
    shout = next(c for c in loaded.cases if c.name == "shouting warns")
    assert shout.activity == {
        "kind": "post",
        "platform": "linkedin",
        "actor": {"id": "e1", "department": "marketing", "roles": ["employee"]},
        "content": {"text": "We won!!!"},
    }


# ----------------------------------------------------------------------- bad test files


def test_malformed_yaml(tmp_path):
    path = write(tmp_path / "t.test.yaml", "cases: [\n  - name: x\n")
    [(line, message)] = problems(path)
    assert line >= 2
    assert "YAML" in message


def test_binary_file(tmp_path):
    path = tmp_path / "t.test.yaml"
    path.write_bytes(b"\x00\x01\x02cases")
    [(_, message)] = problems(path)
    assert "binary" in message


def test_not_utf8(tmp_path):
    path = tmp_path / "t.test.yaml"
    path.write_bytes(b"cases: []\nx: \xff\n")
    [(_, message)] = problems(path)
    assert "UTF-8" in message


@pytest.mark.parametrize(
    "text, what", [("", "empty"), ("- 1\n", "a list"), ("hello\n", "a string")]
)
def test_top_level_must_be_a_mapping(tmp_path, text, what):
    path = write(tmp_path / "t.test.yaml", text)
    [(_, message)] = problems(path)
    assert message == f"a test file must be a mapping with `cases`, not {what}"


def test_wrong_types_unknown_fields_and_missing_expect_name_their_line_and_path(policy_dir):
    path = write(
        policy_dir / "tests" / "bad.test.yaml",
        """\
        now: tomorrow
        defaults: [1]
        cases:
          - name: 3
            activity: {kind: post}
            expect: {decision: allow}
          - name: typo
            activty: {kind: post}
            expect: {decision: maybe}
          - name: nothing expected
            activity: {kind: post}
          - name: empty expect
            activity: {kind: post}
            expect: {}
          - name: both
            activity: {kind: post}
            activity_file: x.yaml
            expect: {decision: allow}
          - name: wrong list
            activity: {kind: post}
            expect: {rules: deny_all}
        colour: blue
        """,
    )
    found = problems(path)
    assert found == [
        (1, "now: must be a date-time with an offset, such as 2026-11-16T09:00:00Z"),
        (2, "defaults: must be a mapping"),
        (4, "cases[0].name: must be a string"),
        (7, "cases[1]: missing `activity` (or `activity_file`)"),
        (8, "cases[1].activty: unknown field `activty`"),
        (9, "cases[1].expect.decision: must be one of allow, warn, deny"),
        (10, "cases[2]: missing `expect`"),
        (14, "cases[3].expect: must say what to expect"),
        (15, "cases[4]: give only one of `activity` or `activity_file`"),
        (21, "cases[5].expect.rules: must be a list"),
        (22, "colour: unknown field `colour`"),
    ]


def test_unknown_field_suggests_the_right_one(policy_dir):
    path = write(
        policy_dir / "tests" / "bad.test.yaml",
        """\
        cases:
          - name: x
            activity: {kind: post}
            expect: {decison: allow}
        """,
    )
    with pytest.raises(InvalidTestFile) as exc:
        load_test_file(path)
    [diag] = exc.value.diagnostics
    assert diag.message == "cases[0].expect.decison: unknown field `decison`"
    assert diag.help == "did you mean `decision`?"
    rendered = exc.value.render()
    assert rendered.startswith(
        "policy/tests/bad.test.yaml:4:14: error[invalid-test-file]: cases[0].expect.decison"
    )
    assert "\n   4 |     expect: {decison: allow}\n" in rendered


def test_cases_is_required(policy_dir):
    path = write(policy_dir / "tests" / "bad.test.yaml", "now: 2026-01-01T00:00:00Z\n")
    assert problems(path) == [(1, "missing `cases`")]


def _activity_file_case(policy_dir: Path, ref: str) -> Path:
    return write(
        policy_dir / "tests" / "sub" / "af.test.yaml",
        f"""\
        cases:
          - name: from a file
            activity_file: {ref}
            expect: {{decision: allow}}
        """,
    )


def test_activity_file_may_not_escape_by_dotdot(policy_dir, tmp_path):
    write(tmp_path / "outside.yaml", "kind: post\nactor: {id: a}\n")
    path = _activity_file_case(policy_dir, "../../../outside.yaml")
    [(line, message)] = problems(path)
    assert line == 3
    assert message == (
        "cases[0].activity_file: `../../../outside.yaml` is outside the test file's directory"
    )


def test_activity_file_may_not_escape_by_symlink(policy_dir, tmp_path):
    write(tmp_path / "outside.yaml", "kind: post\nactor: {id: a}\n")
    (policy_dir / "tests" / "sub").mkdir(parents=True)
    (policy_dir / "tests" / "sub" / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    path = _activity_file_case(policy_dir, "link.yaml")
    [(_, message)] = problems(path)
    assert "is outside the test file's directory" in message


def test_activity_file_inside_the_policy_under_test_is_allowed(policy_dir):
    path = _activity_file_case(policy_dir, "../../examples/secret-post.yaml")
    [case] = load_test_file(path).cases
    assert case.activity["content"] == {"text": "Leaking the secret roadmap"}


def test_activity_file_problems(policy_dir):
    sub = policy_dir / "tests" / "sub"
    write(sub / "two.yaml", "- {kind: post}\n- {kind: post}\n")
    write(sub / "scalar.yaml", "just text\n")
    write(sub / "broken.yaml", "kind: [post\n")
    (sub / "bin.yaml").write_bytes(b"\x00kind")
    path = write(
        sub / "af.test.yaml",
        """\
        cases:
          - {name: a, activity_file: two.yaml, expect: {decision: allow}}
          - {name: b, activity_file: scalar.yaml, expect: {decision: allow}}
          - {name: c, activity_file: missing.yaml, expect: {decision: allow}}
          - {name: d, activity_file: bin.yaml, expect: {decision: allow}}
          - {name: e, activity_file: /etc/hostname, expect: {decision: allow}}
          - {name: f, activity_file: broken.yaml, expect: {decision: allow}}
        """,
    )
    with pytest.raises(InvalidTestFile) as exc:
        load_test_file(path)
    messages = [d.message for d in exc.value.diagnostics]
    assert messages[:5] == [
        "cases[0].activity_file: `two.yaml` holds a list of 2 activities; an activity file "
        "holds one",
        "cases[1].activity_file: `scalar.yaml` must hold one activity (a mapping), not a string",
        "cases[2].activity_file: cannot read `policy/tests/sub/missing.yaml`: "
        "No such file or directory",
        "cases[3].activity_file: `policy/tests/sub/bin.yaml` is a binary file, not YAML text",
        "cases[4].activity_file: must be a path relative to the test file",
    ]
    broken = exc.value.diagnostics[5]
    assert broken.span is not None and broken.span.file == "policy/tests/sub/broken.yaml"


# ----------------------------------------------------------------------------- running


FAILING = """\
now: 2026-11-16T09:00:00Z
defaults:
  kind: post
  actor: {id: e1, department: marketing}
cases:
  - name: passes
    activity: {content: {text: "hello"}}
    expect: {decision: allow}
  - name: wrong decision and rules
    activity: {content: {text: "We won!!!"}}
    expect: {decision: deny, rules: [no_secret, job_ads]}
  - name: excluded rule fires
    activity: {content: {text: "a secret"}}
    expect: {excludes: [no_secret], messages: ["Calm down", "nowhere"]}
  - name: unless stops it
    activity: {actor: {department: legal}, content: {text: "a secret"}}
    expect: {includes: [no_secret, no_sercet]}
  - name: invalid activity
    activity: {kind: 42}
    expect: {decision: allow}
  - name: audit and waived rules do not count
    activity: {actor: {id: e9}, content: {text: "RivalCorp https://x.example/a"}}
    expect: {rules: [link_audit, rival_mention]}
  - name: default that did not apply
    activity: {content: {text: "hi"}}
    expect: {rules: [default]}
"""


def test_results_of_failing_cases_explain_themselves(policy_dir):
    path = write(policy_dir / "tests" / "failing.test.yaml", FAILING)
    result = run(path)
    status = {r.case.name: r for r in result.results}
    assert [r.status for r in result.results] == [
        "passed",
        "failed",
        "failed",
        "failed",
        "error",
        "failed",
        "failed",
    ]
    assert result.summary == "1 passed, 5 failed, 1 error"
    assert result.exit_code == 1

    wrong = status["wrong decision and rules"]
    assert wrong.failures == (
        "decision: expected deny, got warn",
        "rules: expected exactly [job_ads, no_secret], got [shouting] "
        "(did not fire: no_secret, job_ads; not expected: shouting)",
    )
    missing = {n.rule: n for n in wrong.missing}
    assert missing["no_secret"].note == (
        'not fired: `when content.text mentions ["secret", "confidential"]` did not hold'
    )
    assert missing["no_secret"].where == "policy/main.smr:8:10"
    assert [(v.expression, v.value) for v in missing["no_secret"].values] == [
        ("content.text", "We won!!!")
    ]
    [shouting] = wrong.unexpected
    assert shouting.note == "fired: Calm down before posting."
    assert [(e.path, e.start, e.end, e.text) for e in shouting.evidence] == [
        ("content.text", 6, 9, "!!!")
    ]

    excluded = status["excluded rule fires"]
    assert excluded.failures == (
        "excludes: expected not to fire, fired: no_secret",
        'messages: no finding message contains "Calm down"',
        'messages: no finding message contains "nowhere"',
    )
    assert [n.rule for n in excluded.unexpected] == ["no_secret"]

    unless = status["unless stops it"]
    by_rule = {n.rule: n for n in unless.missing}
    assert by_rule["no_secret"].note == 'not fired: `unless actor.department == "legal"` held'
    assert [(v.expression, v.value) for v in by_rule["no_secret"].values] == [
        ("actor.department", "legal")
    ]
    assert (
        by_rule["no_sercet"].note == "the policy has no rule `no_sercet`; did you mean `no_secret`?"
    )

    invalid = status["invalid activity"]
    assert invalid.error == "invalid activity"
    assert [(p.path, p.message) for p in invalid.problems] == [("kind", "must be a string")]

    quiet = status["audit and waived rules do not count"]
    notes = {n.rule: n.note for n in quiet.missing}
    assert notes["link_audit"] == "fired, but it is an audit rule: its findings never count"
    assert notes["rival_mention"].startswith("fired, but a waiver covers it (until 2030-12-31")

    default = status["default that did not apply"]
    assert [n.note for n in default.missing] == [
        "the policy does not deny `post` activities by default"
    ]


def test_policy_that_does_not_load_makes_its_cases_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "broken" / "main.smr", "rule r { when kind == deny }\n")
    path = write(
        tmp_path / "broken" / "t.test.yaml",
        """\
        cases:
          - {name: one, activity: {kind: post, actor: {id: a}}, expect: {decision: allow}}
          - {name: two, activity: {kind: post, actor: {id: a}}, expect: {decision: allow}}
        """,
    )
    result = run(path)
    assert [r.status for r in result.results] == ["error", "error"]
    assert result.results[0].error.startswith("policy `broken` does not load: ")
    assert result.summary == "0 passed, 0 failed, 2 errors"
    assert result.exit_code == 3
    [failure] = result.policy_failures
    assert failure.error.diagnostics


def test_each_policy_is_compiled_once(policy_dir, monkeypatch):
    import smrules.api

    calls = []
    real = smrules.api.load

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(smrules.api, "load", counting)
    result = run(*discover([policy_dir]))
    assert result.passed == 12
    assert calls == [policy_dir]


def test_invalid_test_file_makes_exit_code_3_but_others_still_run(policy_dir):
    bad = write(policy_dir / "tests" / "bad.test.yaml", "cases: 3\n")
    result = run(policy_dir / "tests" / "basic.test.yaml", bad)
    assert result.passed == 10
    assert result.summary == "10 passed, 0 failed, 1 error"
    assert result.exit_code == 3


# ---------------------------------------------------------------------------- selection


@pytest.mark.parametrize(
    "pattern, name, selected",
    [
        ("SECRET", "a secret is denied", True),
        ("secret is", "a secret is denied", True),
        ("secret", "shouting warns", False),
        ("secret and not legal", "a secret is denied", True),
        ("secret and not legal", "legal may discuss secrets", False),
        ("shout or legal", "legal may discuss secrets", True),
        ("(shout or legal) and may", "shouting warns", False),
        ("not secret", "shouting warns", True),
    ],
)
def test_name_matcher(pattern, name, selected):
    assert name_matcher(pattern)(name) is selected


@pytest.mark.parametrize("pattern", ["a and", "(a or b", "a or or b", "a b and c"])
def test_name_matcher_rejects_broken_expressions(pattern):
    with pytest.raises(ValueError):
        name_matcher(pattern)


def test_selection_counts_deselected_cases(policy_dir):
    result = run(*discover([policy_dir]), select=name_matcher("secret"))
    assert [r.case.name for r in result.results] == [
        "a secret is denied",
        "legal may discuss secrets",
    ]
    assert result.deselected == 10


# ----------------------------------------------------------------------------- coverage


def test_coverage_counts_rules_and_conditions(policy_dir):
    result = run(*discover([policy_dir]), explain_all=True)
    coverage = compute(result)
    [pc] = coverage.policies
    assert pc.cases == 12
    rules = {r.rule: r for r in pc.rules}
    assert {k: (r.fired, r.not_fired, r.errors) for k, r in rules.items()} == {
        "no_secret": (2, 10, 0),
        "shouting": (1, 11, 0),
        "approved_tool": (1, 11, 0),
        "link_audit": (1, 11, 0),
        "rival_mention": (2, 10, 0),
        "late_night": (2, 10, 0),
        "job_ads": (0, 12, 0),
    }
    assert [r.rule for r in pc.uncovered] == ["job_ads"]
    assert (coverage.covered, coverage.total) == (6, 7)
    assert round(coverage.percent, 1) == 85.7
    assert coverage.below(90) and not coverage.below(85)

    secret = {(c.clause, c.index): (c.true, c.false) for c in rules["no_secret"].conditions}
    # The `unless` is evaluated only when the `when` held (3 cases): once true (legal).
    assert secret == {("when", 0): (3, 9), ("unless", 0): (1, 2)}
    tool = [(c.text, c.true, c.false) for c in rules["approved_tool"].conditions]
    assert tool == [
        ('kind == "tool_request"', 2, 10),
        ('tool.name in ["Buffer", "Hootsuite"]', 1, 1),
    ]
    [job] = rules["job_ads"].conditions
    assert (job.true, job.false, job.status) == (0, 12, "never true")
    assert rules["job_ads"].file == "policy/main.smr"


def test_coverage_of_a_rule_that_fails_at_run_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "p" / "main.smr",
        """\
        policy p { on_error warn }
        rule typed {
          when kind == "post"
          when context.n > 3
          unless context.ok
          warn "n is big"
        }
        """,
    )
    path = write(
        tmp_path / "p" / "t.test.yaml",
        """\
        defaults: {kind: post, actor: {id: a}}
        cases:
          - {name: text n, activity: {context: {n: "x"}}, expect: {decision: warn}}
          - {name: big n, activity: {context: {n: 5}}, expect: {decision: warn}}
          - {name: ok, activity: {context: {n: 5, ok: true}}, expect: {decision: allow}}
        """,
    )
    result = run(path, explain_all=True)
    assert result.summary == "3 passed, 0 failed"
    [rule] = compute(result).policies[0].rules
    assert (rule.fired, rule.not_fired, rule.errors) == (1, 1, 1)
    assert [(c.true, c.false) for c in rule.conditions] == [(3, 0), (2, 0), (1, 1)]


def test_coverage_counts_a_failed_message_as_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "p" / "main.smr",
        """\
        policy p { on_error warn }
        rule echo {
          when kind == "post"
          warn "said {lower(context.word)}"
        }
        """,
    )
    path = write(
        tmp_path / "p" / "t.test.yaml",
        """\
        defaults: {kind: post, actor: {id: a}}
        cases:
          - {name: a word, activity: {context: {word: Hi}}, expect: {messages: ["said hi"]}}
          - {name: a list, activity: {context: {word: [1]}}, expect: {decision: warn, rules: []}}
        """,
    )
    result = run(path, explain_all=True)
    assert result.summary == "2 passed, 0 failed"
    [rule] = compute(result).policies[0].rules
    assert (rule.fired, rule.not_fired, rule.errors) == (1, 0, 1)
    assert [(c.true, c.false) for c in rule.conditions] == [(2, 0)]
