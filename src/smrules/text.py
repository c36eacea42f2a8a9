"""Text normalisation, words, phrases and `near` (SPEC §2.6).

Text and phrases are compared after NFKC, casefold and removal of default-ignorable code points.
A word is a maximal run of letters, marks, digits and `_` (with `'` or `’` between two letters),
optionally led by one `#`, `@` or `$`.

Evidence (SPEC §4) needs offsets into the *original* string, so normalisation can also return, for
every normalised character, the index of the original character it came from.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, repeat

# Default-ignorable code points that SPEC §2.6 removes before matching.
IGNORABLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
_IGNORABLE_TABLE = {ord(ch): None for ch in IGNORABLE}
_IGNORABLE_RE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")


def normalize(s: str) -> str:
    """NFKC, casefold, and drop default-ignorable code points."""
    if s.isascii():
        return s.lower()
    return unicodedata.normalize("NFKC", s).casefold().translate(_IGNORABLE_TABLE)


def is_word_char(ch: str) -> bool:
    """A letter, mark, digit or underscore: the characters words are made of."""
    if ch == "_":
        return True
    category = unicodedata.category(ch)
    return category[0] in "LMN"


# ---------------------------------------------------------------- character tables

# Characters besides marks that NFKC may combine with what comes before them: vowel and final
# Hangul jamo (and the compatibility and half-width forms that decompose to them), half-width
# voiced sound marks and Thai/Lao SARA AM (they decompose to a mark first). Derived from the
# Unicode data; a database that adds more is caught by the check at the end of `_mapped`.
_EXTRA_JOINERS = (
    (0x0E33, 0x0E33),
    (0x0EB3, 0x0EB3),
    (0x1161, 0x1175),
    (0x11A8, 0x11C2),
    (0x3133, 0x3133),
    (0x3135, 0x3136),
    (0x313A, 0x313F),
    (0x314F, 0x3163),
    (0xFF9E, 0xFF9F),
    (0xFFA3, 0xFFA3),
    (0xFFA5, 0xFFA6),
    (0xFFAA, 0xFFAF),
    (0xFFC2, 0xFFC7),
    (0xFFCA, 0xFFCF),
    (0xFFD2, 0xFFD7),
    (0xFFDA, 0xFFDC),
)


def _char_class(ranges: Iterable[tuple[int, int]]) -> str:
    def esc(cp: int) -> str:
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges)


def _ranges(cps: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


@dataclass(frozen=True, slots=True)
class _Tables:
    word: re.Pattern[str]  # a word candidate in normalised text (apostrophes checked after)
    astral_marks: dict[int, str]  # marks outside the BMP, to translate to a BMP mark
    cluster: re.Pattern[str]  # a character and the characters that join it under NFKC
    safe: re.Pattern[str]  # a character before which NFKC may cut the text
    joiner: re.Pattern[str]  # a character that may join the one before (or is beyond the BMP)


_ASTRAL = "\U00010000-\U0010ffff"
_ASTRAL_RE = re.compile(f"[{_ASTRAL}]")


@functools.cache
def _tables() -> _Tables:
    r"""Regexes built from this Python's Unicode database, once, on first non-ASCII text.

    The stdlib `re` is used for these fixed patterns: its C loop is several times faster than the
    re2 binding per match, and none of them can backtrack more than one character. `\w` is
    exactly letters, numbers and `_`; marks are added from the database. A class of BMP ranges
    compiles to a bitmap while ranges beyond it are scanned one by one, so the few marks outside
    the BMP are translated to a BMP mark before matching words. Marks only live in planes 0, 1
    and 14, so the scan takes a few milliseconds.
    """
    bmp: list[int] = []
    astral: list[int] = []
    for cp in chain(range(0x300, 0x20000), range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(cp))[0] == "M":
            (bmp if cp <= 0xFFFF else astral).append(cp)
    marks = _char_class(_ranges(bmp))
    joiners = marks + _char_class(_EXTRA_JOINERS)
    astral_class = _char_class(_ranges(astral))
    return _Tables(
        word=re.compile(rf"[#@$]?[\w{marks}]+(?:['’][\w{marks}]+)*"),
        astral_marks={cp: "\u0300" for cp in astral},
        cluster=re.compile(rf"(?s).(?:[{joiners}]|(?=[{_ASTRAL}])[{astral_class}])*"),
        # Characters beyond the BMP are never used as cut points: it keeps this class a bitmap.
        safe=re.compile(rf"[^{joiners}{_ASTRAL}]"),
        joiner=re.compile(rf"[{joiners}{_ASTRAL}]"),
    )


# The same word pattern for lower-cased ASCII text.
_ASCII_WORD = re.compile(r"[#@$]?\w+(?:'\w+)*", re.ASCII)


# Whole words of lower-cased ASCII text in one pattern: an apostrophe joins two letters only.
_ASCII_WORDS = re.compile(r"[#@$]?\w+(?:(?<=[a-z])'(?=[a-z])\w+)*", re.ASCII)


def _word_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each word of normalised text (SPEC §2.6).

    The regex accepts `'`/`’` between any two word characters; a match that holds one is then
    split where the apostrophe is not between two letters (rare, and linear in the match).
    """
    if text.isascii():
        pattern, probe = _ASCII_WORD, text
    else:
        tables = _tables()
        pattern = tables.word
        probe = text.translate(tables.astral_marks) if _ASTRAL_RE.search(text) else text
    for m in pattern.finditer(probe):
        start, end = m.span()
        if "'" not in m.group() and "’" not in m.group():
            yield start, end
            continue
        piece = start
        for k in range(start + 1, end - 1):
            if text[k] in "'’" and not (text[k - 1].isalpha() and text[k + 1].isalpha()):
                yield piece, k
                piece = k + 1
        yield piece, end


