"""Usage events: what was opened, watched, finished, searched for in vain. No personal data.

A request only puts an event on a queue; one writer thread commits the queue in batches, so
no request waits on the SD card. Each event gets a random unique id when it happens, so an
export carried to the ministry twice is counted once. Events live in their own file
(usage.db) so that writing them never contends with an import switching the catalog.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

TYPES = ("opened", "progress", "finished", "search-empty")
MAX_PENDING = 10_000  # beyond this, under a flood, events are dropped rather than memory grown
POPULAR_DAYS = 30
POPULAR_SECONDS = 60  # how long the "popular" list is reused before it is counted again


class UsageLog:
    """Append-only event log in PATH, written by a background thread every FLUSH seconds."""

    def __init__(self, path: Path, flush_seconds: float = 1.0):
        self.path = Path(path)
        self.flush_seconds = flush_seconds
        self._queue: queue.Queue = queue.Queue(MAX_PENDING)
        conn = self._connect()
        with conn:
            conn.execute("""CREATE TABLE IF NOT EXISTS events (
                id TEXT PRIMARY KEY, time TEXT NOT NULL, type TEXT NOT NULL,
                item TEXT, value REAL, lang TEXT, text TEXT)""")
        conn.close()
        self._popular: tuple[float, tuple[str, ...]] = (-POPULAR_SECONDS, ())
        self._thread = threading.Thread(target=self._write_loop, name="usage-writer", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def record(self, type: str, *, item: str | None = None, value: float | None = None,
               lang: str | None = None, text: str | None = None) -> None:
        """Note an event now; it reaches the disk within FLUSH seconds."""
        if type not in TYPES:
            raise ValueError(f"unknown event type {type!r}")
        event = (uuid.uuid4().hex, datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                 type, item, value, lang, text)
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.warning("usage queue full; an event was dropped")

    def _write_loop(self) -> None:
        conn = self._connect()
        stop = False
        while not stop:
            batch = []
            try:
                first = self._queue.get(timeout=self.flush_seconds)
                batch.append(first)
                while len(batch) < 1000:
                    batch.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            if None in batch:
                stop = True
                batch.remove(None)
            if batch:
                try:
                    with conn:
                        conn.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
                except sqlite3.Error:
                    log.exception("could not write %d usage events", len(batch))
        conn.close()

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)

    def popular(self, limit: int = 12) -> tuple[str, ...]:
        """Ids of the items opened most in the last 30 days, most first (recounted each minute)."""
        counted_at, ids = self._popular
        if time.monotonic() - counted_at < POPULAR_SECONDS:
            return ids[:limit]
        since = datetime.fromtimestamp(time.time() - POPULAR_DAYS * 86400, timezone.utc)
        conn = self._connect()
        try:
            rows = conn.execute("SELECT item FROM events WHERE type = 'opened' AND time > ? AND item IS NOT NULL "
                                "GROUP BY item ORDER BY count(*) DESC, item LIMIT 50",
                                [since.strftime("%Y-%m-%dT%H:%M:%S")]).fetchall()
        finally:
            conn.close()
        self._popular = (time.monotonic(), tuple(r[0] for r in rows))
        return self._popular[1][:limit]


def read_events(path: Path, since: str = "") -> Iterator[dict]:
    """Every stored event after time SINCE, oldest first (readable while the server writes)."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        cursor = conn.execute("SELECT id, time, type, item, value, lang, text FROM events "
                              "WHERE time > ? ORDER BY time, id", [since])
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row))
    except sqlite3.OperationalError:  # no usage recorded yet: no table
        return
    finally:
        conn.close()
