"""Derived fields of an activity (SPEC §3): hashtags, mentions, cashtags and links.

`derive_content(content)` fills the absent ones from `content.text` and normalises the ones the
caller gave; `derive(activity)` also normalises `account.handle`. Both return their argument
itself when nothing changes and otherwise a copy of only the objects that change: the caller's
activity is never modified.

Extraction runs in time linear in the text (texts may be 1 MiB), with Python `re` patterns that
cannot backtrack far:
- hashtags, mentions and cashtags start at a literal `#`, `@` or `$`, test one character behind
  it and take one greedy run of a character class.
- a link runs from its start to the next whitespace, `<`, `>` or `"`, so only its start needs
  finding. `http(s)://` and `www.` starts are literal. A bare `host/path` is found in the
  reversed text, from its `/` leftwards: matched forwards, a long dotted run would be re-scanned
  from each of its labels.
A word character is a letter, mark, digit or `_` (SPEC §2.6). Python's `\\w` has all of them but
the marks, so for non-ASCII text the marks are added to the class (built once, on first use);
ASCII text, the common case, never needs them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, NamedTuple

from smrules.text import normalize
from smrules.urls import domain

Link = dict[str, Any]  # {"url": str, "domain": str | None}

_TRAILING = ".,;:!?)]}'"
_LINK_END = re.compile(r'[\s<>"]')  # Python's \s is `str.isspace`: Unicode spaces included


class _Patterns(NamedTuple):
    hashtag: re.Pattern[str]
    mention: re.Pattern[str]
    cashtag: re.Pattern[str]
    scheme_link: re.Pattern[str]
    www_link: re.Pattern[str]
    bare_link_reversed: re.Pattern[str]


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
        scheme_link=re.compile(r'(?i:https?)://[^\s<>"]', flags),
        # the look-behind after the literal, so that only `www.` runs it
        www_link=re.compile(rf'(?i:www)\.(?<![{word}@]....)[^\s<>"]', flags),
        # `/`, the last label (letters: the caller checks), `.label`s, then no word character
        # or `@`, all reversed. Greedy labels give the leftmost start of the host.
        bare_link_reversed=re.compile(rf"/([^\W\d_]{{2,}})(?:\.[{word}-]+)+(?![{word}@])", flags),
    )


def _for(text: str) -> _Patterns:
    return _patterns(text.isascii())


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def extract_hashtags(text: str) -> list[str]:
    """Hashtags of `text`, normalised (§2.6), without `#` and duplicates, in order."""
    if "#" not in text:
        return []
    found = _unique(_for(text).hashtag.findall(text))  # normalise each spelling once
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
    patterns = _for(text)
    starts = [(m.start(), True) for m in patterns.scheme_link.finditer(text)]
    starts += [(m.start(), False) for m in patterns.www_link.finditer(text)]
    if "/" in text:
        starts += [
            (len(text) - m.end(), False)
            for m in patterns.bare_link_reversed.finditer(text[::-1])
            if m[1].isalpha()  # `[^\W\d_]` also admits numerals such as `²`
        ]
    starts.sort()
    urls: dict[str, None] = {}
    done = 0  # a link runs to the end of its word: a later start inside it is part of it
    for start, has_scheme in starts:
        if start < done:
            continue
        end = _LINK_END.search(text, start)
        done = end.start() if end is not None else len(text)
        url = text[start:done].rstrip(_TRAILING)
        if _kept(url, has_scheme):
            urls.setdefault(url)
    return [{"url": url, "domain": domain(url)} for url in urls]


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


def _normalized_given(
    items: list[str], mark: str, settled: Callable[[str], bool], norm: Callable[[str], str]
) -> list[str]:
    """A caller-supplied list normalised with `norm`; `items` itself when that changes nothing.

    Such lists are usually normalised already, and a few C-level string operations on them
    joined prove it: `settled(joined)` says the case needs no change, and neither a `mark`
    anywhere nor a repeated item is left (conservatively: a mark anywhere sends the list
    through normalisation).
    """
    if not items:
        return items
    joined = "\x00".join(items)
    if settled(joined) and mark not in joined and len(set(items)) == len(items):
        return items
    return _normalized_list(items, norm)


def normalize_hashtags(items: list[str]) -> list[str]:
    # For ASCII, normalize() is lower(); other text always goes through normalize().
    return _normalized_given(
        items, "#", lambda joined: joined.isascii() and joined.lower() == joined, normalize_hashtag
    )


def normalize_mentions(items: list[str]) -> list[str]:
    return _normalized_given(items, "@", lambda joined: joined.lower() == joined, normalize_handle)


def normalize_cashtags(items: list[str]) -> list[str]:
    return _normalized_given(items, "$", lambda joined: joined.upper() == joined, normalize_cashtag)


def normalize_links(items: list[Link]) -> list[Link]:
    """Links without duplicate URLs, each with a `domain` (`domain(url)` when absent or null).

    Returns `items` itself when nothing changes; new link objects only for links that change.
    """
    seen: set[str] = set()
    for link in items:  # the common case: unique URLs, every domain given
        url = link["url"]
        if url in seen or link.get("domain") is None:
            break
        seen.add(url)
    else:
        return items
    out: dict[str, Link] = {}
    for link in items:
        if link["url"] not in out:
            filled = _lacks_domain(link)
            out[link["url"]] = {**link, "domain": domain(link["url"])} if filled else link
    if len(out) == len(items) and all(a is b for a, b in zip(out.values(), items, strict=True)):
        return items
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
