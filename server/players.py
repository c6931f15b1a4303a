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
import re
import tarfile
import zlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request

from content_mirror.bloom import page_files
from content_mirror.manifest import is_sha256
from server.answers import cacheable
from server.errors import NotFound
from server.games import game_file_names, item_page, mime_of, readable, sandboxed
from server.gamezip import MAX_PLAYER, MAX_PLAYER_MEMBERS, PLAYERS
from server.state import state

bp = Blueprint("players", __name__)
bp.after_request(readable)
POLICY = ("sandbox allow-scripts; default-src {own} data: blob:; script-src {own} 'unsafe-inline' 'unsafe-eval'; "
          "style-src {own} 'unsafe-inline'; font-src {own} data:; connect-src {own}; form-action 'none'; "
          "base-uri 'none'")
CONTENT = re.compile(r"/play/([0-9a-f]{64})/")
BLOOM, H5P = PLAYERS


@bp.get("/player/<sha>/<path:name>")
def player_file(sha: str, name: str):
    if not _is_player(sha):
        raise NotFound("This player is not in the library.")
    content = _content_named(request.args.get("url", ""))
    if request.headers.get("Sec-Fetch-Dest") == "document":
        return redirect(item_page(content or sha), code=303)  # only inside its item page's sandbox
    if name.startswith("host/fonts/"):
        data = _font(name)
    else:
        data = _unpacked(sha).get("dist/" + name)
        if data is None:
            raise NotFound("This file is not part of the player.")
    if name == "bloomplayer.htm":  # the player's page: it gets storage of its own first
        shim = render_template("_sandbox_shim.html").encode()
        data = data.replace(b"<head>", b"<head>" + shim, 1) if b"<head>" in data else shim + data
    return _sandboxed(Response(data, mimetype=mime_of(name)), sha, content)


@bp.get("/h5p/<sha>/")
def h5p_page(sha: str):
    """The page that runs h5p-standalone on the package SHA (in the item page's frame)."""
    player = _player_of(sha, H5P)
    if request.headers.get("Sec-Fetch-Dest") == "document":
        return redirect(item_page(sha), code=303)
    base = f"/player/{player}/"
    config = {"h5pJsonPath": f"/play/{sha}", "frameJs": base + "frame.bundle.js",
              "frameCss": base + "styles/h5p.css", "embedType": "div", "frame": False, "copyright": False, "export": False,
              "embed": False, "icon": False, "fullScreen": False}
    page = render_template("h5p.html", script=base + "main.bundle.js", config=config)
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
    tops = page_files(game_file_names(sha))
    return tops[0] if len(tops) == 1 else None


def _sandboxed(response: Response, player: str, content: str | None) -> Response:
    places = [f"/player/{player}/"] + ([f"/play/{content}/"] if content else [])
    # Kept ready, gzipped, by the answer cache: a player's script is 1 MB a phone need not wait
    # for the box to compress again.
    return cacheable(sandboxed(response, places, POLICY), vary=None)


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
        return json.loads(_unpacked(sha).get("package.json", b"")).get("name")
    except (ValueError, AttributeError):
        return None


@lru_cache(maxsize=2)
def _unpacked(sha: str) -> dict[str, bytes]:
    """The files of the player tarball SHA by their names under `package/`, read once: every
    book's page needs them, and a name it lacks must not cost a walk through the tarball. The
    importer checked it (server/gamezip.py: at most MAX_PLAYER unpacked); the bound holds here
    again, as a store file is only as good as its disk. SHA names the bytes: never stale."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(state().library.store.path(sha), "r:gz") as tar:
            for info in tar:
                total += info.size
                if total > MAX_PLAYER or len(files) >= MAX_PLAYER_MEMBERS:
                    return {}
                if info.isfile() and info.name.startswith("package/"):
                    files[info.name[len("package/"):]] = tar.extractfile(info).read()
    except (OSError, EOFError, tarfile.TarError, zlib.error):
        return {}
    return files


def _font(name: str) -> bytes:
    """The Andika face NAME asks for (`host/fonts/Andika New Basic Bold`), from the box's fonts."""
    words = name.lower()
    face = ("Bold" if "bold" in words else "") + ("Italic" if "italic" in words else "") or "Regular"
    path = Path(state().settings["book_fonts_dir"]) / f"Andika-{face}.woff2"
    try:
        return path.read_bytes()
    except OSError:
        raise NotFound("This font is not on the box.") from None
