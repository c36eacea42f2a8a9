"""Hostile inputs get clear errors within bounds: limits on activities, "billion laughs" YAML,
RE2's linear time, lone surrogates, safe loading only, thread safety and determinism across
processes (docs/security.md)."""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import smrules
from smrules.activity import DEFAULT_LIMITS, Limits, prepare_activity
from smrules.errors import ActivityError, PolicyError

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)
REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "smrules"
BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def post(text: str = "hello", **extra: object) -> dict:
    return {"kind": "post", "actor": {"id": "e1"}, "content": {"text": text}, **extra}


def problems(activity: object, **kwargs: object) -> dict[str, str]:
    with pytest.raises(ActivityError) as raised:
        prepare_activity(activity, NOW, **kwargs)
    return {p.path: p.message for p in raised.value.problems}


def smrules_cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "SMRULES_NO_CACHE": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "smrules", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=120,
    )


def elapsed(fn, repeat: int = 1) -> float:
    """The best of `repeat` wall-clock timings of `fn()`: the least disturbed by other load."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# -- limits on activities ---------------------------------------------------------------------


def test_default_limits_are_documented_values():
    assert DEFAULT_LIMITS == Limits(max_text_bytes=1 << 20, max_depth=32, max_list_items=10_000)


def test_text_up_to_one_mebibyte_is_checked_beyond_it_is_refused(make_policy):
    policy = make_policy('rule r { when content.text matches /b$/ deny "ends in b" }')
    at_limit = "a" * ((1 << 20) - 1) + "b"
    assert policy.evaluate(post(at_limit), now=NOW).decision == "deny"
    with pytest.raises(ActivityError) as raised:
        policy.evaluate(post(at_limit + "b"), now=NOW)
    assert [(p.path, p.message) for p in raised.value.problems] == [
        ("content.text", "is 1,048,577 bytes long; the limit is 1,048,576 bytes")
    ]


def test_text_size_counts_utf8_bytes_not_characters():
    text = "é" * ((1 << 19) + 1)  # 2 bytes each: one byte over
    assert problems(post(text)) == {
        "content.text": "is 1,048,578 bytes long; the limit is 1,048,576 bytes"
    }


def test_limits_are_configurable():
    small = Limits(max_text_bytes=10, max_depth=4, max_list_items=4)
    activity = post("01234567890", context={"a": {"b": {"c": {"d": 1}}}, "l": [1, 2, 3, 4, 5]})
    activity["content"]["hashtags"] = ["v", "w", "x", "y", "z"]
    assert problems(activity, limits=small) == {
        "content.text": "is 11 bytes long; the limit is 10 bytes",
        "content.hashtags": "has 5 items; the limit is 4",
        "context.a.b.c": "is nested more than 4 levels deep",
        "context.l": "has 5 items; the limit is 4",
    }
    generous = Limits(max_text_bytes=100, max_depth=10, max_list_items=5)
    assert prepare_activity(activity, NOW, limits=generous)["content"]["text"] == "01234567890"


def test_every_string_is_bounded_also_field_names_and_free_form_values():
    huge = "x" * ((1 << 20) + 1)
    found = problems({"kind": "post", "actor": {"id": huge}, "context": {huge: 1, "v": [huge]}})
    assert set(found) == {"actor.id", f"context.{huge}", "context.v[0]"}
    assert found[f"context.{huge}"].startswith("field name is 1,048,577 bytes long")


def test_nesting_depth_is_bounded_without_recursion():
    deep: object = "bottom"
    for _ in range(100_000):  # far deeper than Python's recursion limit
        deep = [deep]
    assert problems(post(context={"deep": deep})) == {
        "context.deep" + "[0]" * 30: "is nested more than 32 levels deep"
    }


@pytest.mark.parametrize(
    "where",
    [
        ("content", "hashtags"),
        ("content", "links"),
        ("actor", "roles"),
        ("context", "items"),
    ],
)
def test_list_lengths_are_bounded(where):
    activity = post()
    item: object = {"url": "https://x.example"} if where[1] == "links" else "x"
    activity.setdefault(where[0], {})[where[1]] = [item] * 10_001
    assert problems(activity) == {".".join(where): "has 10,001 items; the limit is 10,000"}


def test_objects_with_too_many_fields_are_refused():
    assert problems(post(context={f"k{i}": i for i in range(10_001)})) == {
        "context": "has 10,001 fields; the limit is 10,000"
    }


def test_oversized_activities_are_refused_quickly():
    big_text = post("x" * (50 << 20))
    long_list = post(context={"l": list(range(5_000_000))})
    assert elapsed(lambda: problems(big_text)) < 2.0
    assert elapsed(lambda: problems(long_list)) < 2.0


def test_evaluate_many_streams_one_activity_at_a_time(make_policy):
    policy = make_policy('rule r { when content.text mentions "x" warn "x" }')
    pulled = []

    def endless():
        i = 0
        while True:
            pulled.append(i)
            yield post("x") if i % 2 == 0 else {"kind": "nope"}
            i += 1

    results = policy.evaluate_many(endless(), now=NOW)
    first = next(results)
    assert first.decision == "warn" and pulled == [0]  # nothing read ahead
    second = next(results)
    assert isinstance(second, ActivityError) and second.index == 1 and pulled == [0, 1]
    assert next(results).decision == "warn"  # an invalid item never stops the stream
    with pytest.raises(ActivityError) as raised:
        list(policy.evaluate_many([post("x"), {"kind": 1}, post("x")], errors="raise"))
    assert raised.value.index == 1


# -- YAML bombs -------------------------------------------------------------------------------


def test_billion_laughs_in_a_data_file_is_a_quick_load_error(tmp_path):
    (tmp_path / "main.smr").write_text('import "bomb.yaml" as bomb\nrule r { deny "x" }\n')
    (tmp_path / "bomb.yaml").write_text(BILLION_LAUGHS)
    start = time.perf_counter()
    with pytest.raises(PolicyError) as raised:
        smrules.load(tmp_path, cache=False)
    assert time.perf_counter() - start < 5.0
    (diag,) = raised.value.diagnostics
    assert diag.code == "yaml"
    assert "aliases expand to more than 100,000 nodes" in diag.message
    assert diag.span is not None and diag.span.file == "bomb.yaml"


def test_billion_laughs_in_a_test_file_is_a_quick_error(tmp_path):
    from smrules.testing import InvalidTestFile, load_test_file

    bomb = tmp_path / "bomb.test.yaml"
    bomb.write_text(BILLION_LAUGHS + "cases: []\n")
    start = time.perf_counter()
    with pytest.raises(InvalidTestFile) as raised:
        load_test_file(bomb)
    assert time.perf_counter() - start < 5.0
    assert "aliases expand to more than" in str(raised.value.diagnostics[0].message)


def test_billion_laughs_in_an_activity_file_exits_3_quickly(tmp_path):
    (tmp_path / "p.smr").write_text('rule r { deny "x" }\n')
    (tmp_path / "bomb.yaml").write_text(
        "kind: post\nactor: {id: e1}\ncontext:\n"
        + "".join("  " + line + "\n" for line in BILLION_LAUGHS.splitlines())
    )
    start = time.perf_counter()
    proc = smrules_cli("check", "--policy", str(tmp_path / "p.smr"), str(tmp_path / "bomb.yaml"))
    assert time.perf_counter() - start < 60
    assert proc.returncode == 3
    assert re.search(r"bomb\.yaml:\d+:\d+: error\[yaml\]: aliases expand", proc.stderr)
    assert "Traceback" not in proc.stderr


# -- only safe loading, no code generation from input ------------------------------------------


def _calls(tree: ast.AST) -> list[tuple[str, int]]:
    """Dotted names of every call and every attribute or name referenced."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found.append((f"{node.value.id}.{node.attr}", node.lineno))
        elif isinstance(node, ast.Name):
            found.append((node.id, node.lineno))
    return found


