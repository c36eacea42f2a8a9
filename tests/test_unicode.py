"""Unicode tricks in post text, and what `mentions` and `matches` make of each (SPEC §2.2,
§2.6; docs/unicode.md).

`mentions` compares normalised words: NFKC, casefold, and the removal of U+00AD, U+200B-U+200D,
U+2060 and U+FEFF. `matches` runs RE2 on the raw text: no normalisation at all. Letters of
different scripts are never folded together: Cyrillic `а` is not Latin `a`. Evidence always
points into the original text.
"""

from __future__ import annotations

import datetime as dt

import pytest

import smrules
from smrules.lint import lint_warnings

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.timezone.utc)

POLICY = r"""
rule mentions_acme { when content.text mentions "acme"           warn "mentions" }
rule matches_acme  { when content.text matches /acme/i           warn "matches" }
rule mentions_cafe { when content.text mentions "café"           warn "mentions café" }
rule matches_cafe  { when content.text matches /café/            warn "matches café" }
rule ascii_word    { when content.text matches /\bcafé\b/        warn "ascii \\b" }
rule letter_word   { when content.text matches /(?:^|\PL)café(?:\PL|$)/ warn "\\PL" }
rule bidi_control  { when content.text matches /[\x{202A}-\x{202E}\x{2066}-\x{2069}]/
                     warn "hidden direction change" }
rule invisible     { when content.text matches /\p{Cf}/          warn "invisible format character" }
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> smrules.Policy:
    root = tmp_path_factory.mktemp("unicode")
    (root / "main.smr").write_text(POLICY, encoding="utf-8")
    return smrules.load(root, cache=False)


def fired(policy: smrules.Policy, text: str) -> set[str]:
    activity = {"kind": "post", "actor": {"id": "e1"}, "content": {"text": text}}
    return {f.rule for f in policy.evaluate(activity, now=NOW).findings}


# (text, does it mention "acme", does /acme/i match it, why)
ACME = [
    ("ACME", True, True, "case is folded by both"),
    ("ＡＣＭＥ", True, False, "full-width letters: NFKC makes them ASCII; RE2 sees other letters"),
    ("𝐚𝐜𝐦𝐞", True, False, "mathematical bold letters: NFKC folds them too"),
    ("ac\u200dme", True, False, "a zero-width joiner inside the word is removed"),
    ("ac\u200bme", True, False, "a zero-width space inside the word is removed"),
    ("ac\u00adme", True, False, "a soft hyphen inside the word is removed"),
    ("ac\ufeffme", True, False, "a byte order mark inside the word is removed"),
    ("\u0430cme", False, False, "Cyrillic а is another letter: scripts are never folded"),
    ("ac\u202eme", False, False, "a bidi override is not a letter: it splits the word"),
    ("\u202eemca", False, False, "displays as `acme`, but the text is `emca`"),
    ("ac\u2063me", False, False, "an invisible separator (not in the removed set) splits the word"),
    ("acme\u0301", False, True, "a combining accent makes another word, `acmé`; /acme/ is in it"),
    ("#acme", False, True, "a hashtag is its own word, `#acme`"),
    ("acme's", False, True, "an apostrophe between letters joins the word: `acme's`"),
    ("acme’s new tool", False, True, "so does the typographic apostrophe"),
    ("acme-cloud", True, True, "a hyphen separates words"),
]


@pytest.mark.parametrize(("text", "mentioned", "matched", "why"), ACME, ids=[w for *_, w in ACME])
def test_mentions_normalises_and_matches_does_not(policy, text, mentioned, matched, why):
    rules = fired(policy, text)
    assert ("mentions_acme" in rules) is mentioned, why
    assert ("matches_acme" in rules) is matched, why


@pytest.mark.parametrize(
    ("text", "mentioned", "matched"),
    [
        ("un café noir", True, True),  # precomposed é (U+00E9)
        ("un cafe\u0301 noir", True, False),  # e + combining acute: NFKC composes it
        ("un cafe noir", False, False),  # accents are not removed: `cafe` is another word
        ("UN CAFÉ NOIR", True, False),  # /café/ has no (?i)
    ],
)
def test_combining_marks_are_composed_for_mentions_only(policy, text, mentioned, matched):
    rules = fired(policy, text)
    assert ("mentions_cafe" in rules) is mentioned
    assert ("matches_cafe" in rules) is matched


def test_re2_word_boundaries_are_ascii_only(policy):
    rules = fired(policy, "un café noir")
    assert "ascii_word" not in rules  # `é` is not a word character for `\b`
    assert {"letter_word", "mentions_cafe"} <= rules  # `\PL` and `mentions` know letters


def test_full_unicode_case_folding_is_for_mentions_only(make_policy):
    policy = make_policy(
        'rule m { when content.text mentions "straße" warn "m" }\n'
        'rule r { when content.text matches /(?i)straße/ warn "r" }\n'
    )
    assert fired(policy, "STRASSE") == {"m"}  # casefold: ß is ss; RE2 folds only 1:1
    assert fired(policy, "STRAßE") == {"m", "r"}


@pytest.mark.parametrize(
    "text", ["look \u202eevil.exe", "look \u2066isolated\u2069", "a\u202ab\u202c"]
)
def test_a_policy_can_flag_hidden_direction_changes(policy, text):
    assert {"bidi_control", "invisible"} <= fired(policy, text)


@pytest.mark.parametrize("text", ["ac\u200dme", "con\u00adfidential", "\u2063", "\ufeffhi"])
def test_a_policy_can_flag_invisible_characters(policy, text):
    assert "invisible" in fired(policy, text)


def test_ordinary_text_raises_no_flag(policy):
    assert fired(policy, "Ordinary text, with ümlauts, 中文 and emoji 🎉 only.") == set()


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("We ❤ ＡＣＭＥ!", 5, 9),
        ("We love ac\u200dme", 8, 13),
        ("\U0001f389 ac\u00adme", 2, 7),
        ("x 𝐚𝐜𝐦𝐞", 2, 6),
    ],
)
def test_evidence_points_into_the_original_text(policy, text, start, end):
    activity = {"kind": "post", "actor": {"id": "e1"}, "content": {"text": text}}
    decision = policy.evaluate(activity, now=NOW)
    (finding,) = [f for f in decision.findings if f.rule == "mentions_acme"]
    (evidence,) = finding.evidence
    assert (evidence.start, evidence.end, evidence.text) == (start, end, text[start:end])


def test_words_shows_what_mentions_compares(value_of):
    text = "ＡＣＭＥ con\u00adfidential cafe\u0301 \u0430cme ac\u202eme"
    assert value_of("words(content.text)", {"content": {"text": text}}) == [
        "acme",
        "confidential",
        "café",
        "\u0430cme",
        "ac",
        "me",
    ]


def test_lint_warns_about_confusable_letters_in_policy_literals(make_policy):
    policy = make_policy(
        'rule r { when content.text mentions ["\u0430cme", "plain"] warn "x" }\n'
        'rule q { when content.text matches /\\bcafé\\b/ warn "y" }\n'
    )
    warnings = {(d.code, d.span.line) for d in lint_warnings(policy.program)}
    assert warnings == {("mixed-script", 1), ("ascii-word-escape", 2)}


def test_a_cyrillic_phrase_mentions_only_cyrillic_text(make_policy):
    policy = make_policy('rule r { when content.text mentions "\u0430cme" warn "x" }')
    assert fired(policy, "\u0410CME news") == {"r"}  # Cyrillic А, folded to а
    assert fired(policy, "ACME news") == set()


def test_the_documented_mixed_script_pattern_flags_look_alikes(make_policy):
    policy = make_policy(
        "rule r { when content.text matches /\\p{Latin}\\p{Cyrillic}|\\p{Cyrillic}\\p{Latin}/\n"
        '         warn "mixed scripts" }'
    )
    assert fired(policy, "Visit \u0430cme.com") == {"r"}
    assert fired(policy, "Visit acme.com, or \u043f\u0440\u0438\u0432\u0435\u0442 mir") == set()
