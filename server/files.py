"""Content files, by SHA-256: Range, ETag, 304, and caching for a year.

The URL names the bytes, so a phone may keep a file forever ("immutable") and never fetch
the same video twice. /files/SHA/NAME.EXT is the same file to be saved as NAME.EXT (a
download's name: server/takehome.py sends phones there). This is a plain WSGI app mounted at /files in front of Flask: a video
is many Range requests, and each costs only a catalog lookup, a seek and the headers. Range
and conditional headers are parsed by Werkzeug; the bytes go out through waitress's own file
wrapper from the requested offset, so waitress sends them without Python copying them.

A stored file whose size is not the catalog's is damaged: it is quarantined (server/store.py)
and answered as missing, never as a short "complete" file. A file the last update stopped
naming is still served (a phone may be halfway through it), but only with short caching.
"""

from __future__ import annotations

import json
import os
import sqlite3
import unicodedata
from urllib.parse import quote

from werkzeug.http import dump_options_header, is_resource_modified, parse_range_header

from content_mirror.manifest import EXTENSIONS, is_sha256
from server.library import Library

YEAR = 365 * 24 * 3600
# A file opened on its own (an SVG, say) gets no rights on the site's origin.
SANDBOX = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; media-src 'self'"
CHUNK = 256 * 1024
MISSING = "This file is missing on the box; the next stick that carries it brings it back."
REPAIRING = "The library is being repaired; try again in a minute."


def file_url(ref: dict) -> str:
    """The URL of a file an item names: its hash and the extension of its type."""
    return f"/files/{ref['sha256']}{EXTENSIONS.get(ref['mime'], '')}"


class FileApp:
    """WSGI app answering /files/SHA256[.EXT] for the files the catalog names."""

    def __init__(self, library: Library):
        self.library = library

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return _error(start_response, "405 Method Not Allowed", "This address only gives files.",
                          [("Allow", "GET, HEAD")])
        path = environ.get("PATH_INFO", "").lstrip("/")
        sha, slash, name = path.partition("/")
        if not slash:
            sha, dot, ext = path.partition(".")
        else:  # /files/SHA/NAME.EXT: the same bytes, saved under NAME (server/takehome.py)
            name = _utf8(name)
            dot, ext = ".", name.rpartition(".")[2]
        try:
            found = self.library.catalog.served(sha) if is_sha256(sha) else None
        except sqlite3.DatabaseError as e:
            self.library.catalog_failed(e)
            return _error(start_response, "503 Service Unavailable", REPAIRING, [("Retry-After", "60")])
        if found is None or (dot and EXTENSIONS.get(found[1]) != "." + ext) or (slash and not _fair_name(name)):
            return _error(start_response, "404 Not Found", "This file is not in the library.")
        size, mime, retired = found
        # A retired file is gone at the next import: a phone must not keep it for a year.
        caching = "public, max-age=3600" if retired else f"public, max-age={YEAR}, immutable"
        headers = [("Content-Type", mime), ("ETag", f'"{sha}"'), ("Cache-Control", caching),
                   ("Accept-Ranges", "bytes"), ("Content-Security-Policy", SANDBOX),
                   ("X-Content-Type-Options", "nosniff")]
        if slash:
            headers.append(("Content-Disposition", attachment(name, f"sanduq-{sha[:8]}.{ext}")))
        if not is_resource_modified(environ, etag=sha):
            start_response("304 Not Modified", headers[1:])
            return []
        try:
            f = self.library.store.path(sha).open("rb")
        except FileNotFoundError:
            return _error(start_response, "404 Not Found", MISSING)
        if os.fstat(f.fileno()).st_size != size:
            f.close()
            self.library.store.quarantine(sha)
            return _error(start_response, "404 Not Found", MISSING)
        status, start, length = "200 OK", 0, size
        # An If-Range naming another version means: send it all.
        if "HTTP_RANGE" in environ and ("HTTP_IF_RANGE" not in environ or not is_resource_modified(
                environ, etag=sha, ignore_if_range=False)):
            wanted = parse_range_header(environ["HTTP_RANGE"])
            span = wanted.range_for_length(size) if wanted else None
            if span is None:
                f.close()
                return _error(start_response, "416 Range Not Satisfiable", "That part of the file does not exist.",
                              [("Content-Range", f"bytes */{size}")])
            status, start, length = "206 Partial Content", span[0], span[1] - span[0]
            headers.append(("Content-Range", wanted.to_content_range_header(size)))
        headers.append(("Content-Length", str(length)))
        start_response(status, headers)
        if environ["REQUEST_METHOD"] == "HEAD":
            f.close()
            return []
        f.seek(start)
        wrapper = environ.get("wsgi.file_wrapper")
        # waitress's wrapper sends Content-Length bytes from where the file stands; another
        # server's wrapper would read to the end, so there a range that stops short is chunked.
        if wrapper and (start + length == size or getattr(wrapper, "__module__", "").startswith("waitress")):
            return wrapper(f, CHUNK)
        return _chunks(f, length)


def attachment(name: str, fallback: str) -> str:
    """Content-Disposition for saving under NAME (RFC 6266): Chromium takes the UTF-8
    `filename*`, so a Cyrillic title survives; FALLBACK is the ASCII `filename` for the rest."""
    simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = simple.rpartition(".")[0]  # a Cyrillic title leaves nothing but its extension
    simple = simple if sum(c.isalnum() for c in stem) >= 3 else fallback
    return dump_options_header("attachment", {"filename": simple, "filename*": "UTF-8''" + quote(name)})


def _utf8(wsgi_text: str) -> str:
    """PATH_INFO as the phone wrote it: WSGI hands over its bytes as latin-1 text."""
    try:
        return wsgi_text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return ""


def _fair_name(name: str) -> bool:
    """A name to save a file under: short, one segment, no control or quoting characters."""
    return 0 < len(name) <= 200 and not any(c in name for c in '/\\"') and name.isprintable()


def _chunks(f, length: int):
    with f:
        while length > 0:
            chunk = f.read(min(length, CHUNK))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def _error(start_response, status: str, message: str, extra: list | None = None):
    body = json.dumps({"error": message, "status": int(status[:3])}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))] + (extra or []))
    return [body]