def _word_texts(text: str) -> list[str]:
    if text.isascii() and "'" not in text:
        return _ASCII_WORD.findall(text)
    return [text[a:b] for a, b in _word_spans(text)]


# ---------------------------------------------------------------- normalisation with offsets

_SEGMENT = 64  # normalise in segments this long, so one odd character does not slow the rest


@functools.lru_cache(maxsize=4096)
def _fold_piece(cluster: str) -> str:
    return normalize(cluster)


@functools.lru_cache(maxsize=4096)
def _nfkc_piece(cluster: str) -> str:
    return unicodedata.normalize("NFKC", cluster)


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def _mapped(s: str, fold: bool) -> tuple[str, list[int]]:
    """Normalise `s` (`normalize` if fold, else NFKC) and map each output char to its source.

    The text is cut only before "safe" characters (not marks or joining jamo), so each segment
    normalises independently and the segments join to exactly the whole string's normal form.
    A segment that normalisation leaves alone, or changes character for character (full-width
    forms), maps one to one, checked in C; the others are normalised per cluster (a base
    character with its marks).
    """
    n = len(s)
    whole = normalize if fold else _nfkc
    if s.isascii():
        return whole(s), list(range(n + 1))
    tables = _tables()
    piece_of = _fold_piece if fold else _nfkc_piece
    out: list[str] = []
    origin: list[int] = []
    pos = 0
    while pos < n:
        end = n
        if pos + _SEGMENT < n:
            m = tables.safe.search(s, pos + _SEGMENT)
            if m is not None:
                end = m.start()
        seg = s[pos:end]
        if seg.isascii() or (
            unicodedata.is_normalized("NFKC", seg)
            and (
                not fold or (_IGNORABLE_RE.search(seg) is None and len(seg.casefold()) == len(seg))
            )
        ):
            out.append(seg.casefold() if fold else seg)
            origin.extend(range(pos, end))
            pos = end
            continue
        normal = whole(seg)
        if (
            len(normal) == end - pos
            and tables.joiner.search(seg) is None
            and (not fold or _IGNORABLE_RE.search(seg) is None)
        ):
            # Without marks nothing composes and without ignorables nothing vanishes, so each
            # character became at least one: as many as before means exactly one each.
            out.append(normal)
            origin.extend(range(pos, end))
            pos = end
            continue
        clusters = tables.cluster.findall(s, pos, end)
        pieces = list(map(piece_of, clusters))
        out.append("".join(pieces))
        # Each cluster's start, repeated once per character it became (all in C).
        starts = accumulate(map(len, clusters), initial=pos)
        origin.extend(chain.from_iterable(map(repeat, starts, map(len, pieces))))
        pos = end
    text = "".join(out)
    if text != whole(s):
        # A Unicode database the joiner table does not foresee: fall back to cutting only before
        # ASCII characters, which never combine with what precedes them.
        return _coarse_mapped(s, whole)
    origin.append(n)
    return text, origin


