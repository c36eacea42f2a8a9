"""Derived fields (SPEC §3) and `domain()` (SPEC §2.4)."""

from __future__ import annotations

import copy
import sys
import time
import unicodedata

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from smrules import derive as derive_module
from smrules.derive import (
    derive,
    derive_content,
    extract_cashtags,
    extract_hashtags,
    extract_links,
    extract_mentions,
    normalize_cashtags,
    normalize_handle,
    normalize_hashtags,
    normalize_links,
    normalize_mentions,
)
from smrules.text import is_word_char, normalize
from smrules.urls import domain

# -- hashtags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Launch day! #Ad #ad #AD", ["ad"]),
        ("it&#39;s", []),
        ("a#b", []),
        ("#123 and #2026", []),
        ("#123abc", ["123abc"]),
        ("#a#b", ["a"]),
        ("(#tag) #snake_case, #x.", ["tag", "snake_case", "x"]),
        ("#don't", ["don"]),
        ("#Straße #ÉTÉ", ["strasse", "été"]),
        ("#ｔａｇ", ["tag"]),  # full-width letters: NFKC
        ("#cafe\u0301", ["café"]),  # a combining mark is a word character
        ("x\u0301#no é#no 1#no _#no", []),
        ("##double", ["double"]),
        ("# space", []),
        ("#\u0661\u0662", []),  # Arabic-Indic digits are digits
        ("#日本語", ["日本語"]),
        ("", []),
    ],
)
def test_hashtags(text, expected):
    assert extract_hashtags(text) == expected


# -- mentions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks @Alice and @alice!", ["alice"]),
        ("mail bob@example.com", []),
        ("x.@y", []),
        ("@a.b. @c-d- @_e_", ["a.b", "c-d", "_e_"]),
        ("(@acme) @@x", ["acme", "x"]),
        ("é@x \u0301@y", []),
        ("@ alone @", []),
        ("@1.2.3", ["1.2.3"]),
        ("@bob's", ["bob"]),
        ("@ünïcode", []),
    ],
)
def test_mentions(text, expected):
    assert extract_mentions(text) == expected


# -- cashtags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$ACME up, $acme down", ["ACME"]),
        ("costs $5 or $5.00", []),
        ("$ABCDEF $ABCDEFG", ["ABCDEF"]),
        ("$AB_C $AB1 US$ABC", []),
        ("($TSLA). $x", ["TSLA", "X"]),
        ("$A $B", ["A", "B"]),
        ("$ÄBC", []),
        ("$", []),
    ],
)
def test_cashtags(text, expected):
    assert extract_cashtags(text) == expected


# -- links ------------------------------------------------------------------------------------


def urls(text: str) -> list[str]:
    return [link["url"] for link in extract_links(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://x.com/a?b=1.", ["https://x.com/a?b=1"]),
        ("(https://en.wikipedia.org/wiki/A_(b))", ["https://en.wikipedia.org/wiki/A_(b"]),
        ("end: http://a.io/x,;:!?)]}'", ["http://a.io/x"]),
        ("www.x.com, www.x.com", ["www.x.com"]),
        ("WWW.Example.com!", ["WWW.Example.com"]),
        ("example.com/path and example.com", ["example.com/path"]),
        ("e.g./x U.S./y v1.2/3 a.b1/", []),
        ("bücher.de/x", ["bücher.de/x"]),
        ("user@example.com/x awww.x.com _www.y.com", []),
        ('<https://a.b/c> "https://q.com/d"', ["https://a.b/c", "https://q.com/d"]),
        ("https:// www. www.,", []),
        ("HTTPS://X.COM/A", ["HTTPS://X.COM/A"]),
        ("...example.com/x", ["example.com/x"]),
        ("a.b.example.co/x y", ["a.b.example.co/x"]),
        ("one\u00a0https://x.com/a\u3000b", ["https://x.com/a"]),
        ("xhttps://x.com", ["https://x.com"]),
        ("no links here.", []),
    ],
)
def test_links(text, expected):
    assert urls(text) == expected


def test_link_domains():
    links = extract_links("https://www.Example.COM:8080/x www.x.com example.com/p bücher.de/x")
    assert [link["domain"] for link in links] == [
        "example.com",
        "x.com",
        "example.com",
        "xn--bcher-kva.de",
    ]


