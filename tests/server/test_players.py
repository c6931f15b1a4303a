"""Bloom books and H5P activities on the phone site, played by their own players in the sandbox.

The packages are the real ones other projects made (../shared/samples); CI has them.
"""

import re
import shlex
import shutil
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

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


@contextmanager
def serving(library: Library, run_dir: Path):
    """LIBRARY on the phone site: waitress on 127.0.0.1, port 0; yields its address."""
    from server.app import close_app, create_app

    app = create_app({"data_dir": str(library.data_dir), "usage_flush_seconds": 0.05,
                      "status_dir": str(run_dir)}, library=library)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop_server(server, thread)
        close_app(app)


def sample_source(source: Path) -> Path:
    """An authoring folder of the shared Bloom and H5P samples (a skip where they are absent)."""
    if not SAMPLES.is_dir():
        pytest.skip(f"the shared samples are not here ({SAMPLES})")
    (source / "media").mkdir(parents=True)
    shutil.copy(SAMPLES / "bloom" / "sign-language-with-talking-book.bloompub", source / "media" / "talking.bloompub")
    shutil.copy(SAMPLES / "h5p" / "drag-text.h5p", source / "media" / "drag.h5p")
    (source / "items.csv").write_text(ITEMS, encoding="utf-8")
    return source


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """A library of the shared Bloom and H5P samples, served by waitress on 127.0.0.1."""
    source = sample_source(tmp_path_factory.mktemp("source"))
    library = Library(tmp_path_factory.mktemp("data"))
    built = read_source(source)
    install(library, built.manifest, built.open)
    with serving(library, tmp_path_factory.mktemp("run")) as url:
        yield url, built.manifest


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


def solve_the_drag_text(page, url: str) -> None:
    """Open the shared drag-text sample (item game-drag), solve it and wait for it to count as done."""
    page.goto(url + "/item/game-drag")
    frame = frame_of(page, "/h5p/")
    frame.locator(".ui-draggable").first.wait_for()
    for word, zone in zip(("blue", "red", "orange"), range(3)):
        frame.locator(".ui-draggable", has_text=word).drag_to(frame.locator(".ui-droppable").nth(zone))
    frame.locator(".h5p-question-check-answer").click()
    frame.locator(".h5p-question-scorebar, .h5p-joubelui-score-bar").first.wait_for()
    page.wait_for_function("() => localStorage.getItem('sanduq:done:game-drag') !== null")
    cannot_touch_the_site(frame)


def hear_the_first_sentence(page, url: str, item: str) -> str:
    """Open a Bloom talking book and return the sentence the player first marks as read aloud."""
    page.goto(f"{url}/item/{item}?lang=tg")
    frame = frame_of(page, "/bloomplayer.htm")
    frame.locator(".ui-audioCurrent").first.wait_for(state="attached", timeout=20_000)
    cannot_touch_the_site(frame)
    return frame.evaluate("() => document.querySelector('.ui-audioCurrent').textContent")


def test_an_h5p_drag_text_is_solved_and_counts_as_finished(played, phone):
    url, _ = played
    page = phone(url)
    solve_the_drag_text(page, url)
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


@pytest.mark.parametrize("path", ["/item/book-yard-animals", "/item/game-counting"])
def test_without_javascript_no_empty_frame_but_what_to_do_and_a_books_words(site, browser, path):
    context = browser.new_context(viewport={"width": 320, "height": 568}, java_script_enabled=False, locale="tg")
    try:
        page = context.new_page()
        page.goto(site.url + path + "?lang=tg")
        assert not page.locator(".game").is_visible()  # no box that stays empty or says "Loading"
        assert page.locator("noscript p", has_text="скриптҳо лозиманд").is_visible()
        if "book" in path:  # the story itself, in the reader's language, from the BloomPub's pages
            assert page.locator(".book-words p", has_text="Як гурба дар офтоб хобидааст.").is_visible()
        shot(page, path.rsplit("/", 1)[1] + "-nojs-320")
    finally:
        context.close()


def _shas(manifest):
    player = {name: ref["sha256"] for item in manifest["items"] for ref in item["files"] if ref["role"] == "player"
              for name in [item["id"]]}
    main = {item["id"]: ref["sha256"] for item in manifest["items"] for ref in item["files"] if ref["role"] == "main"}
    return player, main


