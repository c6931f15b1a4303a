"""Installing a manifest into the library: the one import path for the demo and for bundles.

Order matters for a power cut or a pulled stick at any moment: first every missing file goes
into the store (each complete and checked, or kept as a partial copy to resume), then the
catalog switches in one transaction, then files no item uses any more are deleted. Until the
switch the old library is what phones see; after it, every file the new one names is there.
"""

from __future__ import annotations

import fcntl
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager, Iterator

from content_mirror.manifest import payload_size, validate
from server.errors import NotEnoughSpace, Refused
from server.gamezip import check_game_zip
from server.library import Library

MB = 1024 * 1024
TEXT_LIMIT = 256 * 1024  # bytes of a document or subtitle file that go into the search index
_VTT_NOISE = re.compile(r"^(WEBVTT.*|NOTE.*|\d+|[\d:.]+ --> [\d:.]+.*)$", re.MULTILINE)


@dataclass
class InstallResult:
    channel: str
    sequence: int
    status: str  # "installed" or "already installed"
    items: int = 0
    files_copied: int = 0
    bytes_copied: int = 0
    files_deleted: int = 0


OpenFile = Callable[[str], ContextManager[BinaryIO]]
Progress = Callable[[int, int], None]


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def import_lock(data_dir: Path) -> Iterator[None]:
    """One import at a time per library, across processes (the daemon, the server, a shell)."""
    with open(data_dir / "import.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def install(library: Library, manifest: dict, open_file: OpenFile, *, reserve_bytes: int = 0,
            progress: Progress | None = None) -> InstallResult:
    """Bring the library to MANIFEST. OPEN_FILE(sha) opens a payload file for reading."""
    manifest = validate(manifest)
    channel, sequence = manifest["channel"], manifest["sequence"]
    with import_lock(library.data_dir):
        installed = library.catalog.sequences().get(channel)
        if installed == sequence:
            return InstallResult(channel, sequence, "already installed")
        if installed is not None and sequence < installed:
            raise Refused(f"{channel} update {sequence} is older than the installed {installed}; "
                          "it was not installed (bring a newer stick).")
        since = manifest.get("since")
        if since is not None and (installed is None or installed < since):
            raise Refused(f"{channel} update {sequence} only adds to update {since}, and this box has "
                          f"{'none' if installed is None else installed}; bring the full update.")
        store = library.store
        needed = {ref["sha256"] for item in manifest["items"] for ref in item.get("files", [])}
        missing = sorted(sha for sha in needed if not store.has(sha))
        total = payload_size(manifest, missing)
        partial = sum(p.stat().st_size for p in store.partial.iterdir() if p.name in missing)
        free = store.free_bytes()
        if total - partial + reserve_bytes > free:
            raise NotEnoughSpace(
                f"{channel} update {sequence} needs {_mb(total - partial + reserve_bytes)} MB free "
                f"on the box (including a {_mb(reserve_bytes)} MB reserve) but only {_mb(free)} MB "
                "is free; remove old content or use a larger card.")
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        for sha in missing:
            with open_file(sha) as f:
                store.add(f, sha, manifest["files"][sha]["size"], progress=step)
        for item in manifest["items"]:
            if item["kind"] == "game":
                for ref in item.get("files", []):
                    if manifest["files"][ref["sha256"]]["mime"] == "application/zip":
                        check_game_zip(store.path(ref["sha256"]), item["id"])
        library.catalog.apply(manifest, now=now_utc(), texts=_search_texts(library, manifest))
        deleted = collect_garbage(library, keep_partial=set())
        return InstallResult(channel, sequence, "installed", len(manifest["items"]),
                             len(missing), total, deleted)


def collect_garbage(library: Library, *, keep_partial: set[str]) -> int:
    """Delete stored files no item names (call under import_lock). Returns how many went."""
    referenced = library.catalog.referenced()
    orphans = [sha for sha in library.store if sha not in referenced]
    for sha in orphans:
        library.store.remove(sha)
    library.store.clear_partial(keep_partial)
    return len(orphans)


def _search_texts(library: Library, manifest: dict) -> dict[str, str]:
    """The words of each item's documents and subtitles, for the search index."""
    texts = {}
    for item in manifest["items"]:
        parts = []
        for ref in item.get("files", []):
            mime = manifest["files"][ref["sha256"]]["mime"]
            if mime in ("text/markdown", "text/vtt"):
                with library.store.path(ref["sha256"]).open("rb") as f:
                    text = f.read(TEXT_LIMIT).decode("utf-8", "replace")
                parts.append(_VTT_NOISE.sub(" ", text) if mime == "text/vtt" else text)
        if parts:
            texts[item["id"]] = " ".join(parts)
    return texts


def _mb(n: int) -> int:
    return -(-n // MB)
