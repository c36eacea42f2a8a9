"""Words, normalisation with offsets, phrases and `near` (SPEC §2.6, evidence offsets §4)."""

from __future__ import annotations

import random
import threading
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smrules.text import (
    PhraseError,
    PhraseSet,
    Word,
    _coarse_mapped,
    is_word_char,
    near,
    near_any,
    near_pairs,
    nfkc_with_map,
    normalize,
    normalize_with_map,
    original_span,
    span_of,
    tokenize,
    words,
)


def spans(s: str) -> list[tuple[str, str]]:
    """Each word with the original text it covers."""
    return [(w.text, s[w.start : w.end]) for w in tokenize(s)]


# ---------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Don't stop", ["don't", "stop"]),
        ("don’t", ["don’t"]),
        ("rock'n'roll", ["rock'n'roll"]),
        ("l’amour", ["l’amour"]),
        ("rock' 'tis", ["rock", "tis"]),
        ("a''b", ["a", "b"]),
        ("4'5 a'4 4'a", ["4", "5", "a", "4", "4", "a"]),
        ("#ad #Ad2 ##ad", ["#ad", "#ad2", "#ad"]),
        ("@acme $ACME", ["@acme", "$acme"]),
        ("a#b x@y", ["a", "#b", "x", "@y"]),
        ("# @ $ alone", ["alone"]),
        ("123 4.5 1,000", ["123", "4", "5", "1", "000"]),
        ("foo_bar __init__", ["foo_bar", "__init__"]),
        ("東京タワー、大阪", ["東京タワー", "大阪"]),
        ("Москва и Санкт-Петербург", ["москва", "и", "санкт", "петербург"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),
        ("great👍news", ["great", "news"]),
        ("", []),
        ("  ...  ", []),
    ],
)
def test_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected
    assert [w.text for w in tokenize(text)] == expected


def test_words_of_none_is_empty() -> None:
    assert words(None) == []


def test_word_offsets_ascii() -> None:
    s = "Hi @ACME, #ad don't!"
    assert tokenize(s) == (
        Word("hi", 0, 2),
        Word("@acme", 3, 8),
        Word("#ad", 10, 13),
        Word("don't", 14, 19),
    )


def test_word_chars_match_is_word_char() -> None:
    # Every character the tokenizer keeps in a word is a word character, and vice versa.
    sample = [chr(cp) for cp in range(0x20, 0x3000)] + ["\U0001d7d8", "\U00011038", "\U000e0100"]
    for ch in sample:
        if unicodedata.category(ch) == "Cs":
            continue
        norm = normalize("x" + ch + "x")
        got = words("x" + ch + "x")
        if all(is_word_char(c) for c in norm):
            assert got == [norm], repr(ch)
        elif ch not in "'’#@$" and not any(is_word_char(c) for c in normalize(ch)):
            assert got == ["x", "x"], repr(ch)


# ---------------------------------------------------------------- normalisation and offsets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＣＭＥ Corp", [("acme", "ＡＣＭＥ"), ("corp", "Corp")]),
        ("ac\u00adme", [("acme", "ac\u00adme")]),
        ("ac\u200dme x\u200by", [("acme", "ac\u200dme"), ("xy", "x\u200by")]),
        ("acme\u00ad\u200b.", [("acme", "acme")]),
        ("\u200bacme", [("acme", "acme")]),
        ("cafe\u0301 ok", [("café", "cafe\u0301"), ("ok", "ok")]),
        ("Straße STRASSE", [("strasse", "Straße"), ("strasse", "STRASSE")]),
        ("ẞ", [("ss", "ẞ")]),
        ("ﬁne", [("fine", "ﬁne")]),
        ("ｶﾞｷﾞ", [("ガギ", "ｶﾞｷﾞ")]),
        ("½", [("1", "½"), ("2", "½")]),
        ("x ㄱㅏ", [("x", "x"), ("가", "ㄱㅏ")]),
    ],
)
def test_offsets_point_into_the_original(text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(text) == expected


def test_normalize_with_map_ascii_and_expansions() -> None:
    assert normalize_with_map("AbC") == ("abc", [0, 1, 2, 3])
    text, origin = normalize_with_map("aß\u00adＢ")
    assert text == "assb"
    assert origin == [0, 1, 1, 3, 4]


def test_nfkc_with_map_keeps_case_and_ignorables() -> None:
    text, origin = nfkc_with_map("Ａ\u00adé")
    assert text == "A\u00adé"
    assert origin == [0, 1, 2, 3]


def test_original_span_ends_after_the_whole_character() -> None:
    s = "x㍱y"  # one character that NFKC turns into "hPa"
    text, origin = normalize_with_map(s)
    assert text == "xhpay"
    assert original_span(s, origin, 1, 2) == (1, 2)  # "h" alone covers the whole ㍱
    assert original_span(s, origin, 0, 5) == (0, 3)


def test_long_non_ascii_text_maps_across_segments() -> None:
    s = ("ＡＣＭＥ café\u0301 Straße ac\u00adme 東京 " * 200).strip()
    text, origin = normalize_with_map(s)
    assert text == normalize(s)
    found = tokenize(s)
    assert len(found) == 5 * 200
    sources = {"ＡＣＭＥ", "café\u0301", "Straße", "ac\u00adme", "東京"}
    assert {s[w.start : w.end] for w in found} == sources


def test_coarse_fallback_is_exact_text() -> None:
    s = "ｶﾞ e\u0301 ﬁ x"
    text, origin = _coarse_mapped(s, normalize)
    assert text == normalize(s)
    assert len(origin) == len(text) + 1 and origin[-1] == len(s)


INTERESTING = (
    "aZ09_ '’#@$-.,\u00ad\u200b\u200c\u200d\u2060\ufeff\u0301\u0308\u0327\u20dd"
    "ßẞﬁﬃ½²ＡＢ１２ｶﾞﾟㄱㅏㅂ가\u1161\u11a8é東京ДжΣςİ\U0001d400\U00011038\U000e0100…™"
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(INTERESTING), max_size=80))
def test_map_invariants(s: str) -> None:
    for mapped, expected in ((normalize_with_map, normalize(s)), (nfkc_with_map, None)):
        text, origin = mapped(s)
        assert text == (expected if expected is not None else unicodedata.normalize("NFKC", s))
        assert len(origin) == len(text) + 1
        assert origin[-1] == len(s)
        assert all(a <= b for a, b in zip(origin, origin[1:], strict=False))
        assert all(0 <= o < len(s) for o in origin[:-1])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(INTERESTING), max_size=80))
