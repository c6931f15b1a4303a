"""The library on this device: its data folder, catalog, content store and identity."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from server.catalog import Catalog
from server.errors import SanduqError
from server.store import ContentStore, fsync_dir


class Library:
    """DATA_DIR/catalog.db, DATA_DIR/store/, DATA_DIR/usage.db and DATA_DIR/device-id."""

    def __init__(self, data_dir: Path | str):
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.catalog = Catalog(self.data_dir / "catalog.db")
            self.store = ContentStore(self.data_dir / "store")
            self.device_id = _device_id(self.data_dir / "device-id")
        except OSError as e:
            raise SanduqError(f"Cannot use the data folder {self.data_dir} ({e.strerror}); "
                              "choose another with --data-dir or fix its owner.") from e


def _device_id(path: Path) -> str:
    """A stable, random id for this box, made once; it names the box's exports and receipts."""
    try:
        text = path.read_text().strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    device_id = "sanduq-" + secrets.token_hex(4)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        f.write(device_id + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return device_id