FORBIDDEN = {
    # unsafe YAML: only the event parser (`yaml.CBaseLoader`/`BaseLoader`) is used
    "yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load",
    "yaml.full_load_all", "yaml.Loader", "yaml.UnsafeLoader", "yaml.FullLoader", "yaml.CLoader",
    "yaml.CUnsafeLoader", "yaml.CFullLoader", "yaml.add_constructor",
    # no code generation or execution from any input
    "eval", "exec", "compile", "__import__", "marshal.loads", "importlib.import_module",
    "os.system", "os.popen", "subprocess.run", "subprocess.Popen", "subprocess.call",
    "subprocess.check_output", "shelve.open",
}  # fmt: skip
ALLOWED = {
    # the policy cache: pickles read only from a private (0700, owner-only) directory
    ("cache.py", "pickle.load"),
    ("cache.py", "pickle.dumps"),
    ("cache.py", "pickle.HIGHEST_PROTOCOL"),
    # lazy imports of the package's own modules, by names from a fixed table
    ("__init__.py", "importlib.import_module"),
    ("cli.py", "importlib.import_module"),
    # the rule code generator: its source comes from its own templates; policy values reach
    # the generated function as globals, or as `repr` literals of exact str/int/bool values
    # (tests/test_codegen.py checks the generated code)
    ("codegen.py", "compile"),
    ("codegen.py", "exec"),
    # fast constructors for our own frozen classes, from their field names
    ("slots.py", "exec"),
}


