"""Noticing sticks: the mount table parsed from plain text, then the watcher on real mounts."""

from __future__ import annotations

import gc
import json
import os
import queue
import sys
import threading
import time
from pathlib import Path
from shlex import quote

import pytest

from tests.usb_updater.sticks import make_image, need_namespace, run_in_namespace
from usb_updater.mounts import Mount, MountWatcher, is_stick, parse_mountinfo, visible_sticks
from server.settings import BY_NAME

ROOTS = tuple(Path(p) for p in BY_NAME["mount_roots"].default.split())  # the box's default

# A Pi running Raspberry Pi OS with sticks mounted by udisks and by Sanduq's own service.
PI_MOUNTINFO = r"""22 1 179:2 / / rw,noatime shared:1 - ext4 /dev/mmcblk0p2 rw
23 22 0:5 / /dev rw,relatime shared:2 - devtmpfs udev rw,size=1800000k,mode=755
24 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
25 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:24 / /run rw,nosuid,nodev,noexec,relatime shared:3 - tmpfs tmpfs rw,size=388000k,mode=755
30 22 179:1 / /boot/firmware rw,relatime shared:50 - vfat /dev/mmcblk0p1 rw,fmask=0022,dmask=0022,codepage=437,iocharset=ascii,shortname=mixed,errors=remount-ro
40 26 8:1 / /media/pi/MY\040STICK rw,nosuid,nodev,relatime shared:60 - vfat /dev/sda1 rw,uid=1000,gid=1000,fmask=0022,dmask=0022,shortname=mixed,utf8,errors=remount-ro
41 26 8:17 / /run/sanduq/sticks/sdb1 rw,nosuid,nodev,noexec,relatime shared:61 - ext4 /dev/sdb1 rw
42 26 8:18 / /run/sanduq/sticks/sdb2 ro,nosuid,nodev,relatime shared:62 - fuseblk /dev/sdb2 ro,user_id=0,group_id=0,allow_other,blksize=4096
43 26 8:33 / /media/pi/NTFS rw,nosuid,nodev,relatime shared:63 - ntfs3 /dev/sdc1 ro,uid=1000,gid=1000
44 26 0:40 / /run/sanduq/sticks/tab\011new\012back\134slash rw,nosuid,nodev,relatime - fuse.fusefat fusefat rw,user_id=0,group_id=0
45 22 0:41 / /mntx rw,relatime - ext4 /dev/sdd1 rw
46 26 0:42 / /run/sanduq/sticks/scratch rw,relatime - tmpfs tmpfs rw
47 22 0:43 / /mnt rw,relatime - exfat /dev/sde1 rw,fmask=0022
48 22 0:44 /home /mnt/bind rw,relatime - ext4 /dev/mmcblk0p2 rw
"""


def by_point(text: str = PI_MOUNTINFO) -> dict[str, Mount]:
    return {str(m.mount_point): m for m in parse_mountinfo(text)}


def test_parse_reads_every_field():
    mounts = by_point()
    stick = mounts["/media/pi/MY STICK"]
    assert stick == Mount(40, Path("/media/pi/MY STICK"), "/dev/sda1", "vfat", False)
    assert mounts["/"].fstype == "ext4" and mounts["/"].mount_id == 22
    assert len(mounts) == 15


def test_parse_unescapes_tab_newline_backslash():
    assert "/run/sanduq/sticks/tab\tnew\nback\\slash" in by_point()


def test_read_only_from_mount_or_super_options():
    mounts = by_point()
    assert mounts["/run/sanduq/sticks/sdb2"].read_only  # per-mount "ro"
    assert mounts["/media/pi/NTFS"].read_only  # super options "ro": the filesystem itself
    assert not mounts["/run/sanduq/sticks/sdb1"].read_only


def test_parse_skips_malformed_lines_and_keeps_empty_fields():
    text = "garbage\n\n50 1 0:1 / /x rw - \n51 22 8:1 / /media/s rw - vfat  rw\n"
    assert parse_mountinfo(text) == [Mount(51, Path("/media/s"), "", "vfat", False)]


def test_only_stick_filesystems_under_the_roots_are_sticks():
    sticks = {str(m.mount_point) for m in parse_mountinfo(PI_MOUNTINFO) if is_stick(m, ROOTS)}
    assert sticks == {
        "/media/pi/MY STICK",
        "/run/sanduq/sticks/sdb1", "/run/sanduq/sticks/sdb2",  # one stick, two partitions
        "/media/pi/NTFS",
        "/run/sanduq/sticks/tab\tnew\nback\\slash",  # fusefat
        "/mnt",  # at a root itself
        "/mnt/bind",  # a bind of an ext4 folder under a root looks the same; the flow decides
    }
    # Not sticks: the system, the Pi's own FAT boot partition, /mntx (only a prefix of /mnt),
    # and a tmpfs under a root.


