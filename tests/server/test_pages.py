"""The phone site's pages through a real waitress server: languages, kinds, sizes, safety."""

import gzip
import http.client
import re
from html import unescape
from urllib.parse import urlsplit

import pytest

from tests.helpers import ITEMS, game_zip, write_source


@pytest.fixture
def live(filled, serve):
    return serve(filled)


def test_home_puts_the_three_audiences_first(live):
    status, headers, body = live.get("/", {"Accept-Language": "tg"})
    html = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    links = re.findall(r'href="/browse\?audience=(\w+)"', html)
    assert links == ["children", "parents", "educators"]
    assert html.index("audience=children") < html.index("Навиҳои китобхона")
    assert "Кӯдакон" in html and 'lang="tg"' in html
    assert "default-src 'self'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("headers,query,lang,word", [
    ({"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}, "", "ru", "Детям"),
    ({"Accept-Language": "en-GB"}, "", "en", "Children"),
    ({}, "", "tg", "Кӯдакон"),                                     # the default: Tajik
    ({"Accept-Language": "ru", "Cookie": "lang=en"}, "", "en", "Children"),  # a choice is kept
    ({"Accept-Language": "en"}, "?lang=ru", "ru", "Детям"),
    ({"Accept-Language": "de"}, "?lang=xx", "tg", "Кӯдакон"),
])
def test_language_from_phone_choice_or_default(live, headers, query, lang, word):
    status, got, body = live.get("/" + query, headers)
    assert f'<html lang="{lang}">' in body.decode() and word in body.decode()


def test_switching_language_sets_a_lasting_cookie(live):
    _, headers, _ = live.get("/browse?lang=ru&audience=parents")
    assert "lang=ru" in headers["Set-Cookie"] and "Max-Age" in headers["Set-Cookie"]


def test_every_page_links_every_language_for_this_page(live):
    _, _, body = live.get("/browse?audience=children&age=4", {"Accept-Language": "ru"})
    html = body.decode()
    for code in ("tg", "ru", "en"):
        assert f'href="/browse?audience=children&amp;age=4&amp;lang={code}"' in html


@pytest.mark.parametrize("item_id,expected", [
    ("video-count", ["<video", 'kind="subtitles"', 'srclang="tg"']),
    ("book-cat", ['class="book"', "Гурбача хоб аст.", "<audio"]),
    ("doc-plan", ['<div class="doc" lang="tg"><p>Бозӣ бо рақамҳо']),  # its own heading repeated the title; in its language
    ("tip-sleep", ["Ҳар шаб дар як вақт хобонед."]),
    ("act-shapes", ["<ol class=\"steps\">", "<li>Шаклҳоро буред</li>"]),
    ("course-start", ["Дарси аввал", 'href="/item/doc-plan"', "/item/course-start/record"]),
    ("game-count", ['sandbox="allow-scripts"', "/play/"]),
])
def test_item_pages_for_every_kind(live, item_id, expected):
    status, _, body = live.get(f"/item/{item_id}", {"Accept-Language": "tg"})
    html = body.decode()
    assert status == 200
    for text in expected:
        assert text in html
    # The item's language, short and in the reader's script, and its whole name for a screen reader.
    assert '<span class="badge" aria-hidden="true">тоҷ.</span><span class="sr" lang="tg">Тоҷикӣ</span>' in html


def credit_line(html: str) -> str | None:
    found = re.search(r'<p class="meta credit">(.*?)</p>', html, re.S)
    return found and found.group(1)


def test_item_page_credits_the_work_in_the_readers_language(live):
    """Issue 11: CC BY requires credit. The labels are in the reader's language; the data
    (names, the licence, the source) as written, marked as of no declared language, so a
    Tajik page has no English word of its own."""
    credit = credit_line(live.get("/item/video-count", {"Accept-Language": "tg"})[2].decode())
    assert credit.startswith("Муаллиф: ")
    assert "Рухшона Каримова" in credit and "© 2021 Pratham Books" in credit
    assert "Иҷозатнома: <span" in credit and ">CC BY 4.0</span>" in credit  # not "CC-BY-4.0"
    assert "Манбаъ: <span" in credit and "https://bloomlibrary.org/book/count-to-five" in credit
    assert "<a " not in credit  # a box is offline: the source is words, never a link out
    words = unescape(re.sub(r'<span lang="" translate="no">[^<]*</span>', "", credit))
    assert not re.findall(r"[A-Za-z]{2,}", words)
    credit = credit_line(live.get("/item/book-cat", {"Accept-Language": "ru"})[2].decode())
    assert "Лицензия: <span" in credit and ">CC BY-SA 4.0<" in credit and "Источник: " in credit
    assert "Автор" not in credit  # only what the item has
    assert ">Used with permission<" in credit_line(live.get("/item/tip-sleep?lang=tg")[2].decode())
    assert credit_line(live.get("/item/doc-plan?lang=tg")[2].decode()) is None


