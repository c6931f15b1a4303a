"""The JSON API (INTERFACES.md): items, one item, search, facets, usage events.

Answers are built once per catalog generation and kept in a small cache, so a classroom of
phones asking for the same list costs one query; every answer has an ETag, so a phone that
has it gets a 304 with no body.
"""

from __future__ import annotations

from functools import partial

from flask import Blueprint, Response, json, request

from content_mirror.manifest import AUDIENCES, EXTENSIONS, ITEM_ID, KINDS, LANG, SUBJECTS
from server.answers import cacheable
from server.app import state
from server.i18n import language
from server.catalog import Filters
from server.errors import BadRequest, NotFound
from server.usage import TYPES

bp = Blueprint("api", __name__, url_prefix="/api")
FALLBACK = {"tg": ("tg", "ru", "en"), "ru": ("ru", "tg", "en"), "en": ("en", "ru", "tg")}
MAX_QUERY = 200
MAX_EVENTS = 100


def pick(texts: dict[str, str], lang: str) -> str:
    """The text in LANG, or in the nearest language there is."""
    for choice in FALLBACK.get(lang, (lang, "ru", "en", "tg")):
        if texts.get(choice):
            return texts[choice]
    return next(iter(texts.values()), "")


def file_url(ref: dict) -> str:
    return f"/files/{ref['sha256']}{EXTENSIONS.get(ref['mime'], '')}"


def public_item(item: dict, lang: str) -> dict:
    """An item as the API shows it: titles picked for LANG, and a URL for every file."""
    out = dict(item)
    out["titles"] = item["title"]
    out["title"] = pick(item["title"], lang)
    out["descriptions"] = item.get("description", {})
    out["description"] = pick(out["descriptions"], lang)
    out.setdefault("languages", [])
    out["files"] = [dict(ref, url=file_url(ref)) for ref in item.get("files", [])]
    return out


def _answer(value: object, on_hit=None) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return cacheable(Response(body, mimetype="application/json"), on_hit)


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(text)


def _choice_arg(name: str, allowed) -> str | None:
    value = request.args.get(name) or None
    ok = value is None or (value in allowed if isinstance(allowed, tuple) else allowed.fullmatch(value))
    if not ok:
        raise BadRequest(f"{name} {value[:40]!r} is not one of the known values")
    return value


def filters() -> Filters:
    """The filters of this request's query string: audience, age, kind, subject, language."""
    return Filters(kind=_choice_arg("kind", KINDS), audience=_choice_arg("audience", AUDIENCES),
                   subject=_choice_arg("subject", SUBJECTS), lang=_choice_arg("language", LANG),
                   age=_int_arg("age", None, 0, 99))


@bp.get("/items")
def items():
    limit = _int_arg("limit", 50, 1, 200)
    offset = _int_arg("offset", 0, 0, 10**7)
    page = state().library.catalog.items(filters(), limit=limit, offset=offset)
    lang = language()
    return _answer({"items": [public_item(i, lang) for i in page.items], "total": page.total,
                    "limit": limit, "offset": offset})


@bp.get("/items/<item_id>")
def item(item_id: str):
    if not ITEM_ID.fullmatch(item_id):
        raise NotFound(f"There is no item {item_id[:64]!r} in this library.")

    found = state().library.catalog.get(item_id)
    if found is None:
        raise NotFound(f"There is no item {item_id!r} in this library.")
    return _answer(public_item(found, language()))


@bp.get("/search")
def search():
    query = request.args.get("q", "")
    if len(query) > MAX_QUERY:
        raise BadRequest(f"The search text is too long; use at most {MAX_QUERY} characters.")
    limit = _int_arg("limit", 30, 1, 200)
    page = state().library.catalog.search(query, filters(), limit=limit)
    lang = language()
    on_hit = None
    if not page.items and query.strip() and request.args.get("suggest") != "1":
        on_hit = partial(state().usage.record, "search-empty", text=query.strip(), lang=lang)
        on_hit()
    return _answer({"query": query, "items": [public_item(i, lang) for i in page.items]}, on_hit)


@bp.get("/facets")
def facets():
    return _answer(state().library.catalog.facets())


@bp.post("/events")
def events():
    """Usage from the phone's page: {"events": [{"type", "item", "value"}]}; answers 204."""
    body = request.get_json(silent=True)
    batch = body.get("events") if isinstance(body, dict) else None
    if not isinstance(batch, list) or len(batch) > MAX_EVENTS:
        raise BadRequest(f'Send {{"events": [...]}} with at most {MAX_EVENTS} events.')
    clean = []
    for event in batch:
        if not isinstance(event, dict) or event.get("type") not in TYPES:
            raise BadRequest(f"Each event needs a type, one of {', '.join(TYPES)}.")
        item_id, value = event.get("item"), event.get("value")
        if item_id is not None and not (isinstance(item_id, str) and ITEM_ID.fullmatch(item_id)):
            raise BadRequest("An event's item must be an item id.")
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                  or not 0 <= value <= 10**7):
            raise BadRequest("An event's value must be a number from 0 to 10000000.")
        clean.append((event["type"], item_id, value))
    lang = language()
    for type_, item_id, value in clean:
        state().usage.record(type_, item=item_id, value=value, lang=lang)
    return Response(status=204)