def test_tokens_agree_with_words_and_cover_their_source(s: str) -> None:
    found = tokenize(s)
    assert [w.text for w in found] == words(s)
    for w in found:
        assert 0 <= w.start < w.end <= len(s)
        assert w.text in normalize(s[w.start : w.end])
    starts = [w.start for w in found]
    assert starts == sorted(starts)


def test_tokenize_one_mebibyte_is_linear() -> None:
    # A quadratic tokenizer would take hours here; the bound only leaves room for a busy machine.
    chunk = "Our ACME-cloud don't rock'n'roll #ad @acme 1234 "
    s = (chunk * (2**20 // len(chunk) + 1))[: 2**20]
    started = time.perf_counter()
    found = tokenize(s)
    assert len(found) > 150_000
    hostile = "a'" * 2**18 + "1 " * 2**16
    assert len(tokenize(hostile)) == 2**16 + 1
    assert time.perf_counter() - started < 60


# ---------------------------------------------------------------- phrases


def mentions(text: str, *phrases: str) -> bool:
    return PhraseSet.compile(list(phrases)).search(tokenize(text))


def test_multi_word_phrase_across_punctuation_and_case() -> None:
    assert mentions("Try ACME-Cloud today", "acme cloud")
    assert mentions("Try acme cloud today", "acme-cloud")
    assert mentions("try Acme... CLOUD!", "ACME cloud")
    assert not mentions("acme, the cloud", "acme cloud")


def test_whole_words_only() -> None:
    assert not mentions("acmecorp rocks", "acme")
    assert not mentions("the acme", "acme corp")
    assert mentions("the ACME corp", "acme")


def test_normalised_forms_match() -> None:
    assert mentions("ＡＣＭＥ", "acme")
    assert mentions("ac\u00adme", "acme")
    assert mentions("STRASSE", "straße")
    assert mentions("cafe\u0301", "café")
    assert mentions("don’t sell", "don't sell")
    assert mentions("don't sell", "don’t sell")


def test_sigils_are_part_of_words() -> None:
    assert words("#AD") == ["#ad"]
    assert mentions("great #AD", "#ad")
    assert not mentions("great #ad", "ad")
    assert not mentions("great ad", "#ad")


def test_prefix_phrases() -> None:
    assert mentions("This is Confidential", "confiden*")
    assert mentions("confidentiality", "confiden*")
    assert mentions("confiden", "confiden*")
    assert not mentions("confide", "confiden*")
    assert mentions("risk free guarantees", "risk free guarantee*")
    assert not mentions("risk guarantees", "risk free guarantee*")
    assert mentions("cold", "co*")  # two word characters are enough (SPEC §2.6)
    assert mentions("#adverts", "#ad*")


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("", "has no word"),
        ("  ", "has no word"),
        ("!!!", "has no word"),
        ("c*", "at least two word characters"),
        ("*", "at least two word characters"),
        ("confiden *", "at least two word characters"),
        ("a b*", "at least two word characters"),
        ("con*fidential", "only as the last character"),
        ("*confidential", "only as the last character"),
        ("conf**", "only as the last character"),
    ],
)
def test_bad_phrases(phrase: str, message: str) -> None:
    with pytest.raises(PhraseError) as err:
        PhraseSet.compile(["fine", phrase])
    assert message in str(err.value)
    assert repr(phrase) in str(err.value)
    assert isinstance(err.value, ValueError)


def test_compile_accepts_str_list_and_map_keys() -> None:
    assert PhraseSet.compile("acme").search(tokenize("ACME"))
    assert PhraseSet.compile({"acme": 1, "globex": 2}).search(tokenize("globex"))
    assert not PhraseSet.compile([]).search(tokenize("anything"))
    with pytest.raises(TypeError):
        PhraseSet.compile(["acme", 3])  # type: ignore[list-item]


