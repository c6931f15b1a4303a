"""Turning text into searchable words and a phone's query into a safe FTS5 query.

Tajik is often typed on a Russian keyboard, so ғ қ ҳ ҷ ӯ ӣ fold to г к х ч у и, both when
indexing and when searching; ё folds to е as Russians expect. Case folds through Python
(the FTS5 tokenizer's own folding covers only ASCII and some Latin).
"""

from __future__ import annotations

import re

_FOLD = str.maketrans("ғқҳҷӯӣёәөү", "гкхчуиеаоу")
_WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 8
MAX_WORD = 40


def fold(text: str) -> str:
    """Lowercase TEXT and fold Tajik (and Kazakh/Kyrgyz) letters to their Russian kin."""
    return text.casefold().translate(_FOLD)


def words(query: str) -> list[str]:
    """The searchable words of a query, folded, at most MAX_WORDS of at most MAX_WORD letters."""
    return [w[:MAX_WORD] for w in _WORD.findall(fold(query))][:MAX_WORDS]


def match_expression(query: str, *, any_word: bool = False) -> str | None:
    """An FTS5 MATCH string for QUERY: every word as a quoted prefix, so no syntax leaks in."""
    found = words(query)
    if not found:
        return None
    joiner = " OR " if any_word else " "
    return joiner.join(f'"{w}"*' for w in found)
