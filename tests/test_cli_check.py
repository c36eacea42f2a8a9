"""`smrules check`: options, outputs, exit codes and bad input, through click and a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from smrules import inputs
from smrules.cli import main
from smrules.commands import check as check_cmd
from smrules.commands._common import use_color

FIXTURES = Path(__file__).parent / "fixtures" / "cli"
POLICY = str(FIXTURES / "policy")
FIELDS = str(FIXTURES / "fields")
ACT = FIXTURES / "activities"
NOW = "2026-11-16T09:00:00Z"


def run(*args: str, input: str | bytes | None = None, policy: str | None = POLICY):
    argv = ["check"]
    if policy is not None:
        argv += ["--policy", policy]
    result = CliRunner().invoke(main, [*argv, *args], input=input)
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def act(name: str) -> str:
    return str(ACT / name)


# ---------------------------------------------------------------------------- --text


def test_text_draft_is_denied_with_the_finding_explained():
    result = run("--now", NOW, "--text", "Our Q3 revenue beat expectations!")
    assert result.exit_code == 1
    out = result.stdout
    assert out.splitlines()[0] == "deny  --text"
    assert "no_financials  No financial results" in out
    assert "Financial results may only be published by Investor Relations." in out
    assert "hint      Ask Investor Relations." in out
    assert "risk      confidentiality, severity critical, ref SEC Regulation FD" in out
    assert "source    main.smr:14:1" in out
    evidence = next(line for line in out.splitlines() if "evidence" in line)
    carets = out.splitlines()[out.splitlines().index(evidence) + 1]
    start = evidence.index("Q3 revenue")
    assert carets.index("^") == start and carets.strip() == "^" * len("Q3 revenue")
    assert "\x1b[" not in out  # no colour when stdout is not a terminal
    assert result.stderr == ""


def test_text_draft_allowed_exits_0():
    result = run("--text", "Happy Friday")
    assert result.exit_code == 0
    assert result.stdout.startswith("allow  --text\n  no rule fired")


def test_warn_exits_0_and_1_with_fail_on_warn():
    plain = run("--text", "My RocketSkates are great")
    assert plain.exit_code == 0
    assert plain.stdout.startswith("warn")
    assert "Say that you work for ACME when you post about ACME products." in plain.stdout
    strict = run("--text", "My RocketSkates are great", "--fail-on-warn")
    assert strict.exit_code == 1


def test_fail_on_warn_does_not_fail_an_allow():
    assert run("--text", "hello", "--fail-on-warn").exit_code == 0


def test_text_activity_has_the_documented_fields():
    result = run("--text", "hi there", "-o", "json", policy=FIELDS)
    message = json.loads(result.stdout)["findings"][0]["message"]
    assert message == (
        "kind=post platform= department= roles= account=personal audience=public actor=cli "
        "text=hi there"
    )


def test_text_options_set_kind_platform_department_roles_and_account():
    result = run(
        "--text", "hi", "--kind", "comment", "--platform", "x", "--department", "hr",
        "--role", "admin", "--role", "poster", "--account", "brand", "-o", "json",
        policy=FIELDS,
    )  # fmt: skip
    message = json.loads(result.stdout)["findings"][0]["message"]
    assert message == (
        "kind=comment platform=x department=hr roles=admin, poster account=brand "
        "audience=public actor=cli text=hi"
    )


def test_one_role_sets_a_one_item_list():
    result = run("--text", "hi", "--role", "intern", "-o", "json", policy=FIELDS)
    assert "roles=intern " in json.loads(result.stdout)["findings"][0]["message"]


def test_bad_kind_or_account_is_a_usage_error():
    for args in (["--kind", "tweet"], ["--account", "secret"]):
        result = run("--text", "hi", *args)
        assert result.exit_code == 2
        assert "Invalid value" in result.stderr


# ---------------------------------------------------------------------------- usage


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "nothing to check"),
        (["--text", "hi", "x.yaml"], "either --text or ACTIVITY"),
        (["--kind", "post", "x.yaml"], "--kind only apply together with --text"),
        (["--platform", "x", "--role", "r", "x.yaml"], "--platform, --role only apply"),
        (["-", "-"], "standard input (`-`) can be read only once"),
        (["--output", "xml", "x.yaml"], "Invalid value for '--output'"),
        (["--jobs", "0", "x.yaml"], "Invalid value for '--jobs'"),
    ],
)
def test_wrong_usage_exits_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01T00:00Z", "2026-11-16T09:00+25:00", ""])
def test_invalid_now_is_a_usage_error(value):
    result = run("--now", value, "--text", "hi")
    assert result.exit_code == 2
    assert "is not an instant" in result.stderr


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-16T09:00:00Z", "2026-11-16T09:00:00Z"),
        ("2026-11-16T10:00:00+01:00", "2026-11-16T09:00:00Z"),
        ("2026-11-16T10:00", "2026-11-16T09:00:00Z"),  # the policy's timezone, Europe/Berlin
        ("2026-11-16", "2026-11-15T23:00:00Z"),  # midnight in the policy's timezone
        ("2026-11-16T09:00:00.250Z", "2026-11-16T09:00:00.250000Z"),
    ],
)
def test_now_sets_the_effective_time(value, expected):
    result = run("--now", value, "--text", "hi", "-o", "json")
    assert json.loads(result.stdout)["time"] == expected


def test_activity_time_wins_over_now():
    result = run("--now", NOW, act("timed.yaml"), "-o", "json")
    assert json.loads(result.stdout)["time"] == "2026-01-02T03:04:05Z"


def test_without_now_the_clock_is_used():
    import datetime as dt

    result = run("--text", "hi", "-o", "json")
    stamp = json.loads(result.stdout)["time"].replace("Z", "+00:00")
    delta = dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(stamp)
    assert abs(delta.total_seconds()) < 120


# ---------------------------------------------------------------------------- files and outputs


def test_single_file_json_output_is_one_decision_object():
    result = run("--now", NOW, act("deny.yaml"), "--output", "json")
    assert result.exit_code == 1
    decision = json.loads(result.stdout)
    assert decision["decision"] == "deny"
    assert decision["activity_id"] == "draft-deny"
    assert decision["policy"]["name"] == "cli_fixture"
    finding = decision["findings"][0]
    assert finding["rule"] == "no_financials"
    assert finding["source"] == {"file": "main.smr", "line": 14, "column": 1}
    assert finding["evidence"] == [
        {"path": "content.text", "start": 4, "end": 14, "text": "Q3 revenue"}
    ]


def test_json_output_matches_the_decision_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from smrules.schemas import load_schema

    result = run("--now", NOW, act("deny.yaml"), act("warn.yaml"), act("allow.json"), "-o", "json")
    decisions = json.loads(result.stdout)
    for decision in decisions:
        jsonschema.validate(decision, load_schema("decision"))


def test_several_files_give_a_json_list_in_order():
    result = run("--now", NOW, act("deny.yaml"), act("warn.yaml"), act("allow.json"), "-o", "json")
    assert result.exit_code == 1
    decisions = json.loads(result.stdout)
    assert [d["activity_id"] for d in decisions] == ["draft-deny", "draft-warn", "draft-allow"]
    assert [d["decision"] for d in decisions] == ["deny", "warn", "allow"]


def test_a_file_holding_a_list_gives_a_json_list_even_of_one(tmp_path):
    one = tmp_path / "one.yaml"
    one.write_text("- {kind: post, actor: {id: a}}\n", encoding="utf-8")
    result = run(str(one), "-o", "json")
    assert isinstance(json.loads(result.stdout), list)


def test_empty_list_gives_empty_json_list_and_exit_0(tmp_path):
    empty = tmp_path / "none.json"
    empty.write_text("[]", encoding="utf-8")
    result = run(str(empty), "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_invalid_activity_among_several_gets_an_error_record_and_checking_goes_on():
    result = run("--now", NOW, act("list.yaml"), "-o", "json")
    assert result.exit_code == 3
    items = json.loads(result.stdout)
    assert [i.get("decision") for i in items] == ["allow", "deny", None]
    assert items[2] == {
        "index": 2,
        "error": "invalid activity: actor.id: must be a string",
        "problems": [{"path": "actor.id", "message": "must be a string"}],
    }
    assert "list.yaml:11:11: error[invalid-activity]: actor.id: must be a string" in result.stderr


def test_jsonl_output_is_one_line_per_activity_with_error_records():
    result = run("--now", NOW, act("stream.jsonl"), "-o", "jsonl")
    assert result.exit_code == 3
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("decision") or line["index"] for line in lines] == [
        "allow",
        "warn",
        2,
        3,
        "deny",
    ]
    assert lines[2]["problems"] == [
        {"path": "actor.id", "message": "is required"},
        {"path": "actor.idx", "message": "unknown field `idx`; did you mean `id`?"},
    ]
    assert lines[3]["error"].startswith("invalid JSON")
    stderr = result.stderr
    assert "stream.jsonl:4:30: error[invalid-activity]: actor.id: is required" in stderr
    assert "stream.jsonl:5:29: error[json]: invalid JSON" in stderr
    assert '   5 | {"id": "s4", "kind": "post",' in stderr


def test_invalid_activity_prints_located_problems_with_caret_and_exits_3():
    result = run(act("invalid.yaml"))
    assert result.exit_code == 3
    assert result.stdout == ""
    err = result.stderr.splitlines()
    i = err.index(
        f"{act('invalid.yaml')}:6:3: error[invalid-activity]: content.text: must be a string"
    )
    assert err[i + 1] == "   6 |   text: 42"
    assert err[i + 2] == "         ^"
    assert any("kind: must be one of" in line and "did you mean `post`?" in line for line in err)
    assert any(line.endswith("error[invalid-activity]: actor.id: is required") for line in err)


def test_invalid_single_activity_in_json_is_an_error_record_object():
    result = run(act("invalid.yaml"), "-o", "json")
    assert result.exit_code == 3
    record = json.loads(result.stdout)
    assert record["index"] == 0
    assert {p["path"] for p in record["problems"]} == {"actor.id", "content.text", "kind"}
    assert record["error"].startswith("invalid activity: ")


def test_exit_code_is_the_highest_that_applies():
    assert run(act("allow.json"), act("warn.yaml")).exit_code == 0
    assert run(act("allow.json"), act("warn.yaml"), "--fail-on-warn").exit_code == 1
    assert run(act("allow.json"), act("deny.yaml")).exit_code == 1
    assert run(act("deny.yaml"), act("invalid.yaml"), act("allow.json")).exit_code == 3
    assert run(act("invalid.yaml"), act("deny.yaml")).exit_code == 3


def test_text_output_for_many_ends_with_a_summary():
    result = run("--now", NOW, act("list.yaml"), act("stream.jsonl"))
    assert result.exit_code == 3
    out = result.stdout
    assert out.rstrip().splitlines()[-1] == (
        "8 activities: 2 denied, 1 warned, 2 allowed, 3 invalid"
    )
    assert f"invalid  {act('list.yaml')}:9\n  actor.id: must be a string" in out
    blocks = out.split("\n\n")
    assert blocks[0].startswith("allow  l1")
    assert blocks[1].startswith("deny  l2")


def test_text_output_for_one_has_no_summary():
    result = run(act("allow.json"))
    assert result.stdout == f"allow  draft-allow  ({act('allow.json')}:1)\n  no rule fired\n"


# ---------------------------------------------------------------------------- bad input files


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("broken.yaml", "error[yaml]: invalid YAML"),
        ("binary.yaml", "binary.yaml:1:7: error[binary-file]"),
        ("missing.yaml", "error[unreadable-file]: cannot read"),
        ("empty.yaml", "error[empty-input]"),
        ("scalar.yaml", "error[invalid-activity]: an activity must be an object"),
        ("duplicate.json", "error[json]: duplicate key `kind`"),
    ],
)
def test_bad_input_files_exit_3_without_traceback(name, fragment):
    result = run(act(name))
    assert result.exit_code == 3
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_directory_as_activity_exits_3():
    result = run(str(ACT))
    assert result.exit_code == 3
    assert "is a directory" in result.stderr


def test_invalid_utf8_is_reported_with_its_line(tmp_path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"kind: post\nactor: {id: caf\xe9}\n")
    result = run(str(bad))
    assert result.exit_code == 3
    assert f"{bad}:2:16: error[bad-encoding]" in result.stderr


def test_broken_file_among_good_ones_is_an_error_record_and_checking_goes_on():
    result = run(act("allow.json"), act("broken.yaml"), act("deny.yaml"), "-o", "jsonl")
    assert result.exit_code == 3
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["decision"] == "allow"
    assert lines[1]["index"] == 1 and lines[1]["error"].startswith("invalid YAML")
    assert lines[2]["decision"] == "deny"


# ---------------------------------------------------------------------------- policies


def test_missing_policy_exits_3():
    result = run("--text", "hi", policy="no/such/policy")
    assert result.exit_code == 3
    assert "error[policy-not-found]: policy path `no/such/policy` does not exist" in result.stderr


def test_broken_policy_prints_file_line_col_and_caret_and_exits_3():
    result = run("--text", "hi", policy=str(FIXTURES / "broken-policy.smr"))
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert lines[0].startswith("broken-policy.smr:2:8: error[unknown-field]: ")
    assert lines[1] == '   2 |   when content.txt == "x"'
    assert lines[2] == "              " + "^" * len("content.txt")
    assert "Traceback" not in result.stderr


def test_default_policy_is_policies_in_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.smr").write_text(
        'policy local_one {}\nrule r { deny "local" }\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    result = run("--text", "hi", "-o", "json", policy=None)
    decision = json.loads(result.stdout)
    assert decision["policy"]["name"] == "local_one"
    assert result.exit_code == 1


def test_default_policy_is_the_bundled_one_without_local_policies(tmp_path, monkeypatch):
    import smrules

    monkeypatch.chdir(tmp_path)
    result = run("--text", "hi", "-o", "json", policy=None)
    bundled = smrules.load(smrules.bundled_policy_path())
    assert json.loads(result.stdout)["policy"]["digest"] == bundled.digest


# ---------------------------------------------------------------------------- stdin


def test_stdin_yaml_document():
    text = (ACT / "deny.yaml").read_text(encoding="utf-8")
    result = run("-", "-o", "json", input=text)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["activity_id"] == "draft-deny"


def test_stdin_json_lines():
    text = (ACT / "stream.jsonl").read_text(encoding="utf-8")
    result = run("--now", NOW, "-", "-o", "jsonl", input=text)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5
    assert "<stdin>:4:30: error[invalid-activity]: actor.id: is required" in result.stderr


def test_stdin_single_json_line_is_one_activity():
    result = run("-", "-o", "json", input='{"kind": "post", "actor": {"id": "a"}}\n')
    assert json.loads(result.stdout)["decision"] == "allow"


def test_stdin_empty_exits_3():
    result = run("-", input="")
    assert result.exit_code == 3
    assert "<stdin>` holds no activity" in result.stderr


def test_stdin_binary_exits_3():
    result = run("-", input=b"\x89PNG\r\n\x1a\n\x00\x00")
    assert result.exit_code == 3
    assert "error[binary-file]" in result.stderr


# ---------------------------------------------------------------------------- --explain


def test_explain_text_says_why_each_rule_did_or_did_not_fire():
    draft = "hello RocketSkates #employee"
    result = run("--now", NOW, "--text", draft, "--department", "investor_relations", "--explain")
    out = result.stdout
    assert result.exit_code == 0
    lines = out.splitlines()
    i = lines.index("  not fired no_financials (deny)")
    assert lines[i + 1].strip().startswith("when content.text matches /")
    assert lines[i + 1].endswith("<- did not hold (main.smr:21)")
    assert lines[i + 2].strip() == 'content.text was "hello RocketSkates #employee"'
    j = lines.index("  not fired mention_products (warn)")
    assert lines[j + 1].strip() == (
        'unless content.hashtags intersects ["ad", "employee"]  <- held (main.smr:32)'
    )
    assert lines[j + 2].strip() == 'content.hashtags was ["employee"]'
    assert "  not fired late_night (warn, audit)" in lines


def test_explain_fired_rule_shows_the_values_its_conditions_saw():
    result = run("--now", NOW, "--text", "Q1 earnings", "--explain")
    lines = result.stdout.splitlines()
    i = lines.index("  fired     no_financials (deny)")
    assert "every `when` held and no `unless` did" in lines[i + 1]
    assert 'kind was "post"' in [line.strip() for line in lines[i + 2 :]]


def test_explain_json_has_the_decision_and_every_rule():
    result = run("--now", NOW, "--text", "Q1 earnings", "--explain", "-o", "json")
    data = json.loads(result.stdout)
    assert data["decision"]["decision"] == "deny"
    by_rule = {r["rule"]: r for r in data["rules"]}
    assert set(by_rule) == {"no_financials", "mention_products", "late_night", "approved_tool"}
    assert by_rule["no_financials"]["outcome"] == "fired"
    assert by_rule["approved_tool"]["outcome"] == "not_fired"
    assert by_rule["approved_tool"]["clause"] == "when"
    assert {"expression": "kind", "value": "post"} in by_rule["approved_tool"]["values"]


# ---------------------------------------------------------------------------- rendering details


def test_audit_finding_is_shown_but_does_not_decide():
    result = run("--now", "2026-11-16T23:30:00+01:00", "--text", "hello")
    assert result.exit_code == 0
    assert result.stdout.startswith("allow")
    assert "  audit  late_night" in result.stdout
    assert "would warn; audit rules never change the decision" in result.stdout


def test_waived_and_default_findings_are_rendered(tmp_path):
    (tmp_path / "p.smr").write_text(
        "policy waived { default deny }\n"
        'rule no_x {\n  when content.text mentions "secret"\n  deny "No secrets."\n}\n',
        encoding="utf-8",
    )
    (tmp_path / "waivers.yaml").write_text(
        "- rule: no_x\n  actors: [cli]\n  until: 2099-12-31\n"
        "  reason: launch review\n  approved_by: legal\n",
        encoding="utf-8",
    )
    result = run("--text", "a secret", policy=str(tmp_path))
    out = result.stdout
    assert result.exit_code == 1
    assert out.startswith("deny  --text\n  deny   default\n         No rule allows this activity")
    assert "  waived no_x" in out
    assert "waived    deny waived until 2099-12-31 by legal" in out
    assert "reason    launch review" in out


def test_rule_errors_are_shown(tmp_path):
    (tmp_path / "p.smr").write_text(
        'rule bad {\n  when context.n > "a"\n  warn "never"\n}\n', encoding="utf-8"
    )
    (tmp_path / "a.yaml").write_text(
        "kind: post\nactor: {id: a}\ncontext: {n: 3}\n", encoding="utf-8"
    )
    result = run(str(tmp_path / "a.yaml"), policy=str(tmp_path))
    assert result.exit_code == 1  # on_error deny
    assert "error  bad  rule failed: " in result.stdout
    assert "(p.smr:2:" in result.stdout


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty()) is False
    monkeypatch.delenv("NO_COLOR")
    assert use_color(object()) is False  # no isatty at all


def test_coloured_text_output(monkeypatch):
    monkeypatch.setattr(check_cmd, "use_color", lambda stream=None: True)
    result = CliRunner().invoke(
        main, ["check", "--policy", POLICY, "--text", "Q1 earnings"], color=True
    )
    assert "\x1b[31m\x1b[1mdeny\x1b[0m" in result.stdout
    assert "\x1b[" in result.stdout


def test_progress_appears_only_when_enabled_and_slow(monkeypatch):
    import io

    fake = io.StringIO()
    monkeypatch.setattr(sys, "stderr", fake)
    off = check_cmd.Progress(False)
    off.tick(10, 0)
    assert fake.getvalue() == ""
    on = check_cmd.Progress(True)
    on.tick(10, 0)  # too early
    assert fake.getvalue() == ""
    on.started -= 10
    on.tick(5000, 2)
    assert "checked 5,000 activities, 2 invalid" in fake.getvalue()
    on.clear()
    assert fake.getvalue().endswith("\r\x1b[K")


def test_no_progress_when_stderr_is_not_a_terminal():
    result = run("--now", NOW, act("stream.jsonl"), "-o", "jsonl")
    assert "checked" not in result.stderr


# ---------------------------------------------------------------------------- --jobs


def test_jobs_keep_the_input_order(tmp_path, monkeypatch):
    lines = []
    for i in range(600):  # three batches of a worker: a broken line, an input error, neither
        text = "Q3 revenue" if i % 7 == 0 else "RocketSkates" if i % 5 == 0 else "hello"
        activity = {"id": f"a{i}", "kind": "post", "actor": {"id": "e"}, "content": {"text": text}}
        lines.append(json.dumps(activity) if i != 150 else '{"broken": ')
    stream = tmp_path / "many.jsonl"
    raw = [line.encode() for line in lines]
    raw[280] = b'{"id": "\xff"}'  # not UTF-8: an input error the parent finds, between lines
    stream.write_bytes(b"\n".join(raw) + b"\n")  # a worker decides (one batch with it, one not)
    one = run("--now", NOW, str(stream), "-o", "jsonl")
    monkeypatch.setattr(inputs, "BLOCK_BYTES", 4096)  # workers get many blocks of lines
    many = run("--now", NOW, str(stream), "-o", "jsonl", "--jobs", "3")
    assert one.exit_code == many.exit_code == 3
    assert many.stdout == one.stdout
    assert many.stderr == one.stderr
    assert len(many.stdout.splitlines()) == 600
    assert "not valid UTF-8" in many.stderr
    # One at a time, as for someone waiting at a terminal: the same lines.
    monkeypatch.setattr(check_cmd, "_isatty", lambda stream: True)
    eager = run("--now", NOW, str(stream), "-o", "jsonl")
    assert (eager.exit_code, eager.stdout, eager.stderr) == (3, one.stdout, one.stderr)


def test_blocks_of_lines_give_what_reading_them_one_by_one_gives(tmp_path, monkeypatch):
    """A batch decides the lines of each block on the spot; every awkward line must come out
    as when each line is read and checked on its own (someone waiting at a terminal)."""

    def activity(i: int, text: str, **more: object) -> bytes:
        value = {"id": f"b{i}", "kind": "post", "actor": {"id": "e"}, "content": {"text": text}}
        return json.dumps({**value, **more}).encode()

    awkward = [
        b"",
        b"   \t ",
        activity(1, "Q3 revenue") + b"\r",  # CRLF
        b"  " + activity(2, "RocketSkates"),  # leading white space: column 3
        activity(3, "hello") + b"  \t",
        b'{"id": "b4", "kind": "post", "actor": {"idx": "e"}}',  # invalid
        b'{"id": "b5", "kind": "post",',  # broken
        b'{"id": "\xff"}',  # not UTF-8
        b'{"id": "b6", "id": "b7", "kind": "post", "actor": {"id": "e"}}',  # repeated key
        b'{"id\\u003a": "b8", "kind": "post", "actor": {"id": "e"}}',
        activity(9, "hi", context={"n": 123456789012345678901234567890}),
        b'{"id": "b10", "kind": "post", "actor": {"id": "e"}, "context": {"n": NaN}}',
        b"[1, 2]",
        b'"text"',
        b"\xef\xbb\xbf" + activity(11, "BOM"),
        activity(12, "x" * 400),  # overlong
        b"\x01\x02",
        activity(13, "Q1 earnings"),
    ]
    lines = [activity(0, "first")]
    for i in range(3):
        lines += [activity(100 + 20 * i + j, "RocketSkates" if j % 3 else "hi") for j in range(6)]
        lines += awkward
    stream = tmp_path / "awkward.jsonl"
    stream.write_bytes(b"\n".join(lines) + b"\n" + activity(99, "no line end"))
    monkeypatch.setattr(inputs, "BLOCK_BYTES", 512)  # many blocks, lines across their edges
    monkeypatch.setattr(inputs, "MAX_LINE_BYTES", 300)
    batch = run("--now", NOW, str(stream), "-o", "jsonl")
    jobs = run("--now", NOW, str(stream), "-o", "jsonl", "--jobs", "2")
    monkeypatch.setattr(check_cmd, "_isatty", lambda stream: True)
    eager = run("--now", NOW, str(stream), "-o", "jsonl")
    assert (batch.exit_code, batch.stdout, batch.stderr) == (3, eager.stdout, eager.stderr)
    assert (jobs.exit_code, jobs.stdout, jobs.stderr) == (3, eager.stdout, eager.stderr)
    assert "awkward.jsonl:5:3" not in eager.stderr  # a valid line, read with its white space
    assert "longer than 300 bytes" in eager.stderr
    assert "duplicate key `id`" in eager.stderr
    decided = [json.loads(line) for line in eager.stdout.splitlines()]
    assert decided[-1]["activity_id"] == "b99"
    assert len(decided) == len(lines) - 3 * 2 + 1  # the blank lines give nothing


def test_jobs_with_text_output_and_explain():
    one = run("--now", NOW, act("list.yaml"), "--explain")
    two = run("--now", NOW, act("list.yaml"), "--explain", "-j", "2")
    assert two.stdout == one.stdout


# ---------------------------------------------------------------------------- the real program


def _smrules(*args: str, input: bytes | None = None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smrules", *args],
        input=input,
        capture_output=True,
        timeout=120,
        env=env,
    )


def test_entry_point_in_a_subprocess():
    proc = _smrules("check", "--policy", POLICY, "--text", "Our Q3 revenue", "-o", "json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["decision"] == "deny"
    assert proc.stderr == b""


def test_console_script_exit_codes():
    script = Path(sys.executable).parent / "smrules"
    if not script.exists():
        pytest.fail(f"the `smrules` console script is not installed next to {sys.executable}")
    ok = subprocess.run(
        [str(script), "check", "--policy", POLICY, "--text", "hello"], capture_output=True
    )
    assert ok.returncode == 0 and ok.stdout.startswith(b"allow")
    bad = subprocess.run([str(script), "check", "--policy", POLICY, act("binary.yaml")],
                         capture_output=True)  # fmt: skip
    assert bad.returncode == 3 and b"Traceback" not in bad.stderr


def test_subprocess_streams_decisions_as_activities_arrive():
    """A program feeding stdin one activity at a time gets each decision before sending more."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "smrules", "check", "--policy", POLICY, "-", "-o", "jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = b'{"id": "one", "kind": "post", "actor": {"id": "a"}}\n'
        second = b'{"id": "two", "kind": "post", "actor": {"id": "a"}}\n'
        proc.stdin.write(first + second)  # two objects: read as a stream
        proc.stdin.flush()
        line1 = proc.stdout.readline()
        assert json.loads(line1)["activity_id"] == "one"
        line2 = proc.stdout.readline()
        assert json.loads(line2)["activity_id"] == "two"
        proc.stdin.write(b'{"id": "three", "kind": "post", "actor": {"id": "a"}}\n')
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["activity_id"] == "three"
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()


