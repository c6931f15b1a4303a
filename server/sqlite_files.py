"""Opening the box's SQLite files (catalog.db, usage.db) so that a full card or a damaged file
is told apart from everything else.

A WAL database needs its index file (-shm) to be read, and SQLite cannot make one on a card
with no free block left: every open then fails with "disk I/O error", and the USB flow could
not even read the usage it must carry out, nor the server start. Where that happens, the file
is opened read-only as "immutable", which SQLite reads with no index file and no lock, so
several threads and processes still read it at once. Writes fail then, as they must on a full
card; once space returns, the next open is an ordinary one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

# SQLite's primary result codes that mean the file itself is damaged, not busy or unreadable.
DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_NO_ROOM = (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN)


def is_damage(error: sqlite3.Error) -> bool:
    """Whether ERROR says the database file is damaged (and not, say, locked or on a full card)."""
    return (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF in DAMAGED


def connect(path: Path | str, **kwargs) -> sqlite3.Connection:
    """sqlite3.connect(PATH, **KWARGS) in WAL mode; on a card too full for the WAL index, a
    read-only connection that needs neither the index nor a lock (writes then fail, as the card
    is full anyway)."""
    conn = sqlite3.connect(path, **kwargs)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        return conn
    except sqlite3.OperationalError as e:
        conn.close()
        if (e.sqlite_errorcode or 0) & 0xFF not in _NO_ROOM:
            raise
        first = e
    # immutable: no -shm and no locking, so the server's threads and the USB process can all
    # read at once (an exclusive lock, the other way SQLite offers, would shut out all but one).
    # It reads the file as it lies: nothing can be written to a full card meanwhile.
    conn = sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?immutable=1", uri=True, **kwargs)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise first from None
    return conn
