"""What the box is doing with a stick, for the site's banner and status page.

The USB process writes the status (a few times a second at most, atomically) into a folder in
RAM, the `status_dir` setting (/run/sanduq on a box): telling the field officer what happened
must not need the box's own disk, which may be full or failing. Where that folder cannot be
written (a laptop demo run as a user) DATA_DIR stands in, and readers take the newer of the
two. The file is named by the device id, so libraries sharing one machine never mix.

The last receipts are kept on the box in DATA_DIR/receipts/ so the status page can show them
after the stick has gone. They are numbered in the order they arrived and pruned by that
number, never by a time: a Pi's clock can jump back after a power cut.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

from server.fsutil import write_atomically

log = logging.getLogger(__name__)
KEEP_RECEIPTS = 20
_NUMBERED = re.compile(r"(\d{8})-")


class UsbStatus:
    """The status file and kept receipts of the library with DATA_DIR and DEVICE_ID."""

    def __init__(self, status_dir: str | Path, data_dir: Path, device_id: str):
        name = f"usb-status-{device_id}.json"
        self.ram = Path(status_dir) / name if str(status_dir) else None
        self.disk = Path(data_dir) / name
        self.receipts_dir = Path(data_dir) / "receipts"
        self._looked = (float("-inf"), 0)

    @classmethod
    def of(cls, library, settings: dict) -> "UsbStatus":
        return cls(settings.get("status_dir", ""), library.data_dir, library.device_id)

    def write(self, **status) -> None:
        """Replace the status; never raises (a status that cannot be shown must not stop a copy)."""
        data = json.dumps(dict(status, updated=time.time()), ensure_ascii=False).encode()
        for path in filter(None, (self.ram, self.disk)):
            try:
                write_atomically(path, data)
                if path == self.ram and self.disk.exists():
                    self.disk.unlink(missing_ok=True)  # the RAM copy is the truth from now on
                return
            except OSError as e:
                log.warning("cannot write the USB status to %s (%s)", path.parent, e.strerror)

    def _newest(self) -> tuple[Path | None, int]:
        found, newest = None, 0
        for path in filter(None, (self.ram, self.disk)):
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                continue
            if found is None or mtime > newest:
                found, newest = path, mtime
        return found, newest

    def read(self) -> dict:
        path, _ = self._newest()
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path else {}
        except (OSError, ValueError):
            return {}

    def version(self, every: float = 0.5) -> int:
        """A number that changes whenever the status does (its file's modification time),
        looked at no more than every EVERY seconds: it is asked on every web request, and a
        banner may lag that much."""
        now = time.monotonic()
        if now - self._looked[0] >= every:
            self._looked = (now, self._newest()[1])
        return self._looked[1]

    def keep_receipt(self, name: str, receipt: dict) -> None:
        """Keep a receipt on the box under the next arrival number. OSError on a full disk."""
        self.receipts_dir.mkdir(exist_ok=True)
        kept = self._kept()
        number = (kept[-1][0] + 1) if kept else 1
        write_atomically(self.receipts_dir / f"{number:08d}-{name}",
                         json.dumps(receipt, ensure_ascii=False, indent=1).encode())
        for _, old in kept[:max(0, len(kept) + 1 - KEEP_RECEIPTS)]:
            old.unlink(missing_ok=True)

    def _kept(self) -> list[tuple[int, Path]]:
        """Kept receipts, oldest first by arrival; unnumbered ones (older versions) count as oldest."""
        try:
            paths = list(self.receipts_dir.glob("*.json"))
        except OSError:
            return []
        numbered = []
        for path in paths:
            match = _NUMBERED.match(path.name)
            numbered.append((int(match.group(1)) if match else 0, path))
        return sorted(numbered, key=lambda pair: (pair[0], pair[1].name))

    def receipts(self, limit: int = 5) -> list[dict]:
        """The last receipts, newest first; the one in the status comes first if the disk could
        not keep it (a full card)."""
        out = []
        for _, path in reversed(self._kept()):
            if len(out) == limit:
                break
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        latest = self.read().get("receipt")
        if latest and all(r.get("started") != latest.get("started") or r.get("stick") != latest.get("stick")
                          for r in out):
            out = [latest] + out[:limit - 1]
        return out
