"""HTML5 games, served from their zip as they are, each file only on request.

A game is code from a content team, so it must not touch the site. Every answer carries a
policy that sandboxes it (an opaque origin of its own: no cookies, no storage, no reading the
site's API), lets it load and fetch only files of its own zip (`http://HOST/play/SHA/`; a
Bloom book's player reads the book's pages that way) and submit no form. A game runs only inside the item page's
`<iframe sandbox="allow-scripts">`, which cannot navigate the tab or open windows: asked for
as a tab's page, its URL leads to its item page instead. Nothing is unpacked to disk; names
are looked up in the zip's own table, so `../` can name nothing outside it.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import threading
import zipfile
from functools import lru_cache

from flask import Blueprint, Response, redirect, request

from server.state import state
from server.errors import NotFound
from server.gamezip import too_large
from content_mirror.manifest import is_sha256

bp = Blueprint("games", __name__)
SANDBOX = ("sandbox allow-scripts allow-pointer-lock; default-src {own} data: blob:; "
           "script-src {own} blob: 'unsafe-inline' 'unsafe-eval'; style-src {own} data: 'unsafe-inline'; "
           "connect-src {own}; form-action 'none'; base-uri 'none'")
HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")  # nothing that could end a CSP source
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
         ".wasm": "application/wasm", ".svg": "image/svg+xml", ".webp": "image/webp",
         ".woff2": "font/woff2", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".m4a": "audio/mp4"}
_lock = threading.Lock()


@lru_cache(maxsize=16)
def _zip(sha: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(state().library.store.path(sha))


@bp.get("/play/<sha>/<path:member>")
def play(sha: str, member: str):
    found = state().library.catalog.file(sha) if is_sha256(sha) else None
    if found is None or found[1] != "application/zip":
        raise NotFound("This game is not in the library.")
    if request.headers.get("Sec-Fetch-Dest") == "document":
        return redirect(item_page(sha), code=303)  # a game runs only in its item page's sandbox
    name = posixpath.normpath(member)
    if name.startswith(("/", "..")):
        raise NotFound("This file is not part of the game.")
    with _lock:
        archive = _zip(sha)
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise NotFound("This file is not part of the game.") from None
        if info.is_dir() or too_large(info):
            raise NotFound("This file of the game is too large to open.")
        data = archive.read(info)
    return sandboxed(Response(data, mimetype=mime_of(name)), [f"/play/{sha}/"])


def mime_of(name: str) -> str:
    return TYPES.get(posixpath.splitext(name)[1].lower()) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def sandboxed(response: Response, places: list[str], policy: str = SANDBOX) -> Response:
    """RESPONSE under POLICY, which lets it use only the files under PLACES (paths of this host)."""
    origin = f"{request.scheme}://{request.host}" if HOST.fullmatch(request.host) else None
    own = " ".join(origin + place for place in places) if origin else "'self'"
    response.headers["Content-Security-Policy"] = policy.format(own=own)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The URL names the zip's (or tarball's) bytes, so its files never change either.
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@bp.after_request
def readable(response: Response) -> Response:
    # The sandbox's opaque origin fetches with Origin: null; a zip's files are public anyway,
    # and a refusal too is then read as the 404 it is.
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


def game_file_names(sha: str) -> list[str]:
    """The names of the files in the zip SHA."""
    with _lock:
        return _zip(sha).namelist()


def item_page(sha: str) -> str:
    """The page of the item whose game is the zip SHA (the front page if none is)."""
    item_id = state().library.catalog.item_of(sha)
    return f"/item/{item_id}" if item_id else "/"