_ASCII_CUT = re.compile(r"[\x00-\x7f][^\x00-\x7f]*|[^\x00-\x7f]+")


def _coarse_mapped(s: str, whole: Callable[[str], str]) -> tuple[str, list[int]]:
    out: list[str] = []
    origin: list[int] = []
    for m in _ASCII_CUT.finditer(s):
        piece = whole(m.group())
        out.append(piece)
        origin.extend([m.start()] * len(piece))
    origin.append(len(s))
    return "".join(out), origin


def normalize_with_map(s: str) -> tuple[str, list[int]]:
    """`normalize(s)` and `origin`, where `origin[i]` is the index in `s` of the character that
    produced normalised character i, and `origin[len(normalised)] == len(s)`."""
    return _mapped(s, True)


def nfkc_with_map(s: str) -> tuple[str, list[int]]:
    """Like `normalize_with_map` for the NFKC form alone (no casefold, ignorables kept)."""
    return _mapped(s, False)


def original_span(s: str, origin: Sequence[int], i: int, j: int) -> tuple[int, int]:
    """The original (start, end) offsets of normalised text[i:j], end exclusive.

    The end is the end of the cluster that produced the last character, without default-ignorable
    characters after it (they produced nothing).
    """
    if j <= i:
        return origin[i], origin[i]
    last = origin[j - 1]
    k = j
    size = len(origin) - 1
    while k < size and origin[k] == last:  # the span ends inside one character's expansion
        k += 1
    end = origin[k]
    while end - 1 > last and s[end - 1] in IGNORABLE:
        end -= 1
    return origin[i], end


# ---------------------------------------------------------------- words


@dataclass(frozen=True, slots=True)
class Word:
    """A word of a text: its normalised form and its original code-point offsets (end exclusive)."""

    text: str
    start: int
    end: int


class Words(Sequence[Word]):
    """The words of one text: their keys for matching at once, their offsets on demand.

    Matching needs only the normalised words; offsets matter only for evidence, so for plain
    ASCII text they are found (with the same pattern) the first time a `Word` is asked for.
    """

    __slots__ = ("keys", "_source", "_words")

    def __init__(self, keys: list[str], source: str | None, words: tuple[Word, ...] | None):
        self.keys = keys  # normalised words, `’` read as `'`
        self._source = source  # lower-cased ASCII text whose spans are not computed yet
        self._words = words

    def _all(self) -> tuple[Word, ...]:
        if self._words is None:
            low = self._source or ""
            self._words = tuple(Word(m.group(), *m.span()) for m in _ASCII_WORDS.finditer(low))
        return self._words

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index):  # type: ignore[override]
        return self._all()[index]

    def __iter__(self):
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Words, tuple, list)):
            return self._all() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Words({list(self._all())!r})"


def tokenize(s: str) -> Words:
    """The words of `s` (SPEC §2.6), in order, with offsets into `s`. Linear in len(s)."""
    if s.isascii():
        low = s.lower()
        return Words(_ASCII_WORDS.findall(low), low, None)
    text, origin = normalize_with_map(s)
    out = []
    for a, b in _word_spans(text):
        end = origin[b]
        if origin[b - 1] == end or s[end - 1] in IGNORABLE:
            _, end = original_span(s, origin, a, b)
        out.append(Word(text[a:b], origin[a], end))
    found = tuple(out)
    return Words([_key(w.text) for w in found], None, found)


def words(s: str | None) -> list[str]:
    """`words(s)`: the normalised words of s; `[]` for None."""
    if s is None:
        return []
    return _word_texts(normalize(s))


