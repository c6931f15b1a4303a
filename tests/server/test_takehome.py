"""Take it home (server/takehome.py): the save link, the named file, the `saved` event, the list."""

import http.client
import re
import sqlite3
from html import unescape
from urllib.parse import quote, unquote, urlsplit

import pytest

from tests.helpers import wait_for


@pytest.fixture
def live(filled, serve):
    return serve(filled)


def ask(live, path: str, headers: dict | None = None):
    """(status, headers) of one GET, redirects not followed (the phone's first answer)."""
    connection = http.client.HTTPConnection(urlsplit(live.url).netloc, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        answer = connection.getresponse()
        answer.read()
        return answer.status, answer.headers
    finally:
        connection.close()


def saved_events(library) -> list[tuple]:
    with sqlite3.connect(library.data_dir / "usage.db") as conn:
        return conn.execute("SELECT item, lang FROM events WHERE type = 'saved'").fetchall()


def test_a_video_page_offers_a_plain_save_link_with_its_size(live):
    status, _, body = live.get("/item/video-count", {"Accept-Language": "tg"})
    html = body.decode()
    link = re.search(r'<a class="button save" href="([^"]+)" data-save><span>([^<]*)</span> <span class="size">([^<]*)</span>', html)
    assert status == 200 and link, "a link, not a button: it works without JavaScript"
    assert link.group(1) == "/save/video-count/tg"
    assert "Ба телефон нигоҳ доред" in link.group(2) and re.fullmatch(r"\d+ КБ", link.group(3))
    assert "data-takehome-add" in html and "Ба рӯйхати «Ба хона» илова кунед" in html


def test_saving_counts_once_and_sends_the_phone_to_the_file_under_its_title(live, filled):
    status, headers = ask(live, "/save/video-count/ru")
    assert status == 303 and headers["Cache-Control"] == "no-store"  # each tap is counted
    location = headers["Location"]
    sha = filled.catalog.get("video-count")["files"][0]["sha256"]
    assert location == f"/files/{sha}/{quote('Счёт до пяти.mp4')}"
    status, headers, body = live.get(location)
    assert status == 200 and body == filled.store.path(sha).read_bytes()
    assert headers["Content-Disposition"] == \
        f"attachment; filename=sanduq-{sha[:8]}.mp4; filename*=UTF-8''{quote('Счёт до пяти.mp4')}"
    assert "immutable" in headers["Cache-Control"]  # still the content-addressed file, never a copy
    status, headers, part = live.get(location, {"Range": "bytes=0-9"})  # a download manager resumes
    assert status == 206 and part == body[:10]
    assert wait_for(lambda: saved_events(filled), "the saved event on disk") == [("video-count", "ru")]


def test_an_ascii_title_is_its_own_plain_file_name(live, filled):
    _, headers = ask(live, "/save/video-count/en")
    _, got, _ = live.get(headers["Location"])
    assert got["Content-Disposition"] == "attachment; filename=\"Counting to five.mp4\"; " \
                                         "filename*=UTF-8''Counting%20to%20five.mp4"


@pytest.mark.parametrize("name", ["x.mp3", "x", quote('a"b.mp4'), "a%0Ab.mp4", "%FF.mp4", "a/b.mp4",
                                  quote("a\\b.mp4"), "", "x" * 201 + ".mp4"])
def test_the_named_address_gives_the_file_under_no_name_it_cannot_stand_behind(live, filled, name):
    sha = filled.catalog.get("video-count")["files"][0]["sha256"]
    status, headers, _ = live.get(f"/files/{sha}/{name}")
    assert status == 404 and "Content-Disposition" not in headers


def test_games_and_courses_cannot_go_home_and_say_so(live, filled):
    for item_id in ("game-count", "course-start"):
        _, _, body = live.get(f"/item/{item_id}", {"Accept-Language": "ru"})
        assert "/save/" not in body.decode()
        status, headers, body = live.get(f"/save/{item_id}/ru", {"Accept-Language": "ru"})
        assert status == 404 and headers["Content-Type"].startswith("text/html")
        assert "Это нельзя взять домой" in body.decode()
    status, _, body = live.get("/save/no-such-item/tg")
    assert status == 404 and "Traceback" not in body.decode()
    assert saved_events(filled) == []


def test_a_language_the_item_lacks_gives_the_nearest_and_a_junk_one_the_readers(live, filled):
    status, _, _ = live.get("/save/doc-plan/en")  # no PDF: a document's is made at build time
    assert status == 404
    for lang in ("xx", "t!"):
        status, headers = ask(live, f"/save/video-count/{quote(lang)}", {"Accept-Language": "tg"})
        assert status == 303 and unquote(headers["Location"]).endswith("/Ҳисоб то панҷ.mp4")


def test_the_take_home_list_adds_up_sizes_and_leaves_out_what_cannot_go(live, filled):
    size = filled.catalog.get("video-count")["files"][0]["size"]
    status, _, body = live.get("/take-home?items=video-count,game-count,no-such,video-count,..%2Fx",
                               {"Accept-Language": "ru"})
    html = unescape(body.decode())
    assert status == 200
    assert re.findall(r'href="(/save/[^"]+)"', html) == ["/save/video-count/ru"]
    assert f"Всего: {-(-size // 1000)} КБ" in html
    assert "Игры и курсы домой взять нельзя" in html  # the help is on the page, JavaScript or not


def test_an_empty_list_says_how_to_fill_it_and_the_footer_leads_there(live):
    _, _, body = live.get("/take-home", {"Accept-Language": "tg"})
    html = body.decode()
    assert "Рӯйхат дар ин телефон холӣ аст" in html and "/save/" not in html
    _, _, home = live.get("/", {"Accept-Language": "tg"})
    assert '<a href="/take-home">Ба хона</a>' in home.decode()


def test_a_long_list_is_cut_at_what_a_phone_could_keep(live):
    from server.takehome import MAX_LIST

    _, _, body = live.get("/take-home?items=" + ",".join(["video-count"] * 500 + ["x"] * 500))
    assert body.decode().count("/save/video-count/") == 1
    assert MAX_LIST < 100


def test_a_list_longer_than_a_phone_keeps_shows_its_first_sixty(tmp_path, serve):
    """The cut itself, on a library of 70 videos (the test above has too few items to reach it)."""
    from content_mirror.authoring import read_source
    from server.importer import install
    from server.library import Library
    from server.takehome import MAX_LIST
    from tests.helpers import write_source

    rows = "".join(f"v-{n:02d},video,tg,children,Видео {n},media/count.mp4\n" for n in range(70))
    source = write_source(tmp_path / "source", items="id,kind,languages,audiences,title_tg,file\n" + rows,
                          pages="book,page,picture\n", courses="course,module,title_tg,lessons\n")
    library = Library(tmp_path / "box")
    read = read_source(source)
    install(library, read.manifest, read.open)
    ids = [f"v-{n:02d}" for n in range(70)]
    _, _, body = serve(library).get("/take-home?items=no-such," + ",".join(ids) + "&lang=tg")
    saved = re.findall(r'href="/save/(v-\d\d)/tg"', body.decode())
    assert saved == ids[:MAX_LIST]  # an id gone from the library does not take a place


@pytest.mark.parametrize("title, name", [
    ('Қисса: "Гург/рӯбоҳ"?', "Қисса Гург рӯбоҳ"),
    ("Сказ\u00adка\u200b", "Сказка"),  # a soft hyphen, a zero width: a name with them is refused
    ("  ...\n\t ", "fallback-id"),
    ("Ҳ" * 200, "Ҳ" * 80),
])
def test_a_title_becomes_a_file_name_any_phone_keeps(title, name):
    from server.takehome import file_name

    assert file_name({"id": "fallback-id", "title": {"tg": title}}, "tg") == name


def test_sizes_read_as_people_read_them():
    from flask import Flask

    from server.takehome import size_text

    with Flask(__name__).test_request_context("/?lang=ru"):
        assert [size_text(n) for n in (1, 999_999, 1_000_000, 1_000_001, 16_400_000)] == \
            ["1 КБ", "1000 КБ", "1 МБ", "2 МБ", "17 МБ"]  # rounded up: a total never promises less


@pytest.fixture
def phone360(browser):
    """A 360x640 phone that accepts downloads, as Chrome on Android does with a tap."""
    contexts = []

    def open_phone(locale: str, javascript: bool = True):
        context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                                      locale=locale, accept_downloads=True, java_script_enabled=javascript)
        contexts.append(context)
        return context.new_page()

    yield open_phone
    for context in contexts:
        context.close()


