"""The phone site in a real Chromium (Debian's, through Playwright) on a 412x915 phone.

Set SANDUQ_SCREENSHOTS=docs/screenshots to refresh the README's screenshots from this run.
"""

import os
import re
import threading
from pathlib import Path

import pytest
import waitress

from tests.helpers import PHONE, stop_server

sync_api = pytest.importorskip("playwright.sync_api")
SHOTS = os.environ.get("SANDUQ_SCREENSHOTS")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from content_mirror.demo import install_demo
    from server.app import close_app, create_app
    from server.library import Library

    library = Library(tmp_path_factory.mktemp("data"))
    install_demo(library)
    app = create_app({"data_dir": str(library.data_dir), "usage_flush_seconds": 0.05}, library=library)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop_server(server, thread)
    close_app(app)


@pytest.fixture
def phone(browser):
    def open_phone(locale="ru-RU"):
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale=locale,
                                      device_scale_factor=1)
        opened.append(context)
        return context.new_page()

    opened = []
    yield open_phone
    for context in opened:
        context.close()


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def test_home_in_the_phones_language_then_switched_and_remembered(site, phone):
    page = phone("ru-RU")
    page.goto(site + "/")
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.locator(".audiences a").all_inner_texts() == ["🧒Детям", "👪Родителям", "🍎Педагогам"] or \
        [t.split("\n")[-1] for t in page.locator(".audiences a").all_inner_texts()] == ["Детям", "Родителям", "Педагогам"]
    shot(page, "home-ru")
    page.click("text=Тоҷикӣ")
    assert page.locator("html").get_attribute("lang") == "tg"
    assert "Кӯдакон" in page.locator(".audiences").inner_text()
    shot(page, "home-tg")
    page.click(".aud-children")  # a plain link: the choice must survive without ?lang=
    assert page.locator("html").get_attribute("lang") == "tg"
    assert page.locator(".card").count() > 3
    shot(page, "browse-tg")


def test_search_in_tajik_with_suggestions(site, phone):
    page = phone("tg")
    page.goto(site + "/")
    page.fill("#q", "ҳисоб")
    page.wait_for_selector("#suggest a")
    assert page.locator("#suggest a").count() >= 1
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    assert page.locator(".card").count() >= 1
    shot(page, "search-tg")
    page.goto(site + "/search?q=" + "динозаврҳо")
    assert page.locator(".empty").is_visible() and page.locator(".card").count() >= 1  # something instead


def test_video_plays_and_resumes_where_this_phone_left_off(site, phone):
    page = phone("tg")
    page.goto(site + "/item/video-counting-1-5")
    video = page.locator("video")
    assert video.get_attribute("poster") and page.locator("video track").count() == 3
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 2.5", timeout=20_000)
    page.evaluate("() => document.querySelector('video').pause()")
    saved = page.evaluate("() => JSON.parse(localStorage.getItem('sanduq:pos:video-counting-1-5'))")
    assert saved > 1.5
    shot(page, "video-tg")
    page.reload()
    page.wait_for_function("() => document.querySelector('video').readyState >= 1")
    page.wait_for_function("() => document.querySelector('video').currentTime > 1.5", timeout=10_000)


def test_picture_book_pages_turn_and_finish(site, phone):
    page = phone("ru-RU")
    page.goto(site + "/item/book-five-apples")
    pages = page.locator(".page").count()
    assert pages >= 4
    assert page.locator("[data-page-number]").inner_text() == f"1 / {pages}"
    shot(page, "book-ru")
    for number in range(2, pages + 1):
        page.click("[data-turn='1']")
        assert page.locator("[data-page-number]").inner_text() == f"{number} / {pages}"
    page.wait_for_function("() => localStorage.getItem('sanduq:done:book-five-apples') !== null")


