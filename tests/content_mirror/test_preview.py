"""sanduq-mirror preview: a real authoring folder, real watchdog, a real waitress server."""

import signal
import socket
import tempfile
import threading
from html import unescape
from pathlib import Path

import pytest
from watchdog.events import FileCreatedEvent, FileModifiedEvent, FileMovedEvent

from content_mirror.authoring import read_source
from content_mirror.cli import main
from content_mirror.preview import Preview, faults_of, matters
from server import settings as settings_table
from server.errors import InvalidSource
from server.http_server import create_server
from tests.helpers import ITEMS, LiveServer, stop_server, wait_for

BANNER = "This preview is out of date"
# Two faults at once: a kind that does not exist, a file that does not; and a title changed
# in the same save, which must not be shown while the faults stand.
BROKEN = (ITEMS.replace("tip-sleep,tip,", "tip-sleep,tipp,")
          .replace("media/count.mp4", "media/missing.mp4")
          .replace("Fun shapes", "Broken shapes"))


@pytest.fixture
def previewing():
    """Start a Preview of a folder behind a real waitress server on 127.0.0.1, port 0; stop both after."""
    started = []

    def start(source: Path) -> tuple[Preview, LiveServer, list[str]]:
        said: list[str] = []
        settings = settings_table.load({"host": "127.0.0.1", "port": 0, "usage_flush_seconds": 0.05})
        preview = Preview(source, settings, report=said.append).__enter__()
        server = create_server(preview, settings)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((preview, server, thread))
        preview.start()
        return preview, LiveServer(f"http://127.0.0.1:{server.effective_port}", preview), said

    yield start
    for preview, server, thread in started:
        stop_server(server, thread)
        preview.close()


def page(live: LiveServer, path: str) -> str:
    status, _, body = live.get(path)
    assert status == 200
    return unescape(body.decode())


def test_the_site_is_the_folder_as_a_box_shows_it(previewing, source):
    preview, live, said = previewing(source)
    assert said == ["Built: 7 items, 4 warnings (sanduq-mirror check lists them)"]
    home = page(live, "/?lang=en")
    assert "Good sleep" in home and "Fun shapes" in home and BANNER not in home
    status, headers, body = live.get("/item/video-count?lang=en")
    assert status == 200 and "Counting to five" in body.decode()
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    video = main_file(source, "video-count")
    assert f"/files/{video}.mp4" in body.decode()
    assert live.get(f"/files/{video}.mp4")[2] == (source / "media/count.mp4").read_bytes()
    assert live.json("/preview.json") == (200, {"builds": 1, "serving": 1, "items": 7, "faults": []})


@pytest.mark.slow
def test_a_changed_title_is_shown_after_a_rebuild(previewing, source):
    preview, live, said = previewing(source)
    items = source / "items.csv"
    items.write_text(ITEMS.replace("Good sleep", "Sleep well"), encoding="utf-8")
    wait_for(lambda: preview.builds == 2, "a rebuild")
    assert "Sleep well" in page(live, "/item/tip-sleep?lang=en")
    assert "Good sleep" not in page(live, "/?lang=en")
    assert said[-1] == "Rebuilt: 7 items, 4 warnings (sanduq-mirror check lists them)"
    # The files that did not change are the last build's, linked, not copied again.
    stored = [p for p in (preview.folder / f"build-{preview.builds}" / "store").glob("??/*")]
    assert len(stored) == len(read_source(source).manifest["files"])
    assert all(p.stat().st_nlink == 2 for p in stored)


@pytest.mark.slow
def test_a_burst_of_saves_makes_one_or_two_rebuilds_not_ten(previewing, source):
    preview, live, said = previewing(source)
    for n in range(10):  # as a spreadsheet saving in steps, or a person pressing Ctrl-S again and again
        (source / "items.csv").write_text(ITEMS.replace("Good sleep", f"Sleep tight {n}"), encoding="utf-8")
    wait_for(lambda: preview.builds >= 2 and "Sleep tight 9" in page(live, "/item/tip-sleep?lang=en"),
             "the last save is shown")
    assert preview.builds <= 3


@pytest.mark.slow
def test_a_broken_sheet_keeps_the_last_good_library_and_says_what_to_fix(previewing, source):
    preview, live, said = previewing(source)
    video = main_file(source, "video-count")
    with pytest.raises(InvalidSource) as raised:
        read_source(write(source, BROKEN))
    faults = faults_of(raised.value)
    assert len(faults) == 2 and "media/missing.mp4" in faults[0] and "column kind" in faults[1]
    wait_for(lambda: preview.builds == 2, "the broken sheet is read")
    assert live.json("/preview.json")[1] == {"builds": 2, "serving": 1, "items": 7, "faults": faults}
    assert said[-1] == "2 faults: " + "; ".join(faults)
    for path in ("/?lang=en", "/item/video-count?lang=en"):
        shown = page(live, path)
        assert f"{BANNER}: fix these in {source} and save:" in shown
        assert all(f"<li>{fault}</li>" in shown for fault in faults)
    home = page(live, "/?lang=en")
    assert "Fun shapes" in home and "Broken shapes" not in home  # the last good library
    assert live.get(f"/files/{video}.mp4")[0] == 200
    write(source, ITEMS)
    wait_for(lambda: preview.builds == 3, "the mended sheet is read")
    assert BANNER not in page(live, "/?lang=en") and "Fun shapes" in page(live, "/?lang=en")
    assert live.json("/preview.json")[1] == {"builds": 3, "serving": 3, "items": 7, "faults": []}
    assert said[-1].startswith("Rebuilt: 7 items")


