"""Opening the box's SQLite files (catalog.db, usage.db) so that a full card or a damaged file
is told apart from everything else.

A WAL database needs its index file (-shm) to be read, and SQLite cannot make one on a card
with no free block left: every open then fails with "disk I/O error", and the USB flow could
not even read the usage it must carry out. Where that happens, the file is read instead with
an exclusive lock, which keeps the index in memory (SQLite's documented way to use WAL
without shared memory). Only a process with the card to itself meets this: while the web
server runs, its -shm file exists and every open succeeds as usual.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# SQLite's primary result codes that mean the file itself is damaged, not busy or unreadable.
DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_NO_ROOM = (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN)


def is_damage(error: sqlite3.Error) -> bool:
    """Whether ERROR says the database file is damaged (and not, say, locked or on a full card)."""
    return (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF in DAMAGED


def connect(path: Path | str, **kwargs) -> sqlite3.Connection:
    """sqlite3.connect(PATH, **KWARGS) in WAL mode; on a card too full for the WAL index, a
    connection that reads with an exclusive lock instead (writes then fail as the card is full)."""
    conn = sqlite3.connect(path, **kwargs)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        return conn
    except sqlite3.OperationalError as e:
        conn.close()
        if (e.sqlite_errorcode or 0) & 0xFF not in _NO_ROOM:
            raise
        first = e
    conn = sqlite3.connect(path, **kwargs)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise first from None
    return conn