def test_game_finishes_and_cannot_touch_the_site(site, phone):
    page = phone("tg")
    page.context.add_cookies([{"name": "secret", "value": "site-only", "url": site}])
    page.goto(site + "/item/game-counting")
    frame = page.frame_locator(".game iframe")
    frame.locator("#play[data-count]").wait_for()
    game = next(f for f in page.frames if "/play/" in f.url)
    # The sandbox gives the game an origin of its own: no cookies, no storage, no API.
    assert game.evaluate("() => { try { return document.cookie } catch (e) { return 'blocked ' + e.name } }") \
        == "blocked SecurityError"
    assert game.evaluate("() => { try { localStorage.length; return 'open' } catch (e) { return 'blocked' } }") == "blocked"
    assert game.evaluate("() => fetch('/api/items').then(r => r.text()).then(() => 'read', () => 'refused')") == "refused"
    shot(page, "game-tg")
    for round_ in range(1, 6):
        play = frame.locator(f"#play[data-round='{round_}']")
        play.wait_for()
        frame.locator(f"[data-value='{play.get_attribute('data-count')}']").first.click()
    frame.locator("#finished").wait_for()
    page.wait_for_function("() => localStorage.getItem('sanduq:done:game-counting') !== null")


def test_course_progress_and_classroom(site, phone):
    page = phone("ru-RU")
    page.goto(site + "/item/course-learning-through-play")
    lessons = page.locator("[data-lesson]")
    first = lessons.first.get_attribute("data-lesson")
    page.goto(site + f"/item/{first}")
    if page.locator("[data-mark-done]").count():
        page.click("[data-mark-done]")
    page.goto(site + "/item/course-learning-through-play")
    assert page.locator(f"[data-lesson='{first}'] .done-mark").is_visible() or \
        not page.locator("[data-mark-done]").count()
    shot(page, "course-ru")
    page.goto(site + "/item/video-colours")
    page.click("[data-playlist-add]")
    page.goto(site + "/classroom")
    page.wait_for_selector("[data-playlist-items] a")
    assert page.locator("[data-playlist-items] a").count() == 1
    shot(page, "classroom-ru")


# One page of every kind and every other page, with what the script adds to each.
EVERY_PAGE = ("/", "/browse?audience=children", "/search?q=song", "/item/video-colours",
              "/item/audio-story-little-seed", "/item/book-five-apples", "/item/doc-guide-counting-at-home",
              "/item/game-counting", "/item/activity-colour-hunt", "/item/tip-calm-bedtime",
              "/item/course-learning-through-play", "/item/course-learning-through-play/record",
              "/classroom", "/welcome", "/status", "/no-such-page")


@pytest.mark.parametrize("width,height", [(320, 640), (800, 1280), (1280, 800)])
def test_from_a_small_phone_to_a_tablet_nothing_spills_and_targets_are_big(site, browser, width, height):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="tg")
    try:
        page = context.new_page()
        # Chromium reports what the page's Content-Security-Policy refused on the console:
        # an inline style or script anywhere would be refused on the phones too.
        refused = []
        page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
        for path in EVERY_PAGE:
            page.goto(site + path)
            # The book scrolls sideways inside itself by design; the page itself must not.
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width, path
            small = page.evaluate("""() => [...document.querySelectorAll('main a, main button, header a, header button')]
                .filter(e => e.offsetParent !== null && !e.closest('.card-title'))
                .map(e => e.getBoundingClientRect())
                .filter(r => r.height < 44 && r.width > 0)
                .length""")
            assert small == 0, f"{path}: {small} tap targets lower than 44 px"
            assert not refused, f"{path}: {refused}"
        if width == 320:
            shot(page, "classroom-tg-320")
    finally:
        context.close()


def test_without_javascript_no_button_that_does_nothing_is_shown(site, browser):
    """Buttons only site.js can work (page turning, read to me, full screen, print, the class
    list, "I have done this") carry `hidden` until it shows them. Stylesheet rules that give them
    a display of their own must not show them to a phone with JavaScript off (issue 10, point 3)."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, java_script_enabled=False)
    page = context.new_page()
    try:
        shown = []
        for path in ("/item/book-five-apples", "/item/game-counting", "/item/video-colours",
                     "/item/activity-colour-hunt", "/item/course-learning-through-play",
                     "/item/course-learning-through-play/record", "/classroom"):
            page.goto(site + path + "?lang=tg")
            hidden = page.locator("[hidden]")
            assert hidden.count() > 0 or path == "/item/video-colours", path
            shown += [f"{path}: {hidden.nth(n).evaluate('e => e.outerHTML.slice(0, 80)')}"
                      for n in range(hidden.count()) if hidden.nth(n).is_visible()]
        assert shown == []
    finally:
        context.close()
