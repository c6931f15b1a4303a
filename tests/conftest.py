"""Shared fixtures and hooks: real SQLite files, real authoring folders, a real waitress server.

The plain helpers are in tests/helpers.py.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import waitress

from content_mirror.authoring import read_source
from server.app import close_app, create_app
from server.importer import install
from server.library import Library
from tests.helpers import LiveServer, stop_server, write_source


@pytest.fixture
def source(tmp_path) -> Path:
    return write_source(tmp_path / "source")


@pytest.fixture
def library(tmp_path) -> Library:
    return Library(tmp_path / "data")


@pytest.fixture
def filled(library, source) -> Library:
    src = read_source(source)
    install(library, src.manifest, src.open)
    return library


@pytest.fixture
def serve():
    """Start a real waitress server on 127.0.0.1, port 0, for a library; stop it after."""
    started = []

    def start(library: Library, **settings) -> LiveServer:
        app = create_app({"data_dir": str(library.data_dir), "usage_flush_seconds": 0.05, **settings},
                         library=library)
        server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((server, thread, app))
        return LiveServer(f"http://127.0.0.1:{server.effective_port}", app)

    yield start
    for server, thread, app in started:
        stop_server(server, thread)
        close_app(app)


def pytest_collection_modifyitems(items):
    """A test that uses Chromium (the browser fixture, tests/server/conftest.py) is in the browser lane."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under SANDUQ_NO_SKIP=1 (CI sets it) a skipped test fails: CI has every tool."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("SANDUQ_NO_SKIP") == "1" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, which SANDUQ_NO_SKIP=1 forbids: {report.longrepr}"


@pytest.fixture(autouse=True)
def _status_in_tmp(tmp_path, monkeypatch):
    """The USB status lives in a RAM folder (/run/sanduq on a box): here, in each test's own."""
    monkeypatch.setenv("SANDUQ_STATUS_DIR", str(tmp_path / "run"))


@pytest.fixture(autouse=True)
def _no_thread_leaks():
    """Fail a test that leaves a thread running, as watchdog's own suite does.

    A thread the code starts must end through the code's own close or stop, and a test that
    starts a server must stop it. Threads get a few seconds to finish their last loop.
    """
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    # asyncio_N threads are the executor of Playwright's event loop: they start lazily during
    # the first browser test and live as long as the module's browser, by design.
    while (leaked := [t for t in threading.enumerate() if t not in before and not t.name.startswith("asyncio_")]) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"
