"""Answers built once and served many times: API JSON and pages, with ETag and gzip.

A classroom of phones asking for the same page costs one build per catalog change. Each
answer is kept with its gzip form (phones on a 20 Mbps hotspot shared by twenty: bytes are
the scarce thing) and an ETag, so a phone that has it already gets a 304 with no body.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable

from flask import Response, request

GZIP_FROM = 512  # smaller bodies gain nothing worth a header


@dataclass(frozen=True)
class Answer:
    body: bytes
    gzipped: bytes | None
    etag: str


def make_answer(body: bytes) -> Answer:
    gzipped = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_FROM else None
    return Answer(body, gzipped, hashlib.blake2b(body, digest_size=12).hexdigest())


class AnswerCache:
    """The most recently used answers; keys carry the catalog generation, so imports refresh them."""

    def __init__(self, size: int = 512):
        self.size = size
        self._answers: OrderedDict[Hashable, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], bytes]) -> Answer:
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        answer = make_answer(build())
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return answer


def respond(answer: Answer, mimetype: str, *, status: int = 200, vary: str = "Accept-Language, Cookie") -> Response:
    """A response for ANSWER: 304 when the phone has it, gzip when the phone takes it."""
    use_gzip = answer.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(answer.gzipped if use_gzip else answer.body, status=status, mimetype=mimetype)
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    # The gzip form is another representation: its own ETag, as RFC 9110 asks.
    response.set_etag(answer.etag + ("-gz" if use_gzip else ""))
    response.headers["Vary"] = ", ".join(filter(None, (vary, "Accept-Encoding")))
    response.cache_control.no_cache = True  # always revalidate: a 304 costs a few bytes
    if status == 200:
        response = response.make_conditional(request)
    return response
