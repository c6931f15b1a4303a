"""What a stick (or a folder of copies of sticks) holds for the report.

A box writes STICK/sanduq/exports/DEVICE_ID/ (usage-YYYY-MM.csv, usage-undated.csv, and on
older boxes one usage.csv; summary.csv with titles; box.json with the school's name) and
STICK/sanduq/receipts/DEVICE_ID-STAMP.json. An officer may hand us the stick's top folder, its
sanduq/ folder, or a folder into which many sticks were copied under any names, so the files
are found by their own names and their folder's, at any depth (bounded), never by where the
stick says they are. Nothing found here is trusted yet: intake.py checks every row.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

USAGE = re.compile(r"usage-((?:19[7-9]\d|2\d{3})-(?:0[1-9]|1[0-2])|undated)\.csv|usage\.csv")
DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_DEPTH = 8  # a stick's sanduq/exports/DEVICE is three deep; copies add a few folders
MAX_FILE = 1 << 30  # a month of a busy school is a few MB; a bigger file is not a box's
MAX_JSON = 1 << 20  # receipts and box.json are a few KB
MAX_SUMMARY = 32 << 20  # a summary (read whole, in Python) is a row per item: a few hundred KB
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Source:
    """One file to read: its path, the box it belongs to (from its folder's name), its hash, and
    how many lines it has after the first (intake.py asks why when fewer rows could be read)."""
    path: Path
    device: str
    sha256: str
    size: int
    lines: int = 0
    content: bytes = b""  # a summary's, a receipt's or box.json's bytes (bounded), read with the hash


@dataclass
class Found:
    usage: list[Source] = field(default_factory=list)
    summaries: list[Source] = field(default_factory=list)
    boxes: list[tuple[Source, dict]] = field(default_factory=list)  # box.json, read
    receipts: list[tuple[Source, dict]] = field(default_factory=list)  # receipts, read
    problems: list[str] = field(default_factory=list)  # one sentence each, in English for the log


def find(place: Path) -> Found:
    """Everything for the report under PLACE; what cannot be read is a sentence in problems."""
    found = Found()
    place = Path(place)
    if not place.is_dir():
        found.problems.append(f"{place} is not a folder that can be read: check that the stick is plugged in "
                              "and give its top folder.")
        return found
    for path, kind in _walk(place, found.problems):
        try:
            source = _source(path, kind)
            if kind == "usage":
                found.usage.append(source)
            elif kind == "summary":
                found.summaries.append(source)
            else:
                data = _json(source.content)
                (found.boxes if kind == "box" else found.receipts).append((source, data))
        except (OSError, ValueError) as e:
            found.problems.append(f"{path} could not be read ({_why(e)}); copy it again from the stick.")
    if not (found.usage or found.summaries or found.boxes or found.receipts or found.problems):
        found.problems.append(f"No Sanduq exports were found in {place}: give the stick's top folder, or a folder "
                              "with copies of sticks' sanduq folders.")
    return found


def _walk(place: Path, problems: list[str]):
    """(path, kind) of each file a box writes, found by name. Links are not followed (os.walk
    does not enter linked folders; a linked or special file is skipped, with a sentence)."""
    def refused(e: OSError):
        problems.append(f"{e.filename} could not be read ({_why(e)}); check the stick, then add it again.")

    top = len(place.parts)
    for folder, dirs, files in os.walk(place, onerror=refused):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # macOS's ._ files and .Trashes
        if len(here.parts) - top >= MAX_DEPTH and dirs:
            problems.append(f"The folders inside {here} were not searched: they are more than {MAX_DEPTH} folders "
                            f"deep; give a folder closer to the sticks' copies.")
            dirs[:] = []
        parent = here.name
        for name in sorted(files):
            kind = _kind(parent, name)
            if kind is None:
                continue
            try:
                regular = stat.S_ISREG(os.lstat(here / name).st_mode)
            except OSError as e:
                refused(e)
                continue
            if regular:
                yield here / name, kind
            else:
                problems.append(f"{here / name} is a link or a special file, not a file a box writes; it was skipped.")


def _kind(parent: str, name: str) -> str | None:
    """What a box's file of this NAME in a folder called PARENT holds, or None."""
    if name.startswith("."):
        return None
    if parent == "receipts" and name.endswith(".json"):
        return "receipt"
    if DEVICE.fullmatch(parent):
        if USAGE.fullmatch(name):
            return "usage"
        return {"summary.csv": "summary", "box.json": "box"}.get(name)
    return None


def _source(path: Path, kind: str) -> Source:
    """The file's hash and lines, read once; a file swapped for a link or a pipe since it was
    listed is refused (O_NOFOLLOW, O_NONBLOCK where the system has them), and no more than the
    largest file a box writes is ever read, whatever size the file claims."""
    limit = {"box": MAX_JSON, "receipt": MAX_JSON, "summary": MAX_SUMMARY}.get(kind, MAX_FILE)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                 | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("it is not a plain file")
        digest, lines, last, size, kept = hashlib.sha256(), 0, b"\n", 0, []
        while chunk := f.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise ValueError("it is far larger than any a box writes")
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            if kind in ("box", "receipt", "summary"):  # parsed from these bytes, never read again
                kept.append(chunk)
    lines += last != b"\n"  # a last line without its newline
    return Source(path, path.parent.name if kind != "receipt" else "", digest.hexdigest(), size, max(lines - 1, 0),
                  b"".join(kept))


def _json(content: bytes) -> dict:
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError("it is not a box's JSON") from e
    if not isinstance(data, dict):
        raise ValueError("it is not a box's JSON")
    return data


def text(data: dict, key: str, limit: int = 200) -> str:
    """A short string from a box's JSON, without control characters (PostgreSQL refuses NUL), or
    empty: anything else in it is not trusted."""
    value = data.get(key)
    return CONTROL.sub("", value).strip()[:limit] if isinstance(value, str) else ""


def _why(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)