def test_roots_are_compared_as_paths():
    stick = Mount(1, Path("/srv/sticks/a"), "/dev/sda1", "vfat", False)
    assert is_stick(stick, [Path("/srv/sticks/")])
    assert is_stick(stick, [Path("/srv/other/../sticks")])
    assert not is_stick(stick, [Path("/srv/stick")])
    assert not is_stick(stick, [])


def test_of_stacked_mounts_only_the_top_one_counts():
    text = ("60 26 8:1 / /media/a rw - vfat /dev/sda1 rw\n"
            "61 60 8:17 / /media/a rw - ext4 /dev/sdb1 rw\n")
    assert list(visible_sticks(parse_mountinfo(text), [Path("/media")]).values()) == [
        Mount(61, Path("/media/a"), "/dev/sdb1", "ext4", False)]


# The watcher on a table in a plain file: the kernel never marks a file POLLPRI, so this
# also shows the periodic reread that covers a kernel or sandbox that never marks mountinfo.

class Events:
    """Callbacks that record what the watcher reports, read under a timeout."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()

    def mounted(self, mount: Mount) -> None:
        self.queue.put(("mounted", str(mount.mount_point)))

    def unmounted(self, mount: Mount) -> None:
        self.queue.put(("unmounted", str(mount.mount_point)))

    def next(self, timeout: float = 5.0):
        return self.queue.get(timeout=timeout)


def line(mount_id: int, point: str, fstype: str = "vfat") -> str:
    return f"{mount_id} 22 8:1 / {point} rw,relatime - {fstype} /dev/sda1 rw\n"


def file_watcher(tmp_path: Path, events, text: str, **kw) -> tuple[MountWatcher, Path]:
    table = tmp_path / "mountinfo"
    table.write_text(text)
    watcher = MountWatcher([Path("/media")], kw.pop("on_mounted", events.mounted), events.unmounted,
                           mountinfo=table, rescan_seconds=0.02, **kw)
    return watcher, table


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sanduq-mount-watcher"]


def open_fds() -> int:
    # Earlier tests' garbage holding descriptors would otherwise be collected, and close, mid-count.
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


def assert_stopped(watcher: MountWatcher) -> None:
    watcher.stop()
    assert not watcher_threads()


def test_watcher_reports_sticks_present_at_start_then_changes(tmp_path):
    events = Events()
    watcher, table = file_watcher(tmp_path, events, line(22, "/", "ext4") + line(40, "/media/a"))
    fds = open_fds()
    watcher.start()
    try:
        assert events.next() == ("mounted", "/media/a")
        table.write_text(line(22, "/", "ext4") + line(41, "/media/b"))
        assert {events.next(), events.next()} == {("unmounted", "/media/a"), ("mounted", "/media/b")}
        # The same stick mounted again at the same place is a new mount: it has a new id.
        table.write_text(line(42, "/media/b"))
        assert [events.next(), events.next()] == [("unmounted", "/media/b"), ("mounted", "/media/b")]
    finally:
        assert_stopped(watcher)
    assert events.queue.empty()
    assert open_fds() == fds


def test_a_failing_callback_does_not_stop_the_watcher(tmp_path, caplog):
    events = Events()

    def explode(mount: Mount) -> None:
        events.mounted(mount)
        raise OSError("the stick was pulled")

    watcher, table = file_watcher(tmp_path, events, line(40, "/media/a"), on_mounted=explode)
    with watcher:
        assert events.next() == ("mounted", "/media/a")
        table.write_text(line(40, "/media/a") + line(41, "/media/b"))
        assert events.next() == ("mounted", "/media/b")
    assert "the stick was pulled" in caplog.text
    assert_stopped(watcher)


def test_stop_from_a_callback_then_start_again(tmp_path):
    events = Events()
    watcher = None

    def stop_at_once(mount: Mount) -> None:
        events.mounted(mount)
        watcher.stop()

    watcher, _ = file_watcher(tmp_path, events, line(40, "/media/a") + line(41, "/media/b"),
                              on_mounted=stop_at_once)
    fds = open_fds()
    watcher.start()
    assert events.next() == ("mounted", "/media/a")
    # Started again at once, while the stopped thread may still be ending.
    watcher.on_mounted = events.mounted
    watcher.start()
    assert {events.next(), events.next()} == {("mounted", "/media/a"), ("mounted", "/media/b")}
    watcher.stop()
    deadline = time.monotonic() + 5
    while watcher_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not watcher_threads()
    assert events.queue.empty()  # nothing reported after stop()
    assert open_fds() == fds  # the thread that stopped itself closed its own files


def test_start_fails_plainly_without_a_mount_table(tmp_path):
    watcher = MountWatcher([tmp_path], print, print, mountinfo=tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        watcher.start()
    watcher.stop()  # stopping a watcher that never started is harmless


# End to end: real images mounted in a private namespace, the real /proc/self/mountinfo.

PROBE = r"""
import json, signal, sys, threading
from pathlib import Path
from usb_updater.mounts import MountWatcher

