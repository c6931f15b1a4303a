"""HTML5 games, served from their zip as they are, each file only on request.

A game is code from a content team, so it must not touch the site: every answer carries
`Content-Security-Policy: sandbox allow-scripts`, which gives the game an opaque origin of
its own even when opened outside the page's sandboxed iframe: it cannot read the site's
cookies or storage, and the browser will not let it read the site's API. Nothing is unpacked
to disk; names are looked up in the zip's own table, so `../` can name nothing outside it.
"""

from __future__ import annotations

import mimetypes
import posixpath
import threading
import zipfile
from functools import lru_cache

from flask import Blueprint, Response

from server.app import state
from server.errors import NotFound
from server.gamezip import MAX_MEMBER, MAX_RATIO
from server.store import is_sha256

bp = Blueprint("games", __name__)
SANDBOX = "sandbox allow-scripts allow-pointer-lock; default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'"
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
    name = posixpath.normpath(member)
    if name.startswith(("/", "..")):
        raise NotFound("This file is not part of the game.")
    with _lock:
        archive = _zip(sha)
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise NotFound("This file is not part of the game.") from None
        if info.is_dir() or info.file_size > MAX_MEMBER or info.file_size > MAX_RATIO * max(info.compress_size, 1024):
            raise NotFound("This file of the game is too large to open.")
        data = archive.read(info)
    mime = TYPES.get(posixpath.splitext(name)[1].lower()) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = Response(data, mimetype=mime)
    response.headers["Content-Security-Policy"] = SANDBOX
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The URL names the zip's bytes, so its files never change either.
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