def span_of(words: Sequence[Word], first: int, last: int) -> tuple[int, int]:
    """Original (start, end) offsets of the words first..last (inclusive)."""
    return words[first].start, words[last].end


# ---------------------------------------------------------------- phrases


class PhraseError(ValueError):
    """A phrase that cannot be compiled (SPEC §2.6); the message names the phrase."""


def _key(word: str) -> str:
    # A typographic apostrophe matches a straight one: `don’t` is the phrase "don't".
    return word.replace("’", "'")


def _keys(words: Sequence[Word]) -> list[str]:
    if type(words) is Words:
        return words.keys
    return [w.text.replace("’", "'") for w in words]


class _Node:
    """A trie node over words. Built by `PhraseSet.compile`, never changed afterwards."""

    __slots__ = ("children", "terminal", "stems", "stem_lengths")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.terminal = False  # a phrase ends with the word leading here
        self.stems: set[str] = set()  # last words of `*` phrases, matched as prefixes
        self.stem_lengths: tuple[int, ...] = ()

    def stem_hit(self, word: str) -> bool:
        size = len(word)
        for length in self.stem_lengths:
            if length > size:
                return False
            if word[:length] in self.stems:
                return True
        return False


def _split_phrase(phrase: str) -> tuple[list[str], bool]:
    """The normalised words of a phrase and whether its last word is a prefix (`*`)."""
    text = normalize(phrase).strip()
    prefix = False
    if "*" in text:
        if text.index("*") != len(text) - 1:
            raise PhraseError(
                f"invalid phrase {phrase!r}: `*` is allowed only as the last character"
            )
        text = text[:-1]
        if len(text) < 2 or not (is_word_char(text[-1]) and is_word_char(text[-2])):
            raise PhraseError(
                f"invalid phrase {phrase!r}: `*` must follow at least two word characters"
            )
        prefix = True
    found = [_key(w) for w in _word_texts(text)]
    if not found:
        raise PhraseError(f"invalid phrase {phrase!r}: it has no word")
    return found, prefix


@dataclass(frozen=True, slots=True)
class PhraseSet:
    """Phrases compiled into a trie of words, for `mentions` and `near`.

    Matching walks the trie from each word of the text, so its cost depends on the text and the
    length of the longest phrase (in words), not on how many phrases there are: 10,000 phrases
    cost what 10 do. A trie of words (rather than Aho–Corasick over characters) matches whole
    words by construction. `*` stems are checked by slicing the text word at each stem length
    present in the node (a handful) and looking the slice up in a set. Immutable after
    `compile`, so one PhraseSet can be shared by any number of threads.
    """

    phrases: tuple[str, ...]
    _root: _Node

    @classmethod
    def compile(cls, phrases: str | Iterable[str]) -> PhraseSet:
        """Compile a phrase, a list of phrases or a map's keys; raises `PhraseError`."""
        items = (phrases,) if isinstance(phrases, str) else tuple(phrases)
        root = _Node()
        for phrase in items:
            if not isinstance(phrase, str):
                raise TypeError(f"a phrase must be a string, got {type(phrase).__name__}")
            parts, prefix = _split_phrase(phrase)
            node = root
            for word in parts[:-1]:
                node = node.children.setdefault(word, _Node())
            if prefix:
                node.stems.add(parts[-1])
            else:
                node = node.children.setdefault(parts[-1], _Node())
                node.terminal = True
        pending = [root]
        while pending:
            node = pending.pop()
            node.stem_lengths = tuple(sorted({len(stem) for stem in node.stems}))
            pending.extend(node.children.values())
        return cls(items, root)

    def _longest_at(self, keys: Sequence[str], i: int, first_only: bool = False) -> int:
        """Index of the last word of the longest occurrence starting at word i, or -1."""
        node = self._root
        best = -1
        for k in range(i, len(keys)):
            word = keys[k]
            if node.stem_lengths and node.stem_hit(word):
                best = k
                if first_only:
                    return k
            child = node.children.get(word)
            if child is None:
                break
            node = child
            if node.terminal:
                best = k
                if first_only:
                    return k
        return best

    def may_occur(self, words: Sequence[Word]) -> bool:
        """False when no phrase can occur: none of their first words is among the words."""
        return bool(self._root.stem_lengths) or not self._root.children.keys().isdisjoint(
            _keys(words)
        )

    def search(self, words: Sequence[Word]) -> bool:
        """True if some phrase occurs in the words; stops at the first occurrence."""
        keys = _keys(words)
        first_words = self._root.children
        root_stems = bool(self._root.stem_lengths)
        if not root_stems and first_words.keys().isdisjoint(keys):
            return False  # no phrase can start anywhere: one set operation in C
        for i, key in enumerate(keys):
            if (key in first_words or root_stems) and self._longest_at(keys, i, True) >= 0:
                return True
        return False

    def find(self, words: Sequence[Word]) -> list[tuple[int, int]]:
        """Occurrences as (first word index, last word index): leftmost-longest, non-overlapping."""
        keys = _keys(words)
        out: list[tuple[int, int]] = []
        i = 0
        while i < len(keys):
            last = self._longest_at(keys, i)
            if last >= 0:
                out.append((i, last))
                i = last + 1
            else:
                i += 1
        return out

    def occurrences(self, words: Sequence[Word]) -> list[tuple[int, int]]:
        """The longest occurrence starting at each word, overlapping ones included (for `near`)."""
        keys = _keys(words)
        out: list[tuple[int, int]] = []
        for i in range(len(keys)):
            last = self._longest_at(keys, i)
            if last >= 0:
                out.append((i, last))
        return out

    def search_text(self, s: str | None) -> bool:
        """`s mentions L`: false for None."""
        return s is not None and self.search(tokenize(s))

    def find_text(self, s: str | None) -> list[tuple[int, int]]:
        """Occurrences in s as original (start, end) code-point offsets."""
        if s is None:
            return []
        found = tokenize(s)
        return [span_of(found, i, j) for i, j in self.find(found)]


