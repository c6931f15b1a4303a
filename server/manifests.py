"""The manifests a box keeps, and the catalog rebuilt from them.

The catalog is only a copy of what signed manifests said: every installed manifest is kept
as DATA_DIR/manifests/ORDER-SEQUENCE-CHANNEL.json (a full one replaces its channel's older
ones; deltas follow it in install order), so a damaged catalog is rebuilt on the box from
them alone (server/library.py). Imports and rebuilds take turns under one lock.
"""

from __future__ import annotations

import fcntl
import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from content_mirror.manifest import digest, validate
from server.catalog import Catalog
from server.errors import SanduqError
from server.fsutil import atomic_file, utc_now
from server.store import ContentStore

TEXT_LIMIT = 256 * 1024  # bytes of a document or subtitle file that go into the search index
_VTT_NOISE = re.compile(r"^(WEBVTT.*|NOTE.*|\d+|[\d:.]+ --> [\d:.]+.*)$", re.MULTILINE)


@contextmanager
def import_lock(data_dir: Path) -> Iterator[None]:
    """One import or rebuild at a time per library, across processes (the daemon, the server, a shell)."""
    with open(data_dir / "import.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def keep_manifest(data_dir: Path, manifest: dict) -> None:
    """Keep MANIFEST as DATA_DIR/manifests/ORDER-SEQUENCE-CHANNEL.json; a full one replaces its channel's."""
    folder = data_dir / "manifests"
    folder.mkdir(exist_ok=True)
    kept = _kept(folder)
    order = max((int(p.name.split("-", 1)[0]) for p in kept), default=0) + 1
    target = folder / f"{order:06d}-{manifest['sequence']}-{manifest['channel']}.json"
    with atomic_file(target, encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, separators=(",", ":"))
    if manifest.get("full", True):
        for p in kept:
            if p.name.split("-", 2)[2] == f"{manifest['channel']}.json":
                p.unlink()


def _kept(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def is_kept(data_dir: Path, manifest: dict) -> bool:
    """Whether MANIFEST (its channel and sequence) is among the kept ones."""
    name = f"-{manifest['sequence']}-{manifest['channel']}.json"
    return any(p.name.endswith(name) for p in _kept(data_dir / "manifests"))


def rebuild_catalog(data_dir: Path, store: ContentStore, target: Path) -> int:
    """Write at TARGET a catalog made from the kept manifests in install order; return its item count.

    A kept manifest that cannot be read any more is left out, and so is a delta whose base is
    then not what the rebuilt catalog holds (it would make a library matching neither): the
    next stick with the channel's full update brings them back.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    fresh = Catalog(target)
    try:
        for path in _kept(data_dir / "manifests"):
            try:
                manifest = validate(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, SanduqError):
                continue
            if manifest.get("since") is not None and manifest["base"] != fresh.bases().get(manifest["channel"]):
                continue
            fresh.apply(manifest, now=utc_now(), digest=digest(manifest),
                        texts=search_texts(store, manifest))
        return fresh.count()
    finally:
        fresh.close()


def search_texts(store: ContentStore, manifest: dict) -> dict[str, str]:
    """The words of each item's documents and subtitles, for the search index."""
    texts = {}
    for item in manifest["items"]:
        parts = []
        for ref in item.get("files", []):
            mime = manifest["files"][ref["sha256"]]["mime"]
            if mime in ("text/markdown", "text/vtt") and store.has(ref["sha256"]):
                with store.path(ref["sha256"]).open("rb") as f:
                    text = f.read(TEXT_LIMIT).decode("utf-8", "replace")
                parts.append(_VTT_NOISE.sub(" ", text) if mime == "text/vtt" else text)
        if parts:
            texts[item["id"]] = " ".join(parts)
    return texts
