"""Signed bundles on a stick (INTERFACES.md): building them, and reading them without trust.

    STICK/sanduq/bundles/NAME/manifest.json          the manifest (manifest.py)
    STICK/sanduq/bundles/NAME/manifest.json.minisig  its minisign signature
    STICK/sanduq/bundles/NAME/files/SHA256           payload, named by the hash of its bytes

A stick can hold anything, so reading is careful in this order: the signature file and the
manifest must be small regular files (no links, FIFOs or devices), the signature is checked
against the trusted keys over the manifest's exact bytes before anything else is believed,
and payload files are opened without following links and checked to be regular files; their
size and hash are checked as they are copied (server/store.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from content_mirror import minisign
from content_mirror.authoring import read_source
from content_mirror.manifest import digest, validate
from server.errors import InvalidSource, Refused, SanduqError
from server.fsutil import CHUNK, atomic_file, sha256_file, sha256_of, utc_now, write_atomically

FAT32_LIMIT = 4 * 1024**3 - 1  # largest file a FAT32 stick holds
MAX_MANIFEST = 32 * 1024 * 1024
BUILT = re.compile(r"\bbuilt:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\b")  # in the trusted comment


def bundles_folder(stick: Path) -> Path:
    return Path(stick) / "sanduq" / "bundles"


def bundle_dirs(stick: Path) -> list[Path]:
    """The bundle folders on a stick, by name; links and files there are not bundles."""
    folder = bundles_folder(stick)
    try:
        entries = sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [p for p in entries if stat.S_ISDIR(p.lstat().st_mode)]


def _read_small(path: Path, limit: int, what: str, code: str = "damaged") -> bytes:
    """Read a regular file of at most LIMIT bytes, refusing links, FIFOs and devices."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise Refused(f"it has no {what}", code) from None
    except OSError as e:
        raise Refused(f"its {what} cannot be opened ({e.strerror})", "damaged") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"its {what} is not a regular file", "damaged")
        if info.st_size > limit:
            raise Refused(f"its {what} is larger than {limit // 1024} KB", "damaged")
        return f.read(limit + 1)[:limit]


def read_bundle(folder: Path, keys: list[minisign.PublicKey]) -> dict:
    """The checked manifest of the bundle in FOLDER; Refused (with the reason) otherwise."""
    return read_signed(folder, keys)[0]


def read_signed(folder: Path, keys: list[minisign.PublicKey]) -> tuple[dict, str | None]:
    """read_bundle's manifest, and when the bundle was built (UTC, from the signed trusted
    comment: a box whose clock reads earlier knows its clock is behind; server/clock.py)."""
    signature = _read_small(folder / "manifest.json.minisig", minisign.MAX_SIGNATURE_FILE,
                            "signature (manifest.json.minisig)", code="untrusted")
    data = _read_small(folder / "manifest.json", MAX_MANIFEST, "manifest.json")
    if not keys:
        raise Refused("this box has no trusted keys to check it with", "no-keys")
    _, comment = minisign.verify(data, signature.decode("utf-8", "replace"), keys)
    built = BUILT.search(comment)
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):
        raise Refused("its manifest is not valid JSON", "damaged") from None
    try:
        return validate(manifest), built and built[1]
    except InvalidSource as e:
        raise Refused(f"its {e.message}", "invalid") from None


