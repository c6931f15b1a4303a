"""A power cut at any moment of an import: kill -9 the process at many points, then check.

The box must come back with a consistent library (the old one or the new one, every file
each item names present with the right hash, nothing half-imported visible) and the next
insert must finish the job. kill -9 stops the process as a power cut would; what a power cut
adds below that (the page cache) is what the fsyncs and SQLite's synchronous=FULL cover,
and cannot be cut here.
"""

import hashlib
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from content_mirror.bundle import build
from server.catalog import Catalog
from tests.helpers import write_source

pytestmark = pytest.mark.slow  # an import killed at many moments, seconds

ITEMS = 13  # the test source's 7 and six songs


def consistent(data_dir) -> int:
    """Check the library in DATA_DIR as the box would see it after a reboot; return its size."""
    catalog = Catalog(data_dir / "catalog.db")
    count = catalog.count()
    assert count in (0, ITEMS), f"a half-imported library: {count} items"
    for (sha,) in catalog.db.execute("SELECT sha256 FROM files"):
        path = data_dir / "store" / sha[:2] / sha
        assert path.is_file(), f"{sha} is listed but missing"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha, f"{sha} is damaged"
    for (item_id,) in catalog.db.execute("SELECT id FROM items"):
        for ref in catalog.get(item_id)["files"]:
            assert catalog.file(ref["sha256"]) is not None
    catalog.close()
    return count


def test_kill_9_at_random_moments(tmp_path, box, keys):
    source = write_source(tmp_path / "source")
    rows = []
    for n in range(6):  # enough bytes that the copy takes a moment
        (source / "media" / f"big{n}.mp3").write_bytes(os.urandom(3 * 1024 * 1024))
        rows.append(f"big-{n},audio,tg,children,,,music,,Суруди {n},Песня {n},Song {n},,,,,,media/big{n}.mp3,,,,")
    with (source / "items.csv").open("a", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    stick = tmp_path / "stick"
    build(source, stick, keys / "sanduq.key")
    command = [sys.executable, "-m", "usb_updater", "process", str(stick), "--data-dir", str(box.data_dir)]
    env = dict(os.environ, SANDUQ_DISK_RESERVE_MB="0")
    started = time.monotonic()
    full = subprocess.run(command, capture_output=True, env=env, timeout=120)
    whole = time.monotonic() - started
    assert full.returncode == 0, full.stderr
    # Cut the power at moments spread over a whole import, each time into an empty box; each
    # time the library must be consistent, and the next insert must finish the job.
    import shutil

    data = box.data_dir
    rng = random.Random(20261123)
    seen = set()
    for step in range(10):
        for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm"):
            (data / name).unlink(missing_ok=True)
        shutil.rmtree(data / "store", ignore_errors=True)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(whole * (step + rng.random()) / 10)
        process.send_signal(signal.SIGKILL)
        process.wait()
        seen.add(consistent(data))
        finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert finished.returncode == 0, finished.stderr
        assert consistent(data) == ITEMS
    assert 0 in seen  # the early cuts came before the switch: the old (empty) library stood