def test_the_source_uses_no_unsafe_loading_and_generates_no_code():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for name, line in _calls(tree):
            if (path.name, name) in ALLOWED:
                continue
            if name.startswith("pickle.") or name in FORBIDDEN:
                offenders.append(f"{path.name}:{line}: {name}")
    assert offenders == []


def test_the_guard_would_see_an_unsafe_call(tmp_path):
    tree = ast.parse("import yaml\nyaml.load(t)\nexec(s)\nx = compile(s, 'f', 'exec')\n")
    names = {name for name, _ in _calls(tree)}
    assert {"yaml.load", "exec", "compile"} <= names & FORBIDDEN


def test_yaml_tags_that_construct_objects_are_refused(tmp_path):
    (tmp_path / "main.smr").write_text('import "d.yaml" as d\nrule r { deny "x" }\n')
    sentinel = tmp_path / "pwned"
    (tmp_path / "d.yaml").write_text(
        f"x: !!python/object/apply:os.system ['touch {sentinel}']\ny: !!python/name:os.system\n"
    )
    with pytest.raises(PolicyError) as raised:
        smrules.load(tmp_path, cache=False)
    assert [d.code for d in raised.value.diagnostics] == ["yaml"]
    assert (
        "unsupported tag `!!python/object/apply:os.system`" in raised.value.diagnostics[0].message
    )
    assert not sentinel.exists()


def _malicious_pickle(sentinel: Path) -> bytes:
    class Exploit:
        def __reduce__(self):
            return (os.mkdir, (str(sentinel),))

    import pickle

    from smrules.cache import FORMAT

    return FORMAT + pickle.dumps(Exploit())


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_the_policy_cache_is_never_read_from_a_directory_others_can_write(tmp_path, monkeypatch):
    from smrules import cache

    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "main.smr").write_text('rule r { deny "x" }\n')
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("SMRULES_CACHE_DIR", str(shared))
    monkeypatch.delenv("SMRULES_NO_CACHE", raising=False)
    sentinel = tmp_path / "unpickled"
    key = cache.source_key(policy)
    (shared / f"{key}.pickle").write_bytes(_malicious_pickle(sentinel))
    assert smrules.load(policy).evaluate(post(), now=NOW).decision == "deny"
    assert not sentinel.exists()
    # the same entry in a private directory would be trusted: the permission check is the guard
    shared.chmod(0o700)
    smrules.load(policy)
    assert sentinel.exists()


# -- regular expressions run on RE2 -----------------------------------------------------------


