"""`sanduq-mirror preview`: an authoring folder served as the phone site, rebuilt as it changes.

Each build reads SOURCE the way `check` and a bundle build do (authoring.py) and installs it,
as a stick would (importer.py), into a fresh library in a temporary folder; the site is the
box's own app on that library. The build being served stays served while the next one is
made, and a folder with faults keeps the last good build on the page, with the faults in a
banner on every page (server/templates/base.html). A spreadsheet save is a burst of events:
one watchdog observer notes them and one worker thread rebuilds once they have been quiet for
DEBOUNCE seconds; events during a build make one more build, never a queue of them. No key,
no bundle, no ffmpeg: videos are served as they are.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from flask import Flask
from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileCreatedEvent, FileDeletedEvent,
                             FileModifiedEvent, FileMovedEvent, FileSystemEvent, FileSystemEventHandler)
from watchdog.observers import Observer

from content_mirror.authoring import read_source
from content_mirror.takehome import add_takehome
from server import settings as settings_table
from server.app import close_app, create_app
from server.errors import SanduqError
from server.http_server import Server, create_server
from server.importer import install
from server.library import Library
from server.store import ContentStore

DEBOUNCE = 0.5  # seconds of quiet after the last change before a rebuild
# Only changes: reading the folder opens every file, and those events must not start a build.
# A folder's own "modified" comes with an event for the child that changed, so it is left out.
CHANGES = [FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent,
           DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
IGNORED_FOLDERS = {".git", ".sanduq-cache"}  # version control, and what our importers cache
# Lock and temporary files of LibreOffice, Excel, editors and our own importers; the Mac's Finder notes.
IGNORED_NAMES = (".~lock.*#", "~$*", "*.tmp", "*.swp", "*~", ".#*", ".DS_Store")


def matters(event: FileSystemEvent, root: Path) -> bool:
    """Whether EVENT (under ROOT) can change the library: a move matters if either end does."""
    paths = [os.fsdecode(p) for p in (event.src_path, event.dest_path) if p]
    return any(not _ignored(Path(p), root) for p in paths)


def _ignored(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts if path.is_relative_to(root) else path.parts
    return bool(parts) and (any(part in IGNORED_FOLDERS for part in parts)
                            or any(fnmatch.fnmatchcase(parts[-1], pattern) for pattern in IGNORED_NAMES))


def faults_of(error: SanduqError) -> list[str]:
    """The faults an error lists (read_source gives them as its `faults`), else its message."""
    return list(error.values.get("faults") or [error.message])


class _Stopped(Exception):
    """The preview is stopping: leave the build under way."""


@dataclass
class _Build:
    number: int  # 0: the empty library served until a first build succeeds
    library: Library
    app: Flask
    items: int
    warnings: list[str]

    def close(self) -> None:
        close_app(self.app)
        shutil.rmtree(self.library.data_dir, ignore_errors=True)


class _Changes(FileSystemEventHandler):
    def __init__(self, preview: Preview):
        self.preview = preview

    def on_any_event(self, event: FileSystemEvent) -> None:
        if matters(event, self.preview.root):
            self.preview.changed()


class Preview:
    """SOURCE served as a box would show it: a WSGI app that answers from the latest good build.

    Entering makes an empty library to serve; start() makes the first build and watches for
    changes; leaving stops the watcher and the rebuilder, joins their threads and deletes every
    build. REPORT hears one line per build.
    """

    def __init__(self, source: Path | str, settings: dict[str, Any], *, debounce: float = DEBOUNCE,
                 report: Callable[[str], None] = functools.partial(print, flush=True)):
        self.source = Path(source)
        if not self.source.is_dir():
            raise SanduqError(f"{self.source} is not a folder; give the authoring folder that holds items.csv.")
        self.root = self.source.resolve()
        self.settings = settings
        self.debounce = debounce
        self.report = report
        self.folder: Path | None = None  # the builds' temporary folder, made on entering
        self.builds = 0  # done so far, good or not
        self._hashes: dict = {}  # (path, size, modified) -> SHA-256, kept across rebuilds
        self.faults: list[str] = []  # of the last build; the page shows them
        self._current: _Build | None = None
        # The build served before the current one, closed at the next swap: a request that
        # began on it (a video still streaming) finishes first.
        self._previous: _Build | None = None
        self._lock = threading.Lock()  # the build served and the faults shown change together
        self._wake = threading.Condition()
        self._changed_at: float | None = float("-inf")  # a change not built yet: the first build, at once
        self._stopping = False
        self._built = threading.Event()
        self._observer: Observer | None = None  # made by start(): making one starts a thread
        self._worker = threading.Thread(target=self._rebuild_loop, name="preview-rebuilder", daemon=True)

    def __enter__(self) -> Preview:
        try:
            self.folder = Path(tempfile.mkdtemp(prefix="sanduq-preview-"))
        except OSError as e:
            raise SanduqError(f"Cannot make a temporary folder for the preview ({e.strerror}); "
                              "set TMPDIR to a folder with room.") from e
        try:
            self._current = self._serve(Library(self.folder / "build-0"), 0, 0, [])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Watch SOURCE and rebuild as it changes; return once the first build is done (with faults or not)."""
        # Watching starts before the first read, so a save during it is not missed.
        self._observer = Observer()
        try:
            self._observer.schedule(_Changes(self), str(self.root), recursive=True, event_filter=CHANGES)
        except OSError as e:  # too many folders for inotify's limit, say
            raise SanduqError(f"Cannot watch {self.source} for changes ({e.strerror or e}).") from e
        self._observer.start()
        self._worker.start()
        self._built.wait()

    def close(self) -> None:
        """Stop watching and rebuilding (a build under way finishes its read first) and delete every build."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._observer:
            self._observer.stop()  # ends the thread watchdog started with it, even if it never ran
            if self._observer.is_alive():
                self._observer.join()
        if self._worker.is_alive():
            self._worker.join()
        for build in (self._previous, self._current):
            if build:
                build.close()
        self._previous = self._current = None
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def changed(self) -> None:
        """Note a change in SOURCE: a rebuild follows once changes have been quiet for DEBOUNCE seconds."""
        with self._wake:
            self._changed_at = time.monotonic()
            self._wake.notify()

    @property
    def config(self):
        """The served app's Flask config (create_server reads the largest request body from it)."""
        return self._current.app.config

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        if environ.get("PATH_INFO") == "/preview.json":
            with self._lock:
                state = {"builds": self.builds, "serving": self._current.number, "items": self._current.items,
                         "faults": self.faults}
            body = json.dumps(state, ensure_ascii=False).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return self._current.app(environ, start_response)

    def _rebuild_loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopping:
                    if self._changed_at is None:
                        self._wake.wait()
                    elif (quiet := self._changed_at + self.debounce - time.monotonic()) > 0:
                        self._wake.wait(quiet)
                    else:
                        break
                if self._stopping:
                    return
                self._changed_at = None  # changes from here on make the next build
            self._rebuild()

    def _rebuild(self) -> None:
        number = self.builds + 1
        build, faults = None, []
        try:
            build = self._build(number)
        except _Stopped:
            return
        except SanduqError as e:
            faults = faults_of(e)
        except OSError as e:  # a file saved, moved or deleted while it was read: the next event rebuilds
            faults = [f"{e.filename or self.source} could not be read ({e.strerror}); save it again"]
        except Exception as e:  # a bug: say so on the page, and keep watching
            if os.environ.get("SANDUQ_DEBUG"):
                traceback.print_exc()
            faults = [f"the preview failed to build ({e.__class__.__name__}: {e}); run it again with "
                      "SANDUQ_DEBUG=1 and report what it prints"]
        stale = None
        with self._lock:  # the page never shows one build's library with another's faults
            self.faults = faults
            if build:
                stale, self._previous, self._current = self._previous, self._current, build
        if stale:
            stale.close()
        self.report(_said(number, build, faults))
        self.builds = number  # last: whoever waits for a build's number finds all of it done
        self._built.set()

    def _build(self, number: int) -> _Build:
        # First: a folder with faults costs no library. Only files changed since are hashed again.
        source = read_source(self.source, hashed=self._hashes)
        # The take-home files the last build made (never made here: drawing is slow); an edited
        # item shows none until the next build.
        source = add_takehome(source, self.source, make=False, report=lambda _: None, hashed=self._hashes)
        if self._stopping:
            raise _Stopped
        folder = self.folder / f"build-{number}"
        try:
            library = Library(folder)
            _link_stored(self._current.library.store, library.store, source.manifest["files"])
            install(library, source.manifest, source.open, progress=self._go_on)
            return self._serve(library, number, len(source.manifest["items"]), source.warnings)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _go_on(self, done: int, total: int) -> None:
        """install()'s progress: a copy stops when the preview does."""
        if self._stopping:
            raise _Stopped

    def _serve(self, library: Library, number: int, items: int, warnings: list[str]) -> _Build:
        """The box's app on LIBRARY, with no ready answers (the banner changes without the catalog)."""
        app = create_app({**self.settings, "data_dir": str(library.data_dir), "answer_cache_mb": 0,
                          "scrub_mb_per_second": 0, "status_dir": str(library.data_dir / "status")},
                         library=library)
        app.context_processor(self._banner)
        return _Build(number, library, app, items, warnings)

    def _banner(self) -> dict[str, Any]:
        return {"preview_faults": self.faults, "preview_source": str(self.source)}