def test_search_page_and_kind_empty_result(live, filled):
    _, _, body = live.get("/search?q=%D1%85%D0%B8%D1%81%D0%BE%D0%B1", {"Accept-Language": "tg"})
    assert "/item/video-count" in body.decode()
    _, _, body = live.get("/search?q=zebra", {"Accept-Language": "ru"})
    html = body.decode()
    assert "ничего не найдено" in html and "/item/video-count" in html  # something to watch instead


def test_errors_are_pages_in_the_readers_language(live):
    status, headers, body = live.get("/item/no-such-thing", {"Accept-Language": "ru"})
    assert status == 404 and "Страница не найдена" in body.decode() and headers["Content-Type"].startswith("text/html")
    status, _, body = live.get("/no/such/page", {"Accept-Language": "tg"})
    assert status == 404 and "Ин саҳифа ёфт нашуд" in body.decode()


def test_titles_with_markup_are_shown_as_text(tmp_path, serve):
    from content_mirror.authoring import read_source
    from server.importer import install
    from server.library import Library

    root = write_source(tmp_path / "src", items=ITEMS.replace("Counting to five", "<script>alert(1)</script>"))
    library = Library(tmp_path / "data")
    source = read_source(root)
    install(library, source.manifest, source.open)
    live = serve(library)
    for path in ("/item/video-count?lang=en", "/?lang=en", "/search?q=alert&lang=en"):
        html = live.get(path)[2].decode()
        assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_home_is_small_before_pictures(live):
    """Bytes a phone downloads for the home page, gzip as phones ask: HTML, CSS, JS."""
    gz = {"Accept-Encoding": "gzip, deflate"}
    _, headers, html = live.get("/", gz)
    assert headers["Content-Encoding"] == "gzip"
    page = gzip.decompress(html).decode()
    total = len(html)
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
        _, asset_headers, data = live.get(asset, gz)
        assert "immutable" in asset_headers["Cache-Control"]
        total += len(data)
    assert total < 60_000, f"home page is {total} bytes before pictures"


def test_assets_are_fingerprinted_and_cached(live):
    _, _, body = live.get("/")
    css = re.search(r'href="(/static/site\.[0-9a-f]{8}\.css)"', body.decode()).group(1)
    status, headers, _ = live.get(css)
    assert status == 200 and headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert live.get("/static/site.css")[0] == 404
    assert live.get("/static/..%2Fapp.py")[0] == 404


@pytest.fixture
def game_url(live):
    _, item = live.json("/api/items/game-count")
    return "/play/" + item["files"][0]["sha256"]


def test_game_files_come_sandboxed_from_the_zip(live, game_url):
    status, headers, body = live.get(game_url + "/index.html")
    assert status == 200 and b"<title>game" in body
    policy = headers["Content-Security-Policy"]
    assert policy.startswith("sandbox allow-scripts") and "allow-same-origin" not in policy
    # Only its own zip's files, to load or to fetch; no form anywhere.
    assert f"default-src {live.url}{game_url}/ data: blob:;" in policy
    assert f"connect-src {live.url}{game_url}/;" in policy and "form-action 'none'" in policy
    assert headers["Access-Control-Allow-Origin"] == "*"  # its opaque origin reads its own files
    assert headers["Content-Type"].startswith("text/html")
    assert live.get(game_url + "/game.js")[1]["Content-Type"].startswith("text/javascript")


