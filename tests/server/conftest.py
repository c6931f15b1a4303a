"""Debian's Chromium through Playwright, for the tests that drive the site as a phone does."""

import pytest

from tests.helpers import need_tool


@pytest.fixture(scope="module")
def browser():
    """A launched Chromium, shared by a module's tests; every test using it is in the browser lane."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = need_tool("chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()