def test_find_is_leftmost_longest_and_non_overlapping() -> None:
    ps = PhraseSet.compile(["acme", "acme cloud", "cloud storage", "storage"])
    found = tokenize("acme cloud storage acme storage")
    assert ps.find(found) == [(0, 1), (2, 2), (3, 3), (4, 4)]
    assert ps.occurrences(found) == [(0, 1), (1, 2), (2, 2), (3, 3), (4, 4)]
    assert PhraseSet.compile(["a b c", "b"]).find(tokenize("a b x b")) == [(1, 1), (3, 3)]


def test_evidence_offsets_into_original() -> None:
    s = "Über ＡＣＭＥ-Cloud: ac\u00adme cloud and acmecloud"
    ps = PhraseSet.compile(["acme cloud"])
    got = ps.find_text(s)
    assert [s[a:b] for a, b in got] == ["ＡＣＭＥ-Cloud", "ac\u00adme cloud"]
    found = tokenize(s)
    assert [span_of(found, i, j) for i, j in ps.find(found)] == got
    assert ps.find_text(None) == [] and not ps.search_text(None)


def test_ten_thousand_phrases() -> None:
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz"

    def word() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 9)))

    phrases = [" ".join(word() for _ in range(rng.randint(1, 3))) for _ in range(9_990)]
    stems = [word() + "*" for _ in range(10)]
    big = PhraseSet.compile(phrases + stems)
    present = rng.sample(phrases, 50)
    filler = [word() + "q" for _ in range(2_000)]  # never a phrase word: they all lack "q"
    text_words = filler[:]
    for phrase in present:
        text_words.insert(rng.randrange(len(text_words)), phrase)
    text = " ".join(text_words)
    found = tokenize(text)
    hits = {" ".join(w.text for w in found[i : j + 1]) for i, j in big.find(found)}
    assert set(present) <= hits
    assert big.search(found)
    assert not big.search(tokenize(" ".join(filler)))
    stem_word = stems[0][:-1] + "ing"
    assert big.search(tokenize(f"x {stem_word} y"))

    small = PhraseSet.compile(present[:10])
    long_text = tokenize(" ".join(filler * 20))

    def cost(ps: PhraseSet) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            ps.find(long_text)
            ps.search(long_text)
            best = min(best, time.perf_counter() - started)
        return best

    # A cost growing with the number of phrases would make this ~1000 times slower.
    assert cost(big) < 4 * cost(small) + 0.25


def test_phrase_set_is_shareable_between_threads() -> None:
    ps = PhraseSet.compile(["acme cloud", "confiden*"])
    texts = [tokenize(f"item {i} acme cloud is confidential") for i in range(50)]
    expected = [ps.find(t) for t in texts]
    results: list[bool] = []

    def work() -> None:
        results.append(all(ps.find(t) == e for t, e in zip(texts, expected, strict=True)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 8


# ---------------------------------------------------------------- near

GUARANTEE = PhraseSet.compile(["guarantee*", "risk-free"])
RETURNS = PhraseSet.compile(["returns", "high profit"])


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("we guarantee returns", 1, True),
        ("we guarantee returns", 0, False),
        ("guaranteed a b c returns", 4, True),
        ("guaranteed a b c returns", 3, False),
        ("returns a b c guaranteed", 4, True),
        ("returns a b c guaranteed", 3, False),
        ("risk free then high profit", 2, True),  # from "free" to "high"
        ("risk free then high profit", 1, False),
        ("high profit, risk-free", 1, True),
        ("guaranteed", 10, False),
        ("returns", 10, False),
    ],
)
def test_near(text: str, n: int, expected: bool) -> None:
    assert near_any(tokenize(text), GUARANTEE, RETURNS, n) is expected
    assert near(text, GUARANTEE, RETURNS, n) is expected
    assert bool(near_pairs(tokenize(text), GUARANTEE, RETURNS, n)) is expected


def test_near_edge_cases() -> None:
    same = PhraseSet.compile(["acme"])
    assert near_any(tokenize("acme"), same, same, 0)  # one occurrence of a phrase in both
    assert not near_any(tokenize("guarantee returns"), GUARANTEE, RETURNS, -1)
    assert not near(None, GUARANTEE, RETURNS, 5)
    # An occurrence hidden by a longer overlapping one still counts.
    a = PhraseSet.compile(["x y", "y z z z"])
    assert near_any(tokenize("x y z z z returns"), a, RETURNS, 1)


def test_near_pairs_for_evidence() -> None:
    s = "We guarantee returns. Later: returns x x x x x x x guaranteed, and risk-free returns"
    found = tokenize(s)
    pairs = near_pairs(found, GUARANTEE, RETURNS, 2)
    texts = [(s[slice(*span_of(found, *a))], s[slice(*span_of(found, *b))]) for a, b in pairs]
    assert texts == [("guarantee", "returns"), ("risk-free", "returns")]
    assert near_pairs(found, GUARANTEE, RETURNS, 2, limit=1) == pairs[:1]
