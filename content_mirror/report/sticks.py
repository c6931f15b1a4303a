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
from typing import BinaryIO

USAGE = re.compile(r"usage-((?:19[7-9]\d|2\d{3})-(?:0[1-9]|1[0-2])|undated)\.csv|usage\.csv")
DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_DEPTH = 8  # a stick's sanduq/exports/DEVICE is three deep; copies add a few folders
MAX_FILE = 1 << 30  # a month of a busy school is a few MB; a bigger file is not a box's
MAX_JSON = 1 << 20  # receipts and box.json are a few KB
MAX_SUMMARY = 32 << 20  # a summary (read whole, in Python) is a row per item: a few hundred KB
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Source:
    """One file to read: its path, the box it belongs to (from its folder's name), its size when
    listed, and once read its hash and how many lines it has after the first (intake.py asks why
    when fewer rows could be read)."""
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
    """A small file's hash and bytes, read once (a usage file is read later, by copy_rows, when
    its rows are copied: one read for both)."""
    if kind == "usage":
        return Source(path, path.parent.name, "", os.lstat(path).st_size)
    limit = {"box": MAX_JSON, "receipt": MAX_JSON, "summary": MAX_SUMMARY}[kind]
    with open_file(path) as f:
        digest, size, kept = hashlib.sha256(), 0, []
        while chunk := f.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise ValueError("it is far larger than any a box writes")
            digest.update(chunk)
            kept.append(chunk)  # parsed from these bytes, never read again
    return Source(path, path.parent.name if kind != "receipt" else "", digest.hexdigest(), size, 0, b"".join(kept))


def open_file(path: Path) -> BinaryIO:
    """PATH opened for reading if it is still a plain file: one swapped for a link or a pipe since
    it was listed is refused (O_NOFOLLOW, O_NONBLOCK where the system has them)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                 | getattr(os, "O_BINARY", 0))
    f = open(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise ValueError("it is not a plain file")
    return f


def first_line(f: BinaryIO) -> bytes:
    """A usage file's heading line, as bytes; ValueError if it is too long to be one."""
    line = f.readline(4096)
    if len(line) == 4096 and not line.endswith(b"\n"):
        raise ValueError("its first line is not the heading a box writes")
    return line


def copy_rows(f: BinaryIO, source: Source, first: bytes, out: BinaryIO, prefix: bytes) -> bool:
    """Read the rest of SOURCE's usage file F (FIRST, its heading line, already read): set its hash
    and lines, and copy its rows to OUT, each line begun with PREFIX, so that one read of OUT by
    DuckDB holds many files' rows, each naming its file (DuckDB pays about 0.1 ms for every file
    it opens: 2.3 s of 2.8 s on 23,000 monthly files).

    Only a plain file is copied, one where a line is always a row: no double quote (a quoted
    field may hold a line break, which PREFIX would cut in two) and no carriage return but
    before a line feed. Of any other file, what was copied is taken back (OUT cut to where it
    was) and False returned: it is read on its own. No more than the largest file a box writes
    is ever read, whatever size the file claims; the file may not have changed size since it
    was listed (a stick pulled out, a copy still being written)."""
    start = out.tell()
    digest, lines, size, last = hashlib.sha256(first), first.count(b"\n"), len(first), first[-1:]
    plain, at_line_start = True, True
    try:
        while chunk := f.read(1 << 20):
            if chunk.endswith(b"\r"):  # its line feed, if any, in the same chunk
                chunk += f.read(1)
            size += len(chunk)
            if size > MAX_FILE:
                raise ValueError("it is far larger than any a box writes")
            digest.update(chunk)
            last = chunk[-1:]
            if plain and (b'"' in chunk or b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n")):
                plain = False
                out.seek(start)
                out.truncate()
            if plain:
                ends = chunk.endswith(b"\n")
                body = (chunk[:-1] if ends else chunk).replace(b"\n", b"\n" + prefix)
                lines += (len(body) - len(chunk) + ends) // len(prefix) + ends  # counted by the replace: no second pass
                out.write((prefix if at_line_start else b"") + body + (b"\n" if ends else b""))
                at_line_start = ends
            else:
                lines += chunk.count(b"\n")
        if plain and not at_line_start:  # a last row without its line feed
            out.write(b"\n")
        if size != source.size:
            raise ValueError(f"it changed while it was read ({source.size:,} bytes, then {size:,}); copy it again")
    except BaseException:
        out.seek(start)
        out.truncate()
        raise
    lines += last not in (b"", b"\n")  # a last line without its line feed
    source.sha256, source.lines = digest.hexdigest(), max(lines - 1, 0)
    return plain


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
