"""Turning text into searchable words and a phone's query into a safe FTS5 query.

Tajik is often typed on a Russian keyboard, so ғ қ ҳ ҷ ӯ ӣ fold to г к х ч у и, both when
indexing and when searching; ё folds to е as Russians expect. Case folds through Python
(the FTS5 tokenizer's own folding covers only ASCII and some Latin).

Word forms: a query word is cut to its Snowball stem (Russian for Cyrillic, English for Latin
letters) and the stem searched as a prefix, so "книги" finds "книга" and "songs" finds "song".
A Russian stem is always a prefix of its word, so stemming only widens what a prefix found
before: "хис" still finds "Ҳисоб". A word typed with a Tajik letter is not stemmed (Snowball
has no Tajik); typed on a Russian keyboard it is cut by Russian rules, which again only widens
it.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

_FOLD = str.maketrans("ғқҳҷӯӣёәөү", "гкхчуиеаоу")
_WORD = re.compile(r"[^\W_]+")
_LATIN_WORD = re.compile(r"\b[a-z]+\b")
_TAJIK = re.compile("[ғқҳҷӯӣ]")
MAX_WORDS = 8
MAX_WORD = 40
STEM_MIN = 3  # a shorter stem is a prefix of too many words to say anything
# Snowball's stemmers keep state while they work: one per language, used under a lock.
_STEMMERS = {"ru": snowballstemmer.stemmer("russian"), "en": snowballstemmer.stemmer("english")}
_STEMMING = threading.Lock()


def fold(text: str) -> str:
    """Lowercase TEXT and fold Tajik (and Kazakh/Kyrgyz) letters to their Russian kin."""
    return text.casefold().translate(_FOLD)


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """The Snowball stem of a folded WORD: Russian for Cyrillic, English for Latin; else WORD."""
    language = "ru" if "а" <= word[0] <= "я" else "en" if "a" <= word[0] <= "z" else None
    if language is None:
        return word
    with _STEMMING:
        found = _STEMMERS[language].stemWord(word)
    return found if len(found) >= STEM_MIN else word


def index_text(text: str) -> str:
    """TEXT as the index holds it: folded, then the stems that do not begin their own word.

    Queries look for stems as prefixes. English stems may change a word's end (story → stori),
    so those are indexed beside the words; Russian stems only cut it.
    """
    folded = fold(text)
    extra = {s for w in set(_LATIN_WORD.findall(folded)) if not w.startswith(s := stem(w))}
    return " ".join([folded, *sorted(extra)])


def words(query: str) -> list[str]:
    """The searchable words of a query, folded, at most MAX_WORDS of at most MAX_WORD letters."""
    return [w[:MAX_WORD] for w in _WORD.findall(fold(query))][:MAX_WORDS]


def _term(raw: str) -> str:
    """One query word (casefolded, not folded) as FTS5 text: its stem as a quoted prefix, and
    the word itself too when the stem does not begin it. Both are letters and digits only, so
    the quotes cannot be closed early."""
    word = raw.translate(_FOLD)[:MAX_WORD]
    root = word if _TAJIK.search(raw) else stem(word)
    return f'"{root}"*' if word.startswith(root) else f'("{root}"* OR "{word}"*)'


def match_expression(query: str, *, any_word: bool = False) -> str | None:
    """An FTS5 MATCH string for QUERY: every word as a quoted prefix, so no syntax leaks in."""
    found = _WORD.findall(query.casefold())[:MAX_WORDS]
    if not found:
        return None
    # An explicit AND: FTS5 joins bare phrases by a space, but not a parenthesised group.
    joiner = " OR " if any_word else " AND "
    return joiner.join(_term(w) for w in found)
