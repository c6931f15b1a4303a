"""Noticing USB sticks as they are mounted, from the kernel's mount table.

watchdog (inotify) cannot see a mount: mounting over a watched folder raises no event at
all, only the mkdir of a new mount point does, and that mkdir comes before the mount
(probed here, FIELD_NOTES.md). A mount over a folder that already exists, as a fixed
systemd mount point is, raises nothing. So the watcher polls /proc/self/mountinfo, whose
fd the kernel marks POLLPRI on every mount and unmount in this namespace, and rereads it
now and then in case a kernel or sandbox never marks it; watchdog would add nothing.
"""

from __future__ import annotations

import logging
import os
import re
import select
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

log = logging.getLogger(__name__)

# Filesystems a stick may carry; a tmpfs, overlay or bind of the system under a root is not one.
# exFAT and NTFS arrive as fuseblk when mounted through FUSE on a block device.
STICK_TYPES = frozenset({
    "vfat", "msdos", "exfat", "ntfs", "ntfs3", "fuseblk", "ext2", "ext3", "ext4",
    "btrfs", "f2fs", "hfsplus", "fuse.fusefat", "fuse.exfat", "fuse.ntfs-3g",
})

_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    """One line of the mount table."""

    mount_id: int
    mount_point: Path
    source: str
    fstype: str
    read_only: bool


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in paths as \040 \011 \012 \134.
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts listed in /proc/self/mountinfo text, in its order; malformed lines are skipped.

    A line: ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
    """
    mounts = []
    for line in text.splitlines():
        # split(" ") keeps an empty source as an empty field, where split() would shift fields.
        fields = line.split(" ")
        try:
            dash = fields.index("-", 6)
            fstype, source, super_options = fields[dash + 1:dash + 4]
            mount_id = int(fields[0])
        except ValueError:
            continue
        read_only = "ro" in fields[5].split(",") or "ro" in super_options.split(",")
        mounts.append(Mount(mount_id, Path(_unescape(fields[4])), _unescape(source), fstype, read_only))
    return mounts


def is_stick(mount: Mount, roots: Iterable[Path]) -> bool:
    """Whether a mount looks like a stick: a stick filesystem at or below one of the mount roots."""
    if mount.fstype not in STICK_TYPES:
        return False
    point = Path(os.path.normpath(mount.mount_point))
    for root in roots:
        root = Path(os.path.normpath(root))
        if point == root or root in point.parents:
            return True
    return False


def visible_sticks(mounts: Iterable[Mount], roots: Iterable[Path]) -> dict[tuple[int, Path], Mount]:
    """The sticks among mounts, keyed by (mount_id, mount_point); of mounts stacked on one
    point only the last, which hides the others, is kept."""
    roots = list(roots)
    top: dict[Path, Mount] = {}
    for mount in mounts:
        top[mount.mount_point] = mount
    return {(m.mount_id, m.mount_point): m for m in top.values() if is_stick(m, roots)}


class MountWatcher:
    """Calls on_mounted / on_unmounted as sticks come and go under the mount roots.

    Sticks already mounted at start() are reported as mounted. Callbacks run one at a time
    on the watcher's own thread; an exception in one is logged and the watching goes on.
    """

    def __init__(self, roots: Iterable[Path], on_mounted: Callable[[Mount], None],
                 on_unmounted: Callable[[Mount], None],
                 mountinfo: Path = Path("/proc/self/mountinfo"), *,
                 settle_seconds: float = 0.1, rescan_seconds: float = 60.0) -> None:
        # The table lists resolved paths, so a root given through a symlink is resolved once here.
        self.roots = [Path(os.path.realpath(r)) for r in roots]
        self.on_mounted = on_mounted
        self.on_unmounted = on_unmounted
        self.mountinfo = Path(mountinfo)
        self.settle_seconds = settle_seconds
        self.rescan_seconds = rescan_seconds
        self._known: dict[tuple[int, Path], Mount] = {}
        self._run: _Run | None = None

    def start(self) -> None:
        """Open the mount table (an OSError here is the caller's) and start watching."""
        if self._run is not None:
            raise RuntimeError("the mount watcher is already running")
        table = os.open(self.mountinfo, os.O_RDONLY | os.O_CLOEXEC)
        # stop() wakes the thread through a pipe polled with the table: no timeout to wait out.
        wake_r, wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        run = _Run(table, wake_r, wake_w)
        run.thread = threading.Thread(target=self._watch, args=(run,), name="sanduq-mount-watcher",
                                      daemon=True)
        self._known = {}
        self._run = run
        run.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Wake the watcher thread, wait for it to end, and close its files."""
        run, self._run = self._run, None
        if run is None:
            return
        run.stopping = True
        os.write(run.wake_w, b"x")
        if run.thread is threading.current_thread():
            # Asked from a callback: the thread ends when it returns and closes its own files.
            run.detached = True
            return
        run.thread.join(timeout)
        if run.thread.is_alive():
            run.detached = True  # the thread closes its files when the callback finally returns
            raise RuntimeError("the mount watcher did not stop: a callback is still running")
        run.close()

    def __enter__(self) -> MountWatcher:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _watch(self, run: _Run) -> None:
        poller = select.poll()
        poller.register(run.table, select.POLLPRI | select.POLLERR)
        poller.register(run.wake_r, select.POLLIN)
        try:
            self._refresh(run)
            while True:
                events = dict(poller.poll(self.rescan_seconds * 1000))
                if run.wake_r in events or (run.table in events and self._settle(poller, run)):
                    return
                self._refresh(run)
        finally:
            if run.detached:
                run.close()

    def _settle(self, poller: select.poll, run: _Run) -> bool:
        """Wait until the table has been quiet for settle_seconds, or a second at most, so
        a burst of changes is read once; True when stop() was asked meanwhile."""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            events = dict(poller.poll(self.settle_seconds * 1000))
            if run.wake_r in events:
                return True
            if run.table not in events:
                break
        return False

    def _refresh(self, run: _Run) -> None:
        try:
            current = visible_sticks(parse_mountinfo(run.read()), self.roots)
        except OSError:
            log.exception("could not read the mount table %s", self.mountinfo)
            return
        gone = [m for key, m in self._known.items() if key not in current]
        new = [m for key, m in current.items() if key not in self._known]
        self._known = current
        # Unmounts first: a stick swapped at the same mount point reads as gone, then new.
        calls = [(self.on_unmounted, m) for m in gone] + [(self.on_mounted, m) for m in new]
        for callback, mount in calls:
            if run.stopping:
                return
            self._call(callback, mount)

    def _call(self, callback: Callable[[Mount], None], mount: Mount) -> None:
        try:
            callback(mount)
        except Exception:
            log.exception("handling the stick at %s failed", mount.mount_point)


@dataclass
class _Run:
    """The files and thread of one start() to stop(); a watcher stopped from its own
    callback may start again while the old thread is still finishing."""

    table: int
    wake_r: int
    wake_w: int
    thread: threading.Thread | None = None
    stopping: bool = False
    detached: bool = False

    def read(self) -> str:
        # The same fd stays open for poll; a seq_file rereads from offset 0 after a seek.
        os.lseek(self.table, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self.table, 65536):
            chunks.append(chunk)
        # Mount points are bytes; surrogateescape keeps any name round-tripping to the disk.
        return b"".join(chunks).decode("utf-8", "surrogateescape")

    def close(self) -> None:
        for fd in (self.table, self.wake_r, self.wake_w):
            os.close(fd)
