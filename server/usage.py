"""Usage events: what was opened, watched, finished, searched for in vain. No personal data.

A request only puts an event on a queue; one writer thread commits the queue in batches, so
no request waits on the SD card. Each event gets a random unique id when it happens, so an
export carried to the ministry twice is counted once. Events live in their own file
(usage.db) so that writing them never contends with an import switching the catalog.

Usage comes from phones, so it is counted, never trusted: an event must make sense, one
phone (by address, held in memory only, never stored) may send `events_per_minute`, opening
the same item again within minutes counts once, and usage.db never grows past `max_mb`.
What is dropped is counted in usage.db itself, so the USB process can tell the field officer.
A damaged usage.db is moved to DATA_DIR/set-aside/ and a new one started.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from content_mirror.manifest import ITEM_ID
from server.languages import CODES as LANGUAGES
from server.sqlite_files import is_damage
from server import sqlite_files

log = logging.getLogger(__name__)

# "saved": the item's file was saved onto the phone to take home (server/takehome.py).
# "searched": a search that found something (its words are not kept: only a search that found
# nothing keeps them, for the content team). Searches are counted by the server, never from a
# phone's POST (SERVER_ONLY), so a page cannot inflate them.
TYPES = ("opened", "progress", "finished", "search-empty", "saved", "searched")
SERVER_ONLY = ("search-empty", "searched")
ABOUT_AN_ITEM = ("opened", "progress", "finished", "saved")
MAX_TEXT = 200
MAX_PENDING = 10_000  # beyond this, under a flood, events are dropped rather than memory grown
MAX_CLIENTS = 10_000  # addresses whose budget is remembered; a school hotspot has far fewer
REOPEN_SECONDS = 300  # the same phone opening the same item again within this counts once
POPULAR_DAYS = 30
POPULAR_SECONDS = 60  # how long the "popular" list is reused before it is counted again
SET_ASIDE = "set-aside"
# Why events were dropped, counted in usage.db: "full" (usage_max_mb reached, or the card is
# full), "refused" (over a phone's budget, invalid, or lost to a flood or a failed write).
REASONS = ("full", "refused")
# clock: how far the box's clock could be trusted when the event was recorded, and boot: in
# which boot (server/clock.py); a store made before they existed gains them when it opens.
COLUMNS = "id, time, type, item, value, lang, text, clock, boot"
SCHEMA = ("""CREATE TABLE IF NOT EXISTS events (
              id TEXT PRIMARY KEY, time TEXT NOT NULL, type TEXT NOT NULL,
              item TEXT, value REAL, lang TEXT, text TEXT, clock TEXT, boot TEXT)""",
          "CREATE TABLE IF NOT EXISTS dropped (reason TEXT PRIMARY KEY, count INTEGER NOT NULL)",
          # The stick's export goes month by month (usb_updater/export.py): counted and read by this.
          "CREATE INDEX IF NOT EXISTS events_month ON events(substr(time, 1, 7), type)",
          "INSERT OR IGNORE INTO dropped VALUES ('full', 0), ('refused', 0)")


def invalid(type: str, item: object = None, value: object = None, lang: object = None,
            text: object = None) -> str | None:
    """Why an event cannot be kept, as one sentence; None when it can."""
    if type not in TYPES:
        return f"An event's type must be one of {', '.join(TYPES)}."
    if type in ABOUT_AN_ITEM and not (isinstance(item, str) and ITEM_ID.fullmatch(item)):
        return f"An event of type {type} needs the id of an item."
    if type not in ABOUT_AN_ITEM and item is not None:
        return f"An event of type {type} names no item."
    if type == "progress":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            return "A progress value must be the fraction watched, a number from 0 to 1."
    elif value is not None:
        return f"An event of type {type} carries no value."
    if lang is not None and lang not in LANGUAGES:
        return f"An event's language must be one of {', '.join(LANGUAGES)}."
    if type == "search-empty" and not (isinstance(text, str) and 0 < len(text) <= MAX_TEXT):
        return f"A search-empty event needs the search text, at most {MAX_TEXT} characters."
    if type != "search-empty" and text is not None:
        return f"An event of type {type} carries no text."
    return None


class Budget:
    """Events per phone (by address, in memory only): a token bucket, and openings once per while."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._tokens: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)
        self._opened: dict[tuple[str, str], float] = {}  # (address, item) -> when counted
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        """Spend one event of CLIENT's budget; False when it has none left this minute."""
        now = time.monotonic()
        with self._lock:
            if client not in self._tokens and len(self._tokens) >= MAX_CLIENTS:
                full = now - 60  # an address idle a minute has its whole budget again: forget it
                self._tokens = {a: (t, at) for a, (t, at) in self._tokens.items() if at > full}
                if len(self._tokens) >= MAX_CLIENTS:
                    return False
            tokens, at = self._tokens.get(client, (self.per_minute, now))
            tokens = min(self.per_minute, tokens + (now - at) * self.per_minute / 60)
            if tokens < 1:
                self._tokens[client] = (tokens, now)
                return False
            self._tokens[client] = (tokens - 1, now)
            return True

    def first_opening(self, client: str, item: str) -> bool:
        """True unless CLIENT opened ITEM in the last few minutes."""
        now = time.monotonic()
        with self._lock:
            at = self._opened.get((client, item))
            if at is not None and now - at < REOPEN_SECONDS:
                return False
            if len(self._opened) >= MAX_CLIENTS:
                self._opened = {k: t for k, t in self._opened.items() if now - t < REOPEN_SECONDS}
            self._opened[(client, item)] = now
            return True


