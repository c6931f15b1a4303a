"""Adding rows to an authoring folder's sheets without disturbing anything already there.

The importers (a PDF storybook, a Kolibri channel, a scanned folder) share these: the folder
made if new and held locked while they work, their finished files moved into place in one
rename, and each sheet written whole with the new rows at its end and the old ones kept byte
for byte. Every step notes its undoing on an ExitStack, so a refusal, a failure or Ctrl-C
leaves the folder as it was.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import shutil
import unicodedata
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from server.errors import BadRequest, InvalidSource, SanduqError
from server.fsutil import fsync_dir, write_atomically

LIBRARY_TOML = """\
# This library's settings (docs/authoring.md).
# channel: the name its updates are counted under on every box; one per library.
channel = "local"
"""


def open_folder(source: Path, held: ExitStack, undo: ExitStack) -> None:
    """Make the authoring folder SOURCE if it is new (UNDO removes it again) and lock it (HELD)."""
    if not source.exists():
        try:
            source.mkdir()
        except OSError as e:
            raise BadRequest(f"Cannot make the folder {source} ({e.strerror}).") from None
        undo.callback(shutil.rmtree, source, ignore_errors=True)
    lock(source, held)


def lock(source: Path, held: ExitStack) -> None:
    """Hold the authoring folder itself locked (no lock file), so two imports never interleave."""
    if not source.is_dir():
        raise BadRequest(f"{source} is not a folder; give the authoring folder (the one with items.csv).")
    fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY)
    held.callback(os.close, fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SanduqError(f"Another import is adding to {source}; wait for it to finish and try again.") from None


def tidy(text: str) -> str:
    """Text as a page shows it: NFC, control characters dropped, all whitespace one space."""
    text = "".join(c if c.isprintable() or c.isspace() else " " for c in unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def cell(text: str) -> str:
    """TEXT safe in a spreadsheet cell: a leading space keeps = + - @ from being taken for a
    formula (the authoring reader strips it), since words from a PDF or a database may begin
    with anything."""
    return " " + text if text[:1] in ("=", "+", "-", "@") else text


def move_into_place(folder: Path, target: Path, undo: ExitStack) -> None:
    """Rename the finished FOLDER to TARGET (media/books/ID ...), making and noting its parents."""
    missing = [p for p in (target.parent.parent, target.parent) if not p.exists()]
    for parent in missing:
        parent.mkdir()
        undo.callback(shutil.rmtree, parent, ignore_errors=True)
    folder.rename(target)
    undo.callback(shutil.rmtree, target, ignore_errors=True)
    fsync_dir(target.parent)


@dataclass
class Sheet:
    """A sheet as it is on disk, read to find ids, and rewritten with rows added at its end."""

    path: Path
    text: str  # as on disk; "" for a sheet not there yet
    header: list[str]
    rows: list[dict[str, str]]

    @classmethod
    def read(cls, path: Path, new_header: list[str]) -> Sheet:
        if not path.exists():
            return cls(path, "", new_header, [])
        try:
            text = path.read_bytes().decode("utf-8")
            records = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
            header = next(records, [])
            rows = [dict(zip(header, record)) for record in records]
        except UnicodeDecodeError:
            raise InvalidSource(f"{path} is not UTF-8; save it as 'CSV UTF-8' and import again.") from None
        except csv.Error as e:
            raise InvalidSource(f"{path} is not a valid CSV file ({e}).") from None
        first = text.removeprefix("\ufeff").split("\n", 1)[0].rstrip("\r")
        if next(csv.reader([first]), []) != header:
            raise InvalidSource(f"{path} has a header row over several lines; put each column's name on the first line.")
        return cls(path, text, header, rows)

    def replace(self, rows: list[dict[str, str]], undo: ExitStack) -> None:
        """Write the sheet whole with ROWS at its end; UNDO puts the old one back.

        The rows already there are kept byte for byte: a column the new rows fill is added at
        the end of the header line only, and a shorter row reads as empty cells. A new sheet
        starts with a BOM: Excel takes a CSV without one for the computer's own code page, and
        Cyrillic comes out garbled; every other spreadsheet and the reader accept it.
        """
        filled = dict.fromkeys(column for row in rows for column, value in row.items() if value)
        header = self.header + [c for c in filled if c not in self.header]
        newline = "\r\n" if "\r\n" in self.text else "\n"
        if self.text:
            bom = "\ufeff" if self.text.startswith("\ufeff") else ""
            first, _, body = self.text.removeprefix(bom).partition("\n")
            head = bom + ",".join([first.rstrip("\r"), *header[len(self.header):]]) + newline
            body += newline if body and not body.endswith("\n") else ""
        else:
            head, body = "\ufeff" + ",".join(header) + newline, ""
        out = io.StringIO()
        csv.DictWriter(out, header, extrasaction="ignore", lineterminator=newline).writerows(rows)
        old = self.text.encode("utf-8") if self.text else None  # decoded as read, so the same bytes
        undo.callback(lambda: write_atomically(self.path, old) if old is not None else self.path.unlink(missing_ok=True))
        write_atomically(self.path, (head + body + out.getvalue()).encode("utf-8"))