lock = threading.Lock()

def emit(**record):
    with lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

def report(event):
    return lambda m: emit(event=event, path=str(m.mount_point), fstype=m.fstype, read_only=m.read_only)

stopping = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopping.set())
watcher = MountWatcher([Path(sys.argv[1])], report("mounted"), report("unmounted"))
watcher.start()
emit(event="started")
stopping.wait(60)
watcher.stop()
emit(event="stopped", threads=[t.name for t in threading.enumerate() if t is not threading.main_thread()])
"""


def watch_script(root: Path, probe: Path, images: dict[str, Path]) -> str:
    """Mount one stick before the watcher starts, then the others one by one, then unmount all,
    waiting each time until the watcher has said so."""
    r, ev = quote(str(root)), quote(str(root.parent / "events.jsonl"))
    steps = [f"mkdir -p {r}/early {r}/tmpfs " + " ".join(f"{r}/{name}" for name in images),
             f"mount_stick {quote(str(images['early']))} {r}/early ro",
             f"{quote(sys.executable)} -u {quote(str(probe))} {r} > {ev} &",
             "probe=$!",
             f"wait_for_line {ev} '\"started\"'",
             f"wait_for_line {ev} 'mounted.*{root}/early'",
             # Not a stick: a tmpfs under the root.
             f"mount -t tmpfs scratch {r}/tmpfs"]
    for name in images:
        if name != "early":
            steps += [f"mount_stick {quote(str(images[name]))} {r}/{name}",
                      f"wait_for_line {ev} '\"mounted\".*{root}/{name}\"'",
                      f"test -f {r}/{name}/sanduq/bundles/b/manifest.json"]
    for name in images:
        steps += [f"unmount_stick {r}/{name}", f"wait_for_line {ev} '\"unmounted\".*{root}/{name}\"'"]
    steps += ["umount " + f"{r}/tmpfs", 'kill -TERM "$probe"', 'wait "$probe"', f"cat {ev}"]
    return "\n".join(steps)


def run_watch(tmp_path: Path, kinds: dict[str, str]) -> list[dict]:
    files = {"sanduq/bundles/b/manifest.json": b"{}", "sanduq/exports/": b""}
    images = {name: make_image(tmp_path / f"{name}.img", fs, 40 if fs == "fat32" else 16, files)
              for name, fs in kinds.items()}
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    result = run_in_namespace(watch_script(tmp_path / "sticks", probe, images), timeout=90)
    assert result.returncode == 0, result.stderr
    return [json.loads(x) for x in result.stdout.splitlines()]


@pytest.mark.system
def test_watcher_sees_ext4_and_fat32_sticks_come_and_go(tmp_path):
    need_namespace("ext4", "fat32")
    events = run_watch(tmp_path, {"early": "ext4", "ext4": "ext4", "fat32": "fat32"})
    root = tmp_path / "sticks"
    seen = [(e["event"], e["path"]) for e in events if "path" in e]
    # Every stick mounted once and unmounted once, in the order it happened; no tmpfs.
    assert seen == [("mounted", f"{root}/early"), ("mounted", f"{root}/ext4"), ("mounted", f"{root}/fat32"),
                    ("unmounted", f"{root}/early"), ("unmounted", f"{root}/ext4"),
                    ("unmounted", f"{root}/fat32")]
    kinds = {e["path"]: (e["fstype"], e["read_only"]) for e in events if e["event"] == "mounted"}
    assert kinds == {f"{root}/early": ("ext4", True), f"{root}/ext4": ("ext4", False),
                     f"{root}/fat32": ("fuse.fusefat", False)}
    assert events[-1] == {"event": "stopped", "threads": []}


@pytest.mark.system
def test_watcher_sees_an_exfat_stick(tmp_path):
    # exFAT through exfat-fuse on a loop device is "fuseblk", as on a Pi without the exfat driver.
    need_namespace("ext4", "exfat")
    events = run_watch(tmp_path, {"early": "ext4", "exfat": "exfat"})
    mounted = {Path(e["path"]).name: e["fstype"] for e in events if e["event"] == "mounted"}
    assert mounted == {"early": "ext4", "exfat": "fuseblk"}
    assert events[-1] == {"event": "stopped", "threads": []}
