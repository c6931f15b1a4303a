"""The query arguments the API and the pages share, checked: a bad one is one sentence, a 400."""

from __future__ import annotations

import re

from flask import request

from content_mirror.manifest import AUDIENCES, KINDS, LANG, SUBJECTS
from server.catalog import Filters
from server.errors import BadRequest


def int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    """The whole number NAME from LOW to HIGH, or DEFAULT when it is not given."""
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(text)


def choice_arg(name: str, allowed: tuple[str, ...] | re.Pattern) -> str | None:
    """NAME if it is one of ALLOWED (or matches it), None when it is not given."""
    value = request.args.get(name) or None
    ok = value is None or (value in allowed if isinstance(allowed, tuple) else allowed.fullmatch(value))
    if not ok:
        raise BadRequest(f"{name} {value[:40]!r} is not one of the known values")
    return value


def filters() -> Filters:
    """The filters of this request's query string: audience, age, kind, subject, language."""
    return Filters(kind=choice_arg("kind", KINDS), audience=choice_arg("audience", AUDIENCES),
                   subject=choice_arg("subject", SUBJECTS), lang=choice_arg("language", LANG),
                   age=int_arg("age", None, 0, 99))
