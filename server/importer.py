"""Installing a manifest into the library: the one import path for the demo and for bundles.

Order matters for a power cut or a pulled stick at any moment: first every missing file goes
into the store (each complete and checked, or kept as a partial copy to resume), then the
catalog switches in one transaction, then files no item uses any more are deleted. Until the
switch the old library is what phones see; after it, every file the new one names is there.
Each installed manifest is kept (server/manifests.py), so a damaged catalog can be rebuilt on
the box from them alone.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import BinaryIO, Callable, ContextManager

from content_mirror.manifest import digest, payload_size, validate
from server.errors import NotEnoughSpace, Refused
from server.fsutil import utc_now
from server.gamezip import check_game_zip, check_player_tarball
from server.library import Library
from server.manifests import import_lock, is_kept, keep_manifest, search_texts
from server.store import ContentStore

MB = 1024 * 1024


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


def install(library: Library, manifest: dict, open_file: OpenFile, *, reserve_bytes: int = 0,
            progress: Progress | None = None) -> InstallResult:
    """Bring the library to MANIFEST. OPEN_FILE(sha) opens a payload file for reading."""
    manifest = validate(manifest)
    channel, sequence = manifest["channel"], manifest["sequence"]
    catalog, store, sizes = library.catalog, library.store, manifest["files"]
    with import_lock(library.data_dir):
        catalog.refresh()  # another process may have rebuilt the catalog meanwhile
        installed = catalog.sequences().get(channel)
        if installed == sequence:
            # Nothing to install, but the stick may carry files this box has lost since.
            named = catalog.sizes()
            lost = [sha for sha in sorted(sizes) if sha in named and not store.intact(sha, sizes[sha]["size"])]
            restored = _copy_in(store, manifest, lost, open_file, lambda n: None, lambda sha, e: None)
            if not is_kept(library.data_dir, manifest):  # lost to a power cut, or to a damaged card
                keep_manifest(library.data_dir, manifest)
            return InstallResult(channel, sequence, "already installed", files_copied=len(restored),
                                 bytes_copied=payload_size(manifest, restored))
        if installed is not None and sequence < installed:
            raise Refused(f"{channel} update {sequence} is older than the installed {installed}; "
                          "it was not installed (bring a newer stick).",
                          "downgrade", channel=channel, sequence=sequence, installed=installed)
        bring_full = f"bring the full update of channel {channel}."
        if manifest.get("since") is not None and manifest["base"] != catalog.bases().get(channel):
            raise Refused(f"{channel} update {sequence} was made for a library this box does not hold; "
                          + bring_full, "wrong-base", channel=channel)
        needed = {ref["sha256"] for item in manifest["items"] for ref in item.get("files", [])}
        missing = sorted(sha for sha in needed if not store.intact(sha, sizes[sha]["size"]))
        total = payload_size(manifest, missing)
        partial = sum(p.stat().st_size for p in store.partial.iterdir() if p.name in missing)
        retired = {sha: size for sha, size in catalog.retired().items() if sha not in needed and store.has(sha)}
        free = store.free_bytes()
        wanted = total - partial + reserve_bytes
        if wanted > free + sum(retired.values()):
            raise NotEnoughSpace(
                f"{channel} update {sequence} needs {_mb(wanted)} MB free "
                f"on the box (including a {_mb(reserve_bytes)} MB reserve) but only "
                f"{_mb(free + sum(retired.values()))} MB is free; remove old content or use a larger card.",
                needed_mb=_mb(wanted), free_mb=_mb(free + sum(retired.values())))
        if wanted > free:  # the files still served after the last switch make room first
            catalog.drop_retired()
            for sha in retired:
                store.remove(sha)
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        def absent(sha: str, error: Refused) -> None:
            if manifest.get("since") is not None and sha in catalog.sizes():
                raise Refused(f"this box has lost file {sha[:12]}…, which {channel} update {sequence} "
                              f"does not carry; {bring_full}", "lost-file", channel=channel)
            raise error

        _copy_in(store, manifest, missing, open_file, step, absent)
        for item in manifest["items"]:
            # A zip a player plays (a Bloom book, an H5P package) has no index.html of its own.
            played = any(ref["role"] == "player" for ref in item.get("files", []))
            for ref in item.get("files", []):
                if sizes[ref["sha256"]]["mime"] == "application/zip":
                    check_game_zip(store.path(ref["sha256"]), item["id"], needs_index=not played,
                                   kind="book" if item.get("kind") == "book" else "game")
                elif ref["role"] == "player":
                    check_player_tarball(store.path(ref["sha256"]), item["id"])
        # Kept before the switch: a power cut between the two must not leave an installed
        # update that a rebuild would not know (a kept one not yet installed does no harm:
        # its files are in the store, and a rebuild installs it).
        keep_manifest(library.data_dir, manifest)
        catalog.apply(manifest, now=utc_now(), digest=digest(manifest), texts=search_texts(store, manifest))
        deleted = collect_garbage(library)
        return InstallResult(channel, sequence, "installed", len(manifest["items"]),
                             len(missing), total, deleted)


def _copy_in(store: ContentStore, manifest: dict, shas: list[str], open_file: OpenFile,
             step: Callable[[int], None], absent: Callable[[str, Refused], None]) -> list[str]:
    """Copy SHAS into the store from the bundle and return those copied; ABSENT hears of the others."""
    copied = []
    for sha in shas:
        with ExitStack() as stack:
            try:
                f = stack.enter_context(open_file(sha))
            except Refused as e:
                absent(sha, e)
                continue
            store.add(f, sha, manifest["files"][sha]["size"], progress=step)
            copied.append(sha)
    return copied


def collect_garbage(library: Library) -> int:
    """Delete stored files no item names (call under import_lock). Returns how many went."""
    referenced = library.catalog.referenced()
    orphans = [sha for sha in library.store if sha not in referenced]
    for sha in orphans:
        library.store.remove(sha)
    if library.store.quarantined.is_dir():  # damaged copies of files no item needs any more
        for f in library.store.quarantined.iterdir():
            if f.name not in referenced:
                f.unlink()
    library.store.clear_partial()
    return len(orphans)


def _mb(n: int) -> int:
    return -(-n // MB)