def test_closed_output_pipe_ends_quietly(tmp_path):
    stream = tmp_path / "many.jsonl"
    stream.write_text(
        "".join(
            json.dumps({"id": f"a{i}", "kind": "post", "actor": {"id": "e"}}) + "\n"
            for i in range(3000)
        ),
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "smrules", "check", "--policy", POLICY, str(stream), "-o", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    _, err = proc.communicate(timeout=120)
    proc.stderr.close()
    assert b"Traceback" not in err
    assert b"Exception ignored" not in err


def _on_a_terminal(args: list[str], env: dict[str, str]) -> bytes:
    """Run smrules with stdout and stderr on a pseudo-terminal; what the terminal showed."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smrules", *args], stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the program ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.wait(timeout=120)
    return b"".join(chunks)


def test_colour_on_a_terminal_unless_no_color():
    args = ["check", "--policy", POLICY, "--text", "Q1 earnings"]
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _on_a_terminal(args, env)
    assert b"\x1b[31m\x1b[1mdeny\x1b[0m" in coloured
    plain = _on_a_terminal(args, {**env, "NO_COLOR": "1"})
    assert b"\x1b[" not in plain
    assert plain.startswith(b"deny  --text")


def test_no_colour_when_piped():
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = _smrules("check", "--policy", POLICY, "--text", "Q1 earnings", env=env)
    assert proc.stdout.startswith(b"deny  --text\n")
    assert b"\x1b[" not in proc.stdout


def test_policy_with_a_binary_and_a_broken_data_file_lists_both_and_exits_3(tmp_path):
    (tmp_path / "main.smr").write_text('import "d.yaml" as d\nrule r { deny "x" }\n')
    (tmp_path / "d.yaml").write_text("a: [1\n", encoding="utf-8")
    (tmp_path / "bin.smr").write_bytes(b"rule \x00\x01")
    result = run("--text", "hi", policy=str(tmp_path))
    assert result.exit_code == 3
    assert "error[binary-file]: `bin.smr` is a binary file, not text" in result.stderr
    assert "d.yaml:2:1: error[yaml]: invalid YAML" in result.stderr


@pytest.mark.parametrize("tty", [False, True])
@pytest.mark.parametrize(
    ("failing_id", "before"),
    [("s2", ["s1"]), ("s3", ["s1", "s2"]), ("s5", ["s1", "s2", 2, 3])],
)
def test_internal_error_keeps_earlier_output_and_prints_no_traceback(
    monkeypatch, tty, failing_id, before
):
    """Whether activities are checked one by one (someone waits) or in blocks of lines."""
    from smrules.engine import Policy

    real = Policy.evaluate

    def failing(self, activity, now=None, **kwargs):
        if activity.get("id") == failing_id:
            raise RuntimeError("boom")
        return real(self, activity, now, **kwargs)

    monkeypatch.setattr(Policy, "evaluate", failing)
    monkeypatch.setattr(check_cmd, "_isatty", lambda stream: tty)
    monkeypatch.delenv("SMRULES_DEBUG", raising=False)
    result = run("--now", NOW, act("stream.jsonl"), "-o", "jsonl")
    assert result.exit_code == 3
    records = [json.loads(line) for line in result.stdout.splitlines()]
    # Decisions, then the records of s3 (invalid) and s4 (broken JSON), by their index.
    assert [r.get("activity_id", r.get("index")) for r in records] == before
    assert "smrules: internal error: RuntimeError: boom" in result.stderr
    assert "SMRULES_DEBUG=1" in result.stderr


def test_debug_env_shows_the_internal_error(monkeypatch):
    monkeypatch.setattr(check_cmd, "check_one", lambda *a: 1 / 0)
    monkeypatch.setenv("SMRULES_DEBUG", "1")
    result = CliRunner().invoke(main, ["check", "--policy", POLICY, "--text", "hi"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_kind_and_account_choices_match_the_activity_schema():
    from smrules.schemas import load_schema

    properties = load_schema("activity")["properties"]
    defs = load_schema("activity").get("$defs", {})

    def enum(node):
        node = defs[node["$ref"].split("/")[-1]] if "$ref" in node else node
        return node.get("enum") or next(e["enum"] for e in node.get("anyOf", []) if "enum" in e)

    assert list(check_cmd.KINDS) == enum(properties["kind"])
    account = properties["account"]
    account = defs[account["$ref"].split("/")[-1]] if "$ref" in account else account
    assert list(check_cmd.ACCOUNT_TYPES) == [
        v for v in enum(account["properties"]["type"]) if v is not None
    ]


def test_evidence_caret_allows_for_wide_characters_and_line_breaks():
    from smrules.render import display_width

    result = run("--text", "全员注意\nour Q3 revenue is up")
    lines = result.stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if "evidence" in line)
    assert lines[i].endswith("content.text: 全员注意 our Q3 revenue is up")
    before = lines[i][: lines[i].index("Q3 revenue")]
    assert lines[i + 1] == " " * display_width(before) + "^" * 10


def test_long_evidence_context_is_cut():
    text = "x" * 100 + " Q3 revenue " + "y" * 100
    lines = run("--text", text).stdout.splitlines()
    evidence = next(line for line in lines if "evidence" in line)
    assert evidence.endswith("content.text: ..." + "x" * 31 + " Q3 revenue " + "y" * 31 + "...")


def test_summary_wording():
    from smrules.render import Tally, render_summary

    tally = Tally()
    assert render_summary(tally) == "0 activities"
    tally.add("allow")
    assert render_summary(tally) == "1 activity: 1 allowed"
    tally.add("deny")
    tally.add("invalid")
    assert render_summary(tally) == "3 activities: 1 denied, 1 allowed, 1 invalid"


def test_a_batch_collects_garbage_less_often_and_restores_the_setting(monkeypatch):
    import gc

    from smrules.engine import Policy

    seen = []
    real = Policy.evaluate

    def spying(self, activity, now=None, **kwargs):
        seen.append(gc.get_threshold()[0])
        return real(self, activity, now, **kwargs)

    monkeypatch.setattr(Policy, "evaluate", spying)
    before = gc.get_threshold()
    result = run("--now", NOW, act("stream.jsonl"), "-o", "jsonl")
    assert "Traceback" not in result.output and len(seen) >= 5  # s3 is tried twice
    assert set(seen) == {max(before[0], check_cmd.BATCH_GC_THRESHOLD)}
    assert gc.get_threshold() == before


def test_progress_counts_activities_decided_together(tmp_path, monkeypatch):
    """A long batch with its output redirected shows progress on a terminal's stderr, also
    when its activities are decided and written a chunk at a time."""
    lines = [
        json.dumps({"id": f"p{i}", "kind": "post", "actor": {"id": "e"}, "content": {"text": "hi"}})
        for i in range(5)
    ]
    stream = tmp_path / "five.jsonl"
    stream.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(check_cmd, "_isatty", lambda s: s is sys.stderr)
    monkeypatch.setattr(check_cmd, "PROGRESS_AFTER", -1.0)
    monkeypatch.setattr(check_cmd, "PROGRESS_EVERY", -1.0)
    result = run("--now", NOW, str(stream), "-o", "jsonl")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 5
    assert "checked 5 activities" in result.stderr
