"""Turning text into searchable words and a phone's query into a safe FTS5 query, for every
language a box speaks (server/languages.py), as people type them.

One folding for the index and the query alike (`fold`):
- Tajik, Kyrgyz and Uzbek Cyrillic letters fold to the Russian keys people type them with
  (ғ қ ҳ ҷ ӯ ӣ, ң ө ү, ў to г к х ч у и, н о у, у), ё to е;
- Uzbek's oʻ and gʻ, however the apostrophe is typed (oʻ o' o’ o‘ o`), become one letter
  (with U+02BB), and an apostrophe inside a word the tutuq belgisi (U+02BC);
- Latin diacritics go (the FTS5 tokenizer's remove_diacritics: kuća is kuca), and đ is dj.

Scripts: Serbian and Montenegrin content is indexed in both alphabets and Uzbek content in both
(its Latin, and the Cyrillic people may type), so кућа, kuća and kuca, and shahar and шаҳар,
find each other without guessing what script a query is in.

Word forms: a query word is cut to its Snowball stems (Russian for Cyrillic, English and
Serbian for Latin, Serbian for Cyrillic too, through its Latin) and each stem searched as a
prefix, so "книги" finds "книга", "songs" finds "song", "kuće" finds "kuća". A stem that is
not the beginning of its word (story → stori, pjesme → pesm) is indexed beside the word.
Tajik, Kyrgyz and Uzbek have no Snowball stemmer: their words are searched as prefixes.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

from server.languages import SERBIAN, to_cyrillic, to_latin

_FOLD = str.maketrans({"ғ": "г", "қ": "к", "ҳ": "х", "ҷ": "ч", "ӯ": "у", "ӣ": "и", "ё": "е", "ә": "а", "ө": "о",
                       "ү": "у", "ң": "н", "ў": "у", "đ": "dj"})
_OG = re.compile("(?<=[og])['’‘`ʼʻ]")  # Uzbek oʻ gʻ as typed on any keyboard
_TUTUQ = re.compile("(?<=[^\\W\\d_])['’‘`](?=[^\\W\\d_])")  # any other apostrophe inside a word
_WORD = re.compile(r"[^\W_]+")
_LATIN_WORD = re.compile(r"\b[a-zčćžšđśźʻʼ]+\b")
_TAJIK = re.compile("[ғқҳҷӯӣ]")
_CYRILLIC = re.compile("[а-яёђјљњћџ]")
MAX_WORDS = 8
MAX_WORD = 40
STEM_MIN = 3  # a shorter stem is a prefix of too many words to say anything
# Snowball's stemmers keep state while they work: one per language, used under a lock.
_STEMMERS = {name: snowballstemmer.stemmer(name) for name in ("russian", "english", "serbian")}
_STEMMING = threading.Lock()

# Uzbek, letter for letter, for the index only (so both alphabets find an item written in one).
_UZ_LATIN = {"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "j", "з": "z", "и": "i",
             "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
             "у": "u", "ф": "f", "х": "x", "ц": "ts", "ч": "ch", "ш": "sh", "ъ": "ʼ", "ь": "", "э": "e", "ю": "yu",
             "я": "ya", "ў": "oʻ", "қ": "q", "ғ": "gʻ", "ҳ": "h"}
_UZ_CYRILLIC = {"oʻ": "ў", "gʻ": "ғ", "sh": "ш", "ch": "ч", "yo": "ё", "yu": "ю", "ya": "я", "ye": "е",
                **{v: k for k, v in _UZ_LATIN.items() if len(v) == 1}, "e": "е", "ʼ": "ъ"}
_UZ_CYRILLIC_LETTERS = re.compile("|".join(sorted(map(re.escape, _UZ_CYRILLIC), key=len, reverse=True)))


def fold(text: str) -> str:
    """TEXT lowercased and folded as people type it (see the module)."""
    folded = _TUTUQ.sub("ʼ", _OG.sub("ʻ", text.casefold()))
    return folded.translate(_FOLD)


def uz_latin(text: str) -> str:
    """Uzbek TEXT (lowercased) in the Latin alphabet; е is ye at a word's start."""
    text = re.sub(r"(?<![^\W\d_])е", "ye", text.casefold())
    return "".join(_UZ_LATIN.get(c, c) for c in text)


def uz_cyrillic(text: str) -> str:
    """Uzbek TEXT (lowercased) in the Cyrillic alphabet."""
    return _UZ_CYRILLIC_LETTERS.sub(lambda m: _UZ_CYRILLIC[m.group()], fold(text))


@lru_cache(maxsize=4096)
def stems(word: str) -> tuple[str, ...]:
    """The Snowball stems of a folded WORD: Russian and Serbian for Cyrillic, English and Serbian
    for Latin; each folded, none shorter than STEM_MIN (then the word itself)."""
    cyrillic = bool(_CYRILLIC.match(word))
    names = ("russian", "serbian") if cyrillic else ("english", "serbian") if "a" <= word[0] <= "z" else ()
    found = []
    with _STEMMING:
        for name in names:
            stem = fold(_STEMMERS[name].stemWord(word))
            found.append(stem if len(stem) >= STEM_MIN else word)
    return tuple(dict.fromkeys(found)) or (word,)


def index_text(text: str, lang: str | None = None) -> str:
    """TEXT (in LANG, when known) as the index holds it: folded, in both alphabets for Serbian,
    Montenegrin and Uzbek, then the stems that do not begin their own word."""
    forms = [text]
    if lang in SERBIAN:
        forms += [to_latin(text), to_cyrillic(text)]
    elif lang == "uz":
        forms += [uz_latin(text), uz_cyrillic(text)]
    folded = fold(" ".join(dict.fromkeys(forms)))
    stemmed = set(_LATIN_WORD.findall(folded)) if lang not in SERBIAN else set(_WORD.findall(folded))
    extra = {s for w in stemmed for s in stems(w) if not w.startswith(s)} if lang in (None, "en", *SERBIAN) else set()
    return " ".join([folded, *sorted(extra)])


def index_texts(texts: dict[str, str]) -> str:
    """Texts by language ({"sr": ..., "en": ...}) as the index holds them."""
    return " ".join(index_text(text, lang) for lang, text in texts.items() if text)


def words(query: str) -> list[str]:
    """The searchable words of a query, folded, at most MAX_WORDS of at most MAX_WORD letters."""
    return [w[:MAX_WORD] for w in _WORD.findall(fold(query))][:MAX_WORDS]


def _term(raw: str) -> str:
    """One query word (casefolded, not folded) as FTS5 text: each of its stems, and the word
    itself, as quoted prefixes (one that another begins with is enough). They are letters and
    digits only, so the quotes cannot be closed early."""
    word = fold(raw)[:MAX_WORD]
    roots = [word] if _TAJIK.search(raw) else [*stems(word), word]
    kept = [r for r in dict.fromkeys(roots) if not any(r != o and r.startswith(o) for o in roots)]
    return f'"{kept[0]}"*' if len(kept) == 1 else "(" + " OR ".join(f'"{r}"*' for r in kept) + ")"


def match_expression(query: str, *, any_word: bool = False) -> str | None:
    """An FTS5 MATCH string for QUERY: every word as a quoted prefix, so no syntax leaks in."""
    found = _WORD.findall(_TUTUQ.sub("ʼ", _OG.sub("ʻ", query.casefold())))[:MAX_WORDS]
    if not found:
        return None
    # An explicit AND: FTS5 joins bare phrases by a space, but not a parenthesised group.
    joiner = " OR " if any_word else " AND "
    return joiner.join(_term(w) for w in found)