# -- domain() ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.Example.COM:8080/x", "example.com"),
        ("example.com/path", "example.com"),
        ("www.x.com", "x.com"),
        ("www.www.x.com", "www.x.com"),
        ("http://user:pw@bit.ly/abc", "bit.ly"),
        ("https://evil.com\\@good.com", "evil.com"),
        ("HTTPS://EXAMPLE.com.", "example.com"),
        ("https://bücher.de", "xn--bcher-kva.de"),
        ("https://例え.jp/", "xn--r8jz45g.jp"),
        ("https://xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("https://bit%2Ely/x", "bit.ly"),
        ("example.com:8080", "example.com"),
        ("//cdn.x.com/a", "cdn.x.com"),
        ("https://[::1]:80/x", "::1"),
        ("https://1.2.3.4:5/", "1.2.3.4"),
        ("ftp://files.x.org/a", "files.x.org"),
        ("  https://x.com  ", "x.com"),
        ("https://ex\u00adample.com", "example.com"),
    ],
)
def test_domain(url, expected):
    assert domain(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "https://",
        "https:",
        "mailto:a@b.com",
        "javascript:alert(1)",
        "https://a..b/",
        "https://exa mple.com",
        "https://x.com:http/",
        "https://[zz]/",
        "https://\ud800.com",
        "https://" + "a" * 64 + ".com",
        "https://" + "é" * 5000 + ".com",
        "x" * 2000,
        "https://%ff.com",
    ],
)
def test_domain_none(url):
    assert domain(url) is None


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_domain_never_raises(text):
    result = domain(text)
    assert result is None or (result.isascii() and result == result.lower())


@given(st.text(alphabet="htps:/\\@[]%.:www-_0123456789aé#?\t ", max_size=40))
@settings(max_examples=300, deadline=None)
def test_domain_never_raises_on_url_like_text(text):
    domain(text)
    domain("https://" + text)


# -- reference implementations on random text -------------------------------------------------


def ref_hashtags(text: str) -> list[str]:
    """SPEC §3 read literally, one character at a time."""
    out: dict[str, None] = {}
    for i, ch in enumerate(text):
        if ch != "#" or (i and (is_word_char(text[i - 1]) or text[i - 1] == "&")):
            continue
        j = i + 1
        while j < len(text) and is_word_char(text[j]):
            j += 1
        body = text[i + 1 : j]
        if body and not body.isdecimal():
            out.setdefault(normalize(body))
    return list(out)


def ref_cashtags(text: str) -> list[str]:
    out: dict[str, None] = {}
    for i, ch in enumerate(text):
        if ch != "$" or (i and is_word_char(text[i - 1])):
            continue
        j = i + 1
        while j < len(text) and is_word_char(text[j]):
            j += 1
        body = text[i + 1 : j]
        if 1 <= len(body) <= 6 and body.isascii() and body.isalpha():
            out.setdefault(body.upper())
    return list(out)


WORDY = st.text(alphabet="#$@&._-' aZ09é\u0301\u0661日Ａ\u00a0\n", max_size=60)


@given(WORDY)
@settings(max_examples=400, deadline=None)
def test_hashtags_and_cashtags_match_the_reference(text):
    assert extract_hashtags(text) == ref_hashtags(text)
    assert extract_cashtags(text) == ref_cashtags(text)


@given(st.text(alphabet="#$@&._-'/: aZ09\n", max_size=60))
@settings(max_examples=400, deadline=None)
def test_ascii_and_unicode_patterns_agree(text):
    ascii_patterns = derive_module._patterns(True)
    unicode_patterns = derive_module._patterns(False)
    for name in ("hashtag", "mention", "cashtag"):
        assert getattr(ascii_patterns, name).findall(text) == getattr(
            unicode_patterns, name
        ).findall(text)


def re2_links(text: str) -> list[str]:
    """The links rule as one RE2 pattern (linear, but slow per match from Python)."""
    spaces = r"\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    end = spaces + r'\x{202f}\x{205f}\x{3000}<>"'  # str.isspace, and <>"
    word = r"\pL\pM\pN_"
    options = re2.Options()
    options.log_errors = False
    pattern = re2.compile(
        rf"((?i:https?)://[^{end}]+)|(?:^|[^{word}@])((?i:www)\.[^{end}]+"
        rf"|(?:[{word}-]+\.)+\pL{{2,}}/[^{end}]*)",
        options,
    )
    out: dict[str, None] = {}
    for m in pattern.finditer(text):
        url = (m.group(1) or m.group(2)).rstrip(".,;:!?)]}'")
        if m.group(1):
            kept = len(url) > url.index("/") + 2
        else:
            kept = "/" in url or (len(url) > 4 and url[:4].lower() == "www.")
        if kept:
            out.setdefault(url)
    return list(out)


LINKY = st.text(alphabet='htps:/.wW@-_aZ1é\u0301²日 \n<"),', max_size=50)


