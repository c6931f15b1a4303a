"""Take it home (issue 12): the file of an item a phone can keep, and the routes that give it.

A box serves plain HTTP at an IP address, which is not a secure context: Chrome gives it no
service worker, Cache Storage or Web Share, so "install the site for offline use" cannot
work and the site never offers it. What a phone keeps and opens with no extra app is a file
its own apps open: an MP4 or MP3 (the gallery and the music player find it in Downloads, and
Chromium does not question audio, video or image downloads over HTTP), a JPEG, and, with a
"keep this file?" question, a PDF. So each kind goes home as one such file:

    video, audio          its own main file
    book                  the book as a video, made at build time (content_mirror/takehome.py)
    activity, tip         a picture card (JPEG), made at build time
    document              its print file (PDF), or one made at build time
    game, course          nothing: they need the box

always in the reader's language where the item has it. /save/ID/LANG counts a `saved` event and
sends the phone to /files/SHA/TITLE.EXT (server/files.py): the same cacheable bytes under a
name a parent finds again in the gallery, never a copy. /take-home shows the list a phone
keeps (in its localStorage; site.js puts the ids in the address) with sizes and their total.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request

from content_mirror.manifest import EXTENSIONS, ITEM_ID
from server.answers import cacheable, is_a_view
from server.errors import NotFound
from server.i18n import LANGUAGES, gettext_, language, pick
from server.pages import file_for
from server.state import recorder, state

bp = Blueprint("takehome", __name__)
MAX_LIST = 60  # items on one take-home list: more than a phone with 2 GB free keeps
# What the phone may ask about ("keep this file?") or needs a viewer for.
ASKS = {"application/pdf"}
# Characters a phone's file system or a chat app refuses in a file name.
UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def take_home(item: dict, lang: str | None = None) -> dict | None:
    """The file of ITEM a phone keeps, in LANG (the reader's language) or the nearest the item
    has; None when it needs the box."""
    lang = lang or language()
    kind = item["kind"]
    if kind in ("video", "audio"):
        found = file_for(item, "main", lang=lang)
    elif kind == "document":
        found = file_for(item, "print", lang=lang) or file_for(item, "takehome", lang=lang)
    elif kind in ("book", "activity", "tip"):
        found = file_for(item, "takehome", lang=lang)
    else:
        found = None
    if found is None or found["mime"] not in EXTENSIONS:
        return None
    # The reader's language is in the path, not in ?lang=, which would also switch the site's.
    return dict(found, save_url=f"/save/{item['id']}/{lang}", asks=found["mime"] in ASKS)


def file_name(item: dict, lang: str | None) -> str:
    """The item's title in LANG, made a file name any phone keeps (no extension)."""
    title = pick(item.get("title") or {}, lang or language())
    title = "".join(c for c in title if c.isprintable() or c.isspace())  # soft hyphens, zero widths: no name has them
    name = " ".join(UNSAFE_NAME.sub(" ", title).split()).strip(". ")
    return name[:80].rstrip(". ") or item["id"]


def size_text(size: int) -> str:
    """SIZE in bytes as a person reads it: whole megabytes, or kilobytes under one megabyte.

    Whole numbers only, so no decimal separator differs by language; rounded up, so a list's
    total never promises less than the phone needs."""
    if size < 1_000_000:
        return gettext_("%(n)s KB", n=max(1, -(-size // 1000)))
    return gettext_("%(n)s MB", n=-(-size // 1_000_000))


@bp.app_context_processor
def helpers():
    return {"take_home": take_home, "size_text": size_text}


@bp.get("/save/<item_id>/<lang>")
def save(item_id: str, lang: str):
    """Count a save and send the phone to the file under its title (never cached: each tap counts)."""
    found = state().library.catalog.get(item_id) if ITEM_ID.fullmatch(item_id) else None
    if found is None:
        raise NotFound(gettext_("This item is not in the library. It may have been removed in an update."))
    # A language of the item or of the site; any other word in the address means the reader's.
    asked = lang if lang in found.get("languages", []) or lang in LANGUAGES else None
    kept = take_home(found, asked)
    if kept is None:
        raise NotFound(f"{item_id} cannot go home: it needs the box", "cannot-go-home")
    lang = kept.get("lang") or asked or language()  # a file for every language is named in the one asked
    if is_a_view(request.environ):  # not a HEAD, not a prefetch: a tap
        recorder("saved", item=item_id, lang=lang)(request.environ)
    ext = EXTENSIONS[kept["mime"]]
    response = redirect(f"/files/{kept['sha256']}/{quote(file_name(found, lang) + ext)}", 303)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/take-home")
def take_home_list():
    """The phone's take-home list, from the ids site.js puts in ?items= (a page like any other)."""
    # Ids of items gone from the library stay on a phone's list: they are skipped, and do not
    # count against the list's length (the lookups are bounded all the same).
    ids = list(dict.fromkeys(i for i in request.args.get("items", "").split(",")[:4 * MAX_LIST] if ITEM_ID.fullmatch(i)))
    catalog = state().library.catalog

    def build():
        rows = []
        for item_id in ids:
            item = catalog.get(item_id)
            kept = take_home(item) if item else None
            if kept:
                rows.append((item, kept))
            if len(rows) == MAX_LIST:
                break
        total = sum(kept["size"] for _, kept in rows)
        return render_template("takehome.html", rows=rows, total=total, asked=bool(ids))

    return cacheable(Response(build(), mimetype="text/html"))
