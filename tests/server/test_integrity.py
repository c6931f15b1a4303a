"""The library heals itself: a damaged catalog is rebuilt, rotten files are set aside and
restored by the next stick, deltas name their exact base, a replaced video keeps playing.

Everything is real: real catalog.db pages overwritten on disk, real store files flipped or cut,
a real waitress server, real threads.
"""

import copy
import hashlib
import json
import os
import sqlite3
import threading

import pytest
import waitress

from content_mirror.authoring import read_source
from content_mirror.manifest import digest
from server import health
from server.app import close_app, create_app
from server.catalog import Filters
from server.errors import Refused
from server.importer import install
from server.library import Library
from server.scrub import Scrubber, scrub_pass
from tests.helpers import MEDIA, LiveServer, stop_server, wait_for

URLS = ["/", "/healthz", "/api/items", "/api/items/video-count", "/browse", "/item/book-cat",
        "/search?q=kitten", "/api/search?q=kitten"]


@pytest.fixture
def src(source):
    return read_source(source)


def checkpoint(path) -> None:
    """Fold the WAL into catalog.db, so the file on disk is the whole catalog."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def page_size_and_count(path) -> tuple[int, int]:
    header = path.read_bytes()[:100]
    size = int.from_bytes(header[16:18], "big")
    size = 65536 if size == 1 else size
    return size, path.stat().st_size // size


def overwrite_page(path, number: int) -> None:
    size, _ = page_size_and_count(path)
    with path.open("r+b") as f:
        f.seek((number - 1) * size)
        f.write(b"\xde\xad\xbe\xef" * (size // 4))


@pytest.mark.slow  # a server per page of the catalog
def test_every_damaged_page_is_answered_kindly_and_healed(filled):
    data_dir, path = filled.data_dir, filled.data_dir / "catalog.db"
    every = sorted(i["id"] for i in filled.catalog.items(Filters(), limit=50).items)
    pages_seen, number = 0, 1
    while True:
        checkpoint(path)
        _, count = page_size_and_count(path)
        if number > count:
            break
        overwrite_page(path, number)
        library = Library(data_dir, heal=False)  # a server that meets the damage while serving
        app = create_app({"data_dir": str(data_dir)}, library=library)
        server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        live = LiveServer(f"http://127.0.0.1:{server.effective_port}", app)
        try:
            for p in URLS:
                status, _, body = live.get(p)
                assert status in (200, 404, 503), (number, p, status, body[:200])
                if status == 503:
                    assert b"repaired" in body or "таъмир".encode() in body, (number, p, body[:200])

            def healthy():
                status, _, body = live.get("/healthz")
                return status == 200 and json.loads(body)["items"] == len(every)

            wait_for(healthy, f"the library back after page {number}")
        finally:
            stop_server(server, thread)
            close_app(app)
        if library._healer is not None:
            library._healer.join()
        library.heal_catalog()  # what a restart does: damage no URL met is found too
        assert sorted(i["id"] for i in library.catalog.items(Filters(), limit=50).items) == every
        library.catalog.close()
        pages_seen += 1
        number += 1
    assert pages_seen >= 20
    assert list((data_dir / "set-aside").glob("catalog-*.db"))


def test_a_damaged_catalog_is_rebuilt_at_start_and_told(filled):
    path = filled.data_dir / "catalog.db"
    checkpoint(path)
    overwrite_page(path, 2)
    library = Library(filled.data_dir)
    assert library.catalog.count() == 7 and library.catalog.problem() is None
    assert list((filled.data_dir / "set-aside").glob("catalog-*.db"))
    assert {"code": "catalog-rebuilt", "items": 7} in health.problems(filled.data_dir)


def test_the_same_stick_again_is_already_installed_after_a_rebuild(filled, src):
    path = filled.data_dir / "catalog.db"
    checkpoint(path)
    path.write_bytes(b"not a database at all" * 100)
    library = Library(filled.data_dir)
    assert install(library, src.manifest, src.open).status == "already installed"
    assert library.catalog.count() == 7 and library.catalog.sequences() == {"test": 1}


def video_sha(library) -> str:
    return next(f["sha256"] for f in library.catalog.get("video-count")["files"] if f["role"] == "main")


def test_flipped_bytes_are_found_by_the_scrubber_and_restored_by_the_same_stick(filled, src, serve):
    live = serve(filled)
    sha = video_sha(filled)
    path = filled.store.path(sha)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    assert scrub_pass(filled.store, mb_per_second=None, stop=threading.Event()) == [sha]
    status, _, body = live.get(f"/files/{sha}.mp4")
    assert status == 404 and b"next stick" in body
    # Told once, as set aside (it is missing too, but one sentence per file is enough).
    assert health.problems(filled.data_dir) == [{"code": "files-quarantined", "count": 1}]
    again = install(filled, src.manifest, src.open)
    assert again.status == "already installed" and again.files_copied == 1
    assert live.get(f"/files/{sha}.mp4")[2] == MEDIA["count.mp4"]
    assert health.problems(filled.data_dir) == []


@pytest.mark.parametrize("range_", [None, "bytes=9000-", "bytes=0-99"])
def test_a_truncated_file_is_never_served_short(filled, serve, range_):
    live = serve(filled)
    sha = video_sha(filled)
    path = filled.store.path(sha)
    path.write_bytes(path.read_bytes()[:5000])
    status, _, body = live.get(f"/files/{sha}.mp4", {"Range": range_} if range_ else {})
    assert status == 404 and b"next stick" in body
    assert (filled.store.quarantined / sha).is_file() and not filled.store.has(sha)


def test_a_newer_full_update_restores_an_unnoticed_short_file(filled, src):
    sha = video_sha(filled)
    filled.store.path(sha).write_bytes(b"short")
    install(filled, dict(src.manifest, sequence=2), src.open)
    assert filled.store.path(sha).read_bytes() == MEDIA["count.mp4"]


def delta_from(base: dict, sequence: int, **changes) -> dict:
    return {"format": "sanduq-bundle/1", "channel": base["channel"], "sequence": sequence, "full": False,
            "since": base["sequence"], "base": digest(base), "items": [], "files": {}, "remove": [], **changes}


def test_a_delta_lacking_a_file_the_box_lost_names_the_full_update(filled, src):
    sha = video_sha(filled)
    filled.store.quarantine(sha)
    item = copy.deepcopy(next(i for i in src.manifest["items"] if i["id"] == "video-count"))
    item["title"]["en"] = "Counting again"
    files = {ref["sha256"]: src.manifest["files"][ref["sha256"]] for ref in item["files"]}
    delta = delta_from(src.manifest, 2, items=[item], files=files)

    def stick_without_it(wanted):
        if wanted == sha:
            raise Refused(f"file {sha[:12]}… is missing from the bundle")
        return src.open(wanted)

    with pytest.raises(Refused, match="has lost file .* bring the full update of channel test"):
        install(filled, delta, stick_without_it)


def test_a_delta_made_from_another_base_is_refused(filled, src):
    other_team = dict(copy.deepcopy(src.manifest), items=src.manifest["items"][:2])
    with pytest.raises(Refused, match="bring the full update of channel test"):
        install(filled, delta_from(other_team, 2, remove=["tip-sleep"]), src.open)
    assert filled.catalog.count() == 7


def test_a_delta_since_an_older_full_is_refused_on_a_newer_box(filled, src):
    full3 = dict(copy.deepcopy(src.manifest), sequence=3)
    full3["items"] = [i for i in full3["items"] if i["id"] != "tip-sleep"]
    install(filled, full3, src.open)
    since_1 = delta_from(src.manifest, 4, remove=["act-shapes"])  # made before 3 dropped tip-sleep
    with pytest.raises(Refused, match="bring the full update of channel test"):
        install(filled, since_1, src.open)
    install(filled, delta_from(full3, 4, remove=["act-shapes"]), src.open)
    assert filled.catalog.count() == 5


def test_a_replaced_video_keeps_playing_until_the_next_import(filled, src, serve, tmp_path):
    live = serve(filled)
    old = video_sha(filled)
    new_video = tmp_path / "new.mp4"
    new_video.write_bytes(MEDIA["count.mp4"] + b"v2")
    new = hashlib.sha256(new_video.read_bytes()).hexdigest()
    manifest = copy.deepcopy(src.manifest)
    manifest["sequence"] = 2
    manifest["files"][new] = {"size": new_video.stat().st_size, "mime": "video/mp4"}
    for ref in next(i for i in manifest["items"] if i["id"] == "video-count")["files"]:
        if ref["sha256"] == old:
            ref["sha256"] = new
    del manifest["files"][old]
    paths = dict(src.paths, **{new: new_video})

    def opener(sha):
        return paths[sha].open("rb")

    install(filled, manifest, opener)
    status, headers, body = live.get(f"/files/{old}.mp4", {"Range": "bytes=100-"})
    assert status == 206 and body == MEDIA["count.mp4"][100:]
    assert "immutable" not in headers["Cache-Control"]
    install(filled, dict(manifest, sequence=3), opener)
    assert live.get(f"/files/{old}.mp4")[0] == 404


def test_new_follows_install_order_not_the_clock(filled, src):
    manifest = copy.deepcopy(src.manifest)
    manifest["sequence"] = 2
    next(i for i in manifest["items"] if i["id"] == "tip-sleep")["title"]["en"] = "Sleep well"
    filled.catalog.apply(manifest, now="2001-01-01T00:00:00Z", digest=digest(manifest))  # clock behind
    assert filled.catalog.items(Filters(), limit=1).items[0]["id"] == "tip-sleep"


def test_the_scrubber_runs_at_nice_19_and_stops_promptly(filled):
    scrubber = Scrubber(filled.store, mb_per_second=0.001, every_hours=24, start_delay=0)
    scrubber.start()
    thread = scrubber._thread
    wait_for(lambda: os.getpriority(os.PRIO_PROCESS, thread.native_id) == 19, "nice 19")
    scrubber.stop()  # it is mid-file, reading a byte a millisecond
    assert not thread.is_alive()


def test_close_app_stops_the_scrubber(filled):
    app = create_app({"data_dir": str(filled.data_dir)}, library=filled)
    thread = app.extensions["sanduq"].scrubber._thread
    assert thread.is_alive()
    close_app(app)
    assert not thread.is_alive()


def test_check_finds_and_repairs(filled):
    assert health.check(filled, repair=False) == []
    sha = video_sha(filled)
    path = filled.store.path(sha)
    path.write_bytes(path.read_bytes()[::-1])
    found = health.check(filled, repair=False)
    assert len(found) == 1 and "is damaged" in found[0] and filled.store.has(sha)
    repaired = health.check(filled, repair=True)
    assert any("set aside" in s for s in repaired) and not filled.store.has(sha)
    assert any("is missing" in s for s in health.check(filled, repair=False))


def test_check_rebuilds_a_damaged_catalog(filled):
    checkpoint(filled.data_dir / "catalog.db")
    overwrite_page(filled.data_dir / "catalog.db", 3)
    library = Library(filled.data_dir, heal=False)
    said = health.check(library, repair=True)
    assert said[0].startswith("The catalog is damaged") and "rebuilt" in said[1]
    assert library.catalog.count() == 7 and health.check(library, repair=False) == []


def damage_header(library) -> None:
    """Overwrite the catalog's first page on disk, with everything checkpointed into the file first."""
    library.catalog.close()
    checkpoint(library.data_dir / "catalog.db")
    overwrite_page(library.data_dir / "catalog.db", 1)


