"""Answers built once and served many times, before Flask is even entered.

API lists, items, search results, pages and the site's assets are the same bytes for every
phone that asks the same way, until the catalog changes. A view marks such a response with
`cacheable()`; this WSGI layer then keeps it (with its gzip form and an ETag) under the raw
request (catalog generation, "popular" list, path, query, Accept-Language, Cookie, host,
whether a tab asks for it as its page) and
answers the next identical request from memory: a 304 when the phone has it, gzip when the
phone takes it. A view's side effect (counting an opened item, a search with no result)
travels with the answer as `on_hit`, and this layer runs it, with the request's WSGI environ,
for each real view only: a GET (not HEAD), not a browser's prefetch, not a game acting on
the site. The cache is bounded in bytes, not entries.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from flask import Response, request
from werkzeug.http import parse_etags

MARK = "X-Sanduq-Answer"
GZIP_FROM = 512  # smaller bodies gain nothing worth a header
GZIP_TYPES = ("text/", "application/json", "application/javascript", "image/svg+xml")


@dataclass
class Answer:
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    compressible: bool
    etag: str
    on_hit: Callable[[dict], object] | None
    gzipped: bytes | None = None  # made when a phone first asks for it

    @property
    def size(self) -> int:
        return len(self.body) + len(self.body) // 4 + 200  # and room for the gzip form, ~1/4 of it

    def gzip(self) -> bytes:
        if self.gzipped is None:
            self.gzipped = gzip.compress(self.body, 6, mtime=0)
        return self.gzipped


def from_a_game(environ: dict) -> bool:
    """A request made by a game: its sandbox gives it an opaque origin, which Chromium declares."""
    return environ.get("HTTP_SEC_FETCH_SITE") == "cross-site" or environ.get("HTTP_ORIGIN") == "null"


def is_a_view(environ: dict) -> bool:
    """A person asking to see this answer: a GET, not a prefetch, not a game."""
    purpose = environ.get("HTTP_SEC_PURPOSE", "") + environ.get("HTTP_PURPOSE", "")
    return environ["REQUEST_METHOD"] == "GET" and "prefetch" not in purpose and not from_a_game(environ)


def cacheable(response: Response, on_hit: Callable[[dict], object] | None = None,
              vary: str | None = "Accept-Language, Cookie") -> Response:
    """Mark RESPONSE as the same for every identical request until the catalog changes.

    ON_HIT(environ) runs for this request and every identical one that is a real view.
    """
    response.headers[MARK] = "1"
    if vary:
        response.headers.setdefault("Vary", vary)
    if "Cache-Control" not in response.headers:
        response.cache_control.no_cache = True  # revalidate each time: a 304 costs a few bytes
    if on_hit is not None:
        request.environ["sanduq.on_hit"] = on_hit
    return response


def _answer(status: str, headers: list[tuple[str, str]], body: bytes, on_hit) -> Answer:
    kept = tuple((k, v) for k, v in headers if k.lower() not in ("content-length", MARK.lower()))
    mime = next((v for k, v in kept if k.lower() == "content-type"), "")
    compressible = len(body) >= GZIP_FROM and mime.startswith(GZIP_TYPES)
    etag = hashlib.blake2b(body, digest_size=12).hexdigest()
    return Answer(status, kept, body, compressible, etag, on_hit)


class AnswerFront:
    """WSGI middleware holding answers in at most MAX_BYTES of memory."""

    def __init__(self, app, key: Callable[[], tuple], max_bytes: int):
        self.app = app
        self.key = key  # what besides the request makes an answer stale
        self.max_bytes = max_bytes
        self._answers: OrderedDict[tuple, Answer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        # The host too (a sandbox's policy names it) and whether a tab asks for the answer as its
        # page (a game's or player's file then answers with a way to its item page instead).
        key = (self.key(), environ.get("PATH_INFO"), environ.get("QUERY_STRING"),
               environ.get("HTTP_ACCEPT_LANGUAGE"), environ.get("HTTP_COOKIE"), environ.get("HTTP_HOST"),
               environ.get("HTTP_SEC_FETCH_DEST") == "document")
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
        if answer is None:
            captured: list = []
            body = self.app(environ, lambda status, headers, exc_info=None: captured.extend((status, headers)))
            status, headers = captured
            if not any(k == MARK for k, _ in headers) or not status.startswith("200"):
                start_response(status, headers)
                return body
            try:
                data = b"".join(body)
            finally:
                getattr(body, "close", lambda: None)()
            answer = _answer(status, headers, data, environ.get("sanduq.on_hit"))
            self._keep(key, answer)
        if answer.on_hit is not None and is_a_view(environ):
            answer.on_hit(environ)
        return self._send(answer, environ, start_response)

    def _keep(self, key: tuple, answer: Answer) -> None:
        if answer.size > self.max_bytes // 8:
            return  # one huge answer must not push out everything else
        with self._lock:
            old = self._answers.pop(key, None)
            self._bytes += answer.size - (old.size if old else 0)
            self._answers[key] = answer
            while self._bytes > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._bytes -= dropped.size

    @staticmethod
    def _send(answer: Answer, environ, start_response):
        use_gzip = answer.compressible and "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        # The gzip form is another representation, so it gets its own ETag (RFC 9110).
        etag = answer.etag + ("-gz" if use_gzip else "")
        headers = list(answer.headers) + [("ETag", f'"{etag}"')]
        vary = [i for i, (k, _) in enumerate(headers) if k.lower() == "vary"]
        if answer.compressible:
            if vary:
                headers[vary[0]] = ("Vary", f"{headers[vary[0]][1]}, Accept-Encoding")
            else:
                headers.append(("Vary", "Accept-Encoding"))
        asked = environ.get("HTTP_IF_NONE_MATCH")
        if asked and parse_etags(asked).contains_weak(etag):
            start_response("304 Not Modified", [h for h in headers if h[0].lower() != "content-type"])
            return []
        body = answer.gzip() if use_gzip else answer.body
        if use_gzip:
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response(answer.status, headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
