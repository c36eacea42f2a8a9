"""Editor support: the TextMate grammar for `.smr`, the VS Code manifest and the editor schemas.

The grammar is checked by a small TextMate tokenizer below (Python's `re` accepts the patterns
the grammar uses, as Oniguruma does): its regexes compile, and sample lines get the scopes an
editor colours them by. The schemas are checked against what the engine accepts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

import smrules
from smrules.builtins import ARITY
from smrules.parser import RESERVED
from smrules.yamlio import yaml_load

ROOT = Path(__file__).resolve().parent.parent
EDITORS = ROOT / "editors"
GRAMMAR = json.loads((EDITORS / "smrules.tmLanguage.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------- tokenizer


@dataclass
class Frame:
    rule: dict
    end: re.Pattern[str]
    scopes: tuple[str, ...]  # of its content
    outer: tuple[str, ...]  # of the whole construct, begin to end
    start: int  # where its begin matched
    content: int  # where its content starts


def expand(patterns: list[dict]) -> list[dict]:
    """Resolve `#name` includes into the rules they stand for."""
    out: list[dict] = []
    for pattern in patterns:
        if "include" in pattern:
            out.extend(expand([GRAMMAR["repository"][pattern["include"][1:]]]))
        elif "match" in pattern or "begin" in pattern:
            out.append(pattern)
        else:
            out.extend(expand(pattern["patterns"]))
    return out


def tokenize(line: str) -> list[set[str]]:
    """The scopes of each character of one line (the grammar's strings end with their line)."""
    scopes: list[set[str]] = [{"source.smr"} for _ in line]
    stack: list[Frame] = []
    pos = 0
    while pos <= len(line):
        frame = stack[-1] if stack else None
        patterns = expand(frame.rule.get("patterns", []) if frame else GRAMMAR["patterns"])
        inherited = frame.scopes if frame else ()
        best: tuple[int, int, dict | None, re.Match[str]] | None = None
        if frame is not None:
            m = frame.end.search(line, pos)
            if m:
                best = (m.start(), -1, None, m)
        for order, rule in enumerate(patterns):
            m = re.compile(rule.get("match") or rule["begin"]).search(line, pos)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), order, rule, m)
        if best is None:
            break
        _, _, rule, m = best
        if rule is None:  # the end of the innermost begin/end rule
            assert frame is not None
            mark(scopes, frame.start, m.end(), frame.outer)
            mark(scopes, frame.content, m.start(), frame.scopes)
            paint(scopes, m, frame.rule.get("endCaptures", {}), frame.outer)
            stack.pop()
            pos = m.end()  # a zero-width end pops without moving; the stack shrank
            continue
        own = inherited + ((rule["name"],) if "name" in rule else ())
        mark(scopes, m.start(), m.end(), own)
        if "match" in rule:
            paint(scopes, m, rule.get("captures", {}), own)
            pos = m.end() if m.end() > m.start() else m.start() + 1
        else:
            paint(scopes, m, rule.get("beginCaptures", {}), own)
            inner = own + ((rule["contentName"],) if "contentName" in rule else ())
            stack.append(Frame(rule, re.compile(rule["end"]), inner, own, m.start(), m.end()))
            pos = m.end()
    return scopes


def mark(scopes: list[set[str]], start: int, end: int, names: tuple[str, ...]) -> None:
    split = [part for name in names for part in name.split()]  # a name may list several
    for i in range(start, end):
        scopes[i].update(split)


def paint(scopes, m: re.Match[str], captures: dict, inherited: tuple[str, ...]) -> None:
    for group, capture in captures.items():
        index = int(group)
        if m.group(index) is None:
            continue
        start, end = m.span(index)
        names = inherited + ((capture["name"],) if "name" in capture else ())
        mark(scopes, start, end, names)
        for inner in expand(capture.get("patterns", [])):
            for sub in re.finditer(inner["match"], m.group(index)):
                mark(scopes, start + sub.start(), start + sub.end(), names + (inner["name"],))


