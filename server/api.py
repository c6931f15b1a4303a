"""The JSON API (INTERFACES.md): items, one item, search, facets, usage events.

Answers are built once per catalog generation and kept in a small cache, so a classroom of
phones asking for the same list costs one query; every answer has an ETag, so a phone that
has it gets a 304 with no body.
"""

from __future__ import annotations

from flask import Blueprint, Response, json, request

from content_mirror.manifest import ITEM_ID
from server.answers import cacheable, from_a_game
from server.errors import BadRequest, Forbidden, NotFound
from server.files import file_url
from server.i18n import language, pick
from server.names import AGES
from server.request_args import filters, int_arg
from server.state import search_recorder, state
from server.usage import SERVER_ONLY, invalid

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_QUERY = 200
MAX_EVENTS = 100


def public_item(item: dict, lang: str) -> dict:
    """An item as the API shows it: titles picked for LANG, and a URL for every file.

    Its credits (`licence`, `author`, `copyright`, `source`) come as the manifest gave them,
    and only when given: the licence as its id ("CC-BY-4.0"), for a program to read.
    """
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


@bp.get("/items")
def items():
    limit = int_arg("limit", 50, 1, 200)
    offset = int_arg("offset", 0, 0, 10**7)
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
    limit = int_arg("limit", 30, 1, 200)
    page = state().library.catalog.search(query, filters(), limit=limit)
    lang = language()
    on_hit = None
    if query.strip() and request.args.get("suggest") != "1":  # suggestions while typing are not searches
        on_hit = search_recorder(query.strip(), bool(page.items), lang)
    return _answer({"query": query, "items": [public_item(i, lang) for i in page.items]}, on_hit)


@bp.get("/facets")
def facets():
    """The choices that still find items, given the filters already chosen (as /browse offers)."""
    return _answer(state().library.catalog.facets(filters(), ages=AGES))


@bp.post("/events")
def events():
    """Usage from the phone's page: {"events": [{"type", "item", "value"}]}; answers 204.

    Events over the phone's budget are dropped (and counted) but still answered 204: usage
    is never worth an error on a page.
    """
    usage = state().usage
    if from_a_game(request.environ):
        raise Forbidden("Usage is recorded only from the library's own pages.")
    body = request.get_json(silent=True)
    batch = body.get("events") if isinstance(body, dict) else None
    if not isinstance(batch, list) or len(batch) > MAX_EVENTS:
        raise BadRequest(f'Send {{"events": [...]}} with at most {MAX_EVENTS} events.')
    lang = language()
    for event in batch:
        fault = _fault(event, lang)
        if fault:
            usage.drop("refused", len(batch))
            raise BadRequest(fault)
    for event in batch:
        usage.record(event["type"], item=event.get("item"), value=event.get("value"), lang=lang,
                     client=request.remote_addr)
    return Response(status=204)


def _fault(event: object, lang: str) -> str | None:
    """Why an event from a phone cannot be kept, in one sentence; None when it can."""
    if not isinstance(event, dict) or not set(event) <= {"type", "item", "value"}:
        return 'Each event is {"type", "item", "value"} and nothing else.'
    if event.get("type") in SERVER_ONLY:
        return "Searches are counted by the library itself."
    fault = invalid(event.get("type"), event.get("item"), event.get("value"), lang)
    if fault is None and event.get("item") is not None and state().library.catalog.get(event["item"]) is None:
        fault = f"There is no item {event['item']!r} in this library."
    return fault