def open_payload(folder: Path, sha: str) -> BinaryIO:
    """Open FOLDER/files/SHA for reading, refusing anything but a regular file."""
    try:
        fd = os.open(folder / "files" / sha, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise Refused(f"file {sha[:12]}… is missing from the bundle", "damaged") from None
    except OSError as e:
        if e.errno == 40:  # ELOOP: a symbolic link
            raise Refused(f"file {sha[:12]}… is a link, not a file", "damaged") from None
        raise
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        f.close()
        raise Refused(f"file {sha[:12]}… is not a regular file", "damaged")
    os.set_blocking(fd, True)
    return f


@dataclass
class BuildResult:
    folder: Path
    manifest: dict
    files_written: int = 0
    bytes_written: int = 0


def _delta(manifest: dict, old: dict) -> dict:
    """Only what changed since OLD: new or changed items, the ids to remove, their new files."""
    before = {item["id"]: item for item in old["items"]}
    changed = [item for item in manifest["items"] if before.get(item["id"]) != item]
    now = {item["id"] for item in manifest["items"]}
    return dict(manifest, full=False, since=old["sequence"], base=digest(old), items=changed,
                remove=sorted(set(before) - now),
                files={ref["sha256"]: manifest["files"][ref["sha256"]]
                       for item in changed for ref in item.get("files", [])})


def build(source: Path, stick: Path, secret_key: Path, *, sequence: int | None = None,
          since: Path | None = None, name: str | None = None,
          progress: Callable[[int, int], None] | None = None, videos=None, takehome: bool = False,
          report: Callable[[str], None] = print) -> BuildResult:
    """Write a signed bundle of the authoring folder SOURCE onto STICK.

    VIDEOS (content_mirror.video.Limits) makes every video fit for phones first, and TAKEHOME
    makes each book a video and each activity and tip a card for phones to keep
    (content_mirror/takehome.py), as `sanduq-mirror build` does unless told not to; REPORT
    gets a line for each change.
    """
    key = minisign.read_secret_key(secret_key)
    source_read = read_source(source, sequence=sequence)
    if videos is not None:
        from content_mirror.video import fit_videos

        source_read = fit_videos(source_read, source, videos, report)
        validate(source_read.manifest)
    if takehome:
        from content_mirror.takehome import add_takehome

        source_read = add_takehome(source_read, source, report=report)
        validate(source_read.manifest)
    manifest, paths = source_read.manifest, source_read.paths
    shipped = set(manifest["files"])
    if since is not None:
        try:
            old = validate(json.loads(Path(since).read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise SanduqError(f"Cannot read the old manifest {since} ({e}).") from None
        if old["channel"] != manifest["channel"]:
            raise SanduqError(f"{since} is of channel {old['channel']!r}, not {manifest['channel']!r}.")
        if old.get("since") is not None:
            raise SanduqError(f"{since} is a delta; build --since needs the manifest of a full build.")
        if manifest["sequence"] <= old["sequence"]:
            raise SanduqError(f"The new sequence {manifest['sequence']} must be larger than "
                              f"{old['sequence']} of {since}; set it with --sequence.")
        manifest = _delta(manifest, old)
        shipped = set(manifest["files"]) - set(old["files"])  # the box has the rest already
    too_big = [paths[s] for s in shipped if manifest["files"][s]["size"] > FAT32_LIMIT]
    if too_big:
        raise SanduqError(f"{too_big[0]} is 4 GB or larger and cannot travel on a FAT32 stick; "
                          "encode it smaller (an hour of preschool video at 1.5 Mbps is under 1 GB).")
    folder = bundles_folder(stick) / (name or f"{manifest['channel']}-{manifest['sequence']:06d}")
    files = folder / "files"
    files.mkdir(parents=True, exist_ok=True)
    result = BuildResult(folder, manifest)
    total = sum(manifest["files"][s]["size"] for s in shipped)
    done = 0
    for sha in sorted(shipped):
        target = files / sha
        size = manifest["files"][sha]["size"]
        if not (target.is_file() and target.stat().st_size == size and sha256_file(target) == sha):
            with paths[sha].open("rb") as src, atomic_file(target) as out:
                shutil.copyfileobj(src, out, CHUNK)  # a build cut short resumes: whole files are kept
            result.files_written += 1
            result.bytes_written += size
        done += size
        if progress:
            progress(done, total)
    data = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
    write_atomically(folder / "manifest.json", data)
    write_atomically(folder / "manifest.json.minisig", minisign.sign(
        data, key, trusted_comment=f"sanduq channel:{manifest['channel']} sequence:{manifest['sequence']} "
                                   f"built:{utc_now()}").encode())
    return result


@dataclass
class Checked:
    name: str
    manifest: dict | None = None
    problem: str | None = None


def verify_stick(stick: Path, keys: list[minisign.PublicKey]) -> list[Checked]:
    """Check every bundle on STICK as the box would, payload hashes included; change nothing."""
    results = []
    for folder in bundle_dirs(stick):
        try:
            manifest = read_bundle(folder, keys)
            for sha, info in sorted(manifest["files"].items()):
                path = folder / "files" / sha
                if not path.exists() and manifest.get("since"):
                    continue  # a delta leaves out what the box has from earlier updates
                with open_payload(folder, sha) as f:
                    found, size = sha256_of(f)
                if size != info["size"] or found != sha:
                    raise Refused(f"file {sha[:12]}… is damaged or was changed", "damaged")
            results.append(Checked(folder.name, manifest))
        except Refused as e:
            results.append(Checked(folder.name, problem=e.message))
    return results


def progress_bar(label: str) -> Callable[[int, int], None] | None:
    """A one-line progress bar on a terminal; None (silence) in a pipe or a log."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        sys.stderr.write(f"\r{label} [{bar:<30}] {share:4.0%} {done / 1e6:,.0f}/{total / 1e6:,.0f} MB")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
