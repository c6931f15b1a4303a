"""Bloom books and H5P activities, played by their own players inside a game's sandbox.

A player (bloom-player, h5p-standalone) arrives in a bundle as its npm tarball, unchanged
(content_mirror/players.py); `/player/SHA/NAME` serves NAME from the tarball's `dist/`. The
book or package it plays is a zip served like a game's (`/play/SHA/...`, server/games.py).
Both run only inside the item page's `<iframe sandbox="allow-scripts">` and under a policy
that sandboxes them again: an opaque origin, so no cookie, storage or API of the site; files
only from the player's and the content's own addresses, so no request leaves the box (the
fonts and analytics bloom-player would fetch from bloomlibrary.org are refused by the
policy, and analytics are also turned off by its `independent=false`). The fonts are the
box's own (setting book_fonts_dir).
"""

from __future__ import annotations

import json
import mimetypes
import posixpath
import re
import tarfile
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request

from content_mirror.manifest import is_sha256
from server.answers import cacheable
from server.errors import NotFound
from server.games import HOST, TYPES, game_file_names
from server.state import state

bp = Blueprint("players", __name__)
MAX_MEMBER = 16 * 1024 * 1024
POLICY = ("sandbox allow-scripts; default-src {own} data: blob:; script-src {own} 'unsafe-inline' 'unsafe-eval'; "
          "style-src {own} 'unsafe-inline'; font-src {own} data:; connect-src {own}; form-action 'none'; "
          "base-uri 'none'")
CONTENT = re.compile(r"/play/([0-9a-f]{64})/")
BLOOM, H5P = "bloom-player", "h5p-standalone"


@bp.get("/player/<sha>/<path:member>")
def player_file(sha: str, member: str):
    name = posixpath.normpath(member)
    if not _is_player(sha) or name.startswith(("/", "..")):
        raise NotFound("This player is not in the library.")
    content = _content_named(request.args.get("url", ""))
    if request.headers.get("Sec-Fetch-Dest") == "document":
        return redirect(_item_page(content or sha), code=303)  # only inside its item page's sandbox
    data = _font(name) if name.startswith("host/fonts/") else _member(sha, "package/dist/" + name)
    if name == "bloomplayer.htm":  # the player's page: it gets storage of its own first
        shim = render_template("_sandbox_shim.html").encode()
        data = data.replace(b"<head>", b"<head>" + shim, 1) if b"<head>" in data else shim + data
    mime = TYPES.get(posixpath.splitext(name)[1].lower()) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = Response(data, mimetype=mime)
    return _sandboxed(response, sha, content)


@bp.get("/h5p/<sha>/")
def h5p_page(sha: str):
    """The page that runs h5p-standalone on the package SHA (in the item page's frame)."""
    player = _player_of(sha, H5P)
    if request.headers.get("Sec-Fetch-Dest") == "document":
        return redirect(_item_page(sha), code=303)
    base = f"/player/{player}/"
    config = {"h5pJsonPath": f"/play/{sha}", "frameJs": base + "frame.bundle.js",
              "frameCss": base + "styles/h5p.css", "embedType": "div", "frame": False, "copyright": False, "export": False,
              "embed": False, "icon": False, "fullScreen": False}
    page = render_template("h5p.html", script=base + "main.bundle.js", config=json.dumps(config))
    return _sandboxed(Response(page, mimetype="text/html"), player, sha)


def bloom_url(book_sha: str, player_sha: str, page_file: str, lang: str) -> str:
    """The address of bloom-player playing the book BOOK_SHA, its words first in LANG."""
    url = quote(f"/play/{book_sha}/{page_file}")
    # independent=false: analytics go to this page as messages (we take "finished" from them),
    # never to the internet. The player's own full screen button is hidden: the item page's
    # button makes the whole frame full screen, on every phone.
    return (f"/player/{player_sha}/bloomplayer.htm?url={url}&lang={quote(lang)}&independent=false"
            "&host=sanduq&hideFullScreenButton=true&initiallyShowAppBar=true&allowToggleAppBar=true")


def book_page_file(sha: str) -> str | None:
    """The one .htm at the top of the BloomPub SHA (checked when it was built)."""
    tops = [n for n in game_file_names(sha) if "/" not in n and n.lower().endswith((".htm", ".html"))]
    return tops[0] if len(tops) == 1 else None


def _sandboxed(response: Response, player: str, content: str | None) -> Response:
    origin = f"{request.scheme}://{request.host}" if HOST.fullmatch(request.host) else None
    places = [f"/player/{player}/"] + ([f"/play/{content}/"] if content else [])
    own = " ".join(f"{origin}{p}" for p in places) if origin else "'self'"
    response.headers["Content-Security-Policy"] = POLICY.format(own=own)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The sandbox's opaque origin fetches with Origin: null; these are public files.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # the URL names the bytes
    # Pages are made anew for each request (the answer cache does not know Sec-Fetch-Dest, which
    # sends a tab to the item page); the player's scripts, styles and fonts are kept ready, gzipped.
    return response if response.mimetype == "text/html" else cacheable(response, vary=None)


@bp.after_request
def _readable(response: Response) -> Response:
    # A refusal too: the player, at an opaque origin, then reads a 404 (a book without
    # questions.json) instead of meeting a CORS error.
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


def _font(name: str) -> bytes:
    """The Andika face NAME asks for (`host/fonts/Andika New Basic Bold`), from the box's fonts."""
    words = name.lower()
    face = ("Bold" if "bold" in words else "") + ("Italic" if "italic" in words else "") or "Regular"
    path = Path(state().settings["book_fonts_dir"]) / f"Andika-{face}.woff2"
    try:
        return path.read_bytes()
    except OSError:
        raise NotFound("This font is not on the box.") from None


def _is_player(sha: str) -> bool:
    found = state().library.catalog.file(sha) if is_sha256(sha) else None
    return found is not None and found[1] == "application/gzip"


def _content_named(url: str) -> str | None:
    """The zip a player page is asked to play (`url=/play/SHA/...`), if the library holds it."""
    match = CONTENT.match(url)
    found = match and state().library.catalog.file(match[1])
    return match[1] if found and found[1] == "application/zip" else None


def _player_of(sha: str, package: str) -> str:
    """The player tarball that plays the zip SHA, named by its item."""
    catalog = state().library.catalog
    item = catalog.get(catalog.item_of(sha) or "") if is_sha256(sha) else None
    for ref in (item or {}).get("files", []):
        if ref["role"] == "player" and package_name(ref["sha256"]) == package:
            return ref["sha256"]
    raise NotFound("This activity is not in the library.")


def package_name(sha: str) -> str | None:
    """The npm package name of the player tarball SHA ("bloom-player", "h5p-standalone")."""
    try:
        return json.loads(_member(sha, "package/package.json")).get("name")
    except (NotFound, ValueError, AttributeError):
        return None


def _member(sha: str, name: str) -> bytes:
    # Read through the tarball each time: the answer cache in front keeps what phones ask for,
    # and the box keeps no player in memory it is not using.
    try:
        with tarfile.open(state().library.store.path(sha), "r:gz") as tar:
            for info in tar:
                if info.name == name and info.isfile() and info.size <= MAX_MEMBER:
                    return tar.extractfile(info).read()
    except (OSError, tarfile.TarError):
        pass
    raise NotFound("This file is not part of the player.")


def _item_page(sha: str) -> str:
    item_id = state().library.catalog.item_of(sha)
    return f"/item/{item_id}" if item_id else "/"
