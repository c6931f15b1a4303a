"""What is wrong with this box's library, and what was done about it.

`check` is `sanduq-server check [--repair]`: one English sentence per fault found and per
repair done. `problems` is what a field officer must be told, as codes and values the status
page and the receipts translate; it reads only the disk (the USB daemon is another process).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from server import usage
from server.library import REBUILT_NOTE, Library
from server.scrub import hashes_to
from server.store import ContentStore

RECENT = timedelta(days=7)  # how long a rebuilt catalog is mentioned to the field officer


def check(library: Library, *, repair: bool) -> list[str]:
    """Verify the catalog, every named store file's size and hash, and the usage store."""
    said = []
    problem = library.catalog.problem(full=True)
    if problem:
        said.append(f"The catalog is damaged ({problem}).")
        if repair:
            items = library.heal_catalog(full=True)
            said.append(f"The catalog was rebuilt from the updates the box keeps ({items} items); "
                        f"the damaged file was set aside in {library.data_dir / 'set-aside'}.")
    try:
        named = library.catalog.sizes()
    except sqlite3.DatabaseError:
        named = {}  # a damaged catalog cannot say which files there should be
    store = library.store
    for sha, size in sorted(named.items()):
        path = store.path(sha)
        if not path.is_file():
            said.append(f"File {sha[:12]}… is missing; the next stick that carries it brings it back.")
        elif path.stat().st_size != size or hashes_to(path, sha) is False:
            said.append(f"File {sha[:12]}… is damaged (its bytes are not what its name says).")
            if repair:
                store.quarantine(sha)
                said.append(f"File {sha[:12]}… was set aside in {store.quarantined}; "
                            "the next stick that carries it brings it back.")
    return said + usage.verify(library.data_dir, repair=repair)


def problems(data_dir: Path) -> list[dict]:
    """What the field officer must be told about the catalog, the store and the usage store:
    [{"code": ..., value...}], read from disk alone (server/usb_texts.py words them)."""
    data_dir = Path(data_dir)
    found = []
    try:
        note = json.loads((data_dir / REBUILT_NOTE).read_text())
        at = datetime.strptime(note["at"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        if datetime.now(timezone.utc) - at < RECENT:
            found.append({"code": "catalog-rebuilt", "items": note["items"]})
    except (OSError, ValueError, KeyError):
        pass  # never rebuilt (or the note is unreadable: nothing to tell)
    store = ContentStore(data_dir / "store")
    quarantined = sum(1 for _ in store.quarantined.iterdir()) if store.quarantined.is_dir() else 0
    if quarantined:
        found.append({"code": "files-quarantined", "count": quarantined})
    missing = sum(1 for sha in _named(data_dir / "catalog.db")  # a quarantined one is told above
                  if not store.has(sha) and not (store.quarantined / sha).exists())
    if missing:
        found.append({"code": "files-missing", "count": missing})
    return found + usage.problems(data_dir)


def _named(path: Path) -> list[str]:
    """The files a catalog names, read-only; none when it is missing or damaged."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            return [r[0] for r in conn.execute("SELECT sha256 FROM files UNION SELECT sha256 FROM retired")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []
