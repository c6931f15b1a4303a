"""Debian's Chromium through Playwright, and the demo library on a real waitress server, for
the tests that drive the site as a phone does."""

import threading
from dataclasses import dataclass

import pytest
import waitress

from tests.helpers import need_tool, stop_server


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


@dataclass
class Site:
    url: str
    status: object  # usb_updater.status.UsbStatus of this server: tests write a USB state into it


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo library served by waitress on 127.0.0.1, port 0, shared by a module's tests."""
    yield from _demo_site(tmp_path_factory)


@pytest.fixture(scope="module")
def polyglot(tmp_path_factory):
    """The demo library on a box that offers every language it knows."""
    from server.languages import CODES

    yield from _demo_site(tmp_path_factory, languages=" ".join(CODES))


def _demo_site(tmp_path_factory, **settings):
    from content_mirror.demo import install_demo
    from server.app import close_app, create_app
    from server.library import Library
    from usb_updater.status import UsbStatus

    data = tmp_path_factory.mktemp("data")
    library = Library(data)
    install_demo(library)
    app = create_app({"data_dir": str(data), "usage_flush_seconds": 0.05,
                      "status_dir": str(tmp_path_factory.mktemp("run")), **settings}, library=library)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield Site(f"http://127.0.0.1:{server.effective_port}", UsbStatus.of(library, app.extensions["sanduq"].settings))
    stop_server(server, thread)
    close_app(app)