CATASTROPHIC = "(a+)+$"


def test_the_pattern_is_catastrophic_for_python_re():
    """Each extra `a` doubles Python's work: 4 more characters, 16 times the time."""
    pattern = re.compile(CATASTROPHIC)
    short = elapsed(lambda: pattern.search("a" * 14 + "b"), repeat=3)
    longer = elapsed(lambda: pattern.search("a" * 18 + "b"), repeat=3)
    assert longer > 4 * short


@pytest.mark.parametrize("form", ["literal", "string", "activity"])
def test_a_catastrophic_pattern_runs_in_linear_time_on_re2(make_policy, form):
    pattern = {
        "literal": f"/{CATASTROPHIC}/",
        "string": json.dumps(CATASTROPHIC),
        "activity": "context.pattern",
    }[form]
    policy = make_policy(f'rule r {{ when content.text matches {pattern} deny "x" }}')

    def run(n: int) -> smrules.Decision:
        activity = post("a" * n + "b", context={"pattern": CATASTROPHIC})
        return policy.evaluate(activity, now=NOW)

    assert run(100_000).decision == "allow"  # no match, and an answer
    assert elapsed(lambda: run(100_000), repeat=3) < 2.0
    small = elapsed(lambda: run(100_000), repeat=5)
    large = elapsed(lambda: run(200_000), repeat=5)
    assert large < 3.5 * small + 0.01  # linear: about 2; quadratic would be 4 and more
    matched = policy.evaluate(post("b" + "a" * 100_000, context={"pattern": CATASTROPHIC}), now=NOW)
    assert matched.decision == "deny"


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        (r"/(a)\1/", "invalid escape sequence"),
        (r"/a(?=b)/", "invalid perl operator"),
        (r"/(?<!a)b/", "invalid perl operator"),
    ],
)
def test_patterns_re2_cannot_run_in_linear_time_are_load_errors(make_policy, pattern, fragment):
    with pytest.raises(PolicyError) as raised:
        make_policy(f'rule r {{ when content.text matches {pattern} deny "x" }}')
    (diag,) = raised.value.diagnostics
    assert diag.code == "bad-regex" and fragment in diag.message
    assert (diag.span.line, diag.span.column) == (1, 36)


def test_a_pattern_from_the_activity_that_re2_refuses_fails_only_its_rule(make_policy):
    policy = make_policy(
        'rule dynamic { when content.text matches context.pattern warn "d" }\n'
        'rule plain { when content.text mentions "hello" warn "p" }\n'
    )
    decision = policy.evaluate(post("hello hello", context={"pattern": r"(hello) \1"}), now=NOW)
    assert [f.rule for f in decision.findings] == ["plain"]
    assert [e.rule for e in decision.errors] == ["dynamic"]
    assert decision.decision == "deny"  # on_error deny by default: fail closed


# Repeated units that stress the engine's own Python patterns (links, hashtags, mentions,
# words, normalisation): every one must cost time linear in the length of the text.
ADVERSARIAL = {
    "mentions": "@a.",
    "dotted words": "a.",
    "www hosts": "www.",
    "schemes": "http://",
    "bare hosts": "/ab.cc",
    "hashtags": "#a",
    "apostrophes": "a'",
    "digit groups": "1-",
    "full width": "\uff46",
    "combining marks": "a\u0301",
    "invisible joiners": "a\u200d",
}