@given(LINKY)
@settings(max_examples=600, deadline=None)
def test_links_match_a_single_re2_pattern(text):
    assert urls(text) == re2_links(text)


def test_mark_class_covers_every_mark():
    blocks = ((0x300, 0x1F000), (0xE0100, 0xE01F0))
    outside = [
        cp
        for cp in range(sys.maxunicode + 1)
        if not any(lo <= cp < hi for lo, hi in blocks) and unicodedata.category(chr(cp))[0] == "M"
    ]
    assert outside == []


# -- linear time on large texts ---------------------------------------------------------------

MIB = 1 << 20


@pytest.mark.parametrize(
    "unit",
    [
        "a.",
        "a-",
        "#",
        "#1",
        "#a ",
        "@a.",
        "@",
        "$A ",
        "www.",
        "http://",
        "x.co/ ",
        "é.",
        "#é ",
        "a" * 64 + ".",
    ],
)
def test_extraction_is_fast_on_one_mebibyte(unit):
    text = unit * (MIB // len(unit.encode()))
    started = time.perf_counter()
    derive_content({"text": text})
    assert time.perf_counter() - started < 5.0


# -- normalising what the caller gives --------------------------------------------------------


def test_normalising_supplied_lists():
    assert normalize_hashtags(["#Ad", "ad", "#AD", "ＡＤ", "Sponsored"]) == ["ad", "sponsored"]
    assert normalize_mentions(["@Bob", "bob", "ALICE"]) == ["bob", "alice"]
    assert normalize_cashtags(["$acme", "ACME", "tsla"]) == ["ACME", "TSLA"]
    assert normalize_handle("@ACME_Corp") == "acme_corp"


def test_normalised_lists_are_returned_as_they_are():
    for norm, items in (
        (normalize_hashtags, ["ad", "été"]),
        (normalize_mentions, ["bob", "a.b"]),
        (normalize_cashtags, ["ACME"]),
        (normalize_links, [{"url": "https://x.com", "domain": "x.com"}]),
        (normalize_links, [{"url": "mailto:a@b.c", "domain": None}]),
    ):
        assert norm(items) is items


def test_supplied_links_get_a_domain_and_lose_duplicates():
    kept = {"url": "https://b.com", "domain": "custom"}
    links = [{"url": "https://www.A.com/x"}, kept, {"url": "https://www.A.com/x"}]
    assert normalize_links(links) == [
        {"url": "https://www.A.com/x", "domain": "a.com"},
        {"url": "https://b.com", "domain": "custom"},
    ]
    assert normalize_links(links)[1] is kept
    assert normalize_links([{"url": "https://x.com", "domain": None}])[0]["domain"] == "x.com"


# -- whole activities -------------------------------------------------------------------------


def test_derive_fills_absent_fields_from_text():
    content = derive_content({"text": "#Ad by @Bob on $acme: https://x.com/a."})
    assert content == {
        "text": "#Ad by @Bob on $acme: https://x.com/a.",
        "hashtags": ["ad"],
        "mentions": ["bob"],
        "cashtags": ["ACME"],
        "links": [{"url": "https://x.com/a", "domain": "x.com"}],
    }


def test_supplied_fields_win_over_text():
    content = derive_content({"text": "#one", "hashtags": ["#Two"], "mentions": []})
    assert content["hashtags"] == ["two"]
    assert content["mentions"] == []


def test_content_without_text_gets_empty_lists():
    assert derive_content({"language": "en"}) == {
        "language": "en",
        "hashtags": [],
        "mentions": [],
        "cashtags": [],
        "links": [],
    }


def test_without_content_nothing_is_filled():
    activity = {"kind": "post", "actor": {"id": "e1"}}
    assert derive(activity) is activity


def test_handles_are_normalised_without_touching_the_input():
    activity = {
        "kind": "share",
        "actor": {"id": "e1"},
        "account": {"type": "brand", "handle": "@ACME"},
        "content": {"shared_from": {"url": "https://x.com/p", "handle": "@Someone"}},
    }
    before = copy.deepcopy(activity)
    out = derive(activity)
    assert activity == before
    assert out["account"] == {"type": "brand", "handle": "acme"}
    assert out["content"]["shared_from"]["handle"] == "someone"
    assert out["actor"] is activity["actor"]


def test_complete_content_is_returned_as_it_is():
    content = {
        "text": "hello #x",
        "hashtags": ["x"],
        "mentions": [],
        "cashtags": [],
        "links": [],
    }
    assert derive_content(content) is content
    activity = {"kind": "post", "actor": {"id": "e1"}, "content": content}
    assert derive(activity) is activity
