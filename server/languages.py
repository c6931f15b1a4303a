"""The languages a box can speak, written once as data: one row each.

Every other module asks this table: the interface (server/i18n.py: which catalogs, in what
order, each language's own name), the content (which text a reader sees when the item has
none in their language: `chain`), search (server/search.py: how each language is typed) and
the exports. A box offers some of them (the setting `languages`).

Serbian is one language in two scripts. Content is written once, in either script, under the
code `sr` (or `cnr` for Montenegrin); a reader of `sr` sees it in Cyrillic, a reader of
`sr-Latn` or `cnr` in Latin (`in_script`). The letter-for-letter mapping is the standard's
(Vuk's alphabet and Gaj's Latin alphabet correspond one to one; Latin lj, nj and dž are single
letters), plus Montenegrin's ś and ź (с́ and з́).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined; it is translated where shown
    (server/i18n.py). Here, at the ground floor, so this table can mark its own words."""
    return message


@dataclass(frozen=True)
class Language:
    code: str  # in URLs, cookies, settings and Accept-Language (BCP 47)
    name: str  # its own name, in its own script: what the language switcher shows
    script: str  # "Cyrl" or "Latn": the script its reader reads
    chain: tuple[str, ...]  # content languages to look in, in order, when the item has several
    plurals: int  # CLDR's plural categories for whole numbers (the catalogs must have as many forms)
    short: str  # its badge on an item written in it (English; translated into the reader's language)


LANGUAGES = (
    Language("tg", "Тоҷикӣ", "Cyrl", ("tg", "ru", "en"), 2, N_("Taj.")),
    Language("ru", "Русский", "Cyrl", ("ru", "tg", "en"), 3, N_("Rus.")),
    Language("en", "English", "Latn", ("en", "ru", "tg"), 2, N_("Eng.")),
    Language("ky", "Кыргызча", "Cyrl", ("ky", "ru", "en"), 2, N_("Kyr.")),
    Language("uz", "Oʻzbekcha", "Latn", ("uz", "ru", "en"), 2, N_("Uzb.")),
    Language("sr", "Српски", "Cyrl", ("sr", "cnr", "en"), 3, N_("Serb.")),
    Language("sr-Latn", "Srpski", "Latn", ("sr", "cnr", "en"), 3, N_("Serb.")),
    Language("cnr", "Crnogorski", "Latn", ("cnr", "sr", "en"), 3, N_("Mont.")),
)
BY_CODE = {language.code: language for language in LANGUAGES}
CODES = tuple(BY_CODE)
SERBIAN = ("sr", "cnr")  # content languages written in either script, shown in the reader's


def chain(code: str) -> tuple[str, ...]:
    """The content languages to look in for a reader of CODE, nearest first."""
    found = BY_CODE.get(code)
    return found.chain if found else (code, "ru", "en", "tg")


def catalog_folder(code: str) -> str:
    """server/translations/FOLDER for CODE: gettext's locale names use _ where BCP 47 uses -."""
    return code.replace("-", "_")


# --- Serbian and Montenegrin: Cyrillic <-> Latin, letter for letter ---

_TO_LATIN = dict(zip("абвгдђежзијклљмнњопрстћуфхцчџш",
                     ["a", "b", "v", "g", "d", "đ", "e", "ž", "z", "i", "j", "k", "l", "lj", "m", "n", "nj", "o",
                      "p", "r", "s", "t", "ć", "u", "f", "h", "c", "č", "dž", "š"]))
_TO_LATIN.update({k.upper(): v.capitalize() for k, v in list(_TO_LATIN.items())})
_TO_LATIN.update({"с\u0301": "ś", "з\u0301": "ź", "С\u0301": "Ś", "З\u0301": "Ź"})
_CYRILLIC = re.compile("|".join(sorted(map(re.escape, _TO_LATIN), key=len, reverse=True)))
_TO_CYRILLIC = {v: k for k, v in _TO_LATIN.items()}
_TO_CYRILLIC.update({"LJ": "Љ", "NJ": "Њ", "DŽ": "Џ"})
_LATIN = re.compile("|".join(sorted(map(re.escape, _TO_CYRILLIC), key=len, reverse=True)))
_CAPITALS = re.compile(r"\b(Lj|Nj|Dž)(?=[A-ZČĆŽŠĐ])")  # ЉУБАВ is LJUBAV, not LjUBAV


def to_latin(text: str) -> str:
    """Serbian or Montenegrin TEXT in the Latin alphabet (Latin letters in it stay as they are)."""
    latin = _CYRILLIC.sub(lambda m: _TO_LATIN[m.group()], text)
    return _CAPITALS.sub(lambda m: m.group().upper(), latin)


def to_cyrillic(text: str) -> str:
    """Serbian or Montenegrin TEXT in the Cyrillic alphabet. Short words in Latin capitals (PDF,
    USB) and hyphenated Latin names (Wi-Fi) stay as they are; everything else is turned."""
    def word(match: re.Match) -> str:
        w = match.group()
        if w.isupper() and len(w) <= 4 and not re.search("[ČĆŽŠĐ]", w) or re.fullmatch(r"[A-Za-z]+-[A-Za-z]+", w):
            return w
        return _LATIN.sub(lambda m: _TO_CYRILLIC[m.group()], w)
    return re.sub(r"[A-Za-zČĆŽŠĐčćžšđŚŹśź]+(?:-[A-Za-z]+)?", word, text)


def in_script(text: str, content: str, reader: str) -> str:
    """TEXT written in content language CONTENT as a reader of READER should see it: Serbian and
    Montenegrin in the reader's alphabet; anything else as written."""
    if content not in SERBIAN or reader not in BY_CODE or not BY_CODE[reader].chain[0] in SERBIAN:
        return text
    return to_latin(text) if BY_CODE[reader].script == "Latn" else to_cyrillic(text)
