"""Plain helpers the tests share: the test library's source, a live server's client and stop,
a system tool or a skip, polling. Fixtures and hooks live in conftest.py."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import pytest
from waitress import wasyncore

T = TypeVar("T")

ITEMS = """id,kind,languages,audiences,age_min,age_max,subjects,duration,title_tg,title_ru,title_en,description_ru,text_tg,text_ru,text_en,steps_tg,file,file_tg,file_ru,poster,subtitles_tg,licence,author,copyright,source
video-count,video,tg,children,3,6,numeracy,0:12,Ҳисоб то панҷ,Счёт до пяти,Counting to five,Считаем яблоки,,,,,media/count.mp4,,,media/cover.svg,media/count.tg.vtt,CC-BY-4.0,Рухшона Каримова,© 2021 Pratham Books,"Bloom Library, https://bloomlibrary.org/book/count-to-five-a-very-long-address-that-must-wrap"
doc-plan,document,tg ru,educators,,,teaching,,Нақшаи дарс барои омӯзгор,План урока для воспитателя,Lesson plan for teachers,,,,,,,media/plan.tg.md,media/plan.ru.md,,,,,,
tip-sleep,tip,tg ru en,parents,3,6,parenting health,,Хоби хуб,Хороший сон,Good sleep,,Ҳар шаб дар як вақт хобонед.,Укладывайте ребёнка в одно и то же время.,Put your child to bed at the same time every night.,,,,,,,Used with permission,Шӯъбаи маориф,,
act-shapes,activity,tg,parents children,4,6,numeracy creative,15:00,Шаклҳои ҷолиб,Весёлые фигуры,Fun shapes,,,,,"Коғаз гиред
Шаклҳоро буред",,,,,,,,,
book-cat,book,tg ru en,children,3,5,literacy,,Гурбача,Котёнок,The kitten,,,,,,,,,media/cover.svg,,CC-BY-SA-4.0,,© 2019 African Storybook,African Storybook
course-start,course,tg ru en,educators,,,teaching,,Оғози кор,Начало работы,Getting started,,,,,,,,,,,,,,
game-count,game,tg ru en,children,3,6,numeracy,,Бозии рақамҳо,Игра с цифрами,Number game,,,,,,media/game.zip,,,,,,,,
"""
PAGES = """book,page,picture,text_tg,text_ru,text_en,narration_ru
book-cat,1,media/cover.svg,Гурбача хоб аст.,Котёнок спит.,The kitten sleeps.,media/p1.ru.mp3
book-cat,2,media/page2.svg,Гурбача бедор шуд.,Котёнок проснулся.,The kitten woke up.,
"""
COURSES = """course,module,title_tg,title_ru,title_en,lessons
course-start,1,Дарси аввал,Первый урок,First lesson,doc-plan video-count
"""
MEDIA = {
    "count.mp4": b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40,
    "cover.svg": b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle r="4" cx="5" cy="5"/></svg>',
    "page2.svg": b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="4" height="4"/></svg>',
    "count.tg.vtt": "WEBVTT\n\n00:00.000 --> 00:02.000\nЯк, ду, се, чор, панҷ себ\n".encode(),
    "plan.tg.md": "# Нақшаи дарс\n\nБозӣ бо рақамҳо ва ҳуруфот.\n".encode(),
    "plan.ru.md": "# План урока\n\nИгры с числами и буквами.\n".encode(),
    "p1.ru.mp3": b"ID3" + bytes(500),
}


PHONE = {"width": 412, "height": 915}  # the viewport the browser tests open the site at


def game_zip(members: dict[str, bytes]) -> bytes:
    """A game as a content team ships it: a zip with index.html at its top."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return out.getvalue()


MEDIA["game.zip"] = game_zip({
    "index.html": b"<!doctype html><title>game</title><script src='game.js'></script><p id=ok>play</p>",
    "game.js": b"window.parent.postMessage({type: 'sanduq:finished', score: 5, total: 5}, '*');",
})


def write_source(root: Path, items: str = ITEMS, pages: str = PAGES, courses: str = COURSES) -> Path:
    """A small but complete authoring folder: every kind, three languages."""
    (root / "media").mkdir(parents=True, exist_ok=True)
    for name, data in MEDIA.items():
        (root / "media" / name).write_bytes(data)
    (root / "items.csv").write_text(items, encoding="utf-8")
    (root / "pages.csv").write_text(pages, encoding="utf-8")
    (root / "courses.csv").write_text(courses, encoding="utf-8")
    (root / "library.toml").write_text('channel = "test"\n', encoding="utf-8")
    return root


def folder_files(root: Path) -> dict[str, bytes]:
    """Every file under ROOT, by its path relative to ROOT."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@dataclass
class LiveServer:
    url: str
    app: object

    def get(self, path: str, headers: dict | None = None):
        """(status, headers, body) of a GET; errors are answers too."""
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, path: str, headers: dict | None = None):
        status, _, body = self.get(path, headers)
        return status, json.loads(body)


def stop_server(server, thread) -> None:
    """Stop a waitress server running in THREAD, cleanly and without leaking a descriptor.

    Inside waitress's loop, every channel but the wake-up trigger is closed and the trigger
    leaves the loop's map, so the loop ends; the trigger is closed only after that, here, so
    no descriptor is closed twice (a late close could hit a number a newer server reuses).
    The listening socket is closed as a plain dispatcher: the server's own close() closes the
    trigger too, which, run by the loop while this thread is still writing to the trigger,
    made that write fail with EBADF.
    """
    wrapper = server.trigger.socket  # its own duplicate of the pipe's descriptor

    def close_all():
        for channel in list(server._map.values()):
            if channel is server:
                wasyncore.dispatcher.close(server)
            elif channel is not server.trigger:
                channel.close()
        server.trigger.del_channel()

    server.trigger.pull_trigger(close_all)
    thread.join(timeout=10)
    assert not thread.is_alive(), "the server did not stop"
    server.task_dispatcher.shutdown()
    server.trigger.close()
    wrapper.close()


def need_tool(name: str) -> str:
    """The path of a system tool, or a skip (a failure under SANDUQ_NO_SKIP, see conftest.py)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (the README's test command installs it)")
    return path


def wait_for(condition: Callable[[], T], what: str, seconds: float = 30) -> T:
    """Poll CONDITION until it returns something true, and return that.

    SECONDS is a deadline for a hung test, not a timing assertion: it is generous on purpose.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


def shot(page, name: str) -> None:
    """Save a screenshot of a Playwright PAGE as NAME.png when SANDUQ_SCREENSHOTS names a folder
    (the README's screenshots are refreshed so: SANDUQ_SCREENSHOTS=docs/screenshots)."""
    folder = os.environ.get("SANDUQ_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))