def test_a_catalog_rebuilt_by_another_process_is_read_by_this_one(filled):
    """The USB daemon keeps its library open for days; `check --repair` (another process) may
    rebuild the catalog meanwhile. The daemon's next look must be at the new file, not the old."""
    other = Library(filled.data_dir, heal=False)
    assert filled.catalog.count() == other.catalog.count() == 7
    damage_header(filled)
    assert other.heal_catalog() == 7
    filled.catalog.refresh()  # what install() does under the import lock; else within a second
    assert filled.catalog.count() == 7 and filled.catalog.problem() is None
    assert filled.catalog.generation() == other.catalog.generation()


def test_an_update_installed_whose_manifest_was_not_kept_is_kept_by_the_next_insert(filled, src):
    """A power cut after the switch but before the manifest was kept (or a card that lost it):
    the same stick, 'already installed', keeps it again, so a later rebuild knows the update."""
    for kept in (filled.data_dir / "manifests").iterdir():
        kept.unlink()
    assert install(filled, src.manifest, src.open).status == "already installed"
    damage_header(filled)
    assert filled.heal_catalog() == 7


def test_a_rebuild_leaves_out_a_delta_whose_base_is_lost(filled, src):
    """A rebuild never makes a library matching neither update: a delta whose base manifest is
    unreadable is left out, and the channel waits for its full update."""
    install(filled, delta_from(src.manifest, 2, remove=["tip-sleep"]), src.open)
    assert filled.catalog.count() == 6
    base = next(p for p in (filled.data_dir / "manifests").iterdir() if p.name.endswith("-1-test.json"))
    base.write_text("not json")  # the card lost the full update's manifest
    damage_header(filled)
    assert filled.heal_catalog() == 0 and filled.catalog.sequences() == {}
    assert install(filled, src.manifest, src.open).status == "installed"  # the full update mends it
