"""The answer front: built once, then served from memory with ETag, gzip and side effects."""

import gzip

import pytest

from flask import Flask, Response, request
from werkzeug.test import Client

from server.answers import AnswerFront, cacheable


def make(max_bytes=1_000_000):
    app = Flask(__name__)
    calls = {"built": 0, "hits": 0}
    generation = [1]

    @app.get("/page")
    def page():
        calls["built"] += 1
        size = int(request.args.get("size", "2000"))
        return cacheable(Response("x" * size, mimetype="text/html"), on_hit=lambda environ: calls.__setitem__("hits", calls["hits"] + 1))

    @app.get("/plain")
    def plain():
        calls["built"] += 1
        return "not marked"

    app.wsgi_app = AnswerFront(app.wsgi_app, key=lambda: generation[0], max_bytes=max_bytes)
    return Client(app), calls, generation


def test_built_once_then_served_with_side_effects():
    client, calls, generation = make()
    for _ in range(3):
        r = client.get("/page")
        assert r.status_code == 200 and r.data == b"x" * 2000
    assert calls == {"built": 1, "hits": 3}  # every view counts, the first one too
    generation[0] = 2  # the catalog changed
    client.get("/page")
    assert calls["built"] == 2
    assert "X-Sanduq-Answer" not in r.headers


@pytest.mark.parametrize("method,headers", [
    ("HEAD", {}),
    ("GET", {"Sec-Purpose": "prefetch"}),
    ("GET", {"Sec-Purpose": "prefetch;prerender"}),
    ("GET", {"Purpose": "prefetch"}),
    ("GET", {"Sec-Fetch-Site": "cross-site"}),  # a sandboxed game: its origin is opaque
    ("GET", {"Origin": "null"}),
])
def test_side_effects_only_for_a_real_view(method, headers):
    client, calls, _ = make()
    for _ in range(3):  # the first builds the answer, the others are served from memory
        assert client.open("/page", method=method, headers=headers).status_code == 200
    assert calls == {"built": 1, "hits": 0}
    client.get("/page", headers={"Sec-Fetch-Site": "same-origin"})
    assert calls["hits"] == 1


def test_etag_304_and_gzip():
    client, calls, _ = make()
    first = client.get("/page", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and gzip.decompress(first.data) == b"x" * 2000
    assert "Accept-Encoding" in first.headers["Vary"] and "Accept-Language" in first.headers["Vary"]
    again = client.get("/page", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    plain = client.get("/page", headers={"If-None-Match": first.headers["ETag"]})
    assert plain.status_code == 200 and plain.data == b"x" * 2000  # another representation
    assert client.head("/page").data == b""


def test_unmarked_and_errors_pass_through():
    client, calls, _ = make()
    client.get("/plain")
    client.get("/plain")
    assert calls["built"] == 2
    assert client.get("/nothing").status_code == 404


def test_bounded_in_bytes():
    client, calls, _ = make(max_bytes=100_000)
    for n in range(50):
        client.get(f"/page?size={5000 + n}")
    front = client.application.wsgi_app
    assert front._bytes <= 100_000 and len(front._answers) < 50
    client.get("/page?size=5049")  # the newest is kept
    assert calls["built"] == 50
