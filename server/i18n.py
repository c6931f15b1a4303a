"""Interface languages: gettext catalogs in server/translations/FOLDER/LC_MESSAGES/messages.mo.

Which languages exist, their names, scripts and fallback chains are one table
(server/languages.py); a box offers some of them (the setting `languages`). Adding a language
is a row there and a catalog here (made with pybabel, see README). The catalogs are read once
with the standard library's gettext, so Babel is needed only to extract and compile them, not
on the box. A request's language is ?lang=, then the `lang` cookie (a phone that chose keeps
its choice), then Accept-Language, then the default setting; only offered languages count.
"""

from __future__ import annotations

import gettext
from pathlib import Path

from flask import current_app, g, request

from server.languages import BY_CODE, CODES, catalog_folder, chain, in_script
from server.settings import BY_NAME

FOLDER = Path(__file__).parent / "translations"
SOURCE_LANGUAGE = "en"  # msgids are English


COOKIE = "lang"


def _load() -> dict[str, gettext.NullTranslations]:
    catalogs: dict[str, gettext.NullTranslations] = {SOURCE_LANGUAGE: gettext.NullTranslations()}
    for code in CODES:
        mo = FOLDER / catalog_folder(code) / "LC_MESSAGES" / "messages.mo"
        if mo.is_file():
            with mo.open("rb") as f:
                catalogs[code] = gettext.GNUTranslations(f)
    return catalogs


CATALOGS = _load()
LANGUAGES = tuple(code for code in CODES if code in CATALOGS)  # every interface language, in the table's order
NAMES = {code: BY_CODE[code].name for code in LANGUAGES}


def _setting(name: str):
    """A setting of the running app; its default in an app that is not Sanduq's (a tool's, a test's)."""
    found = current_app.extensions.get("sanduq")
    return found.settings[name] if found else BY_NAME[name].default


def offered() -> tuple[str, ...]:
    """The interface languages this box offers (the setting `languages`), in the setting's order."""
    return tuple(code for code in _setting("languages").split() if code in CATALOGS) or (SOURCE_LANGUAGE,)


def pick(texts: dict, lang: str):
    """The text (or list of lines) for a reader of LANG: in LANG, or in the nearest language there
    is (languages.chain), Serbian in the reader's alphabet."""
    for choice in chain(lang):
        if texts.get(choice):
            return _script(texts[choice], choice, lang)
    for choice, text in texts.items():
        if text:
            return _script(text, choice, lang)
    return ""


def _script(text, content: str, reader: str):
    return [in_script(line, content, reader) for line in text] if isinstance(text, list) \
        else in_script(text, content, reader)


def language() -> str:
    """The interface language of this request (cached on g)."""
    if "lang" not in g:
        choices = offered()
        asked = request.args.get("lang") or request.cookies.get(COOKIE) or ""
        if asked not in choices:
            asked = request.accept_languages.best_match(choices) or _setting("default_language")
        g.lang = asked if asked in choices else choices[0]
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
    if asked in offered() and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=3 * 365 * 24 * 3600, samesite="Lax")
    return response
