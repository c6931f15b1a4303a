"""Content files, by SHA-256: Range, ETag, 304, and caching for a year.

The URL names the bytes, so a phone may keep a file forever ("immutable") and never fetch
the same video twice. Range and conditional logic come from Werkzeug; the bytes go out
through the server's own file wrapper from the requested offset, so a seek is all a Range
costs and waitress sends large files without Python copying them in small pieces.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.http import is_resource_modified, parse_range_header
from werkzeug.wsgi import wrap_file

from content_mirror.manifest import EXTENSIONS
from server.app import state
from server.errors import NotFound
from server.store import is_sha256

bp = Blueprint("files", __name__)
YEAR = 365 * 24 * 3600
# A file opened on its own (an SVG, say) gets no rights on the site's origin.
SANDBOX = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; media-src 'self'"


@bp.route("/files/<name>", methods=["GET", "HEAD"])
def content_file(name: str):
    sha, dot, ext = name.partition(".")
    found = state().library.catalog.file(sha) if is_sha256(sha) else None
    if found is None or (dot and EXTENSIONS.get(found[1]) != "." + ext):
        raise NotFound("This file is not in the library.")
    size, mime = found
    headers = {"ETag": f'"{sha}"', "Cache-Control": f"public, max-age={YEAR}, immutable",
               "Accept-Ranges": "bytes", "Content-Security-Policy": SANDBOX,
               "X-Content-Type-Options": "nosniff"}
    environ = request.environ
    if not is_resource_modified(environ, etag=sha):
        return Response(status=304, headers=headers)
    status, start, length = 200, 0, size
    # An If-Range naming another version means: send it all.
    if "HTTP_RANGE" in environ and ("HTTP_IF_RANGE" not in environ or not is_resource_modified(
            environ, etag=sha, ignore_if_range=False)):
        wanted = parse_range_header(environ["HTTP_RANGE"])
        span = wanted.range_for_length(size) if wanted else None
        if span is None:
            return Response(status=416, headers=dict(headers, **{"Content-Range": f"bytes */{size}"}))
        status, start, length = 206, span[0], span[1] - span[0]
        headers["Content-Range"] = wanted.to_content_range_header(size)
    try:
        f = state().library.store.path(sha).open("rb")
    except FileNotFoundError:
        raise NotFound("This file is listed but missing on the box; the next update will bring it back.") from None
    f.seek(start)
    # waitress's wrapper sends Content-Length bytes from where the file stands; another
    # server's wrapper would read to the end, so a range that stops short gets a generator.
    to_end = start + length == size
    waitress = getattr(environ.get("wsgi.file_wrapper"), "__module__", "").startswith("waitress")
    body = wrap_file(environ, f) if to_end or waitress else _chunks(f, length)
    response = Response(body, status=status, mimetype=mime, headers=headers, direct_passthrough=True)
    response.content_length = length
    return response


def _chunks(f, length: int):
    with f:
        while length > 0:
            chunk = f.read(min(length, 256 * 1024))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
