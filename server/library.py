"""The library on this device: its data folder, catalog, content store and identity.

The library heals its catalog by itself: it is checked when the library opens and whenever a
query fails, and a damaged one is rebuilt from the manifests the box keeps (importer.py),
the damaged file set aside as DATA_DIR/set-aside/catalog-UTCSTAMP.db.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from server import sqlite_files
from server.catalog import Catalog
from server.errors import SanduqError
from server.fsutil import write_atomically
from server.manifests import import_lock, rebuild_catalog
from server.store import ContentStore

log = logging.getLogger(__name__)
HEAL_BACKOFF = 60.0  # seconds after a failed rebuild before a failing query starts another
REBUILT_NOTE = "catalog-rebuilt.json"  # when and how the catalog was last rebuilt (server/health.py)


class Library:
    """DATA_DIR/catalog.db, DATA_DIR/store/, DATA_DIR/usage.db and DATA_DIR/device-id.

    HEAL (the default) rebuilds a damaged catalog on opening; `sanduq-server check` opens
    without it, to report before it repairs.
    """

    def __init__(self, data_dir: Path | str, *, heal: bool = True):
        self.data_dir = Path(data_dir)
        self._healer: threading.Thread | None = None
        self._healer_lock = threading.Lock()
        self._failed_at = float("-inf")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.catalog = Catalog(self.data_dir / "catalog.db")
            self.store = ContentStore(self.data_dir / "store")
            self.device_id = _device_id(self.data_dir / "device-id")
            if heal:
                self.heal_catalog()
        except OSError as e:
            raise SanduqError(f"Cannot use the data folder {self.data_dir} ({e.strerror}); "
                              "choose another with --data-dir or fix its owner.") from e

    def heal_catalog(self, *, full: bool = False) -> int | None:
        """Rebuild the catalog if it is damaged; the rebuilt item count, or None when it was sound."""
        if self.catalog.problem(full=full) is None:
            return None
        with import_lock(self.data_dir):  # no import switches the catalog meanwhile
            problem = self.catalog.problem(full=full)
            if problem is None:
                return None
            log.warning("the catalog is damaged (%s); rebuilding it from the kept manifests", problem)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            name = f"catalog-{stamp}-{secrets.token_hex(3)}.db"  # a name never used before
            rebuilt = self.data_dir / name
            try:
                items = rebuild_catalog(self.data_dir, self.store, rebuilt)
                self.catalog.replace(rebuilt, self.data_dir / "set-aside" / name)
            except BaseException:  # a full card, say: no half-built catalog left behind
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{rebuilt}{suffix}").unlink(missing_ok=True)
                raise
            _prune_set_aside(self.data_dir / "set-aside")
            write_atomically(self.data_dir / REBUILT_NOTE, json.dumps({"at": stamp, "items": items}).encode())
            log.warning("the catalog was rebuilt with %d items", items)
            return items

    def catalog_failed(self, error: sqlite3.Error) -> None:
        """A query failed with ERROR: if it says the file is damaged, check and rebuild the
        catalog in the background, once at a time, and not again within a minute of a rebuild
        that failed (a full card would otherwise have every request start one)."""
        if not sqlite_files.is_damage(error) and "no such table" not in str(error):
            return  # locked, or a full card: not the file's fault, and nothing to rebuild
        with self._healer_lock:
            if self._healer is not None and self._healer.is_alive():
                return
            if time.monotonic() - self._failed_at < HEAL_BACKOFF:
                return
            self._healer = threading.Thread(target=self._heal_quietly, name="catalog-healer", daemon=True)
            self._healer.start()

    def _heal_quietly(self) -> None:
        try:
            self.heal_catalog()
        except Exception:  # a thread has no one to tell but the log; a later failure tries again
            self._failed_at = time.monotonic()
            log.exception("the catalog could not be rebuilt")


def _prune_set_aside(folder: Path, keep: int = 3) -> None:
    """Keep the few newest damaged catalogs (for a technician to look at), not a card's worth."""
    damaged = sorted(folder.glob("catalog-*.db"), key=lambda p: p.stat().st_mtime_ns)
    for old in damaged[:-keep]:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{old}{suffix}").unlink(missing_ok=True)


def _device_id(path: Path) -> str:
    """A stable, random id for this box, made once; it names the box's exports and receipts."""
    try:
        text = path.read_text().strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    device_id = "sanduq-" + secrets.token_hex(4)
    write_atomically(path, (device_id + "\n").encode())
    return device_id
