"""How far the box's clock can be trusted, for the usage it stamps (issue 13).

A Raspberry Pi has no battery clock: after a power cut it starts at the time fake-hwclock last
saved, which may be days behind, and in a school with no internet nothing corrects it. So each
usage event records the clock's state when it was recorded, and the boot it was recorded in:

    synced       systemd-timesyncd has set the clock from a time server (its flag file exists)
    behind       the clock reads earlier than a moment known to have passed: the build time of
                 the newest signed bundle the box has seen (a stick brought it, so it has passed)
    unconfirmed  neither: the clock may well be right, but nothing confirms it

When a stick brings a bundle built later than the clock reads, every event of this boot that
was not synced is marked `behind` (their times are early by an unknown amount), and the
receipt says so; the USB daemon then asks root's sanduq-clock to set the clock forward to
the build time (usb_updater/process.py, systemd/sanduq-clock: forward only).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from server.fsutil import write_atomically

log = logging.getLogger(__name__)
FLOOR_FILE = "clock.json"  # in the data folder: {"floor": "2026-11-23T10:00:00Z"}
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
CHECK_SECONDS = 10.0  # the state is looked at again this often (an event must cost next to nothing)


def boot_id() -> str:
    """This boot's id (Linux gives one per boot); "" where there is none."""
    try:
        return BOOT_ID.read_text().strip()[:36]
    except OSError:
        return ""


def parse(stamp: object) -> float | None:
    """A UTC stamp as the box writes them (2026-11-23T10:00:00Z) as seconds; None when it is not one."""
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


class Clock:
    """The clock's state for events, checked at most every CHECK_SECONDS."""

    def __init__(self, data_dir: Path, synced_flag: str, now=time.time):
        self.floor_path = Path(data_dir) / FLOOR_FILE
        self.synced_flag = Path(synced_flag) if synced_flag else None
        self.now = now
        self.boot = boot_id()
        self._state, self._at = "unconfirmed", -CHECK_SECONDS

    def floor(self) -> float | None:
        try:
            return parse(json.loads(self.floor_path.read_text(encoding="utf-8")).get("floor"))
        except (OSError, ValueError, AttributeError, RecursionError):
            return None

    def state(self) -> str:
        moment = time.monotonic()
        if moment - self._at >= CHECK_SECONDS:
            self._state, self._at = self._look(), moment
        return self._state

    def _look(self) -> str:
        if self.synced_flag is not None and self.synced_flag.exists():
            return "synced"
        floor = self.floor()
        return "behind" if floor is not None and self.now() < floor else "unconfirmed"

    def learn(self, built: str | None, usage_db: Path) -> dict:
        """A signed bundle built at BUILT was seen: raise the floor to it, and when the clock is
        behind it, mark this boot's unsynced events as behind. What happened, for the receipt."""
        when = parse(built)
        before = self._look()
        found = {"state": before, "built": built}
        if when is None:
            return found
        floor = self.floor()
        if floor is None or when > floor:
            try:
                write_atomically(self.floor_path, json.dumps({"floor": built}).encode())
            except OSError as e:  # a full card: the events are still marked; the floor waits
                log.warning("could not keep the clock's floor (%s)", e)
        if self.now() < when and before != "synced":
            found["state"] = "behind"
            found["marked"] = _mark_behind(usage_db, self.boot)
        self._at = -CHECK_SECONDS  # look again at the next event
        return found


def _mark_behind(usage_db: Path, boot: str) -> int:
    """Mark this boot's events recorded without a synced clock as behind; how many."""
    if not boot or not usage_db.exists():
        return 0
    conn = sqlite3.connect(usage_db, timeout=30)
    try:
        with conn:
            return conn.execute("UPDATE events SET clock = 'behind' WHERE boot = ? AND clock != 'synced' "
                                "AND clock != 'behind'", (boot,)).rowcount
    except sqlite3.Error as e:  # an old usage.db not yet opened by the server (no columns), or a damaged one
        log.warning("could not mark this boot's events (%s)", e)
        return 0
    finally:
        conn.close()

