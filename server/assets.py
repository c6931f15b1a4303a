"""The site's CSS and JS: fingerprinted names, gzip made once, cached for a year.

`asset_url("site.css")` gives /static/site.3f2a9c01.css; the name changes when the bytes do,
so phones keep a file until it really changes and never ask again in between.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from flask import Blueprint, Response

from server.answers import cacheable
from server.errors import NotFound

FOLDER = Path(__file__).parent / "static"
YEAR = 365 * 24 * 3600
bp = Blueprint("assets", __name__)


def _load() -> tuple[dict[str, str], dict[str, tuple[bytes, str]]]:
    urls, files = {}, {}
    for path in sorted(FOLDER.iterdir()):
        data = path.read_bytes()
        digest = hashlib.blake2b(data, digest_size=4).hexdigest()
        name = f"{path.stem}.{digest}{path.suffix}"
        urls[path.name] = f"/static/{name}"
        files[name] = (data, mimetypes.guess_type(path.name)[0] or "application/octet-stream")
    return urls, files


URLS, FILES = _load()


def asset_url(name: str) -> str:
    return URLS[name]


@bp.get("/static/<name>")
def static_file(name: str):
    if name not in FILES:
        raise NotFound("This file is not part of the site.")
    data, mime = FILES[name]
    response = Response(data, mimetype=mime)
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return cacheable(response, vary=None)