def _link_stored(have: ContentStore, into: ContentStore, files: dict[str, dict]) -> None:
    """Give INTO the files HAVE holds already, as hard links: a rebuild copies only what changed.

    Stored files are never written in place (store.py writes a new file and renames it), so
    two stores can share them.
    """
    for sha, meta in files.items():
        if have.intact(sha, meta["size"]):
            target = into.path(sha)
            target.parent.mkdir(exist_ok=True)
            try:
                os.link(have.path(sha), target)
            except OSError:
                return  # no links here (another file system, say): install() copies them


def _said(number: int, build: _Build | None, faults: list[str]) -> str:
    if build is None:
        return f"{len(faults)} fault{'s' if len(faults) > 1 else ''}: " + "; ".join(faults)
    warned = f", {len(build.warnings)} warnings (sanduq-mirror check lists them)" if build.warnings else ""
    return f"{'Built' if number == 1 else 'Rebuilt'}: {build.items} items{warned}"


def command(args: argparse.Namespace) -> int:
    """sanduq-mirror preview: serve SOURCE until Ctrl-C (or the terminal closes)."""
    settings = settings_table.load({"host": args.host, "port": args.port})
    with _stopped_by_signals(), Preview(args.source, settings) as preview:
        server = _server(preview, settings)  # first: a port in use is said at once, not after a build
        try:
            print(f"Reading {args.source} ...", flush=True)
            preview.start()
            print(f"Previewing {args.source} at {_url(args.host, int(server.effective_port))}: it is rebuilt "
                  "each time a sheet or file changes. Ctrl-C stops it.", flush=True)
            server.run()
        finally:
            server.task_dispatcher.shutdown()  # its threads start with the server, before run()
            server.close()
    # waitress's loop ends only when Ctrl-C stopped it, and keeps the KeyboardInterrupt to
    # itself: pass it on, so run_cli says "Stopped." as it does for a Ctrl-C at any moment.
    raise KeyboardInterrupt


def _server(app: Preview, settings: dict[str, Any]) -> Server:
    host, port = settings["host"], settings["port"]
    try:
        # waitress starts its threads before it binds, and would leave them running: try first.
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
            s.bind((host, port))
        return create_server(app, settings)
    except OSError as e:
        raise SanduqError(f"Cannot serve the preview on {host} port {port} "
                          f"({e.strerror}); choose another with --port or --host.") from e


def _url(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/"


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop the preview as Ctrl-C does, so its folders go too."""
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    before = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
