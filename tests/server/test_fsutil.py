"""The one way files are written whole: a real crash between write and rename leaves the old file."""

import hashlib
import io
import signal
import subprocess
import sys

import pytest

from server.fsutil import atomic_file, sha256_file, sha256_of, write_atomically

CRASH = """
import os, signal, sys
from server.fsutil import atomic_file
with atomic_file(sys.argv[1]) as f:
    f.write(b"new and half")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # the power goes between the write and the rename
"""


def test_a_crash_between_write_and_rename_leaves_the_old_file(tmp_path):
    target = tmp_path / "receipt.json"
    target.write_bytes(b"old and whole")
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(target)], timeout=30)
    assert crashed.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"old and whole"
    write_atomically(target, b"the next try")  # a leftover temporary file is no obstacle
    assert target.read_bytes() == b"the next try"


def test_an_error_while_writing_leaves_the_old_file_and_no_litter(tmp_path):
    target = tmp_path / "usage.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(ZeroDivisionError):
        with atomic_file(target, encoding="utf-8") as f:
            f.write("new")
            1 / 0
    assert target.read_text(encoding="utf-8") == "old" and sorted(tmp_path.iterdir()) == [target]


def test_the_mode_is_set_before_a_byte_is_written(tmp_path):
    target = tmp_path / "secret.key"
    write_atomically(target, b"secret", mode=0o600)
    assert target.stat().st_mode & 0o777 == 0o600 and target.read_bytes() == b"secret"


def test_hashing_a_file_and_stopping_part_way(tmp_path):
    data = bytes(range(256)) * 10_000  # 2.5 MB: three reads of 1 MB
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    assert sha256_of(io.BytesIO(data)) == (hashlib.sha256(data).hexdigest(), len(data))
    seen = []
    assert sha256_of(io.BytesIO(data), lambda done: seen.append(done) or len(seen) < 2) is None
    assert seen == [1024 * 1024, 2 * 1024 * 1024]