def test_a_players_file_answered_from_the_cache_still_sends_a_tab_to_its_item_and_names_its_host(played):
    import urllib.request

    import tarfile

    from content_mirror import players

    url, manifest = played
    player, main = _shas(manifest)
    with tarfile.open(players.fetch(players.BLOOM)) as tar:  # the player's own script, by its name
        name = next(m.name for m in tar if m.name.startswith("package/dist/") and m.name.endswith(".js"))
    script = f"{url}/player/{player['book-talking']}/{name.rsplit('/', 1)[1]}"
    for _ in range(2):  # the second answer comes from the answer cache
        assert urllib.request.urlopen(script).url == script
    tab = urllib.request.Request(script, headers={"Sec-Fetch-Dest": "document"})
    assert urllib.request.urlopen(tab).url == url + "/item/book-talking"
    other = urllib.request.urlopen(urllib.request.Request(script, headers={"Host": "10.42.0.1:8080"}))
    assert "http://10.42.0.1:8080/player/" in other.headers["Content-Security-Policy"]
    assert "127.0.0.1" not in other.headers["Content-Security-Policy"]


def test_a_player_page_names_only_a_book_the_library_holds(played):
    import urllib.request

    url, manifest = played
    player, main = _shas(manifest)
    for junk in ("/play/" + "0" * 64 + "/x.htm", f"/play/{main['book-talking']}x/", "/etc/passwd; script-src *"):
        answer = urllib.request.urlopen(f"{url}/player/{player['book-talking']}/bloomplayer.htm?url={quote(junk)}")
        policy = answer.headers["Content-Security-Policy"]
        assert "/play/" not in policy and "script-src *" not in policy and policy.count("/player/") == 5


def test_the_box_serves_andika_to_bloom_books(played):
    import urllib.request

    from server.settings import BY_NAME

    url, manifest = played
    player, _ = _shas(manifest)
    fonts = Path(BY_NAME["book_fonts_dir"].default)
    if not fonts.is_dir():
        pytest.skip("Debian's fonts-sil-andika is not installed (install.sh --dev installs it)")
    for face, file in (("Andika%20New%20Basic", "Andika-Regular"), ("Andika%20Bold%20Italic", "Andika-BoldItalic")):
        answer = urllib.request.urlopen(f"{url}/player/{player['book-talking']}/host/fonts/{face}")
        assert answer.read() == (fonts / f"{file}.woff2").read_bytes()
        assert answer.headers["Access-Control-Allow-Origin"] == "*"  # fonts are fetched with CORS