def scopes_of(line: str, text: str, occurrence: int = 0) -> set[str]:
    """The scopes shared by every character of the `occurrence`-th `text` in `line`."""
    pattern = re.escape(text)
    if re.fullmatch(r"\w+", text):  # a word: not part of a longer name
        pattern = rf"(?<![A-Za-z0-9_]){pattern}(?![A-Za-z0-9_])"
    start = [m.start() for m in re.finditer(pattern, line)][occurrence]
    per_char = tokenize(line)[start : start + len(text)]
    return set.intersection(*per_char)


def has(scopes: set[str], prefix: str) -> bool:
    return any(s == prefix or s.startswith(prefix + ".") for s in scopes)


# ------------------------------------------------------------------------------- the grammar


def all_rules(node: object):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from all_rules(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_rules(value)


def test_grammar_names_the_language():
    assert GRAMMAR["scopeName"] == "source.smr"
    assert GRAMMAR["fileTypes"] == ["smr"]
    assert GRAMMAR["name"] == "smrules"


def test_every_regex_compiles_and_every_include_resolves():
    count = 0
    for rule in all_rules(GRAMMAR):
        for key in ("match", "begin", "end"):
            if isinstance(rule.get(key), str):
                re.compile(rule[key])
                count += 1
        include = rule.get("include")
        if include is not None:
            assert include.startswith("#") and include[1:] in GRAMMAR["repository"], include
    assert count > 30


@pytest.mark.parametrize(
    ("line", "text", "scope"),
    [
        ("# a comment", "# a comment", "comment.line.number-sign"),
        ('  when kind == "post"  # trailing', "# trailing", "comment.line"),
        ("policy acme_social_media {", "policy", "keyword.declaration.policy"),
        ("policy acme_social_media {", "acme_social_media", "entity.name.type.policy"),
        ("rule no_mnpi {", "rule", "keyword.declaration.rule"),
        ("rule no_mnpi {", "no_mnpi", "entity.name.function.rule"),
        ("let public_kinds = []", "public_kinds", "variable.other.constant"),
        ('import "data/tools.yaml" as tools', "import", "keyword.control.import"),
        ('import "data/tools.yaml" as tools', '"data/tools.yaml"', "string.quoted.double"),
        ('import "data/tools.yaml" as catalogue', "catalogue", "entity.name.namespace"),
        ("  when   kind in public_kinds", "when", "keyword.control.conditional"),
        ("  unless actor.spokesperson", "unless", "keyword.control.conditional"),
        ('  deny "No {tool.name} here."', "deny", "keyword.other.effect"),
        ('  deny "No {tool.name} here."', "No ", "string.quoted.double.template"),
        ('  deny "No {tool.name} here."', '"', "string.quoted.double.template"),
        ('  deny "No {tool.name} here."', "{tool.name}", "meta.interpolation"),
        ('  deny "No {tool.name} here."', "name", "variable.other.property"),
        ('  hint "Ask {{IT}}"', "{{", "constant.character.escape.brace"),
        ('  warn "a \\"quote\\" and \\u{1F600}"', '\\"', "constant.character.escape"),
        ('  warn "a \\"quote\\" and \\u{1F600}"', "\\u{1F600}", "constant.character.escape"),
        ('  warn "bad \\q escape"', "\\q", "invalid.illegal.escape"),
        ('  when content.text == "no {interpolation} here"', "{interpolation}", "string.quoted"),
        ('  when content.text == "# not a comment"', "# not a comment", "string.quoted"),
        ("  when content.text matches /Q[1-4]\\/FY/im", "/Q[1-4]\\/FY/im", "string.regexp"),
        ("  when content.text matches /Q[1-4]\\/FY/im", "im", "keyword.other.flag.regexp"),
        ("  when content.text matches /a#b/", "a#b", "string.regexp"),
        ("  when content.text matches /abc/x", "x", "invalid.illegal.flag.regexp"),
        ("  when time > 2026-12-15", "2026-12-15", "constant.other.date"),
        (
            "  when time > 2026-12-15T08:00:00+01:00",
            "2026-12-15T08:00:00+01:00",
            "constant.other.instant",
        ),
        ("  when time > 2026-12-15T08:00Z", "2026-12-15T08:00Z", "constant.other.instant"),
        ("  when actor.tenure_days >= -1", "-1", "constant.numeric"),
        ("  when context.share < 0.5", "0.5", "constant.numeric"),
        ("  when context.flag == true", "true", "constant.language"),
        ("  when context.flag != null", "null", "constant.language"),
        ("  when context.flag != null", "!=", "keyword.operator.comparison"),
        ("  when a and not b or c", "and", "keyword.operator.word"),
        ("  when a and not b or c", "not", "keyword.operator.word"),
        ("  when kind not in public_kinds", "in", "keyword.operator.word"),
        ("  when content.text mentions lexicon.products", "mentions", "keyword.operator.word"),
        (
            "  when any(link in content.links: link.domain in xs)",
            "any",
            "keyword.control.quantifier",
        ),
        ("  when len(content.text) > 280", "len", "support.function.builtin"),
        ("  when activity.kind == kind", "activity", "variable.language.activity"),
        ("  when context.default == 1", "default", "variable.other.property"),
        ("  when context.rule == 1", "rule", "variable.other.property"),
        ('  title    "A rule"', "title", "keyword.other.setting"),
        ("  severity critical", "severity", "keyword.other.metadata"),
        ("  severity critical", "critical", "constant.language.severity"),
        ("  mode     audit", "audit", "constant.language.mode"),
        ("  risk     confidentiality", "confidentiality", "entity.name.tag.risk"),
        ('  default  deny for ["tool_request"]', "for", "keyword.other.setting"),
        ('  default  deny for ["tool_request"]', "deny", "constant.language.effect"),
        ("  on_error warn", "warn", "constant.language.effect"),
        ('  tags     ["finance"]', "tags", "keyword.other.metadata"),
        ("  waivable false", "false", "constant.language"),
    ],
)
def test_sample_lines_get_their_scopes(line, text, scope):
    scopes = scopes_of(line, text)
    assert has(scopes, scope), f"{text!r} in {line!r}: {sorted(scopes)}"


@pytest.mark.parametrize(
    ("line", "text", "not_scope"),
    [
        ('  when "a" notin xs', "notin", "keyword"),
        ("  when a orb", "orb", "keyword"),
        ("  when title == 1", "title", "keyword"),  # not at the start of an item: a name
        ("  when count_all > 1", "count_all", "keyword"),
        ("  when content.text == 3abc", "3abc", "constant.numeric"),
        ('  when content.text == "x" # comment', '"x"', "comment"),
        ("  when xs[0] == 1", "xs", "keyword"),
    ],
)
def test_names_that_merely_contain_keywords_are_not_keywords(line, text, not_scope):
    scopes = scopes_of(line, text)
    assert not has(scopes, not_scope) and not any(s.startswith(not_scope) for s in scopes), (
        f"{text!r} in {line!r}: {sorted(scopes)}"
    )


@pytest.mark.parametrize("word", sorted(RESERVED))
def test_every_reserved_word_is_highlighted(word):
    line = f"  when {word}"
    scopes = scopes_of(line, word, occurrence=1 if word == "when" else 0)
    assert any(
        s.startswith(("keyword.", "constant.language.", "variable.language.")) for s in scopes
    ), f"{word}: {sorted(scopes)}"


@pytest.mark.parametrize("name", sorted(ARITY))
def test_every_builtin_function_is_highlighted(name):
    scopes = scopes_of(f"  when {name}(x) == 1", name)
    assert has(scopes, "support.function.builtin"), sorted(scopes)


def smr_files() -> list[Path]:
    files = sorted((ROOT / "policies").rglob("*.smr"))
    files += sorted((ROOT / "src/smrules/scaffold").rglob("*.smr"))
    assert len(files) > 5
    return files


def test_real_policies_tokenize_without_illegal_scopes():
    for path in smr_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            bad = [i for i, s in enumerate(tokenize(line)) if any("invalid" in x for x in s)]
            assert not bad, f"{path.name}:{number}: {line}"


# ------------------------------------------------------------------------------- VS Code


def test_vscode_extension_points_at_the_grammar_and_the_schemas():
    vscode = EDITORS / "vscode"
    manifest = json.loads((vscode / "package.json").read_text(encoding="utf-8"))
    contributes = manifest["contributes"]
    (language,) = contributes["languages"]
    assert language["extensions"] == [".smr"]
    config = json.loads((vscode / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    (grammar,) = contributes["grammars"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"]
    assert json.loads((vscode / grammar["path"]).read_text(encoding="utf-8")) == GRAMMAR
    validations = contributes["yamlValidation"] + contributes["jsonValidation"]
    by_match = {v["fileMatch"]: v["url"] for v in validations}
    assert by_match["*.test.yaml"] == "./schemas/policy-test.schema.json"
    assert by_match["waivers.yaml"] == "./schemas/waivers.schema.json"
    for url in by_match.values():
        schema = json.loads((vscode / url).read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
    shipped = (ROOT / "schemas/policy-test.schema.json").read_text(encoding="utf-8")
    bundled = (vscode / "schemas/policy-test.schema.json").read_text(encoding="utf-8")
    assert bundled == shipped


def test_language_configuration_patterns_compile():
    config = json.loads((EDITORS / "vscode/language-configuration.json").read_text("utf-8"))
    for pattern in (
        config["wordPattern"],
        *config["indentationRules"].values(),
        *config["folding"]["markers"].values(),
    ):
        re.compile(pattern)
    assert re.search(config["indentationRules"]["increaseIndentPattern"], "rule r {")
    assert not re.search(config["indentationRules"]["increaseIndentPattern"], 'deny "a {b}"')


def test_settings_snippet_registers_the_same_schemas():
    settings = json.loads((EDITORS / "vscode/settings.json").read_text(encoding="utf-8"))
    yaml_schemas = settings["yaml.schemas"]
    assert yaml_schemas[".vscode/smrules/policy-test.schema.json"] == "*.test.yaml"
    assert yaml_schemas[".vscode/smrules/waivers.schema.json"] == "waivers.yaml"
    assert "**/data/lexicons/*.yaml" in yaml_schemas[".vscode/smrules/lexicon.schema.json"]


# ------------------------------------------------------------------------------- schemas


def schema(name: str) -> dict:
    return json.loads((EDITORS / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))


def test_every_test_file_in_the_repository_matches_the_policy_test_schema():
    from smrules.schemas import load_schema

    files = sorted((ROOT / "policies").rglob("*.test.yaml"))
    files += sorted((ROOT / "src/smrules/scaffold").rglob("*.test.yaml"))
    assert files
    for path in files:
        jsonschema.validate(
            yaml_load(path.read_text("utf-8"), str(path)), load_schema("policy-test")
        )


def test_bundled_lexicons_and_scaffold_lexicon_match_the_lexicon_schema():
    files = sorted((ROOT / "policies/data/lexicons").glob("*.yaml"))
    files.append(ROOT / "src/smrules/scaffold/policies/data/lexicon.yaml")
    for path in files:
        jsonschema.validate(yaml_load(path.read_text("utf-8"), str(path)), schema("lexicon"))


PHRASES = [
    "Project Falcon", "confiden*", "Initrode*", "#ad", "@acme", "don't", "日本*", "a_*",
    "shop.example.com", "c*", "*", "a*b", "!!", "  ", "ab *", "ab-*", "é*", "--",
]  # fmt: skip


@pytest.mark.parametrize("phrase", PHRASES)
def test_lexicon_schema_never_rejects_a_phrase_the_engine_accepts(phrase, tmp_path):
    accepted_by_schema = jsonschema.Draft202012Validator(schema("lexicon")).is_valid(
        {"words": [phrase]}
    )
    (tmp_path / "words.yaml").write_text(json.dumps({"words": [phrase]}), encoding="utf-8")
    (tmp_path / "main.smr").write_text(
        'import "words.yaml" as lexicon\n\nrule r {\n  when content.text mentions lexicon.words\n'
        '  warn "x"\n}\n',
        encoding="utf-8",
    )
    try:
        smrules.load(tmp_path, cache=False)
        accepted_by_engine = True
    except smrules.PolicyError as err:
        assert [d.code for d in err.diagnostics] == ["bad-phrase"], err.render()
        accepted_by_engine = False
    assert accepted_by_schema == accepted_by_engine


def test_bundled_waivers_match_the_waivers_schema():
    waivers = yaml_load((ROOT / "policies/waivers.yaml").read_text("utf-8"), "waivers.yaml")
    jsonschema.validate(waivers, schema("waivers"))


GOOD_WAIVER = {
    "rule": "no_sms_mfa",
    "actors": ["e-1"],
    "until": "2026-12-31",
    "reason": "Keys on order.",
    "approved_by": "CISO",
}
BAD_WAIVERS = [
    {k: v for k, v in GOOD_WAIVER.items() if k != "reason"},
    {**GOOD_WAIVER, "departments": ["it"]},
    {k: v for k, v in GOOD_WAIVER.items() if k != "actors"},
    {**GOOD_WAIVER, "until": "end of year"},
    {**GOOD_WAIVER, "actors": "e-1"},
    {**GOOD_WAIVER, "approver": "CISO"},
    {**GOOD_WAIVER, "rule": "default"},
]


@pytest.mark.parametrize("entry", [GOOD_WAIVER, *BAD_WAIVERS])
def test_waivers_schema_agrees_with_the_loader(entry, tmp_path):
    (tmp_path / "main.smr").write_text(
        'rule no_sms_mfa {\n  when account.mfa == "sms"\n  deny "x"\n}\n', encoding="utf-8"
    )
    (tmp_path / "waivers.yaml").write_text(json.dumps([entry]), encoding="utf-8")
    valid = jsonschema.Draft202012Validator(schema("waivers")).is_valid([entry])
    try:
        smrules.load(tmp_path, cache=False)
        loads = True
    except smrules.PolicyError as err:
        assert {d.code for d in err.diagnostics} == {"bad-waiver"}, err.render()
        loads = False
    assert valid == loads == (entry is GOOD_WAIVER)


def test_lint_task_problem_matcher_reads_real_lint_output(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from smrules.cli import main

    tasks = json.loads((EDITORS / "vscode/tasks.json").read_text(encoding="utf-8"))
    lint = next(t for t in tasks["tasks"] if t["label"] == "smrules lint")
    matcher = lint["problemMatcher"]
    pattern = matcher["pattern"]
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "main.smr").write_text(
        'rule r {\n  risk made_up\n  when content.txt == ""\n  warn "x"\n}\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, lint["command"].split()[1:])
    assert result.exit_code == 1
    found = [m for line in result.output.splitlines() if (m := re.match(pattern["regexp"], line))]
    problems = [
        (
            m.group(pattern["file"]),
            m.group(pattern["line"]),
            m.group(pattern["column"]),
            m.group(pattern["severity"]),
            m.group(pattern["code"]),
        )
        for m in found
    ]
    assert problems == [
        ("main.smr", "2", "8", "warning", "unknown-risk"),
        ("main.smr", "3", "8", "error", "unknown-field"),
    ]
    assert (policies / problems[0][0]).is_file()  # paths are relative to policies/
    assert matcher["fileLocation"] == ["relative", "${workspaceFolder}/policies"]
