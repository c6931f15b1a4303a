"""The store's background check: every stored file hashed again, slowly, at the lowest priority.

An SD card rots: a file whose bytes no longer hash to its name would be served as the truth,
with an ETag that lies and a year of caching. The scrubber reads the whole store once every
`scrub_every_hours`, at most `scrub_mb_per_second`, in a thread at nice 19, and quarantines
what fails (server/store.py): /files then answers "missing" and the next stick restores it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from server.fsutil import sha256_of
from server.store import ContentStore

log = logging.getLogger(__name__)
START_DELAY = 600.0  # seconds after start: a box that just booted has phones to serve first


def hashes_to(path: Path, sha: str, *, mb_per_second: float | None = None,
              stop: threading.Event | None = None) -> bool | None:
    """Whether PATH's bytes hash to SHA; None when the file is gone or STOP was set meanwhile."""
    began = time.monotonic()

    def pace(done: int) -> bool:  # False stops the read
        if mb_per_second:
            ahead = done / (mb_per_second * 1e6) - (time.monotonic() - began)
            if ahead > 0 and stop is not None and stop.wait(ahead):
                return False
        return stop is None or not stop.is_set()

    try:
        with path.open("rb") as f:
            found = sha256_of(f, pace)
    except FileNotFoundError:
        return None  # deleted by an import meanwhile: nothing to check
    return None if found is None else found[0] == sha


def scrub_pass(store: ContentStore, *, mb_per_second: float | None,
               stop: threading.Event) -> list[str]:
    """Hash every stored file once, quarantining those that fail; returns their names."""
    failed = []
    for sha in sorted(store):
        verdict = hashes_to(store.path(sha), sha, mb_per_second=mb_per_second, stop=stop)
        if stop.is_set():
            break
        if verdict is False:
            log.warning("stored file %s is damaged; it is quarantined until a stick brings it again", sha)
            store.quarantine(sha)
            failed.append(sha)
    return failed


class Scrubber:
    """A daemon thread checking STORE every EVERY_HOURS at MB_PER_SECOND (0: never)."""

    def __init__(self, store: ContentStore, *, mb_per_second: float, every_hours: float,
                 start_delay: float = START_DELAY):
        self.store = store
        self.mb_per_second = mb_per_second
        self.every = every_hours * 3600
        self.start_delay = start_delay
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-scrubber", daemon=True)

    def start(self) -> None:
        if self.mb_per_second > 0:
            self._thread.start()

    def stop(self) -> None:
        """Stop promptly, mid-file if need be."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        # Linux gives each thread its own nice value: only this one yields to the web threads.
        # The box's unit forbids changing priorities (SystemCallFilter ~@resources); the rate
        # limit alone then keeps the check gentle.
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError as e:
            log.info("the check of stored files runs at normal priority (%s); its rate limit still holds", e.strerror)
        wait = self.start_delay
        while not self._stop.wait(wait):
            began = time.monotonic()
            try:
                scrub_pass(self.store, mb_per_second=self.mb_per_second, stop=self._stop)
            except OSError as e:  # an unreadable card: say so, and try again next time
                log.warning("the check of stored files stopped: %s", e)
            self.passes += 1
            wait = max(self.every - (time.monotonic() - began), 0)
