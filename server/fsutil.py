"""Writing files so that a power cut or a pulled stick leaves the old file or the new one,
never half of one; hashing files; the UTC time stamps the box writes; finding the programs
a build runs. Imports only server.errors (the ground floor too), so every package may use it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, BinaryIO, Callable, Iterator

from server.errors import SanduqError

CHUNK = 1024 * 1024


def fsync_dir(path: Path | str) -> None:
    """Make a rename or a new name in the folder PATH survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: Path | str, *, encoding: str | None = None, mode: int | None = None) -> Iterator[IO]:
    """A file to write that becomes PATH only once whole: a temporary name beside it, fsync,
    rename, fsync of the folder. On any error (or a crash) PATH keeps its old bytes.

    ENCODING opens it as text (newlines left as written, as the csv module wants); MODE sets
    its permissions before a byte is written, so a secret never sits readable by others.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with (os.fdopen(fd, "w", encoding=encoding, newline="") if encoding else os.fdopen(fd, "wb")) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_atomically(path: Path | str, data: bytes, *, mode: int | None = None) -> None:
    """Write DATA as PATH, whole or not at all (see atomic_file)."""
    with atomic_file(path, mode=mode) as f:
        f.write(data)


def sha256_of(f: BinaryIO, on_chunk: Callable[[int], bool] | None = None) -> tuple[str, int] | None:
    """(hex SHA-256, size) of what is left to read in F; None when ON_CHUNK(bytes so far)
    returns False (a caller that paces or stops a long read)."""
    digest, size = hashlib.sha256(), 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if on_chunk is not None and not on_chunk(size):
            return None
    return digest.hexdigest(), size


def sha256_file(path: Path | str) -> str:
    """The hex SHA-256 of the file at PATH."""
    with open(path, "rb") as f:
        return sha256_of(f)[0]


def utc_now() -> str:
    """Now in UTC as the box writes it in receipts and manifests: 2026-11-23T10:00:00Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def program(name: str, package: str, purpose: str) -> str:
    """The path of the program NAME, or a SanduqError saying how to install it (Debian PACKAGE).

    The content team's tools (ffmpeg, poppler) run on their machine, never on a box.
    """
    path = shutil.which(name)
    if path is None:
        raise SanduqError(f"{name} is needed {purpose}; install it with "
                          f"'sudo apt-get install {package}' on this machine and try again.")
    return path