def test_a_folder_broken_from_the_start_shows_an_empty_library_and_its_faults(previewing, source):
    preview, live, said = previewing(write(source, BROKEN))
    assert live.json("/preview.json")[1] == {"builds": 1, "serving": 0, "items": 0, "faults": preview.faults}
    assert len(preview.faults) == 2 and said == ["2 faults: " + "; ".join(preview.faults)]
    home = page(live, "/?lang=en")
    assert BANNER in home and preview.faults[0] in home and "Good sleep" not in home


@pytest.mark.slow
def test_stopping_ends_every_thread_and_deletes_every_build(source):
    before = set(threading.enumerate())
    settings = settings_table.load({"host": "127.0.0.1", "port": 0})
    with Preview(source, settings, report=lambda line: None) as preview:
        server = create_server(preview, settings)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            preview.start()
            write(source, ITEMS.replace("Good sleep", "Sleep well"))
            wait_for(lambda: preview.builds == 2, "a rebuild")
            # The build served before is kept until the next swap (a video may still be playing from it).
            assert sorted(p.name for p in preview.folder.iterdir()) == ["build-1", "build-2"]
        finally:
            stop_server(server, thread)
    assert set(threading.enumerate()) == before
    assert not preview.folder.exists()


@pytest.mark.parametrize("path,counts", [
    ("items.csv", True), ("media/count.mp4", True), ("media/new/cover.svg", True),
    (".~lock.items.csv#", False), ("~$items.xlsx", False), ("media/lu1234.tmp", False),
    (".git/index", False), (".sanduq-cache/videos/abc.mp4", False), ("media/.sanduq-cache", False),
    ("media/.DS_Store", False), ("media/notes~", False),
])
def test_lock_files_caches_and_version_control_start_no_build(tmp_path, path, counts):
    assert matters(FileModifiedEvent(str(tmp_path / path)), tmp_path) is counts
    assert matters(FileCreatedEvent(str(tmp_path / path)), tmp_path) is counts


def test_a_temporary_file_saved_over_a_sheet_starts_a_build(tmp_path):
    """LibreOffice and Excel write a temporary file, then rename it over the sheet."""
    assert matters(FileMovedEvent(str(tmp_path / "lu1234.tmp"), str(tmp_path / "items.csv")), tmp_path)
    assert matters(FileMovedEvent(str(tmp_path / "items.csv"), str(tmp_path / "items.csv~")), tmp_path)
    assert not matters(FileMovedEvent(str(tmp_path / "a.tmp"), str(tmp_path / "b.tmp")), tmp_path)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_command_serves_until_stopped_and_leaves_nothing_behind(source, tmp_path, monkeypatch, capsys, stop):
    """The real command in this (main) thread; another sends the signal a person's Ctrl-C would."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    port = free_port()
    seen, returned = [], threading.Event()

    def look_then_stop():
        live = LiveServer(f"http://127.0.0.1:{port}", None)
        try:
            wait_for(lambda: answers(live), "the preview answers")
            seen.append(page(live, "/?lang=en"))
        finally:
            if not returned.is_set():  # the command is still serving: stop it
                signal.pthread_kill(threading.main_thread().ident, stop)

    helper = threading.Thread(target=look_then_stop)
    helper.start()
    try:
        code = main(["preview", str(source), "--port", str(port)])
    finally:
        returned.set()
        helper.join()
    out, err = capsys.readouterr()
    assert code == 130 and err == "Stopped.\n"
    assert "Built: 7 items" in out and f"at http://127.0.0.1:{port}/" in out
    assert "Good sleep" in seen[0]
    assert list(temp.iterdir()) == []


def test_a_missing_folder_is_one_sentence(tmp_path, capsys):
    assert main(["preview", str(tmp_path / "nowhere")]) == 1
    _, err = capsys.readouterr()
    assert err == f"{tmp_path / 'nowhere'} is not a folder; give the authoring folder that holds items.csv.\n"


def test_a_port_in_use_is_one_sentence(source, tmp_path, monkeypatch, capsys):
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["preview", str(source), "--port", str(port)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"Cannot serve the preview on 127.0.0.1 port {port} (") and "--port" in err
    assert list(temp.iterdir()) == []


def write(source: Path, items: str) -> Path:
    (source / "items.csv").write_text(items, encoding="utf-8")
    return source


def main_file(source: Path, item_id: str) -> str:
    item = next(i for i in read_source(source).manifest["items"] if i["id"] == item_id)
    return next(f["sha256"] for f in item["files"] if f["role"] == "main")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(live: LiveServer) -> bool:
    try:
        return live.get("/preview.json")[0] == 200
    except OSError:
        return False


@pytest.mark.slow
def test_what_the_last_build_made_to_take_home_is_offered_and_an_edit_waits_for_the_next(previewing, source):
    from content_mirror.takehome import add_takehome
    from tests.helpers import need_tool

    need_tool("rsvg-convert")
    add_takehome(read_source(source), source, report=lambda _: None)  # as `build` leaves the cache
    preview, live, said = previewing(source)
    assert "/save/tip-sleep/tg" in page(live, "/item/tip-sleep?lang=tg")
    sheet = source / "items.csv"
    sheet.write_text(sheet.read_text(encoding="utf-8").replace("Хоби хуб", "Хоби хуби шабона"), encoding="utf-8")
    wait_for(lambda: "Хоби хуби шабона" in page(live, "/item/tip-sleep?lang=tg"), "the edit shown")
    # Its Tajik card has the old words, so it waits for the next build; until then a Tajik
    # reader is offered the nearest language's, as any text falls back.
    _, headers, _ = live.get("/save/tip-sleep/tg")
    assert headers.get_content_type() == "image/jpeg" and "filename*=UTF-8''%D0%A5%D0%BE%D1%80" in headers["Content-Disposition"]
