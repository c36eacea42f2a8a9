"""Strings are data, never code: quotes, braces, backslashes, control characters and
Python-looking text in policies, data files and activities come out byte for byte in messages,
hints, metadata and `to_json()`, and nothing is ever executed (SPEC §2.2 strings and
interpolation; the compiler builds closures and never generates source)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import smrules

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)

# What each payload would do if it were ever run as Python, a template or a format string.
SENTINEL = "smrules-injection-sentinel"
PAYLOADS = [
    f"__import__('os').mkdir('{SENTINEL}')",
    f"{{__import__('os').mkdir('{SENTINEL}')}}",
    "{{7*7}}",
    "${x}",
    "#{7*7}",
    "%s %d %(x)s",
    "{0} {0!r} {0:>10} {x.__class__}",
    "{{{{",
    "}}}}",
    "'; DROP TABLE decisions; --",
    "<script>alert(1)</script>",
    "\\n is two characters",
    '" quoted "',
    "back\\slash",
    "line\nbreak\ttab",
    "nul\x00byte",
    "\x1b[31mred\x1b[0m",
    "\u202eright-to-left override",
    "emoji \U0001f389 and e\u0301",
]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run each test in its own directory, where a payload that ran would leave a sentinel."""
    monkeypatch.chdir(tmp_path)
    yield
    assert not (tmp_path / SENTINEL).exists(), "a payload was executed"


def smr_string(value: str, *, template: bool = False) -> str:
    """`value` as a policy string literal: escapes for `"`, `\\`, newline, tab and control
    characters; in a message or hint, braces doubled so they stay literal."""
    out = []
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{{{ord(ch):X}}}")
        elif template and ch in "{}":
            out.append(ch * 2)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def post(text: str = "hello", **extra: object) -> dict:
    return {"kind": "post", "actor": {"id": "e1"}, "content": {"text": text}, **extra}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_policy_strings_come_out_byte_for_byte(make_policy, payload):
    message, plain = smr_string(payload, template=True), smr_string(payload)
    policy = make_policy(
        f"""
        rule r {{
          title {plain}
          description {plain}
          ref {plain}
          owner {plain}
          tags [{plain}, "plain"]
          when content.text == {plain}
          deny {message}
          hint {message}
        }}
        """
    )
    decision = policy.evaluate(post(payload), now=NOW)
    (finding,) = decision.findings
    for value in (finding.message, finding.hint, finding.title, finding.ref):
        assert value == payload
    assert finding.tags == (payload, "plain")
    (info,) = policy.rules
    assert (info.title, info.description, info.owner) == (payload, payload, payload)
    data = json.loads(decision.to_json())["findings"][0]
    assert [data[k] for k in ("message", "hint", "title", "ref")] == [payload] * 4
    assert data["tags"] == [payload, "plain"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_activity_values_interpolate_literally(make_policy, payload):
    policy = make_policy(
        "rule r { when len(content.text) > 0\n"
        '  warn "text: {content.text} | id: {actor.id} | ctx: {context.v}"\n'
        '  hint "{content.text}" }'
    )
    decision = policy.evaluate(post(payload, context={"v": [payload, 1]}, actor={"id": payload}))
    (finding,) = decision.findings
    assert finding.message == f"text: {payload} | id: {payload} | ctx: {payload}, 1"
    assert finding.hint == payload
    assert json.loads(decision.to_json())["findings"][0]["hint"] == payload


def test_maps_interpolate_as_json_with_their_strings_escaped(make_policy):
    policy = make_policy('rule r { warn "{context}" }')
    payload = '"}, {"injected": true'
    decision = policy.evaluate(post(context={"k": payload, "nul": "\x00"}), now=NOW)
    message = decision.findings[0].message
    assert json.loads(message) == {"k": payload, "nul": "\x00"}


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_data_file_strings_are_data(tmp_path, suffix):
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    values = {f"p{i}": payload for i, payload in enumerate(PAYLOADS)}
    # JSON is also YAML; PyYAML reads no surrogate-pair escapes, so characters stay as they are
    text = json.dumps({"values": values, "list": PAYLOADS}, ensure_ascii=suffix == ".json")
    (policy_dir / f"d{suffix}").write_text(text, encoding="utf-8")
    rules = "\n".join(
        f"rule r{i} {{ when content.text == d.values.p{i} and content.text in d.list\n"
        f'  warn "{{d.values.p{i}}}" hint "{{d.list[{i}]}}" }}'
        for i in range(len(PAYLOADS))
    )
    (policy_dir / "main.smr").write_text(f'import "d{suffix}" as d\n{rules}\n', encoding="utf-8")
    policy = smrules.load(policy_dir, cache=False)
    for i, payload in enumerate(PAYLOADS):
        (finding,) = policy.evaluate(post(payload), now=NOW).findings
        assert (finding.rule, finding.message, finding.hint) == (f"r{i}", payload, payload)


@pytest.mark.parametrize(
    ("needle", "text", "found"),
    [
        (".*", "anything at all", False),
        (".*", "a .* b", True),
        ("(a|b)", "a", False),
        ("(a|b)", "x(a|b)y", True),
        ("\\d", "123", False),
        ("\\d", "a\\db", True),
        ("%s", "100%s", True),
    ],
)
def test_substring_tests_are_literal_never_patterns(make_policy, needle, text, found):
    policy = make_policy(
        f'rule sub {{ when {smr_string(needle)} in content.text warn "in" }}\n'
        f'rule ends {{ when content.text endswith {smr_string(needle)} warn "ends" }}\n'
    )
    fired = {f.rule for f in policy.evaluate(post(text), now=NOW).findings}
    assert ("sub" in fired) is found
    assert ("ends" in fired) is text.endswith(needle)


def test_mention_phrases_are_words_never_patterns(make_policy):
    policy = make_policy('rule r { when content.text mentions ["(acme)", "a|b", "x.+y"] warn "m" }')
    assert policy.evaluate(post("we love Acme!"), now=NOW).findings  # words of "(acme)": acme
    assert policy.evaluate(post("a b"), now=NOW).findings  # words of "a|b": a, b
    assert policy.evaluate(post("x, y"), now=NOW).findings  # words of "x.+y": x, y
    assert not policy.evaluate(post("a or b, and xylophone, xxy"), now=NOW).findings


def test_evidence_reports_hostile_text_exactly(make_policy):
    policy = make_policy('rule r { when content.text matches /\\{\\{7\\*7\\}\\}/ deny "x" }')
    text = "nul\x00 then {{7*7}} and \x1b[31m {{7*7}}"
    decision = policy.evaluate(post(text), now=NOW)
    evidence = json.loads(decision.to_json())["findings"][0]["evidence"]
    assert [(e["start"], e["end"], e["text"]) for e in evidence] == [
        (10, 17, "{{7*7}}"),
        (28, 35, "{{7*7}}"),
    ]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in evidence)