def test_a_game_asked_for_as_a_tabs_page_leads_to_its_item_page(live, game_url):
    where = urlsplit(live.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    conn.request("GET", game_url + "/index.html", headers={"Sec-Fetch-Dest": "document"})
    answer = conn.getresponse()
    assert answer.status == 303 and answer.getheader("Location") == "/item/game-count"
    conn.close()
    assert live.get(game_url + "/index.html", {"Sec-Fetch-Dest": "iframe"})[0] == 200


def test_the_game_frame_cannot_move_the_tab_or_open_windows(live):
    _, _, body = live.get("/item/game-count")
    frame = re.search(rb"<iframe [^>]*>", body).group(0)
    assert b'sandbox="allow-scripts"' in frame
    assert b"/play/" not in body.replace(frame, b"")  # no link opens the game as a page


@pytest.mark.parametrize("member", ["../index.html", "..%2F..%2Fcatalog.db", "nothing.html", "%2Fetc%2Fpasswd"])
def test_game_paths_stay_inside_the_zip(live, game_url, member):
    status, _, body = live.get(game_url + "/" + member)
    assert status == 404 and b"root:" not in body


def test_only_zips_of_the_catalog_are_games(live):
    _, item = live.json("/api/items/video-count")
    assert live.get(f"/play/{item['files'][0]['sha256']}/index.html")[0] == 404
    assert live.get("/play/" + "0" * 64 + "/index.html")[0] == 404


@pytest.mark.parametrize("members,words", [
    ({"index.html": b"<p>hi", "bomb.js": b"\0" * 50_000_000}, "unpacks far too large"),
    ({"index.html": b"<p>hi", "../../evil.js": b"x"}, "leaves the game"),
    ({"index.html": b"<p>hi", "/etc/evil": b"x"}, "leaves the game"),
    ({"play.html": b"<p>hi"}, "no index.html"),
])
def test_bad_game_zips_are_refused_at_import(tmp_path, members, words):
    from content_mirror.authoring import read_source
    from server.errors import Refused
    from server.importer import install
    from server.library import Library

    import hashlib
    import io

    root = write_source(tmp_path / "src")
    good = read_source(root)
    bad = game_zip(members)
    (root / "media" / "game.zip").write_bytes(bad)
    # The authoring reader already says so, with the box's own words (server/gamezip.py) ...
    with pytest.raises(Exception, match=words):
        read_source(root)
    # ... and a box still refuses such a zip from a bundle made some other way.
    manifest, sha = good.manifest, hashlib.sha256(bad).hexdigest()
    game = next(item for item in manifest["items"] if item["kind"] == "game")
    old = game["files"][0]["sha256"]
    game["files"][0]["sha256"] = sha
    manifest["files"][sha] = {"size": len(bad), "mime": "application/zip"}
    del manifest["files"][old]
    library = Library(tmp_path / "data")
    with pytest.raises(Refused, match=words):
        install(library, manifest, lambda name: io.BytesIO(bad) if name == sha else good.open(name))
    assert library.catalog.count() == 0


def test_a_server_fault_is_a_page_in_the_readers_language_without_a_traceback(filled):
    from server.app import close_app, create_app

    app = create_app({"data_dir": str(filled.data_dir)}, library=filled)

    def broken():
        raise RuntimeError("secret internals")

    app.view_functions["site.classroom"] = broken  # a bug, made on purpose
    response = app.test_client().get("/classroom", headers={"Accept-Language": "ru"})
    html = response.get_data(as_text=True)
    close_app(app)
    assert response.status_code == 500 and "На устройстве что-то пошло не так" in html
    assert "secret internals" not in html and "Traceback" not in html


def test_usb_banner_and_status_page_in_the_readers_language(live, filled):
    from usb_updater.status import UsbStatus

    status = UsbStatus.of(filled, live.app.extensions["sanduq"].settings)
    assert "флешка" not in live.get("/?lang=tg")[2].decode().lower()
    status.write(state="busy", stick="/run/sanduq/sticks/sda1", step="copying demo-000002",
                 done=50, total=200)
    import time

    time.sleep(0.6)  # the status is looked at twice a second
    html = live.get("/browse?lang=ru")[2].decode()
    assert "Библиотека обновляется с флешки" in html and "25%" in html
    status.keep_receipt("sanduq-1-20261123T100000Z.json", {
        "device_id": "sanduq-1", "stick": "/run/sanduq/sticks/sda1", "started": "2026-11-23T10:00:00Z",
        "finished": "2026-11-23T10:01:00Z", "exports": [], "export_problem": None, "free_mb_on_box": 12000,
        "bundles": [{"name": "demo-000002", "status": "installed", "items": 23, "reason": None},
                    {"name": "evil", "status": "refused", "items": 0, "reason": "it has no signature",
                     "code": "untrusted"}]})
    status.write(state="failed", message="evil refused: it has no signature.")
    time.sleep(0.6)
    html = live.get("/status?lang=tg")[2].decode()
    assert "насб шуд" in html and "23 мавод" in html and "рад карда шуд: Имзои он нест" in html
    assert "it has no signature" not in html  # the English reason stays in the receipt, for a terminal
    assert "мушкилот" in live.get("/?lang=tg")[2].decode()  # the banner says something went wrong
    # The receipt's time in digits as the box's clock reads it, not "2026-11-23T10:01:00Z".
    assert "T10:01:00Z" not in html and re.search(r"<h2>2[34]\.11\.2026 \d\d:\d\d</h2>", html)
    # A full banner where the field officer and the teacher look; one small line elsewhere.
    assert 'class="banner failed"' in live.get("/classroom?lang=tg")[2].decode()
    home = live.get("/?lang=tg")[2].decode()
    assert 'class="notice failed"' in home and 'class="banner' not in home


def test_status_page_says_what_the_box_needs_in_the_readers_language(live, filled):
    sha = next(sha for sha, in filled.catalog.db.execute("SELECT sha256 FROM files WHERE mime = 'video/mp4'"))
    filled.store.quarantine(sha)
    (filled.data_dir / "set-aside").mkdir(exist_ok=True)
    (filled.data_dir / "set-aside" / "usage-20261201T000000Z.db").write_bytes(b"junk")
    tg = live.get("/status?lang=tg")[2].decode()
    assert "Ба қуттӣ чӣ лозим аст" in tg and "1 файли вайрон ба як сӯ гузошта шуд" in tg
    assert "usage-20261201T000000Z.db" in tg and "Анбори маълумоти истифода вайрон шуда буд" in tg
    ru = live.get("/status?lang=ru")[2].decode()
    assert "1 повреждённый файл отложен" in ru and "What the box needs" not in ru


def test_status_page_names_how_many_months_of_usage_wait_when_the_stick_was_full(live, filled):
    import time

    from usb_updater.status import UsbStatus

    status = UsbStatus.of(filled, live.app.extensions["sanduq"].settings)
    status.keep_receipt("sanduq-1-20261203T100000Z.json", {
        "device_id": "sanduq-1", "stick": "/run/sanduq/sticks/sda1", "started": "2026-12-03T10:00:00Z",
        "finished": "2026-12-03T10:01:00Z", "exports": [], "export_problem": "the stick is full; free some space",
        "export_code": "stick-full", "usage_months_left": ["2026-09", "2026-10"], "free_mb_on_box": 12000,
        "bundles": []})
    status.write(state="done", message="usage saved up to the newest months that fit")
    time.sleep(0.6)  # the status is looked at twice a second
    ru = live.get("/status?lang=ru")[2].decode()
    assert "На флешке самые новые данные; ещё 2 более ранних месяца ждут на устройстве:" in ru
    tg = live.get("/status?lang=tg")[2].decode()
    assert "боз 2 моҳи пештара дар дастгоҳ мунтазиранд" in tg


def test_status_page_says_when_the_boxs_clock_was_behind_and_set_forward(live, filled):
    import time

    from usb_updater.status import UsbStatus

    status = UsbStatus.of(filled, live.app.extensions["sanduq"].settings)
    status.keep_receipt("sanduq-1-20261203T110000Z.json", {
        "device_id": "sanduq-1", "stick": "/run/sanduq/sticks/sda1", "started": "2026-12-03T11:00:00Z",
        "finished": "2026-12-03T11:01:00Z", "exports": [], "export_problem": None, "free_mb_on_box": 12000,
        "bundles": [], "clock": {"state": "behind", "built": "2026-12-04T08:00:00Z", "marked": 3,
                                 "asked_forward": True}})
    status.write(state="done", message="the updates on the stick were already installed")
    time.sleep(0.6)  # the status is looked at twice a second
    assert "Часы устройства отставали" in live.get("/status?lang=ru")[2].decode()
    assert "Соати дастгоҳ ақиб монда буд" in live.get("/status?lang=tg")[2].decode()
