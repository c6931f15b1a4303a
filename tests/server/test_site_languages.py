"""Five countries (issue 14): every interface language in Chromium, no string left in English;
the switcher shows what the box offers, each language by its own name."""

import re

import pytest
from babel.messages.pofile import read_po

from server import i18n
from server.languages import BY_CODE, catalog_folder
from tests.helpers import shot
from tests.server.test_site_layout import EVERY_PAGE, LATIN, goto, opened

NEW = ("ky", "uz", "sr", "sr-Latn", "cnr")
ENGLISH_LEFT = """(msgids) => {
  // Visible text nodes and labels that are exactly an English message, or hold a long one.
  const found = [], short = new Set(msgids.filter(m => m.length < 25)), long = msgids.filter(m => m.length >= 25);
  const look = (text) => {
    const t = text.trim().replace(/\\s+/g, ' ');
    if (!t) return;
    if (short.has(t)) found.push(t);
    for (const m of long) if (t.includes(m)) found.push(m);
  };
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const owner = n.parentElement;  // (content marked as written in another language is content)
    if (owner && !owner.closest('script, style, [hidden]') && owner.checkVisibility()
        && owner.closest('[lang]').lang === document.documentElement.lang) look(n.textContent);
  }
  for (const e of document.querySelectorAll('[placeholder], [aria-label], [title], img[alt]'))
    for (const a of ['placeholder', 'aria-label', 'title', 'alt']) look(e.getAttribute(a) || '');
  return [...new Set(found)];
}"""


def english_msgids(code: str) -> list[str]:
    """The interface's English messages that CODE's catalog says otherwise, without placeholders."""
    with (i18n.FOLDER / catalog_folder(code) / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    return [m.id for m in catalog if isinstance(m.id, str) and m.id and "%(" not in m.id and m.string != m.id
            and re.search("[A-Za-z]{3}", m.id)]


@pytest.mark.parametrize("lang", NEW)
def test_every_page_speaks_the_readers_language(polyglot, browser, lang):
    msgids = english_msgids(lang)
    for js in (True, False):
        with opened(browser, (360, 640), lang, js=js) as page:
            for path in EVERY_PAGE:
                goto(page, polyglot.url + path)
                assert page.evaluate("document.documentElement.lang") == lang, path
                assert page.evaluate(ENGLISH_LEFT, msgids) == [], f"{path} (JavaScript {'on' if js else 'off'})"
                if lang == "ky":  # Kyrgyz content falls back to Russian: nothing in Latin letters at all
                    assert page.evaluate(LATIN) == [], path


def test_the_switcher_names_every_offered_language_in_its_own_script(polyglot, browser):
    """All eight on a 320 px phone: each one whole on the screen (they wrap), nothing sideways."""
    for width, height in ((320, 568), (360, 640)):
        with opened(browser, (width, height), "uz") as page:
            goto(page, polyglot.url + "/")
            links = page.locator("nav.langs a")
            assert [n.strip() for n in links.all_text_contents()] == [language.name for language in BY_CODE.values()]
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width
            for n in range(links.count()):
                box = links.nth(n).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["height"] >= 44, n


@pytest.mark.parametrize("lang", ["ky", "uz"])
def test_the_kyrgyz_and_uzbek_home_pages(polyglot, browser, lang):
    """Screenshots for the README (docs/screenshots/home-LANG-360.png), looked at by a person."""
    with opened(browser, (360, 640), lang) as page:
        goto(page, polyglot.url + "/")
        title = {"ky": "Бешке чейин санайбыз", "uz": "Beshgacha sanaymiz"}[lang]
        assert title in page.locator("body").inner_text()
        shot(page, f"home-{lang}-360")


def test_a_serbian_title_is_read_in_the_readers_alphabet(polyglot, browser):
    for lang, title in (("sr", "Пет јабука"), ("sr-Latn", "Pet jabuka"), ("cnr", "Pet jabuka")):
        with opened(browser, (360, 640), lang) as page:
            goto(page, polyglot.url + "/item/book-five-apples")
            assert page.locator("h1").inner_text().strip() == title, lang