def test_the_h5p_page_runs_only_in_its_frame_and_only_for_an_h5p_package(played):
    import urllib.error
    import urllib.request

    url, manifest = played
    _, main = _shas(manifest)
    tab = urllib.request.Request(f"{url}/h5p/{main['game-drag']}/", headers={"Sec-Fetch-Dest": "document"})
    assert urllib.request.urlopen(tab).url == url + "/item/game-drag"
    page = urllib.request.urlopen(f"{url}/h5p/{main['game-drag']}/")
    assert page.headers["Content-Security-Policy"].startswith("sandbox allow-scripts;")
    for wrong in (main["book-talking"], "0" * 64, "nothing"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/h5p/{wrong}/")
        assert refused.value.code == 404


def test_a_bloom_book_read_to_its_last_page_counts_as_finished(site, phone):
    page = phone(site.url)
    page.goto(site.url + "/item/book-yard-animals?lang=ru")
    frame = frame_of(page, "/bloomplayer.htm")
    frame.locator(".swiper-button-next").first.wait_for(state="attached")
    # bloom-player says so (independent=false) in a message to the page when the last numbered
    # page is shown; the page records it as the game's own "finished" (server/static/site.js).
    assert page.evaluate("() => localStorage.getItem('sanduq:done:book-yard-animals')") is None
    for _ in range(5):
        frame.evaluate("() => document.querySelector('.swiper-button-next').click()")
        page.wait_for_timeout(400)
    page.wait_for_function("() => localStorage.getItem('sanduq:done:book-yard-animals') !== null", timeout=20_000)


def test_the_demo_books_quiz_answers_a_tap_ticking_the_right_answer_and_fading_a_wrong_one(site, phone):
    page = phone(site.url)
    page.goto(site.url + "/item/book-yard-animals?lang=tg")
    frame = frame_of(page, "/bloomplayer.htm")
    frame.locator(".swiper-button-next").first.wait_for(state="attached")
    quiz = frame.locator(".swiper-slide-active .simple-comprehension-quiz")
    for _ in range(5):  # cover, four pages, then the quiz
        frame.evaluate("() => document.querySelector('.swiper-button-next').click()")
        page.wait_for_timeout(300)
    quiz.wait_for()
    assert "Чанд гӯсфанд" in quiz.locator(".QuizQuestion-style.bloom-visibility-code-on").inner_text()
    choices = quiz.locator(".checkbox-and-textbox-choice")
    assert [c.strip() for c in choices.locator(".bloom-visibility-code-on").all_inner_texts()] == ["Як", "Ду", "Се"]
    wrong, right = choices.nth(0), choices.nth(1)
    wrong.click()  # bloom-player's activity takes the tap (it is not the box's own code)
    frame.wait_for_function("() => document.querySelector('.swiper-slide-active .wasSelectedAtOnePoint')")
    assert not wrong.locator("input").is_checked()
    assert wrong.evaluate("e => getComputedStyle(e).opacity") == "0.5"
    with page.expect_request(re.compile(r"/right_answer-\w+\.mp3$")) as cheer:
        right.click()
    frame.wait_for_function("() => document.querySelector("
                            "'.swiper-slide-active .correct-answer.wasSelectedAtOnePoint input').checked")
    # The cheer is the player's own sound, from the box.
    assert cheer.value.url.startswith(site.url + "/player/")
    shot(page, "bloom-quiz-tg-360")
    cannot_touch_the_site(frame)
    assert left_the_box(page, site.url) == []


@pytest.mark.system
def test_a_bloom_book_and_an_h5p_activity_brought_on_a_stick_play_on_the_phone(tmp_path, browser, phone):
    """The whole way: built and signed on the content team's machine, copied onto a FAT32 stick,
    imported by the box from the mounted stick (a real image in a private mount namespace), then
    played from the box's store: the players came in the bundle, not from the internet."""
    from content_mirror import minisign
    from content_mirror.bundle import build
    from tests.helpers import folder_files
    from tests.usb_updater.sticks import make_image, need_namespace, run_in_namespace

    need_namespace("fat32")
    source = sample_source(tmp_path / "source")
    demo_book = Path(__file__).resolve().parents[2] / "content_mirror/demo/source/media/books/yard-animals.bloompub"
    shutil.copy(demo_book, source / "media" / "yard.bloompub")
    with open(source / "items.csv", "a", encoding="utf-8") as items:
        items.write("book-yard,book,tg,children,Yard,Двор,media/yard.bloompub,CC-BY-4.0,Sanduq\n")
    minisign.keygen(tmp_path / "keys")
    build(source, tmp_path / "staging", tmp_path / "keys" / "sanduq.key")
    stick = make_image(tmp_path / "stick.img", "fat32", 40, folder_files(tmp_path / "staging"))
    library = Library(tmp_path / "box")
    (library.data_dir / "trusted-keys").mkdir()
    shutil.copy(tmp_path / "keys" / "sanduq.pub", library.data_dir / "trusted-keys")
    mnt, py, data = (shlex.quote(str(p)) for p in (tmp_path / "mnt", sys.executable, library.data_dir))
    result = run_in_namespace(f"""
mkdir -p {mnt}
mount_stick {shlex.quote(str(stick))} {mnt}
SANDUQ_DISK_RESERVE_MB=0 {py} -m usb_updater process {mnt} --data-dir {data}
unmount_stick {mnt}
""", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installed" in result.stdout
    with serving(library, tmp_path / "run") as url:
        page = phone(url)
        assert re.search("[ӣӯқғҳҷа-я]", hear_the_first_sentence(page, url, "book-yard").lower())
        solve_the_drag_text(page, url)
        assert left_the_box(page, url) == []
