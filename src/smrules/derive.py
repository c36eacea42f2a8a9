"""Derived fields of an activity (SPEC §3): hashtags, mentions, cashtags and links.

`derive_content(content)` fills the absent ones from `content.text` and normalises the ones the
caller gave; `derive(activity)` also normalises `account.handle`. Both return their argument
itself when nothing changes and otherwise a copy of only the objects that change: the caller's
activity is never modified.

Extraction runs in time linear in the text (texts may be 1 MiB):
- hashtags, mentions and cashtags use Python `re` patterns that start at a literal `#`, `@` or
  `$`, test one character behind it and take one greedy run of a character class, so nothing
  backtracks. A word character is a letter, mark, digit or `_` (SPEC §2.6); Python's `\\w` has all
  of them but the marks, so for non-ASCII text the marks are added to the class (built once, on
  first use). ASCII text, the common case, never needs them.
- links use RE2: a bare `host/path` needs label-by-label matching that a backtracking engine
  would redo from every label of a long dotted run.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, NamedTuple

import re2

from smrules.text import normalize
from smrules.urls import domain

Link = dict[str, Any]  # {"url": str, "domain": str | None}

# Characters that end a link: whitespace (as `str.isspace` knows it) and `<`, `>`, `"`.
_SPACE = (
    r"\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)
_LINK_END = _SPACE + r'<>"'
_TRAILING = ".,;:!?)]}'"
_RE2_WORD = r"\pL\pM\pN_"


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    return options


# Group 1: an http(s) URL. Group 2: a `www.` host or a bare `host/path`, after one character that
# is not a word character or `@` (RE2 has no look-behind; that character is not part of a link,
# so consuming it never hides the next match).
_LINK_RE = re2.compile(
    rf"((?i:https?)://[^{_LINK_END}]+)"
    rf"|(?:^|[^{_RE2_WORD}@])((?i:www)\.[^{_LINK_END}]+"
    rf"|(?:[{_RE2_WORD}-]+\.)+\pL{{2,}}/[^{_LINK_END}]*)",
    _re2_options(),
)


class _Patterns(NamedTuple):
    hashtag: re.Pattern[str]
    mention: re.Pattern[str]
    cashtag: re.Pattern[str]


@cache
def _mark_class() -> str:
    """Every combining mark (category M*) as a character-class body, for Python `re`."""
    ranges: list[list[int]] = []
    # All marks of the Unicode versions Python ships lie in these two blocks (a test checks it).
    for lo, hi in ((0x300, 0x1F000), (0xE0100, 0xE01F0)):
        for cp in range(lo, hi):
            if unicodedata.category(chr(cp))[0] == "M":
                if ranges and ranges[-1][1] == cp - 1:
                    ranges[-1][1] = cp
                else:
                    ranges.append([cp, cp])
    return "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


@cache
def _patterns(ascii_only: bool) -> _Patterns:
    word = r"\w" if ascii_only else r"\w" + _mark_class()
    flags = re.ASCII if ascii_only else 0
    return _Patterns(
        hashtag=re.compile(rf"#(?<![{word}&]#)([{word}]+)", flags),
        mention=re.compile(
            rf"@(?<![{word}.]@)([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)", flags
        ),
        cashtag=re.compile(rf"\$(?<![{word}]\$)([{word}]+)", flags),
    )


def _for(text: str) -> _Patterns:
    return _patterns(text.isascii())


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def extract_hashtags(text: str) -> list[str]:
    """Hashtags of `text`, normalised (§2.6), without `#` and duplicates, in order."""
    if "#" not in text:
        return []
    found = _for(text).hashtag.findall(text)
    # "At least one non-digit": `#123` is not a hashtag, `#123abc` is.
    return _unique(normalize(body) for body in found if not body.isdecimal())


def extract_mentions(text: str) -> list[str]:
    """Mentioned handles of `text`, lower-cased, without `@` and duplicates, in order."""
    if "@" not in text:
        return []
    return _unique(m.lower() for m in _for(text).mention.findall(text))


def extract_cashtags(text: str) -> list[str]:
    """Cashtags of `text`: `$` and 1-6 letters, no further word character; upper-case."""
    if "$" not in text:
        return []
    found = _for(text).cashtag.findall(text)
    return _unique(
        body.upper() for body in found if len(body) <= 6 and body.isascii() and body.isalpha()
    )


def extract_links(text: str) -> list[Link]:
    """Links of `text` as `{url, domain}`, without duplicate URLs, in order."""
    if "/" not in text and "w." not in text and "W." not in text:
        return []  # every link has `://`, a `www.` (any case) or a `host/`
    data = text.encode("utf-8", "surrogatepass")  # RE2 works on UTF-8; keep lone surrogates
    urls: dict[str, None] = {}
    for m in _LINK_RE.finditer(data):
        scheme_url = m.group(1)
        url = _decode(scheme_url or m.group(2)).rstrip(_TRAILING)
        if _kept(url, scheme_url is not None):
            urls.setdefault(url)
    return [{"url": url, "domain": domain(url)} for url in urls]


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:  # pragma: no cover - RE2 keeps sequences whole in practice
        return raw.decode("utf-8", "replace")


def _kept(url: str, has_scheme: bool) -> bool:
    """Something is left after `scheme://` or `www.` once trailing punctuation is dropped.

    A bare `host/path` keeps its `/`, which is never dropped.
    """
    if has_scheme:
        return len(url) > url.index("/") + 2
    return "/" in url or (len(url) > 4 and url[:4].lower() == "www.")


# -- normalising what the caller gave ---------------------------------------------------------


def normalize_hashtag(tag: str) -> str:
    """`#Ad` -> `ad`: normalised (§2.6), one leading `#` removed."""
    tag = normalize(tag)
    return tag[1:] if tag.startswith("#") else tag


def normalize_handle(handle: str) -> str:
    """`@ACME` -> `acme`: lower-cased, one leading `@` removed (mentions and handles)."""
    return (handle[1:] if handle.startswith("@") else handle).lower()


def normalize_cashtag(tag: str) -> str:
    """`$acme` -> `ACME`: upper-cased, one leading `$` removed."""
    return (tag[1:] if tag.startswith("$") else tag).upper()


def _normalized_list(items: list[str], norm: Callable[[str], str]) -> list[str]:
    """`items` normalised without duplicates; `items` itself when that changes nothing."""
    out = _unique(norm(item) for item in items)
    return items if out == items else out


def _unchanged(items: list[str], mark: str, joined: str, folded: str) -> bool:
    # Caller-supplied lists are usually normalised already: a few C-level string operations
    # prove it (conservatively: a `mark` anywhere sends the list through normalisation).
    return folded == joined and mark not in joined and len(set(items)) == len(items)


def normalize_hashtags(items: list[str]) -> list[str]:
    joined = "\x00".join(items)
    if joined.isascii() and _unchanged(items, "#", joined, joined.lower()):
        return items  # ASCII: normalize() is lower()
    return _normalized_list(items, normalize_hashtag)


def normalize_mentions(items: list[str]) -> list[str]:
    joined = "\x00".join(items)
    if _unchanged(items, "@", joined, joined.lower()):
        return items
    return _normalized_list(items, normalize_handle)


def normalize_cashtags(items: list[str]) -> list[str]:
    joined = "\x00".join(items)
    if _unchanged(items, "$", joined, joined.upper()):
        return items
    return _normalized_list(items, normalize_cashtag)


def normalize_links(items: list[Link]) -> list[Link]:
    """Links without duplicate URLs, each with a `domain` (`domain(url)` when absent or null).

    Returns `items` itself when nothing changes; new link objects only for links that change.
    """
    if len({link["url"] for link in items}) == len(items) and not any(
        _lacks_domain(link) for link in items
    ):
        return items
    out: dict[str, Link] = {}
    for link in items:
        if link["url"] not in out:
            filled = _lacks_domain(link)
            out[link["url"]] = {**link, "domain": domain(link["url"])} if filled else link
    return list(out.values())


def _lacks_domain(link: Link) -> bool:
    return "domain" not in link or (link["domain"] is None and domain(link["url"]) is not None)


# -- whole objects ----------------------------------------------------------------------------

_DERIVED: tuple[tuple[str, Callable[[str], list[Any]], Callable[[Any], list[Any]]], ...] = (
    ("hashtags", extract_hashtags, normalize_hashtags),
    ("mentions", extract_mentions, normalize_mentions),
    ("cashtags", extract_cashtags, normalize_cashtags),
    ("links", extract_links, normalize_links),
)


def derive_content(content: Mapping[str, Any]) -> Mapping[str, Any]:
    """`content` with every derived field filled and normalised (a copy only if one changes).

    Absent fields are extracted from `text`, or are empty lists when there is no text.
    `shared_from.handle` is normalised like a mention.
    """
    text = content.get("text")
    changes: dict[str, Any] = {}
    for key, extract, norm in _DERIVED:
        value = content.get(key)
        if value is None:
            changes[key] = extract(text) if text else []
        else:
            new = norm(value)
            if new is not value:
                changes[key] = new
    shared = content.get("shared_from")
    if shared is not None and "handle" in shared:
        handle = normalize_handle(shared["handle"])
        if handle != shared["handle"]:
            changes["shared_from"] = {**shared, "handle": handle}
    if not changes:
        return content
    return {**content, **changes}


def derive(activity: Mapping[str, Any]) -> Mapping[str, Any]:
    """`activity` with derived fields filled (SPEC §3); a copy only of what changes.

    Nothing is filled without `content`. `account.handle` is normalised like a mention. The
    activity is assumed valid against the activity schema.
    """
    changes: dict[str, Any] = {}
    content = activity.get("content")
    if content is not None:
        new_content = derive_content(content)
        if new_content is not content:
            changes["content"] = new_content
    account = activity.get("account")
    if account is not None and "handle" in account:
        handle = normalize_handle(account["handle"])
        if handle != account["handle"]:
            changes["account"] = {**account, "handle": handle}
    if not changes:
        return activity
    return {**activity, **changes}
