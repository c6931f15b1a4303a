"""What the box is doing with a stick, for the site's banner and status page.

The USB process writes DATA_DIR/usb-status.json (a few times a second at most, atomically);
the web server reads it only when its modification time changes. The last receipts are kept
in DATA_DIR/receipts/ so the status page can show them after the stick has gone.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

FILE = "usb-status.json"
KEEP_RECEIPTS = 20


def write(data_dir: Path, **status) -> None:
    path = Path(data_dir) / FILE
    tmp = path.with_name(f".{FILE}.{os.getpid()}")
    tmp.write_text(json.dumps(dict(status, updated=time.time()), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read(data_dir: Path) -> dict:
    try:
        return json.loads((Path(data_dir) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


_seen: dict[str, tuple[float, int]] = {}


def version(data_dir: Path, every: float = 0.5) -> int:
    """Changes whenever the status does (its file's modification time), looked at no more
    than every EVERY seconds: it is asked on every web request, and a banner may lag that much."""
    key = str(data_dir)
    now = time.monotonic()
    looked, found = _seen.get(key, (-every, 0))
    if now - looked < every:
        return found
    try:
        found = os.stat(os.path.join(key, FILE)).st_mtime_ns
    except OSError:
        found = 0
    _seen[key] = (now, found)
    return found


def keep_receipt(data_dir: Path, name: str, receipt: dict) -> None:
    folder = Path(data_dir) / "receipts"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps(receipt, ensure_ascii=False, indent=1), encoding="utf-8")
    for old in sorted(folder.glob("*.json"))[:-KEEP_RECEIPTS]:
        old.unlink(missing_ok=True)


def receipts(data_dir: Path, limit: int = 5) -> list[dict]:
    """The last receipts, newest first."""
    out = []
    for path in sorted((Path(data_dir) / "receipts").glob("*.json"), reverse=True)[:limit]:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return out