# ---------------------------------------------------------------- near

Occurrence = tuple[int, int]


def near_pairs(
    words: Sequence[Word], a: PhraseSet, b: PhraseSet, n: int, limit: int | None = None
) -> list[tuple[Occurrence, Occurrence]]:
    """Pairs (occurrence of A, occurrence of B) at most n words apart, left to right.

    Two occurrences are n words apart when the first word of the later one is n words after the
    last word of the earlier one (adjacent words are 1 apart; overlapping ones are near for any
    n >= 0). A negative n is never near. Each pair's combined extent does not overlap the previous
    pair's. One sweep over the occurrences sorted by start: an occurrence is near some earlier
    occurrence of the other set exactly when it is near the one with the largest last word, so
    that is all the sweep remembers.
    """
    if n < 0:
        return []
    tagged = [(first, last, 0) for first, last in a.occurrences(words)]
    if not tagged:
        return []
    tagged += [(first, last, 1) for first, last in b.occurrences(words)]
    tagged.sort(key=lambda o: (o[0], -o[1]))
    best: list[Occurrence | None] = [None, None]
    cursor = 0
    pairs: list[tuple[Occurrence, Occurrence]] = []
    for first, last, side in tagged:
        if first < cursor:
            continue
        other = best[1 - side]
        if other is not None and first - other[1] <= n:
            this = (first, last)
            pairs.append((this, other) if side == 0 else (other, this))
            if limit is not None and len(pairs) >= limit:
                break
            cursor = max(last, other[1]) + 1
            best = [None, None]
            continue
        mine = best[side]
        if mine is None or last > mine[1]:
            best[side] = (first, last)
    return pairs


def near_any(words: Sequence[Word], a: PhraseSet, b: PhraseSet, n: int) -> bool:
    """`near(s, A, B, n)` on the words of s."""
    if not (a.may_occur(words) and b.may_occur(words)):
        return False
    return bool(near_pairs(words, a, b, n, limit=1))


def near(s: str | None, a: PhraseSet, b: PhraseSet, n: int) -> bool:
    """`near(s, A, B, n)`; false for None."""
    return s is not None and near_any(tokenize(s), a, b, n)
