"""The insert flow on real stick filesystems, mounted inside private mount namespaces:
ext4 through the loop device, FAT32 through fusefat (this kernel has no vfat driver).
A read-only stick, a full stick, and a stick pulled out in the middle of a copy."""

import os
import re
import sys
from shlex import quote

import pytest

from content_mirror.bundle import build
from tests.helpers import folder_files, write_source
from tests.usb_updater.sticks import make_image, need_namespace, run_in_namespace

pytestmark = pytest.mark.system  # real stick filesystems mounted in a namespace

PROCESS = f"{quote(sys.executable)} -m usb_updater process"


def stick_image(tmp_path, keys, fs, size_mb=48, extra=None, source=None):
    staging = tmp_path / f"staging-{fs}"
    build(source or write_source(tmp_path / "source"), staging, keys / "sanduq.key")
    return make_image(tmp_path / f"{fs}.img", fs, size_mb, {**folder_files(staging), **(extra or {})})


def run(tmp_path, box, body, timeout=120):
    env = {"SANDUQ_DISK_RESERVE_MB": "0", "SANDUQ_DATA_DIR": str(box.data_dir),
           "SANDUQ_STATUS_DIR": str(tmp_path / "run")}
    result = run_in_namespace(f"mnt={quote(str(tmp_path / 'mnt'))}; mkdir -p $mnt\n{body}", timeout=timeout, env=env)
    return result


@pytest.mark.parametrize("fs", ["ext4", "fat32"])
def test_one_insert_on_a_real_stick(tmp_path, box, keys, fs):
    need_namespace(fs)
    image = stick_image(tmp_path, keys, fs)
    result = run(tmp_path, box, f"""
mount_stick {quote(str(image))} $mnt
{PROCESS} $mnt
echo "--- files"
find $mnt -iname '*.json' -path '*receipts*' | wc -l
find $mnt -iname 'summary.csv' | wc -l
unmount_stick $mnt""")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test-000001: installed" in result.stdout
    assert result.stdout.split("--- files")[1].split() == ["1", "1"]
    assert box.catalog.count() == 7


def test_read_only_stick_imports_and_says_usage_waits(tmp_path, box, keys):
    need_namespace("ext4")
    image = stick_image(tmp_path, keys, "ext4")
    result = run(tmp_path, box, f"""
mount_stick {quote(str(image))} $mnt ro
{PROCESS} $mnt || echo "exit $?"
unmount_stick $mnt
mount_stick {quote(str(image))} $mnt
{PROCESS} $mnt
ls $mnt/sanduq/exports/*/
unmount_stick $mnt""")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.split("Usage saved", 1) if "Usage saved" in result.stdout else (result.stdout, "")
    assert "test-000001: installed" in result.stdout and box.catalog.count() == 7
    assert "usage not saved: the stick is write-protected" in result.stdout
    from usb_updater.status import UsbStatus

    # The next insert, writable, saves the usage the first could not.
    assert "summary.csv" in result.stdout and "already installed" in result.stdout
    assert UsbStatus(tmp_path / "run", box.data_dir, box.device_id).read()["state"] == "done"


def test_full_stick_says_so_and_keeps_the_import(tmp_path, box, keys):
    need_namespace("ext4")
    image = stick_image(tmp_path, keys, "ext4", size_mb=8)
    result = run(tmp_path, box, f"""
mount_stick {quote(str(image))} $mnt
for size in 64k 4k 1k; do dd if=/dev/zero of=$mnt/filler-$size bs=$size 2>/dev/null || true; done
sync
{PROCESS} $mnt || true
unmount_stick $mnt""")
    assert "test-000001: installed" in result.stdout, result.stdout + result.stderr
    assert "the stick is full" in result.stdout
    assert box.catalog.count() == 7


def test_stick_pulled_mid_copy_then_resumed(tmp_path, box, keys):
    """Killing fusefat is what pulling the stick looks like to the box: every read fails."""
    need_namespace("fat32")
    source = write_source(tmp_path / "source")
    (source / "media" / "count.mp4").write_bytes(os.urandom(40 * 1024 * 1024))
    image = stick_image(tmp_path, keys, "fat32", size_mb=64, source=source)
    partial = box.store.partial
    result = run(tmp_path, box, f"""
mount_stick {quote(str(image))} $mnt
{PROCESS} $mnt > {quote(str(tmp_path / 'first.log'))} 2>&1 &
copying=$!
wait_until 30 sh -c 'test -n "$(ls -A {quote(str(partial))})" && test $(du -sk {quote(str(partial))} | cut -f1) -gt 2000'
kill -9 "${{FUSE_PIDS[$mnt]}}"
wait $copying || true
fusermount -u $mnt || umount -l $mnt || true
unset "FUSE_PIDS[$mnt]"
echo "--- after the pull"
{PROCESS} {quote(str(tmp_path / 'nowhere'))} 2>/dev/null || true
mount_stick {quote(str(image))} $mnt
{PROCESS} $mnt
unmount_stick $mnt""", timeout=180)
    first = (tmp_path / "first.log").read_text()
    assert "interrupted" in first or "stopped" in first.lower(), first
    assert "insert it again to continue" in first
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test-000001: installed" in result.stdout.split("--- after the pull")[1]
    assert box.catalog.count() == 7


def test_a_stick_too_full_for_all_the_usage_takes_the_newest_months_and_the_rest_next_time(tmp_path, box, keys):
    """Three months of usage, 4-5 MB each, onto a stick with room for one: the newest goes on,
    the receipt names the two left, and the next insert with room brings only those."""
    import sqlite3

    from server.usage import SCHEMA

    need_namespace("ext4")
    conn = sqlite3.connect(box.data_dir / "usage.db")
    with conn:
        for statement in SCHEMA:
            conn.execute(statement)
        conn.executemany("INSERT INTO events (id, time, type, item, value, lang, text) VALUES (?, ?, ?, ?, ?, ?, ?)", [
            (f"{n:032x}", f"2026-{9 + n // 6000:02d}-0{n % 9 + 1}T10:00:00.000000Z", "search-empty", None, None, "tg",
             f"сказка про зайца и лису {n}") for n in range(18000)])
    conn.close()
    image = stick_image(tmp_path, keys, "ext4", size_mb=24)
    result = run(tmp_path, box, f"""
mount_stick {quote(str(image))} $mnt
avail=$(df --output=avail -B1 $mnt | tail -1)
head -c $((avail - 7 * 1024 * 1024)) /dev/zero > $mnt/filler
{PROCESS} $mnt || true
echo "--- first"; ls $mnt/sanduq/exports/*/
rm $mnt/filler
{PROCESS} $mnt || true
echo "--- second"; ls $mnt/sanduq/exports/*/
unmount_stick $mnt""", timeout=180)
    first, second = result.stdout.split("--- first")[1].split("--- second")
    # How many of the older months also fit depends on the file system's own bookkeeping; the
    # newest always lands, the oldest never does, and the sentence names what waits.
    assert "usage-2026-11.csv" in first and "usage-2026-09.csv" not in first, result.stdout + result.stderr
    waiting = re.search(r"still on the box: ([0-9, -]+): the stick is full", result.stdout)
    assert waiting and "2026-09" in waiting.group(1) and "2026-11" not in waiting.group(1)
    assert all(f"usage-2026-{m}.jsonl" in second for m in ("09", "10", "11"))
    assert "test-000001: already installed" in result.stdout
