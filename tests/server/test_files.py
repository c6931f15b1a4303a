"""Content files through a real waitress server: Range, ETag, 304, caching, nothing else."""

import hashlib

import pytest

from tests.helpers import MEDIA


@pytest.fixture
def live(filled, serve):
    return serve(filled)


@pytest.fixture
def video(live):
    _, item = live.json("/api/items/video-count")
    return next(f for f in item["files"] if f["role"] == "main")


def test_whole_file_with_long_lived_caching(live, video):
    status, headers, body = live.get(video["url"])
    assert status == 200 and body == MEDIA["count.mp4"]
    assert hashlib.sha256(body).hexdigest() == video["sha256"]
    assert headers["Content-Type"] == "video/mp4"
    assert headers["ETag"] == f'"{video["sha256"]}"'
    assert "immutable" in headers["Cache-Control"] and "max-age=31536000" in headers["Cache-Control"]
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("sandbox")
    assert video["url"].endswith(".mp4")


@pytest.mark.parametrize("range_,start,end", [
    ("bytes=0-99", 0, 100), ("bytes=100-", 100, None), ("bytes=-50", -50, None),
    ("bytes=10000-99999999", 10000, None),
])
def test_ranges(live, video, range_, start, end):
    data = MEDIA["count.mp4"]
    status, headers, body = live.get(video["url"], {"Range": range_})
    assert status == 206
    expected = data[start:end]
    assert body == expected and int(headers["Content-Length"]) == len(expected)
    first = start if start >= 0 else len(data) + start
    assert headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"


@pytest.mark.parametrize("range_", ["bytes=999999-", "bytes=5-2"])
def test_unsatisfiable_range_is_416(live, video, range_):
    status, headers, _ = live.get(video["url"], {"Range": range_})
    assert status == 416 and headers["Content-Range"] == f"bytes */{video['size']}"


@pytest.mark.parametrize("range_", ["bytes=abc", "pages=1-2", "bytes=--1"])
def test_malformed_range_is_ignored_or_416(live, video, range_):
    status, _, body = live.get(video["url"], {"Range": range_})
    assert status in (200, 416)
    if status == 200:
        assert body == MEDIA["count.mp4"]


def test_etag_and_if_range(live, video):
    status, _, body = live.get(video["url"], {"If-None-Match": f'"{video["sha256"]}"'})
    assert status == 304 and body == b""
    status, _, body = live.get(video["url"], {"Range": "bytes=0-9", "If-Range": f'"{video["sha256"]}"'})
    assert status == 206 and len(body) == 10
    status, _, body = live.get(video["url"], {"Range": "bytes=0-9", "If-Range": '"other-version"'})
    assert status == 200 and body == MEDIA["count.mp4"]


def test_mime_types(live):
    _, book = live.json("/api/items/book-cat")
    _, doc = live.json("/api/items/doc-plan")
    mimes = {f["mime"] for f in book["files"] + doc["files"]}
    assert mimes == {"image/svg+xml", "audio/mpeg", "text/markdown"}
    for f in book["files"] + doc["files"]:
        status, headers, _ = live.get(f["url"])
        assert status == 200 and headers["Content-Type"].startswith(f["mime"])


@pytest.mark.parametrize("path", [
    "/files/../catalog.db", "/files/%2e%2e%2fcatalog.db", "/files/..%2F..%2Fetc%2Fpasswd",
    "/files/" + "0" * 64, "/files/" + "A" * 64, "/files/catalog.db", "/files/",
])
def test_nothing_outside_the_library(live, path):
    status, _, body = live.get(path)
    assert status == 404 and b"root:" not in body and b"SQLite" not in body


def test_wrong_extension_and_unlisted_files_are_404(live, video, filled):
    status, _, _ = live.get(f"/files/{video['sha256']}.html")
    assert status == 404
    # A file in the store that no item names (an orphan) is not served.
    import io
    data = b"orphan bytes"
    sha = hashlib.sha256(data).hexdigest()
    filled.store.add(io.BytesIO(data), sha, len(data))
    assert live.get(f"/files/{sha}")[0] == 404
