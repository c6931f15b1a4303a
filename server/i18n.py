"""Interface languages: gettext catalogs in server/translations/LANG/LC_MESSAGES/messages.mo.

Adding Uzbek is adding server/translations/uz/ (made with pybabel, see README); nothing else.
The catalogs are read once with the standard library's gettext, so Babel is needed only to
extract and compile them, not on the box. A request's language is ?lang=, then the `lang`
cookie (a phone that chose keeps its choice), then Accept-Language, then the default setting.
"""

from __future__ import annotations

import gettext
from pathlib import Path

from flask import current_app, g, request

FOLDER = Path(__file__).parent / "translations"
SOURCE_LANGUAGE = "en"  # msgids are English
ORDER = ("tg", "ru", "en")  # shown first, in this order; other catalogs follow by code


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined; it is translated where shown."""
    return message


NAME_KEY = N_("This language's own name")  # each catalog's translation names its language
COOKIE = "lang"


def _load() -> dict[str, gettext.NullTranslations]:
    catalogs: dict[str, gettext.NullTranslations] = {SOURCE_LANGUAGE: gettext.NullTranslations()}
    for mo in sorted(FOLDER.glob("*/LC_MESSAGES/messages.mo")):
        with mo.open("rb") as f:
            catalogs[mo.parent.parent.name] = gettext.GNUTranslations(f)
    return catalogs


CATALOGS = _load()
LANGUAGES = tuple(sorted(CATALOGS, key=lambda code: (code not in ORDER, ORDER.index(code) if code in ORDER else 0, code)))
NAMES = {code: ("English" if code == SOURCE_LANGUAGE else CATALOGS[code].gettext(NAME_KEY)) for code in LANGUAGES}


# Where a text that is not in the reader's language is looked for next.
FALLBACK = {"tg": ("tg", "ru", "en"), "ru": ("ru", "tg", "en"), "en": ("en", "ru", "tg")}


def pick(texts: dict, lang: str):
    """The text (or list of lines) in LANG, or in the nearest language there is."""
    for choice in FALLBACK.get(lang, (lang, "ru", "en", "tg")):
        if texts.get(choice):
            return texts[choice]
    return next(iter(texts.values()), "")


def language() -> str:
    """The interface language of this request (cached on g)."""
    if "lang" not in g:
        asked = request.args.get("lang") or request.cookies.get(COOKIE) or ""
        if asked not in CATALOGS:
            asked = (request.accept_languages.best_match(LANGUAGES)
                     or current_app.extensions["sanduq"].settings["default_language"])
        g.lang = asked if asked in CATALOGS else SOURCE_LANGUAGE
    return g.lang


def gettext_(message: str, **values) -> str:
    text = CATALOGS[language()].gettext(message)
    return text % values if values else text


def ngettext_(singular: str, plural: str, n: int, **values) -> str:
    text = CATALOGS[language()].ngettext(singular, plural, n)
    return text % dict(values, num=n)


def remember_choice(response):
    """after_request: a phone that picked a language with ?lang= keeps it."""
    asked = request.args.get("lang")
    if asked in CATALOGS and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=3 * 365 * 24 * 3600, samesite="Lax")
    return response
