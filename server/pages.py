"""The phone site: home, browse, item pages for every kind, search, classroom, records.

Pages work without JavaScript (site.js only improves them) and are built once per catalog
change, language and "popular" list, then served from the answer cache with gzip and ETag.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, render_template, request

from content_mirror.manifest import AUDIENCES, KINDS, SUBJECTS
from server.answers import cacheable, from_a_game
from server.assets import asset_url
from server.catalog import Filters
from server.errors import NotFound
from server import health, players, usb_texts
from usb_updater.status import UsbStatus
from server.files import file_url
from server.i18n import NAMES, gettext_, language, ngettext_, offered, pick
from server.languages import BY_CODE, N_, chain
from server.names import AGES, AUDIENCE_NAMES, KIND_NAMES, SUBJECT_NAMES
from server.request_args import filters
from server.settings import BY_NAME
from server.state import recorder, search_recorder, state

bp = Blueprint("site", __name__)
PAGE_SIZE = 24
# A content language on a card, shortened and in the reader's own script (never "TG" on a
# Tajik page). A language without a short name here shows its code.
SETTINGS_DEFAULT_NAME = BY_NAME["school_name"].default


KIND_EMOJI = {"video": "🎬", "audio": "🎵", "book": "📖", "document": "📄", "game": "🎲",
              "activity": "✂️", "tip": "💡", "course": "🎓"}
# Emoji 1.0 (Unicode 6.0) only: a phone older than Android 8 shows later ones as empty boxes.
AUDIENCE_EMOJI = {"children": "👧", "parents": "👪", "educators": "🍎"}
BUNDLE_STATES = {"installed": N_("installed"), "already installed": N_("already installed"),
                 "refused": N_("refused"), "interrupted": N_("stopped: insert the stick again")}


@lru_cache(maxsize=64)
def render_markdown(sha: str) -> str:
    """A document's Markdown as HTML. Raw HTML in it is shown as text, never run."""
    from markdown_it import MarkdownIt

    text = state().library.store.path(sha).read_text(encoding="utf-8", errors="replace")
    markdown = MarkdownIt("commonmark", {"html": False})
    tokens = markdown.parse(text)
    # A document's own first heading repeats the title the page already shows above it.
    if len(tokens) >= 3 and tokens[0].type == "heading_open" and tokens[0].tag == "h1":
        tokens = tokens[3:]
    return markdown.renderer.render(tokens, markdown.options, {})


def files_of(item: dict, role: str, *, page: int | None = None) -> list[dict]:
    return [dict(f, url=file_url(f)) for f in item.get("files", [])
            if f["role"] == role and f.get("page") == page]


def file_for(item: dict, role: str, *, page: int | None = None, lang: str | None = None) -> dict | None:
    """The file of ROLE in LANG (the reader's language), else a language-neutral one, else the nearest."""
    found = {f.get("lang") or "": f for f in files_of(item, role, page=page)}
    lang = lang or language()
    for choice in (lang, "", *chain(lang)):
        if choice in found:
            return found[choice]
    return next(iter(found.values()), None)


def url_with(**changes) -> str:
    """This page's URL with some query arguments changed (None removes one)."""
    args = {k: v for k, v in request.args.items() if k not in changes}
    args.update({k: v for k, v in changes.items() if v is not None})
    return request.path + ("?" + urlencode(args) if args else "")


@bp.app_context_processor
def helpers():
    lang = language()
    return {"_": gettext_, "ngettext": ngettext_, "lang": lang, "languages": offered(),
            "language_names": NAMES, "asset": asset_url, "t": lambda texts: pick(texts or {}, lang),
            # Lists of lines (steps, materials) by the same rule as texts: the nearest language.
            "tl": lambda texts: pick(texts or {}, lang) or [],
            "kind_names": KIND_NAMES, "kind_emoji": KIND_EMOJI, "audience_names": AUDIENCE_NAMES,
            "audience_emoji": AUDIENCE_EMOJI, "subject_names": SUBJECT_NAMES,
            "file_for": file_for, "files_of": files_of, "url_with": url_with,
            "language_short": lambda code: gettext_(BY_CODE[code].short) if code in BY_CODE else code,
            "school": _school_name(), "usb": _usb_banner(),
            # An item played on the classroom's stage shows nothing but itself.
            "staged": request.args.get("classroom") == "1"}