def test_a_tajik_video_saved_on_the_phone_has_its_title_and_plays_with_the_network_off(site, phone360, tmp_path):
    from tests.helpers import shot

    page = phone360("tg")
    page.goto(site.url + "/item/video-counting-1-5?lang=tg")
    link = page.locator("a[data-save]")
    assert link.is_visible() and re.fullmatch(r"⬇ Ба телефон нигоҳ доред\s+\d+ КБ", link.inner_text().strip())
    shot(page, "takehome-video-tg-360")
    with page.expect_download() as saving:
        link.click()
    download = saving.value
    assert download.suggested_filename == "То панҷ мешуморем.mp4"
    kept = tmp_path / download.suggested_filename
    download.save_as(kept)
    # At home: no box, no network. The phone's own player opens the file it kept.
    offline = phone360("tg")
    offline.context.set_offline(True)
    offline.goto(kept.as_uri())
    offline.wait_for_function("() => { var v = document.querySelector('video'); return v && v.duration > 1; }")
    offline.evaluate("() => { var v = document.querySelector('video'); v.muted = true; return v.play(); }")
    offline.wait_for_function("() => document.querySelector('video').currentTime > 0.5", timeout=20_000)


def test_a_russian_song_saved_from_the_take_home_list_whose_sizes_add_up(site, phone360):
    from tests.helpers import shot

    page = phone360("ru")
    for item in ("audio-story-little-seed", "video-colours", "game-counting"):
        page.goto(f"{site.url}/item/{item}?lang=ru")
        add = page.locator("[data-takehome-add]")
        if item == "game-counting":  # a game needs the box: nothing to add, nothing to save
            assert add.count() == 0 and page.locator("a[data-save]").count() == 0
            continue
        add.click()
        assert add.is_disabled() and "В списке «Домой»" in add.inner_text()
    page.click("footer a[href='/take-home']")
    page.wait_for_url(re.compile(r"/take-home\?items="))
    rows = page.locator(".takehome-list li")
    assert rows.count() == 2
    sizes = [int(re.search(r"(\d+) КБ", t).group(1)) for t in rows.all_inner_texts()]
    total = int(re.search(r"Всего: (\d+) КБ", page.locator(".total").inner_text()).group(1))
    assert sum(sizes) - 1 <= total <= sum(sizes)  # each rounded up, the sum of bytes rounded once
    shot(page, "takehome-list-ru-360")
    with page.expect_download() as saving:
        rows.first.locator("a").click()
    assert saving.value.suggested_filename == "Маленькое семечко.mp3"
    rows.nth(1).locator("button").click()  # take one off the list
    page.wait_for_function("() => document.querySelectorAll('.takehome-list li').length === 1")
    assert page.evaluate("() => JSON.parse(localStorage.getItem('sanduq:takehome'))") == ["audio-story-little-seed"]