@pytest.mark.parametrize("unit", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_the_default_policy_takes_linear_time_on_adversarial_text(default_policy, unit):
    def run(n: int) -> None:
        text = (unit * (n // len(unit) + 1))[:n]
        activity = post(text, audience="public", account={"type": "personal"})
        default_policy.evaluate(activity, now=NOW).to_json()

    small = elapsed(lambda: run(20_000), repeat=3)
    large = elapsed(lambda: run(80_000), repeat=3)
    assert large < 7 * small + 0.05  # linear: about 4; quadratic would be 16


# -- lone surrogates --------------------------------------------------------------------------


SURROGATE_TEXT = json.loads('"caf\\u00e9 \\ud83d and more"')  # half of an emoji's pair


def test_lone_surrogates_in_an_activity_are_a_clear_problem(make_policy):
    policy = make_policy('rule r { when content.text matches /caf/ deny "x" }')
    activity = json.loads(
        '{"kind": "post", "actor": {"id": "e\\udc00"}, "content": {"text": "caf\\ud83d"},'
        ' "context": {"k\\ud800": 1, "ok": ["\\ud83d\\ude00"]}}'
    )
    with pytest.raises(ActivityError) as raised:
        policy.evaluate(activity, now=NOW)
    found = {p.path: p.message for p in raised.value.problems}
    assert found == {
        "actor.id": "contains a lone surrogate (U+DC00), which is not a Unicode character; "
        "a JSON `\\u` escape of a surrogate must be one half of a pair",
        "content.text": "contains a lone surrogate (U+D83D), which is not a Unicode character; "
        "a JSON `\\u` escape of a surrogate must be one half of a pair",
        'context["k\\ud800"]': "field name contains a lone surrogate (U+D800), which is not a "
        "Unicode character; a JSON `\\u` escape of a surrogate must be one half of a pair",
    }
    json.dumps(raised.value.to_record(), ensure_ascii=False).encode("utf-8")  # printable


def test_a_complete_surrogate_pair_is_an_ordinary_character(make_policy):
    policy = make_policy('rule r { when content.text mentions "party" warn "{content.text}" }')
    decision = policy.evaluate(
        json.loads(
            '{"kind": "post", "actor": {"id": "e1"}, "content": {"text": "party \\ud83c\\udf89"}}'
        ),
        now=NOW,
    )
    assert decision.findings[0].message == "party \U0001f389"


def test_surrogates_never_reach_evaluation_through_evaluate_many(make_policy):
    policy = make_policy('rule r { when content.text matches /x/ warn "x" }')
    results = list(policy.evaluate_many([post("x"), post(SURROGATE_TEXT), post("x")], now=NOW))
    assert [type(r).__name__ for r in results] == ["Decision", "ActivityError", "Decision"]
    assert results[1].index == 1 and results[1].problems[0].path == "content.text"


def test_non_string_field_names_are_a_clear_problem():
    found = problems({"kind": "post", "actor": {"id": "e1", 5: "x"}, "context": {None: 1}})
    assert found == {
        "actor": "has a field name that is not a string: 5 (an integer)",
        "context": "has a field name that is not a string: None (null)",
    }


def test_lone_surrogates_in_json_activity_files_exit_3(tmp_path):
    (tmp_path / "p.smr").write_text('rule r { deny "x" }\n')
    (tmp_path / "a.json").write_text(
        '{"kind": "post", "actor": {"id": "e1"}, "content": {"text": "bad \\udfff"}}'
    )
    (tmp_path / "b.jsonl").write_text(
        '{"kind": "post", "actor": {"id": "e1"}}\n{"kind": "post", "actor": {"id": "\\ud800"}}\n'
    )
    proc = smrules_cli(
        "check", "--policy", str(tmp_path / "p.smr"), "--output", "jsonl",
        str(tmp_path / "a.json"), str(tmp_path / "b.jsonl"),
    )  # fmt: skip
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line.get("decision") or line["problems"][0]["path"] for line in lines] == [
        "content.text",
        "deny",
        "actor.id",
    ]


def test_surrogate_escapes_in_policies_are_load_errors(make_policy):
    with pytest.raises(PolicyError) as raised:
        make_policy('rule r { when kind == "post\\u{DC00}" deny "x" }\n')
    (diag,) = raised.value.diagnostics
    assert (diag.code, diag.span.line, diag.span.column) == ("bad-escape", 1, 28)
    assert diag.message == "`\\u{DC00}` is not a Unicode scalar value"


@pytest.mark.parametrize("name", ["d.json", "d.yaml"])
def test_surrogate_escapes_in_data_files_are_load_errors(tmp_path, name):
    (tmp_path / "main.smr").write_text(f'import "{name}" as d\nrule r {{ deny "x" }}\n')
    (tmp_path / name).write_text('{"words": ["ok", "bad \\ud800"]}')
    with pytest.raises(PolicyError) as raised:
        smrules.load(tmp_path, cache=False)
    (diag,) = raised.value.diagnostics
    code = "json" if name.endswith(".json") else "yaml"
    assert (diag.span.file, diag.span.line, diag.code) == (name, 1, code)


# -- threads and processes --------------------------------------------------------------------


def corpus() -> list[dict]:
    """Activities that fire many rules of the default policy, and some that fire none."""
    texts = [
        "Our Q3 revenue beat guidance! Details at https://bit.ly/3xYz #results $ACME",
        "We guarantee risk-free returns. Call 415-555-0100 or jane.doe@example.com",
        "Excited to share what Project Falcon will do next year",
        "Lovely weather in Berlin today",
        "Proud to work at Example Corp #employee @examplecorp",
        "password: hunter2! AKIAABCDEFGHIJKLMNOP",
    ]
    out = []
    for i in range(120):
        out.append(
            {
                "id": f"a{i}",
                "kind": ["post", "comment", "reply", "message", "share"][i % 5],
                "audience": ["public", "internal", "followers"][i % 3],
                "actor": {
                    "id": f"e{i % 9}",
                    "department": ["marketing", "sales", "investor_relations", "rd"][i % 4],
                    "roles": ["employee"] if i % 2 else ["employee", "spokesperson"],
                },
                "account": {"type": ["personal", "corporate"][i % 2]},
                "content": {"text": texts[i % len(texts)] + f" #{i}"},
            }
        )
    return out


@pytest.fixture(scope="module")
def default_policy() -> smrules.Policy:
    return smrules.load(REPO / "policies")


def test_eight_threads_decide_the_default_policy_exactly_as_one(default_policy):
    acts = corpus()
    expected = [default_policy.evaluate(a, now=NOW).to_json() for a in acts]
    assert len({json.loads(e)["decision"] for e in expected}) >= 2  # a corpus worth checking
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda a: default_policy.evaluate(a, now=NOW).to_json(), acts * 3))
        assert got == expected * 3
        streams = [
            pool.submit(lambda: list(default_policy.evaluate_many(acts, now=NOW))) for _ in range(8)
        ]
        for stream in streams:
            assert [d.to_json() for d in stream.result()] == expected


