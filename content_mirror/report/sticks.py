"""What a stick (or a folder of copies of sticks) holds for the report.

A box writes STICK/sanduq/exports/DEVICE_ID/ (usage-YYYY-MM.csv, usage-undated.csv, and on
older boxes one usage.csv; summary.csv with titles; box.json with the school's name) and
STICK/sanduq/receipts/DEVICE_ID-STAMP.json. An officer may hand us the stick's top folder, its
sanduq/ folder, or a folder into which many sticks were copied under any names, so the files
are found by their own names and their folder's, at any depth (bounded), never by where the
stick says they are. Nothing found here is trusted yet: store.py checks every row.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

USAGE = re.compile(r"usage-((?:19[7-9]\d|2\d{3})-(?:0[1-9]|1[0-2])|undated)\.csv|usage\.csv")
DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_DEPTH = 8  # a stick's sanduq/exports/DEVICE is three deep; copies add a few folders
MAX_FILE = 1 << 30  # a month of a busy school is a few MB; a bigger file is not a box's
MAX_JSON = 1 << 20  # receipts and box.json are a few KB


@dataclass
class Source:
    """One file to read: its path, the box it belongs to (from its folder's name), its hash, and
    how many lines it has after the first (store.py asks why when fewer rows could be read)."""
    path: Path
    device: str
    sha256: str
    size: int
    lines: int = 0


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
                data = _json(path)
                (found.boxes if kind == "box" else found.receipts).append((source, data))
        except (OSError, ValueError) as e:
            found.problems.append(f"{path} could not be read ({_why(e)}); copy it again from the stick.")
    if not (found.usage or found.receipts or found.problems):
        found.problems.append(f"No Sanduq exports were found in {place}: give the stick's top folder, or a folder "
                              "with copies of sticks' sanduq folders.")
    return found


def _walk(place: Path, problems: list[str]):
    """(path, kind) of each file a box writes, found by name; links are not followed."""
    def refused(e: OSError):
        problems.append(f"{e.filename} could not be read ({_why(e)}); check the stick, then add it again.")

    top = len(place.parts)
    for folder, dirs, files in os.walk(place, onerror=refused):
        here = Path(folder)
        if len(here.parts) - top >= MAX_DEPTH:
            dirs[:] = []
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # macOS's ._ files and .Trashes
        parent = here.name
        for name in sorted(files):
            if name.startswith("."):
                continue
            if parent == "receipts" and name.endswith(".json"):
                yield here / name, "receipt"
            elif DEVICE.fullmatch(parent):
                if USAGE.fullmatch(name):
                    yield here / name, "usage"
                elif name == "summary.csv":
                    yield here / name, "summary"
                elif name == "box.json":
                    yield here / name, "box"


def _source(path: Path, kind: str) -> Source:
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > (MAX_JSON if kind in ("box", "receipt") else MAX_FILE):
            raise ValueError("it is far larger than any a box writes")
        digest, lines, last = hashlib.sha256(), 0, b"\n"
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"  # a last line without its newline
    return Source(path, path.parent.name if kind != "receipt" else "", digest.hexdigest(), size, max(lines - 1, 0))


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes()[:MAX_JSON].decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError("it is not a box's JSON") from e
    if not isinstance(data, dict):
        raise ValueError("it is not a box's JSON")
    return data


def text(data: dict, key: str, limit: int = 200) -> str:
    """A short string from a box's JSON, or empty: anything else in it is not trusted."""
    value = data.get(key)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _why(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)