def test_without_javascript_the_link_still_saves_and_the_list_page_says_what_goes_home(site, phone360):
    page = phone360("tg", javascript=False)
    page.goto(site.url + "/item/audio-rhyme-five-fingers?lang=tg")
    assert page.locator("[data-takehome-add]").is_hidden()
    with page.expect_download() as saving:
        page.locator("a[data-save]").click()
    assert saving.value.suggested_filename.endswith(".mp3")
    page.goto(site.url + "/take-home")
    assert "Рӯйхат дар ин телефон холӣ аст" in page.inner_text("main")
    assert "Бозиҳо ва курсҳоро ба хона бурдан мумкин нест" in page.inner_text("main")


@pytest.mark.parametrize("item, lang, name, signature", [
    ("book-five-apples", "ru", "Пять яблок.mp4", b"ftyp"),     # a picture book goes home as a video
    ("tip-calm-bedtime", "tg", "Хоби ором.jpg", b"\xff\xd8\xff"),  # a tip as a card for the gallery
    ("doc-lesson-plan-counting", "tg", "Нақшаи машғулият То панҷ мешуморем.pdf", b"%PDF"),  # a plan, to print
])
def test_a_book_and_a_tip_are_saved_as_the_files_a_phone_opens(site, phone360, tmp_path, item, lang, name, signature):
    page = phone360(lang)
    page.goto(f"{site.url}/item/{item}?lang={lang}")
    with page.expect_download() as saving:
        page.locator("a[data-save]").click()
    assert saving.value.suggested_filename == name
    # Only a PDF makes the phone ask "keep this file?": the page says so, and what to answer.
    assert page.locator(".save-home small").count() == (1 if name.endswith(".pdf") else 0)
    path = tmp_path / name
    saving.value.save_as(path)
    assert signature in path.read_bytes()[:12]


def test_a_save_on_a_phone_reaches_the_field_officers_stick(live, filled, tmp_path):
    """/save counts it; the next stick carries it out with the other usage (usage.csv, the
    summary's saved column)."""
    import csv
    import io

    from server import settings as settings_table
    from usb_updater.process import process_stick

    assert ask(live, "/save/video-count/tg")[0] == 303
    wait_for(lambda: saved_events(filled), "the saved event on disk")
    stick = tmp_path / "stick"
    (stick / "sanduq").mkdir(parents=True)
    settings = settings_table.load({"data_dir": str(filled.data_dir), "disk_reserve_mb": 0,
                                    "status_dir": str(tmp_path / "run")}, env={})
    process_stick(filled, stick, settings)
    folder = stick / "sanduq" / "exports" / filled.device_id
    (month,) = folder.glob("usage-*.csv")
    rows = list(csv.DictReader(io.StringIO(month.read_text(encoding="utf-8-sig"))))
    assert [(r["type"], r["item"], r["language"]) for r in rows if r["type"] == "saved"] == [("saved", "video-count", "tg")]
    summary = list(csv.DictReader(io.StringIO((folder / "summary.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["item"], r["saved"]) for r in summary] == [("video-count", "1")]


def test_a_head_or_a_prefetch_of_the_save_link_is_not_a_save(live, filled):
    for method, headers in (("HEAD", {}), ("GET", {"Sec-Purpose": "prefetch"})):
        connection = http.client.HTTPConnection(urlsplit(live.url).netloc, timeout=10)
        connection.request(method, "/save/video-count/tg", headers=headers)
        assert connection.getresponse().status == 303
        connection.close()
    assert ask(live, "/save/video-count/tg")[0] == 303  # and a tap is
    assert wait_for(lambda: saved_events(filled), "the tap's event") == [("video-count", "tg")]
    import time

    time.sleep(0.3)
    assert saved_events(filled) == [("video-count", "tg")]
