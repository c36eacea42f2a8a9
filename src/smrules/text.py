"""Text normalisation and words (SPEC §2.6).

Text and phrases are compared after NFKC, casefold and removal of default-ignorable code points.
A word is a maximal run of letters, marks, digits and `_` (with `'` or `’` between two letters),
optionally led by one `#`, `@` or `$`.
"""

from __future__ import annotations

import unicodedata

# Default-ignorable code points that SPEC §2.6 removes before matching.
IGNORABLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
_IGNORABLE_TABLE = {ord(ch): None for ch in IGNORABLE}


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
