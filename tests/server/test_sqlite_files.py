"""Opening SQLite files on a card with no free block: every reader still reads, all at once."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import need_tool

pytestmark = pytest.mark.system
REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import sqlite3, subprocess, sys
from server import sqlite_files
folder = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", folder], check=True)
db = sqlite3.connect(f"{folder}/catalog.db")
db.execute("PRAGMA journal_mode = WAL")
db.execute("CREATE TABLE items (id)")
db.executemany("INSERT INTO items VALUES (?)", [(n,) for n in range(100)])
db.commit()
db.close()  # the last connection: -shm and -wal go
import os
fd = os.open(f"{folder}/filler", os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(fd, b"x" * 1024)
except OSError:
    os.close(fd)  # the card is full to the last block
try:
    sqlite3.connect(f"{folder}/catalog.db").execute("PRAGMA journal_mode = WAL")
    print("plain open worked: the card is not full")
except sqlite3.OperationalError as e:
    print("plain open failed:", e)
first = sqlite_files.connect(f"{folder}/catalog.db", check_same_thread=False)
second = sqlite_files.connect(f"{folder}/catalog.db")  # another thread's, or the USB process's
print("read", first.execute("SELECT count(*) FROM items").fetchone()[0],
      second.execute("SELECT count(*) FROM items").fetchone()[0])
"""


def test_a_full_card_still_lets_every_reader_read_at_once(tmp_path):
    need_tool("unshare")
    (tmp_path / "card").mkdir()
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", SCRIPT,
                             str(tmp_path / "card")], capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "plain open failed: disk I/O error" in result.stdout
    assert "read 100 100" in result.stdout
