"""The content store: every file named by the SHA-256 of its bytes, stored once.

A file used by many items (a picture shared by three language editions of a book) takes
space once. Files arrive through `add`, which hashes while copying (one read of each byte:
a Pi 4 has no SHA instructions), writes to a temporary name, fsyncs and renames, so a power
cut leaves either the whole file or none; a partial copy is kept and resumed next time.
A file found damaged (wrong size when served, wrong hash when checked) is moved to
ROOT/quarantine/, so it is never served again and the next bundle that carries it restores it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from content_mirror.manifest import is_sha256
from server.errors import Refused
from server.fsutil import CHUNK, fsync_dir


class ContentStore:
    """Files under ROOT/ab/abcdef..., ROOT/partial/ for copies under way, ROOT/quarantine/."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.partial = self.root / "partial"
        self.partial.mkdir(parents=True, exist_ok=True)
        self.quarantined = self.root / "quarantine"

    def path(self, sha: str) -> Path:
        if not is_sha256(sha):
            raise ValueError(f"not a SHA-256 name: {sha!r}")
        return self.root / sha[:2] / sha

    def has(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def intact(self, sha: str, size: int) -> bool:
        """Whether SHA is stored at SIZE bytes; a stored copy of another size is quarantined."""
        try:
            if self.path(sha).stat().st_size == size:
                return True
        except FileNotFoundError:
            return False
        self.quarantine(sha)
        return False

    def quarantine(self, sha: str) -> None:
        """Move a damaged file out of the store (kept for a person to look at, never served)."""
        self.quarantined.mkdir(exist_ok=True)
        try:
            os.replace(self.path(sha), self.quarantined / sha)
        except FileNotFoundError:
            pass  # another thread or process was first

    def add(self, src: BinaryIO, sha: str, size: int,
            progress: Callable[[int], None] | None = None) -> None:
        """Copy SIZE bytes from SRC into the store as SHA, checking the hash as they pass.

        A partial copy left by an earlier, interrupted try is hashed (it is on the local
        disk, so that is quick) and the copy goes on from where it stopped; SRC must then be
        seekable. Raises Refused when the bytes are not what SHA and SIZE say.
        """
        final = self.path(sha)
        if final.is_file():
            return
        part = self.partial / sha
        digest = hashlib.sha256()
        done = 0
        if part.is_file() and 0 < part.stat().st_size <= size and src.seekable():
            with part.open("rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
                    done += len(chunk)
            src.seek(done)
            if progress:
                progress(done)
        mode = "ab" if done else "wb"
        with part.open(mode) as out:
            while done < size:
                chunk = src.read(min(CHUNK, size - done))
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(len(chunk))
            extra = src.read(1)
            out.flush()
            os.fsync(out.fileno())
        if done != size or extra:
            part.unlink(missing_ok=True)
            raise Refused(f"file {sha[:12]}… is not {size} bytes long as the manifest says", "damaged")
        if digest.hexdigest() != sha:
            part.unlink(missing_ok=True)
            raise Refused(f"file {sha[:12]}… does not match its SHA-256 (damaged or tampered)", "damaged")
        final.parent.mkdir(exist_ok=True)
        os.replace(part, final)
        fsync_dir(final.parent)
        (self.quarantined / sha).unlink(missing_ok=True)  # restored: the damaged copy has done its job

    def remove(self, sha: str) -> None:
        self.path(sha).unlink(missing_ok=True)

    def __iter__(self) -> Iterator[str]:
        """Every stored file's SHA-256."""
        for sub in self.root.iterdir():
            if len(sub.name) == 2 and sub.is_dir():
                for f in sub.iterdir():
                    if is_sha256(f.name):
                        yield f.name

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def clear_partial(self) -> None:
        """Drop partial copies: after an import is complete, no other needs them (imports run
        one at a time), and one cut short next time starts that file again."""
        for f in self.partial.iterdir():
            f.unlink(missing_ok=True)