def test_decisions_are_the_same_across_processes_hash_seeds_and_jobs(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in corpus()))
    args = ["check", "--policy", str(REPO / "policies"), "--now", "2026-11-16T09:00:00Z",
            "--output", "jsonl", str(path)]  # fmt: skip
    first = smrules_cli(*args, PYTHONHASHSEED="1")
    assert first.returncode == 1, first.stderr  # some are denied
    assert len(first.stdout.splitlines()) == 120
    assert smrules_cli(*args, PYTHONHASHSEED="2").stdout == first.stdout
    assert smrules_cli(*args, "--jobs", "2", PYTHONHASHSEED="3").stdout == first.stdout


def test_field_order_never_shows_in_a_decision(make_policy):
    policy = make_policy(
        'let keys = filter(k in context: k != "z")\n'
        'rule r { when len(keys) > 0 warn "{keys} {context} {actor}" }'
    )
    one = post(context={"b": {"y": 1, "x": 2}, "a": 1, "z": 0})
    one["actor"] = {"id": "e1", "department": "sales"}
    two = post(context={"z": 0, "a": 1, "b": {"x": 2, "y": 1}})
    two["actor"] = {"department": "sales", "id": "e1"}
    first = policy.evaluate(one, now=NOW)
    assert first.findings[0].message == (
        'a, b {"a":1,"b":{"x":2,"y":1},"z":0} {"department":"sales","id":"e1"}'
    )
    assert policy.evaluate(two, now=NOW).to_json() == first.to_json()
