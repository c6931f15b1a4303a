"""The USB daemon: every stick that is mounted is handled once, one at a time.

The mount watcher (mounts.py) reports sticks as they are mounted, those already mounted at
start included; each goes on a queue and is processed in turn (two sticks at once simply
wait their turn; several partitions are several mounts). The activity LED blinks fast while
busy, stays on when done, blinks slowly on failure, and goes back to normal when the stick
is taken out. Sticks the box's own mount service mounted are unmounted when done.
"""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import threading
from pathlib import Path

from server.library import Library
from usb_updater.status import UsbStatus
from usb_updater.leds import ActivityLed
from usb_updater.mounts import Mount, MountWatcher
from usb_updater.process import is_sanduq_stick, process_stick

log = logging.getLogger(__name__)


def run(library: Library, settings: dict, roots: list[Path], *, stop: threading.Event | None = None,
        mountinfo: Path = Path("/proc/self/mountinfo"), led: ActivityLed | None = None) -> None:
    """Handle sticks until STOP is set (or SIGTERM / Ctrl-C in the main thread)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    led = led or ActivityLed()
    own_root = Path(settings["own_mount_root"])
    work: queue.Queue[Mount] = queue.Queue()
    present: dict[int, Mount] = {}

    def mounted(mount: Mount) -> None:
        present[mount.mount_id] = mount
        work.put(mount)

    def unmounted(mount: Mount) -> None:
        present.pop(mount.mount_id, None)
        if not present:
            led.restore()  # the officer took the stick: the LED is the Pi's own again

    watcher = MountWatcher(roots, on_mounted=mounted, on_unmounted=unmounted, mountinfo=mountinfo)
    watcher.start()
    log.info("watching for sticks under %s", ", ".join(map(str, roots)))
    try:
        while not stop.is_set():
            try:
                mount = work.get(timeout=0.5)
            except queue.Empty:
                continue
            handle(library, settings, mount, led, own_root)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        led.restore()


def handle(library: Library, settings: dict, mount: Mount, led: ActivityLed, own_root: Path) -> None:
    """Process one mounted stick, tell the officer, unmount it if the box mounted it."""
    if not is_sanduq_stick(mount.mount_point):
        log.info("%s has no sanduq folder: left alone", mount.mount_point)
        return
    led.busy()
    try:
        receipt = process_stick(library, mount.mount_point, settings)
    except Exception:  # a bug must not stop the daemon: say so and carry on
        log.exception("handling %s failed", mount.mount_point)
        UsbStatus.of(library, settings).write(state="failed", stick=str(mount.mount_point),
                     message="The box could not handle this stick; take it out, restart the box and try again.")
        led.failed()
        return
    good = receipt.ok and not receipt.export_problem
    log.info("%s: %s", mount.mount_point, receipt.sentence())
    if mount.mount_point.is_relative_to(own_root):
        _unmount(mount)
    (led.done if good else led.failed)()


def _unmount(mount: Mount) -> None:
    command = ["fusermount", "-u"] if mount.fstype.startswith("fuse") else ["umount"]
    result = subprocess.run(command + [str(mount.mount_point)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        log.warning("could not unmount %s: %s", mount.mount_point, result.stderr.strip())