def _school_name() -> str:
    """The setting, or when it was never set, the library's own name in the reader's language."""
    name = state().settings["school_name"]
    return gettext_("Sanduq") if name == SETTINGS_DEFAULT_NAME else name


def _usb_banner() -> dict:
    """The USB status worth a banner: an update under way, or one that ended in the last hour."""
    now = UsbStatus.of(state().library, state().settings).read()
    if now.get("state") == "busy" or (now.get("state") and time.time() - now.get("updated", 0) < 3600):
        return now
    return {}


@bp.get("/")
def home():
    catalog = state().library.catalog

    def build():
        popular = [i for i in (catalog.get(x) for x in state().usage.popular(8)) if i]
        return render_template("home.html", audiences=AUDIENCES, popular=popular,
                               new=catalog.items(Filters(), limit=8).items)

    return _cached_page(build)


def _cached_page(build, on_hit=None) -> Response:
    """A page the same for every phone that asks the same way (see answers.py)."""
    return cacheable(Response(build(), mimetype="text/html"), on_hit)


@bp.get("/browse")
def browse():
    chosen = filters()
    number = _page_number()

    def build():
        page = state().library.catalog.items(chosen, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        facets = state().library.catalog.facets(chosen, ages=AGES)
        return render_template("browse.html", page=page, number=number, pages=-(-page.total // PAGE_SIZE),
                               chosen=chosen, facets=facets, ages=AGES, kinds=KINDS, subjects=SUBJECTS,
                               chosen_labels=_chosen_labels(chosen))

    return _cached_page(build)


def _chosen_labels(chosen: Filters) -> list[str]:
    """The choices made on /browse beyond the audience, in words, for the folded choices' button."""
    labels = [gettext_(KIND_NAMES[chosen.kind])] if chosen.kind in KIND_NAMES else []
    if chosen.age is not None:
        labels.append(ngettext_("%(num)s year", "%(num)s years", chosen.age))
    if chosen.subject in SUBJECT_NAMES:
        labels.append(gettext_(SUBJECT_NAMES[chosen.subject]))
    if chosen.lang:
        labels.append(NAMES.get(chosen.lang, chosen.lang))
    return labels


def _page_number() -> int:
    text = request.args.get("page", "1")
    return int(text) if text.isdigit() and 0 < int(text) < 10_000 else 1


@bp.get("/item/<item_id>")
def item(item_id: str):
    catalog = state().library.catalog
    found = catalog.get(item_id) if len(item_id) <= 64 else None
    if found is None:
        raise NotFound(gettext_("This item is not in the library. It may have been removed in an update."))
    opened = recorder("opened", item=item_id, lang=language())

    def build():
        return render_template(f"item/{found['kind']}.html", item=found, next=_next_item(found),
                               lessons=_lessons(found), document=_document(found), player_url=_player_url(found))

    return _cached_page(build, on_hit=opened)


def _next_item(item: dict) -> dict | None:
    """What to offer when this one ends: the next of its kind for its first audience."""
    same = Filters(kind=item["kind"], audience=(item.get("audiences") or [None])[0])
    ids = [i["id"] for i in state().library.catalog.items(same, limit=200, order="id").items]
    if item["id"] not in ids or len(ids) < 2:
        return None
    return state().library.catalog.get(ids[(ids.index(item["id"]) + 1) % len(ids)])


def _player_url(item: dict) -> str | None:
    """Where the frame of a Bloom book or an H5P activity plays it (None for anything else)."""
    main, player = file_for(item, "main"), file_for(item, "player")
    if not (main and player and main["mime"] == "application/zip"):
        return None
    package = players.package_name(player["sha256"])
    if package == players.H5P:
        return f"/h5p/{main['sha256']}/"
    page_file = players.book_page_file(main["sha256"]) if package == players.BLOOM else None
    if page_file is None:
        return None
    wanted = language()
    lang = wanted if wanted in item.get("languages", []) else (item.get("languages") or [wanted])[0]
    return players.bloom_url(main["sha256"], player["sha256"], page_file, lang)


def _lessons(item: dict) -> dict[str, dict]:
    wanted = {lesson for module in item.get("modules", []) for lesson in module["lessons"]}
    return {x: found for x in wanted if (found := state().library.catalog.get(x))}


def _document(item: dict) -> dict | None:
    """A Markdown document as HTML, with the language it is written in (which may not be the
    reader's: a screen reader then reads it in its own voice)."""
    if item["kind"] != "document":
        return None
    main = file_for(item, "main")
    if not main or main["mime"] != "text/markdown":
        return None
    return {"html": render_markdown(main["sha256"]), "lang": main.get("lang") or (item.get("languages") or [""])[0]}


@bp.get("/item/<item_id>/record")
def record(item_id: str):
    found = state().library.catalog.get(item_id) if len(item_id) <= 64 else None
    if found is None or found["kind"] != "course":
        raise NotFound(gettext_("This item is not in the library. It may have been removed in an update."))
    return _cached_page(lambda: render_template("record.html", item=found, lessons=_lessons(found)))


@bp.get("/search")
def search():
    query = request.args.get("q", "").strip()[:200]

    catalog = state().library.catalog
    results = catalog.search(query, Filters(), limit=48).items if query else []
    counted = search_recorder(query, bool(results), language()) if query else None

    def build():
        instead = [] if results else catalog.items(Filters(audience="children", kind="video"), limit=6).items
        return render_template("search.html", query=query, results=results, instead=instead)

    return _cached_page(build, on_hit=counted)


@bp.get("/classroom")
def classroom():
    def build():
        catalog = state().library.catalog
        picks = (catalog.items(Filters(audience="children", kind="video"), limit=12).items
                 + catalog.items(Filters(audience="children", kind="book"), limit=6).items)
        return render_template("classroom.html", picks=picks)

    return _cached_page(build)


@bp.get("/status")
def usb_page():
    """What the box did with the last sticks and what it needs now: for the field officer, no login.

    Not cached: what the box needs can change with no catalog change (the store check sets a
    file aside), and the page is asked for rarely.
    """
    usb = UsbStatus.of(state().library, state().settings)
    data_dir = state().library.data_dir
    return Response(render_template("status.html", now=usb.read(), receipts=usb.receipts(), local_time=_local_time,
                                    bundle_states=BUNDLE_STATES, problem_text=usb_texts.problem_text,
                                    reason_text=usb_texts.reason_text, step_text=usb_texts.step_text,
                                    problems=health.problems(data_dir)),
                    mimetype="text/html")


def _local_time(stamp: str | None) -> str:
    """A receipt's UTC time as the box's clock shows it, in digits only (03.12.2026 15:12):
    the way Tajik and Russian readers write dates, with no Latin letters."""
    try:
        moment = datetime.strptime(stamp or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return stamp or ""
    return moment.astimezone().strftime("%d.%m.%Y %H:%M")


@bp.get("/welcome")
def welcome():
    """The page a phone's sign-in window opens on: one big button into the library."""
    return render_template("welcome.html")


@bp.get("/welcome/enter")
def enter():
    """Welcome this phone: from now on its probes hear "online", so it keeps the network."""
    if not from_a_game(request.environ):  # a game in its frame must not welcome anyone
        state().portal.welcome(request.remote_addr or "")
    return redirect("/", code=303)
