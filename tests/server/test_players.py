"""Bloom books and H5P activities on the phone site, played by their own players in the sandbox.

The packages are the real ones other projects made (../shared/samples); CI has them.
"""

import re
import shutil
import threading
from pathlib import Path

import pytest
import waitress

from content_mirror.authoring import read_source
from server.importer import install
from server.library import Library
from tests.helpers import shot, stop_server

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
ITEMS = """id,kind,languages,audiences,title_en,title_ru,file,licence,author
book-talking,book,en,children,Talking book,Говорящая книга,media/talking.bloompub,CC-BY-4.0,SIL
game-drag,game,en,children,Drag the words,Перетащи слова,media/drag.h5p,CC-BY-4.0,H5P
"""


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """A library of the shared Bloom and H5P samples, served by waitress on 127.0.0.1."""
    from server.app import close_app, create_app

    if not SAMPLES.is_dir():
        pytest.skip(f"the shared samples are not here ({SAMPLES})")
    source = tmp_path_factory.mktemp("source")
    (source / "media").mkdir()
    shutil.copy(SAMPLES / "bloom" / "sign-language-with-talking-book.bloompub", source / "media" / "talking.bloompub")
    shutil.copy(SAMPLES / "h5p" / "drag-text.h5p", source / "media" / "drag.h5p")
    (source / "items.csv").write_text(ITEMS, encoding="utf-8")
    data = tmp_path_factory.mktemp("data")
    library = Library(data)
    built = read_source(source)
    install(library, built.manifest, built.open)
    app = create_app({"data_dir": str(data), "usage_flush_seconds": 0.05,
                      "status_dir": str(tmp_path_factory.mktemp("run"))}, library=library)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", built.manifest
    stop_server(server, thread)
    close_app(app)


@pytest.fixture
def phone(browser):
    contexts = []

    def open_phone(url):
        context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                                      locale="ru-RU")
        context.add_cookies([{"name": "secret", "value": "site-only", "url": url}])
        contexts.append(context)
        page = context.new_page()
        page.requests = []
        page.on("request", lambda r: page.requests.append(r))
        return page

    yield open_phone
    for context in contexts:
        context.close()


def left_the_box(page, url: str) -> list[str]:
    """Requests to anywhere but the box that the page's policy did not refuse in the browser.

    bloom-player names bloomlibrary.org fonts after the box's own; the policy refuses them before
    they leave the phone (Chromium reports them as requests that failed with "csp")."""
    return [r.url for r in page.requests if not r.url.startswith(url)
            and not (r.failure and "csp" in r.failure.lower())]


def frame_of(page, part: str):
    page.wait_for_function(f"() => document.querySelector('.game iframe').src.indexOf({part!r}) >= 0")
    page.wait_for_timeout(200)
    return next(f for f in page.frames if part in f.url)


def cannot_touch_the_site(frame) -> None:
    # Its cookie jar is its own (in memory); the site's cookie, storage and API are out of reach.
    assert "site-only" not in frame.evaluate("() => document.cookie")
    assert frame.evaluate("() => fetch('/api/items').then(r => r.text()).then(() => 'read', () => 'refused')") \
        == "refused"
    assert frame.evaluate("() => { try { return parent.document.cookie } catch (e) { return 'blocked' } }") == "blocked"


def test_an_h5p_drag_text_is_solved_and_counts_as_finished(played, phone):
    url, _ = played
    page = phone(url)
    page.goto(url + "/item/game-drag")
    frame = frame_of(page, "/h5p/")
    frame.locator(".ui-draggable").first.wait_for()
    for word, zone in zip(("blue", "red", "orange"), range(3)):
        frame.locator(".ui-draggable", has_text=word).drag_to(frame.locator(".ui-droppable").nth(zone))
    frame.locator(".h5p-question-check-answer").click()
    frame.locator(".h5p-question-scorebar, .h5p-joubelui-score-bar").first.wait_for()
    page.wait_for_function("() => localStorage.getItem('sanduq:done:game-drag') !== null")
    cannot_touch_the_site(frame)
    assert left_the_box(page, url) == []


def test_a_bloom_book_plays_in_its_own_player(played, phone):
    url, _ = played
    page = phone(url)
    page.goto(url + "/item/book-talking")
    frame = frame_of(page, "/bloomplayer.htm")
    frame.locator(".bloom-page").first.wait_for(state="attached")
    assert frame.locator(".swiper-slide").count() >= 3  # the book's pages, in the player's swiper
    cannot_touch_the_site(frame)
    assert left_the_box(page, url) == []
    refused = [r.url for r in page.requests if not r.url.startswith(url)]
    assert all(u.startswith("https://bloomlibrary.org/fonts/") for u in refused)


def test_players_are_served_only_as_players(played):
    import urllib.error
    import urllib.request

    url, manifest = played
    player = next(ref["sha256"] for item in manifest["items"] for ref in item["files"] if ref["role"] == "player")
    book = next(ref["sha256"] for item in manifest["items"] if item["id"] == "book-talking"
                for ref in item["files"] if ref["role"] == "main")
    page = urllib.request.urlopen(f"{url}/player/{player}/bloomplayer.htm?url=/play/{book}/x.htm")
    policy = page.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox allow-scripts;") and f"/play/{book}/" in policy and "connect-src" in policy
    assert page.headers["Access-Control-Allow-Origin"] == "*"
    for wrong in (f"/player/{book}/bloomplayer.htm", f"/player/{player}/../../etc/passwd",
                  f"/player/{player}/nothing.js", "/player/xyz/bloomplayer.htm"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + wrong)
        assert refused.value.code == 404
    # Opened as a tab's page, a player leads to its item's page instead.
    request = urllib.request.Request(f"{url}/player/{player}/bloomplayer.htm?url=/play/{book}/x.htm",
                                     headers={"Sec-Fetch-Dest": "document"})
    assert urllib.request.urlopen(request).url == url + "/item/book-talking"


def test_the_demo_talking_book_reads_aloud_highlighting_each_sentence_and_turns_pages(site, phone):
    page = phone(site.url)
    page.goto(site.url + "/item/book-yard-animals?lang=tg")
    frame = frame_of(page, "/bloomplayer.htm")
    assert "lang=tg" in frame.url
    frame.locator(".bloom-page").first.wait_for(state="attached")
    # The player reads aloud (the browser here lets it start by itself; on a phone the child's
    # tap on ▶ does), marking the sentence it reads; the next page is read in its turn.
    frame.locator(".ui-audioCurrent").first.wait_for(state="attached", timeout=20_000)
    read = "() => { var s = document.querySelector('.ui-audioCurrent'); return s ? s.textContent : ''; }"
    first = frame.evaluate(read)
    heard = {first}
    for _ in range(2):
        # The child turns the page when the page's reading is done (the arrow they tap).
        frame.wait_for_function("() => !document.querySelector('.ui-audioCurrent')", timeout=20_000)
        frame.evaluate("() => document.querySelector('.swiper-button-next').click()")
        frame.wait_for_function(f"(heard) => {{ var now = ({read})(); return now && heard.indexOf(now) < 0; }}",
                                arg=sorted(heard), timeout=20_000)
        heard.add(frame.evaluate(read))
    spoken = frame.evaluate(read)
    assert spoken != first and re.search("[ӣӯқғҳҷа-я]", spoken.lower()), spoken
    shot(page, "bloom-book-tg-360")
    cannot_touch_the_site(frame)
    assert left_the_box(page, site.url) == []