class UsageLog:
    """Append-only event log in PATH, written by a background thread every FLUSH seconds."""

    def __init__(self, path: Path, flush_seconds: float = 1.0, *, events_per_minute: int = 120,
                 max_mb: int = 256, clock=None):
        self.path = Path(path)
        # CLOCK (server/clock.py): the state each event records, with the boot it is recorded in.
        self._clock = (lambda: (clock.state(), clock.boot)) if clock else (lambda: (None, None))
        self.flush_seconds = flush_seconds
        self.max_bytes = max_mb * 1024 * 1024
        self._budget = Budget(events_per_minute)
        self._queue: queue.Queue = queue.Queue(MAX_PENDING)
        self._dropped = dict.fromkeys(REASONS, 0)  # not yet written to usage.db
        self._lock = threading.Lock()
        if damage(self.path):
            set_aside(self.path)
        self._connect().close()
        self._popular: tuple[float, tuple[str, ...]] = (-POPULAR_SECONDS, ())
        self._thread = threading.Thread(target=self._write_loop, name="usage-writer", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = _open(self.path)
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {max(self.max_bytes // page_size, 16)}")
        return conn

    def record(self, type: str, *, item: str | None = None, value: float | None = None,
               lang: str | None = None, text: str | None = None, client: str | None = None) -> bool:
        """Note an event now (on disk within FLUSH seconds); False when it is dropped.

        CLIENT, the phone's address, is used for its budget only and never stored.
        """
        if invalid(type, item, value, lang, text):
            self.drop("refused")
            return False
        if client is not None:
            if type == "opened" and not self._budget.first_opening(client, item):
                return False  # the same person on the same page: already counted
            if not self._budget.allow(client):
                self.drop("refused")
                return False
        event = (uuid.uuid4().hex, datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                 type, item, value, lang, text, *self._clock())
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.drop("refused")
            return False
        return True

    def drop(self, reason: str, count: int = 1) -> None:
        """Count COUNT events dropped for REASON (one of REASONS); written with the next batch."""
        with self._lock:
            self._dropped[reason] += count

    def _write_loop(self) -> None:
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
            with self._lock:
                dropped, self._dropped = self._dropped, dict.fromkeys(REASONS, 0)
            if batch or any(dropped.values()):
                self._write(batch, dropped)

    def _write(self, batch: list[tuple], dropped: dict[str, int], retry: bool = True) -> None:
        # A fresh connection each batch: a page damaged on the card is noticed at the next
        # write rather than hidden behind a cache.
        try:
            conn = self._connect()
            try:
                with conn:
                    conn.executemany(f"INSERT OR IGNORE INTO events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
                    _add_dropped(conn, dropped)
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            if is_damage(e) and retry:
                log.error("usage.db is damaged (%s); setting it aside and starting a new one", e)
                set_aside(self.path)
                self._write(batch, dropped, retry=False)
            elif (e.sqlite_errorcode or 0) & 0xFF == sqlite3.SQLITE_FULL:
                self._count_only(dict(dropped, full=dropped["full"] + len(batch)))
            else:
                log.error("could not write %d usage events (%s)", len(batch), e)
                self._count_only(dict(dropped, refused=dropped["refused"] + len(batch)))

    def _count_only(self, dropped: dict[str, int]) -> None:
        """Write just the counters (they change rows in place, so they fit a full store)."""
        try:
            conn = self._connect()
            try:
                with conn:
                    _add_dropped(conn, dropped)
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            log.error("could not count dropped usage events (%s)", e)
            for reason, count in dropped.items():
                self.drop(reason, count)  # try again with the next batch

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
        try:
            conn = _open(self.path)
            try:
                rows = conn.execute("SELECT item FROM events WHERE type = 'opened' AND time > ? "
                                    "AND item IS NOT NULL GROUP BY item ORDER BY count(*) DESC, item LIMIT 50",
                                    [since.strftime("%Y-%m-%dT%H:%M:%S")]).fetchall()
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:  # the writer sets a damaged store aside
            log.error("could not count popular items (%s)", e)
            rows = []
        self._popular = (time.monotonic(), tuple(r[0] for r in rows))
        return self._popular[1][:limit]


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite_files.connect(path, timeout=30, check_same_thread=False)
    try:
        conn.execute("PRAGMA synchronous = FULL")
        with conn:
            for statement in SCHEMA:
                conn.execute(statement)
            have = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
            for column in ("clock", "boot"):
                if column not in have:
                    conn.execute(f"ALTER TABLE events ADD COLUMN {column} TEXT")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _add_dropped(conn: sqlite3.Connection, dropped: dict[str, int]) -> None:
    conn.executemany("UPDATE dropped SET count = count + ? WHERE reason = ?",
                     [(n, reason) for reason, n in dropped.items() if n])


def damage(path: Path) -> str | None:
    """What is wrong with the usage store at PATH (SQLite's words), or None when it is sound."""
    if not path.exists():
        return None
    try:
        conn = sqlite_files.connect(path, timeout=30)  # a full card must not stop the server starting
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        if isinstance(e, sqlite3.OperationalError) and not is_damage(e):
            raise  # locked, or unreadable: not damage, and nothing to set aside
        return str(e)
    return None if rows == [("ok",)] else "; ".join(r[0] for r in rows[:3])


def set_aside(path: Path) -> Path:
    """Move the usage store at PATH (and its -wal, -shm) to DATA_DIR/set-aside/; return where."""
    folder = path.parent / SET_ASIDE
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"usage-{stamp}.db"
    number = 1
    while target.exists():
        number += 1
        target = folder / f"usage-{stamp}-{number}.db"
    for suffix in ("-wal", "-shm", ""):  # the main file last: it is what marks a store
        if os.path.exists(f"{path}{suffix}"):
            os.replace(f"{path}{suffix}", f"{target}{suffix}")
    salvage(target, path)
    return target


def salvage(damaged: Path, path: Path) -> int:
    """Copy the events DAMAGED still gives up into a new store at PATH; how many were copied.

    The exports are made from usage.db alone, so what is not copied here would be missing from
    every stick from now on. Read in order until the damage stops the reading.
    """
    copied, last = 0, 0
    new = _open(path)
    try:
        # immutable: read as it lies, with no -shm beside it (nothing writes a set-aside store)
        old = sqlite3.connect(f"file:{damaged}?immutable=1", uri=True, timeout=30)
        try:
            while rows := old.execute("SELECT rowid, id, time, type, item, value, lang, text FROM events "
                                      "WHERE rowid > ? ORDER BY rowid LIMIT 1000", [last]).fetchall():
                with new:
                    new.executemany("INSERT OR IGNORE INTO events (id, time, type, item, value, lang, text) "
                                    "VALUES (?, ?, ?, ?, ?, ?, ?)", [row[1:] for row in rows])
                copied, last = copied + len(rows), rows[-1][0]
        finally:
            old.close()
    except sqlite3.DatabaseError as e:
        log.warning("usage.db was set aside with %d events saved from it (%s)", copied, e)
    finally:
        new.close()
    return copied


def problems(data_dir: Path) -> list[dict]:
    """What a field officer must be told about usage, read from the files in DATA_DIR.

    Dropped events are counted since this usage.db was started (a new store starts from 0).
    """
    data_dir = Path(data_dir)
    found: list[dict] = [{"code": "usage-set-aside", "file": p.name}
                         for p in sorted((data_dir / SET_ASIDE).glob("usage-*.db"))]
    counts = dropped_counts(data_dir / "usage.db")
    if counts.get("full"):
        found.append({"code": "usage-full", "dropped": counts["full"]})
    if counts.get("refused"):
        found.append({"code": "events-dropped", "dropped": counts["refused"]})
    return found


def dropped_counts(path: Path) -> dict[str, int]:
    """{reason: events dropped} as usage.db holds them; empty when it holds nothing readable."""
    if not Path(path).exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return dict(conn.execute("SELECT reason, count FROM dropped").fetchall())
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return {}


def verify(data_dir: Path, *, repair: bool) -> list[str]:
    """One sentence per fault of DATA_DIR/usage.db; with REPAIR a damaged one is set aside."""
    path = Path(data_dir) / "usage.db"
    fault = damage(path)
    if fault is None:
        return []
    if not repair:
        return [f"The usage store usage.db is damaged ({fault}); --repair sets it aside and starts a new one."]
    moved = set_aside(path)
    _open(path).close()
    return [f"The usage store usage.db was damaged ({fault}); it was set aside as "
            f"{SET_ASIDE}/{moved.name} and a new usage store was started."]

