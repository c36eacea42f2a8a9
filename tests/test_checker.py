"""Static checks of SPEC §2 reported by `smrules.load`, all at once, with file:line:col."""

from __future__ import annotations

import pytest

import smrules


def errors_of(make_policy, source: str, **files: str) -> list[tuple[str, str, int, int]]:
    with pytest.raises(smrules.PolicyError) as err:
        make_policy(source, files)
    return [(d.code, d.message, d.span.line, d.span.column) for d in err.value.diagnostics]


def test_reports_every_problem_at_once(make_policy):
    found = errors_of(
        make_policy,
        'rule a {\n  when content.txt == "x"\n  when nosuch > 1\n  deny "x"\n}\n'
        'rule a { deny "again" }\n'
        "let r = /(unclosed/\n",
    )
    codes = [c for c, *_ in found]
    assert codes == ["unknown-field", "unknown-name", "duplicate-rule", "bad-regex"]
    assert found[0][1] == "unknown activity field `content.txt`; did you mean `text`?"
    assert (found[0][2], found[0][3]) == (2, 8)
    assert found[2][1] == "rule `a` is defined twice"


def test_syntax_error_has_caret_and_expectation(make_policy):
    with pytest.raises(smrules.PolicyError) as err:
        make_policy('rule r {\n  when kind == \n  deny "x"\n}\n')
    text = str(err.value)
    assert "main.smr:3:3: error[syntax]: unexpected `deny`; expected" in text
    assert '   3 |   deny "x"\n         ^' in text


@pytest.mark.parametrize(
    ("source", "code", "message"),
    [
        ("let kind = 1", "redefined-name", "`kind` names an activity field"),
        ("let len = 1", "redefined-name", "`len` is a built-in function"),
        ("let a = 1\nlet a = 2", "redefined-name", "`a` is already defined in this file"),
        ("let a = b\nlet b = 1", "unknown-name", "`b` is defined later in this file"),
        ("let any = 1", "reserved-name", "`any` is a reserved word and cannot be used as a name"),
        ('rule r {\n risk deny\n deny "x"\n}', "reserved-name", "`deny` is a reserved word"),
        ('policy p { timezone "Mars/Base" }', "bad-setting", "unknown time zone `Mars/Base`"),
        (
            'policy p { default deny for ["posts"] }',
            "bad-setting",
            "`posts` is not an activity kind",
        ),
        ('policy p { title "a"\n title "b" }', "duplicate-setting", "`title` is set twice"),
        (
            'rule r {\n title "a"\n title "b"\n deny "x"\n}',
            "duplicate-metadata",
            "`title` is given twice",
        ),
        (
            'rule r { when any(l in content.links: l.domian == "x") deny "x" }',
            "unknown-field",
            "unknown activity field `l.domian`; did you mean `domain`?",
        ),
        (
            'rule r { when content.text deny "x" }',
            "type",
            "a `when` condition must be true or false, got string",
        ),
        (
            'rule r { when "a" in 5 deny "x" }',
            "type",
            "`in` needs a list, a map or a string, got number",
        ),
        ('let x = "a" < 1', "type", "cannot compare string with number"),
        ('let x = "\\q"', "bad-escape", "unknown escape `\\q`"),
        ('let x = "\\u{D800}"', "bad-escape", "is not a Unicode scalar value"),
        ("let x = 2026-02-30", "bad-literal", "`2026-02-30` is not a valid calendar date"),
        ("let x = /a/q", "bad-regex", "unknown regex flag `q`"),
        ("let x = /a/ii", "bad-regex", "repeated regex flag `i`"),
        ('rule r { deny "a } b" }', "bad-template", "a lone `}` in a message"),
        ('rule r { deny "a {} b" }', "bad-template", "empty interpolation"),
        ('rule r { deny "{nosuch}" }', "unknown-name", "unknown name `nosuch`"),
        ('rule r { when "x" mentions "a*" deny "x" }', "bad-phrase", "a*"),
        ("let x = 0 < 1 < 2", "syntax", "comparisons cannot be chained"),
        ("let x = 3abc", "syntax", "invalid number or date `3abc`"),
        ("let x = 2026-12-15abc", "syntax", "invalid number or date `2026-12-15abc`"),
        ("let x = 2026-12-15T08", "syntax", "invalid number or date `2026-12-15T08`"),
        ('let x = content.text matches "(a"', "bad-regex", "invalid regex `(a`"),
    ],
)
def test_single_errors(make_policy, source, code, message):
    found = errors_of(make_policy, source)
    assert any(c == code and message in m for c, m, *_ in found), found


def test_data_paths_are_checked(make_policy):
    found = errors_of(
        make_policy,
        'import "data/tools.yaml" as tools\nrule r { when tool.name in tools.aproved deny "x" }\n',
        **{"data/tools.yaml": "approved: [Buffer]\n"},
    )
    assert found == [
        (
            "unknown-data-path",
            "`tools.aproved` does not exist in the data file; did you mean `approved`?",
            2,
            28,
        )
    ]


def test_context_is_free_form(make_policy):
    policy = make_policy('rule r { when context.anything.goes == 1 deny "x" }')
    assert (
        policy.evaluate(
            {"kind": "post", "actor": {"id": "a"}, "context": {"anything": {"goes": 1}}}
        ).decision
        == "deny"
    )


def test_more_than_one_policy_header(make_policy):
    found = errors_of(make_policy, "policy a {}", **{"other.smr": "policy b {}"})
    assert [c for c, *_ in found] == ["duplicate-policy"]


def test_module_import_names(make_policy):
    policy = make_policy(
        'import "shared.smr" as shared\n'
        'rule r { when kind in shared.kinds deny "{shared.word}" }\n',
        **{"shared.smr": 'let kinds = ["post"]\nlet word = "no"\n'},
    )
    d = policy.evaluate({"kind": "post", "actor": {"id": "a"}})
    assert d.findings[0].message == "no"
    found = errors_of(
        make_policy,
        'import "shared.smr" as shared\nlet x = shared.kind\n',
        **{"shared.smr": 'let kinds = ["post"]\n'},
    )
    assert found[0][0] == "unknown-name" and "did you mean `kinds`" in found[0][1]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("d.list[5]", "`d.list[5]` does not exist in the data file: the list has 1 item"),
        ("d.list.x", "`d.list.x` does not exist in the data file: `d.list` is a list, not a map"),
        ("d.map.k.deeper", "`d.map.k` is a number, not a map"),
        ('d.map["zz"]', '`d.map["zz"]` does not exist in the data file'),
        ("d.name[0]", "`d.name` is a string"),
    ],
)
def test_missing_data_paths_through_lists_and_scalars(make_policy, expr, message):
    found = errors_of(
        make_policy,
        f'import "d.yaml" as d\nlet v = {expr}\n',
        **{"d.yaml": "list: [a]\nmap: {k: 3}\nname: x\n"},
    )
    assert found[0][0] == "unknown-data-path"
    assert message in found[0][1]


def test_existing_data_paths_load(make_policy):
    policy = make_policy(
        'import "d.yaml" as d\nrule r { when d.list[0] == "a" and d.map["k"] == 3 warn "x" }\n',
        **{"d.yaml": "list: [a]\nmap: {k: 3}\n"},
    )
    assert policy.evaluate({"kind": "post", "actor": {"id": "a"}}).decision == "warn"
