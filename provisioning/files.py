"""Configuration files written the safe way: atomically, only when changed, under any root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from server.errors import SanduqError
from server.fsutil import write_atomically
from server.languages import N_

# The first line of every file we write. It tells a person not to edit by hand, and tells
# us which files are ours to remove when the other backend is chosen.
MARKER = "# Written by sanduq-provision"


@dataclass(frozen=True)
class ConfigFile:
    """A file as it must be on the box: absolute path there, full text, permission bits."""

    path: PurePosixPath
    text: str
    mode: int = 0o644


def on_root(root: Path, path: PurePosixPath) -> Path:
    """Where the box's absolute PATH lies under ROOT (/ for the running system)."""
    return Path(root) / path.relative_to("/")


def install(files: list[ConfigFile], root: Path) -> list[tuple[Path, str]]:
    """Write each file under ROOT unless it already holds these bytes; say what happened to each.

    A file is replaced by rename, so a power cut leaves the old file or the new one, never
    half of one; a file already right is not touched, so its time stamp says when it changed.
    """
    done = []
    for f in files:
        target = on_root(root, f.path)
        data = f.text.encode("utf-8")
        try:
            if _holds(target, data, f.mode):
                done.append((target, "unchanged"))
                continue
            write_atomically(target, data, mode=f.mode)  # the mode is set before a byte is written
        except OSError as e:
            raise SanduqError.said(N_("Cannot write %(target)s (%(why)s); run the command as root, "
                                      "or have it write to a folder you can write to."),
                                   target=str(target), why=e.strerror) from None
        done.append((target, "wrote"))
    return done


def remove_ours(paths: list[PurePosixPath], root: Path) -> list[tuple[Path, str]]:
    """Remove those of PATHS under ROOT that we wrote (they start with MARKER); leave others."""
    done = []
    for path in paths:
        target = on_root(root, path)
        try:
            with target.open("rb") as f:
                ours = f.readline().startswith(MARKER.encode())
            if ours:
                target.unlink()
                done.append((target, "removed"))
        except FileNotFoundError:
            continue
        except OSError as e:
            raise SanduqError.said(N_("Cannot remove %(target)s (%(why)s); run the command as root."),
                                   target=str(target), why=e.strerror) from None
    return done


def _holds(target: Path, data: bytes, mode: int) -> bool:
    try:
        return target.read_bytes() == data and (target.stat().st_mode & 0o7777) == mode
    except FileNotFoundError:
        return False