def test_template_syntax_errors_are_load_errors_not_runtime_surprises(make_policy):
    for message, code in [
        ('"a } b"', "bad-template"),
        ('"{}"', "bad-template"),
        ('"{kind"', "bad-template"),
        ("\"{__import__('os')}\"", "syntax"),
        ('"{kind.__class__}"', None),  # an ordinary (missing) field: renders as empty
    ]:
        source = f"rule r {{ deny {message} }}"
        if code is None:
            assert make_policy(source).evaluate(post(), now=NOW).findings[0].message == ""
            continue
        with pytest.raises(smrules.PolicyError) as raised:
            make_policy(source)
        assert [d.code for d in raised.value.diagnostics][:1] == [code], message


def test_the_command_line_prints_messages_byte_for_byte_in_json(tmp_path):
    payload = '{{7*7}} "q" \\ \u00e9 \U0001f389 nul\x00 esc\x1b %s ${x}'
    (tmp_path / "p.smr").write_text(
        f'rule r {{ when kind == "post" deny {smr_string(payload, template=True)}\n'
        f'  hint "{{content.text}}" }}\n',
        encoding="utf-8",
    )
    (tmp_path / "a.json").write_text(json.dumps(post(payload)), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "smrules", "check", "--policy", str(tmp_path / "p.smr"),
         "--output", "json", str(tmp_path / "a.json")],
        capture_output=True,
        env={**os.environ, "SMRULES_NO_CACHE": "1", "PYTHONIOENCODING": "utf-8"},
        timeout=120,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    finding = json.loads(proc.stdout.decode("utf-8"))["findings"][0]
    assert (finding["message"], finding["hint"]) == (payload, payload)


def _functions(fn: object, seen: set[int]) -> list:
    """`fn` and every function reachable through its closure cells and defaults."""
    if id(fn) in seen or not callable(fn):
        return []
    seen.add(id(fn))
    found = [fn] if hasattr(fn, "__code__") else []
    inner = [c.cell_contents for c in getattr(fn, "__closure__", None) or () if _filled(c)]
    inner += list(getattr(fn, "__defaults__", None) or ())
    for value in inner:
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            found += _functions(item, seen)
    return found


def _filled(cell: object) -> bool:
    try:
        _ = cell.cell_contents  # type: ignore[attr-defined]
    except ValueError:
        return False
    return True


def test_compiled_rules_are_closures_over_package_code(make_policy):
    """Every function a compiled rule runs comes from a source file of the package: no code
    object was built from generated text (its file name would be `<string>` or similar)."""
    policy = make_policy(
        "let bad = [\"__import__('os')\"]\n"
        "rule r { when content.text mentions bad or any(l in content.links: l.domain in bad)\n"
        '         or content.text matches /x{2}/ deny "{content.text} {{7*7}}" hint "h" }'
    )
    package = Path(smrules.__file__).resolve().parent
    seen: set[int] = set()
    functions = []
    for rule in policy.rules_compiled:
        for fn in (rule.test, rule.message, rule.hint, *rule.whens, *rule.unlesses):
            functions += _functions(fn, seen)
    assert len(functions) > 5
    for fn in functions:
        source = Path(fn.__code__.co_filename)
        assert source.suffix == ".py" and source.resolve().is_relative_to(package), source
