"""A Kolibri channel, as exported to a drive, added to an authoring folder (docs/kolibri.md).

Schools and NGOs often have their content as Kolibri channels already. `import_channel` reads
the channel's own database (content_mirror/kolibri_db.py) and copies the files Sanduq can play
out of `content/storage/` into `media/kolibri/SHORT/` of an authoring folder: videos, audio, PDF
documents, HTML5 apps with index.html at their top, and H5P packages that pass the build's
check. The topic tree becomes courses, and every row is a draft for people to finish in a
spreadsheet. What Sanduq cannot play (exercises, slideshows, ePubs ...) is counted by kind and
reason, never dropped unsaid. It runs on the content team's machine, never on a box.

Everything on the drive is untrusted: a storage file that is a link, or whose size is not what
the database says, is refused by name. Files are copied into a hidden folder and moved into
place at the end, then the sheets are replaced whole (content_mirror/sheets.py), so a refusal
or a failure leaves the folder as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from content_mirror.drafts import COURSE_COLUMNS, NO_LANGUAGE, clock, copy_exactly, cut, header, plural, slug
from content_mirror.h5p import check_h5p
from content_mirror.kolibri_db import HEX32, Node, StorageFile, find_database, read_channel
from content_mirror.manifest import CREDITS, MAX_LIST, TURNS_TEXT, credit_fault
from content_mirror.sheets import LIBRARY_TOML, Sheet, cell, move_into_place, open_folder, tidy
from server.errors import InvalidSource, Refused, SanduqError
from server.fsutil import fsync_dir, write_atomically
from server.gamezip import check_game_zip

VIDEO_PRESETS = ("low_res_video", "high_res_video")  # low first: the build makes videos fit for phones anyway
AUDIO = {"mp3", "m4a", "ogg", "opus"}
PICTURES = {"png", "jpg", "jpeg", "webp"}
# Kolibri's kinds Sanduq has no player for, and why (any other kind: "Sanduq has no kind for it").
UNPLAYABLE = {"exercise": "Kolibri's exercises (Perseus) cannot be played by Sanduq",
              "slideshow": "Kolibri's slideshows cannot be played by Sanduq"}
# What the box's game check says of a zip (server/gamezip.py), as a reason to skip its node.
ZIP_FAULTS = {"is not a valid zip file": "its zip is damaged",
              "has no index.html": "its zip has no index.html at its top (Sanduq's games start there)",
              "holds more than": "its zip holds far more files than a game does"}
UNSAFE_ZIP = "its zip holds names that leave it or files that unpack far too large"
# Kolibri's licence names (le-utils licenselookup.json) -> SPDX ids. le-utils defines each CC
# name by its 4.0 deed (the address it gives), which is what Studio showed the publisher.
# Public Domain (the CC mark), All Rights Reserved and Special Permissions have no SPDX id.
LICENCES = {"CC BY": "CC-BY-4.0", "CC BY-SA": "CC-BY-SA-4.0", "CC BY-ND": "CC-BY-ND-4.0",
            "CC BY-NC": "CC-BY-NC-4.0", "CC BY-NC-SA": "CC-BY-NC-SA-4.0", "CC BY-NC-ND": "CC-BY-NC-ND-4.0"}


@dataclass
class ImportedChannel:
    """What import_channel added and what it left out, and why."""

    channel_id: str
    name: str
    folder: Path  # media/kolibri/SHORT inside the authoring folder
    added: Counter = field(default_factory=Counter)  # Sanduq kind -> items
    skipped: Counter = field(default_factory=Counter)  # (Kolibri kind, why) -> nodes
    missing: list[str] = field(default_factory=list)  # storage files the drive lacks, as "title: path"
    files: int = 0  # files copied (a file used twice is copied once)
    size: int = 0  # their bytes
    no_language: int = 0  # rows whose text went into title_und: Kolibri did not say its language


@dataclass
class _Plan:
    """Everything to add, worked out before the authoring folder is touched."""

    result: ImportedChannel
    items: list[dict] = field(default_factory=list)
    courses: list[dict] = field(default_factory=list)
    # name in the channel's folder -> (storage file, its size as checked)
    copies: dict[str, tuple[Path, int]] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)


def import_channel(kolibri_data: Path | str, source: Path | str, *, channel: str | None = None) -> ImportedChannel:
    """Add the Kolibri channel CHANNEL (default: the only one) of the drive export KOLIBRI_DATA
    to the authoring folder SOURCE (made if new)."""
    kolibri_data, source = _data_folder(Path(kolibri_data)), Path(source)
    database = find_database(kolibri_data, channel)
    try:
        plan = _plan(database, kolibri_data / "content" / "storage", source)
        return _add(plan, source)
    except OSError as e:  # a drive or a folder that cannot be read, a full disk: undone by then
        raise SanduqError(f"Adding {database} to {source} stopped ({e.strerror}: {e.filename}); the folder is "
                          "as it was.") from e


def command(args) -> int:
    """`sanduq-mirror import-kolibri KOLIBRI_DATA SOURCE [--channel ID]`: import and say what happened."""
    done = import_channel(args.kolibri_data, args.source, channel=args.channel)
    added = ", ".join(plural(n, kind) for kind, n in sorted(done.added.items()))
    print(f"Added the Kolibri channel {done.name!r} ({done.channel_id}) to {args.source}: {added}; its "
          f"{done.files} files ({done.size / 1e6:.1f} MB) are in {done.folder}.")
    for (kind, why), n in sorted(done.skipped.items()):
        print(f"Skipped {plural(n, kind + ' node')}: {why}.")
    for missing in done.missing[:10]:
        print(f"  not on the drive: {missing}")
    if len(done.missing) > 10:
        print(f"  ... and {len(done.missing) - 10} more files not on the drive")
    if done.no_language:
        print(f"{done.no_language} rows have no language in Kolibri: their words are in the columns ending "
              f"_{NO_LANGUAGE}; move them to the right language's columns.")
    print("The rows are drafts: audiences are children, or educators for Kolibri's coach content, and ages are "
          "empty; correct the audiences, and fill in ages and the subjects Kolibri did not say, in items.csv.")
    print(f"Check the folder with: sanduq-mirror check {args.source}")
    return 0


def _data_folder(given: Path) -> Path:
    """The folder holding content/: KOLIBRI_DATA itself, or the drive it was exported onto."""
    if not (given / "content").is_dir() and (given / "KOLIBRI_DATA" / "content").is_dir():
        return given / "KOLIBRI_DATA"
    return given


def _plan(database: Path, storage: Path, source: Path) -> _Plan:
    """Read the channel and work out its rows and the files to copy, or refuse it."""
    channel = read_channel(database)
    plan = _Plan(ImportedChannel(channel.id, channel.name, source / "media" / "kolibri" / channel.id[:8]))
    _Placer(plan, storage, database, channel.name).place(channel.root)
    if not plan.items:
        kinds = Counter()
        for (kind, _), n in plan.result.skipped.items():
            kinds[kind] += n
        skipped = ", ".join(plural(n, kind) for kind, n in kinds.most_common(5))
        raise InvalidSource(f"{database} holds nothing Sanduq can play ({skipped or 'no nodes'}); nothing was added.")
    return plan


class _Placer:
    """Walks the tree: each playable node becomes an item row, each topic a course or module."""

    def __init__(self, plan: _Plan, storage: Path, database: Path, name: str):
        self.plan, self.storage, self.database = plan, storage, database
        self.channel_lang = NO_LANGUAGE
        self.source = _credit("source", f"Kolibri channel {name} ({plan.result.channel_id})") or \
            f"Kolibri channel {plan.result.channel_id}"
        # A storage file or folder, looked at once -> its size (0 for a folder), None if absent.
        self.on_drive: dict[Path, int | None] = {}
        self.named: set[Path] = set()  # storage files the drive lacks, named in result.missing

    def place(self, root: Node) -> None:
        # The tree read_channel made holds each node once, so each is placed once.
        self.channel_lang = root.lang or NO_LANGUAGE  # Kolibri's channel language is its root's
        for child in root.children:
            if child.kind == "topic":
                self.course(child)
            else:
                self.content(child)

    def course(self, topic: Node) -> None:
        """TOPIC (under the root) as a course: its sub-topics its modules, the content right under
        it a module of its own name, everything deeper a lesson of the module it is in."""
        at = len(self.plan.items)  # the course's row goes before its lessons
        modules: list[tuple[Node, list[str]]] = []
        for child in topic.children:
            if child.kind == "topic":
                lessons = self.lessons(child)
                if lessons:
                    modules.append((child, lessons))
                else:
                    self.skip("topic", "it holds nothing Sanduq can play")
            elif (lesson := self.content(child)) is not None:
                if modules and modules[-1][0] is topic:
                    modules[-1][1].append(lesson)
                else:
                    modules.append((topic, [lesson]))
        if not modules:
            self.skip("topic", "it holds nothing Sanduq can play")
            return
        course = self.row(topic, "course", "topic")
        self.plan.items.insert(at, course)
        self.plan.result.added["course"] += 1
        parts = [(node, lessons[n:n + MAX_LIST])  # a module holds at most MAX_LIST lessons: the rest follow
                 for node, lessons in modules for n in range(0, len(lessons), MAX_LIST)]
        for number, (node, lessons) in enumerate(parts[:MAX_LIST], 1):
            self.plan.courses.append({"course": course["id"], "module": str(number),
                                      f"title_{self.lang(node)}": cell(node.title or course["id"]),
                                      "lessons": " ".join(lessons)})
        if left_out := sum(len(lessons) for _, lessons in parts[MAX_LIST:]):
            self.skip("topic", f"its lessons past the {MAX_LIST}th module of a course are items of no course",
                      left_out)

    def lessons(self, topic: Node) -> list[str]:
        """The ids of every item under TOPIC, in tree order, topics below it flattened."""
        found, stack = [], list(reversed(topic.children))
        while stack:  # depth first without recursion: a hostile tree may be deep
            node = stack.pop()
            if node.kind == "topic":
                stack.extend(reversed(node.children))
            elif (item_id := self.content(node)) is not None:
                found.append(item_id)
        return found

    def content(self, node: Node) -> str | None:
        """Add NODE as an item; its id, or None when it was skipped (and counted)."""
        chosen = self.choose(node)
        if chosen is None:
            return None
        kind, main = chosen
        row = self.row(node, kind, node.kind)
        row["file"] = self.copy(main, node)
        for ref in node.files if kind == "video" else ():
            column = f"subtitles_{ref.lang}"
            if ref.preset == "video_subtitle" and ref.ext == "vtt" and ref.lang and column not in row:
                if rel := self.copy(ref, node):
                    row[column] = rel
        if kind in ("video", "audio") and node.duration is not None and 0 < node.duration <= 10**6:
            row["duration"] = clock(node.duration)
        self.plan.items.append(row)
        self.plan.result.added[kind] += 1
        return row["id"]

    def choose(self, node: Node) -> tuple[str, StorageFile] | None:
        """(Sanduq kind, main file) of NODE, or None, having counted why it is skipped."""
        mains = sorted((f for f in node.files if not f.supplementary and not f.thumbnail), key=lambda f: f.priority)
        if node.kind == "video":
            rank = {preset: n for n, preset in enumerate(VIDEO_PRESETS)}
            videos = sorted((f for f in mains if f.ext in ("mp4", "webm")),
                            key=lambda f: (f.ext != "mp4", rank.get(f.preset, len(rank))))
            return self.present(node, "video", videos, "it has no MP4 or WebM video")
        if node.kind == "audio":
            return self.present(node, "audio", [f for f in mains if f.ext in AUDIO],
                                "it has no MP3, M4A, Ogg or Opus audio")
        if node.kind == "document":
            others = ", ".join(sorted({f.ext for f in mains})) or "missing"
            return self.present(node, "document", [f for f in mains if f.ext == "pdf"],
                                f"its document is {others}, not a PDF (only PDFs can be shown)")
        if node.kind == "html5":
            chosen = self.present(node, "game", [f for f in mains if f.ext == "zip"], "it has no zip")
            return chosen and self.playable(node, chosen)
        if node.kind == "h5p":
            chosen = self.present(node, "game", [f for f in mains if f.ext == "h5p"], "it has no .h5p file")
            return chosen and self.h5p(node, chosen)
        kind = re.sub(r"[^a-z0-9_]", "", node.kind.lower())[:20] or "unnamed"  # printed: only plain letters
        self.skip(kind, UNPLAYABLE.get(kind, "Sanduq has no kind for it"))
        return None

    def present(self, node: Node, kind: str, files: list[StorageFile], why: str) -> tuple[str, StorageFile] | None:
        """(KIND, the first of FILES the drive has), or None, counted as skipped (WHY if no FILES);
        only when the drive has none of them are they named as missing."""
        if not files:
            self.skip(node.kind, why)
            return None
        for ref in files:
            if self.find(ref) is not None:
                return kind, ref
        for ref in files:
            self.missing(ref, node)
        self.skip(node.kind, "its file is not on the drive (a partial export)")
        return None

    def playable(self, node: Node, chosen: tuple[str, StorageFile]) -> tuple[str, StorageFile] | None:
        """CHOSEN if its zip passes the box's own game check: index.html at its top, nothing unsafe."""
        try:
            check_game_zip(self.find(chosen[1]), "zip")  # a fixed label: the message is matched below
        except Refused as e:
            self.skip(node.kind, next((why for words, why in ZIP_FAULTS.items() if words in e.message), UNSAFE_ZIP))
            return None
        except (ValueError, NotImplementedError, EOFError):  # zipfile on a name that is not UTF-8, and the like
            self.skip(node.kind, ZIP_FAULTS["is not a valid zip file"])
            return None
        return chosen

    def h5p(self, node: Node, chosen: tuple[str, StorageFile]) -> tuple[str, StorageFile] | None:
        """CHOSEN if its package passes the build's H5P check (content_mirror/h5p.py)."""
        try:
            check_h5p(self.find(chosen[1]), node.title)
        except InvalidSource:
            self.skip(node.kind, "its H5P package fails the build's check (damaged, not whole, or holds what "
                                 "Sanduq refuses)")
            return None
        return chosen

    def where(self, ref: StorageFile) -> Path:
        c = ref.checksum
        return self.storage / c[0] / c[1] / f"{c}.{ref.ext}"

    def find(self, ref: StorageFile) -> Path | None:
        """The storage file of REF if the drive has it, looked at once. A link, or a file of another
        size than the database says, is refused."""
        path = self.where(ref)
        if path not in self.on_drive:
            for folder in (path.parent.parent, path.parent):
                if folder not in self.on_drive:
                    self.on_drive[folder] = None if self.lstat(folder) is None else 0
            found = self.lstat(path) if self.on_drive[path.parent.parent] is not None and \
                self.on_drive[path.parent] is not None else None
            if found is not None and not stat.S_ISREG(found.st_mode):
                raise InvalidSource(f"{path} is not a file; the drive is not as Kolibri exported it.")
            if found is not None and ref.size is not None and found.st_size != ref.size:
                raise InvalidSource(_wrong_size(path, found.st_size, ref.size, self.database))
            self.on_drive[path] = None if found is None else found.st_size
        return path if self.on_drive[path] is not None else None

    def lstat(self, path: Path) -> os.stat_result | None:
        """PATH's own status (a link is refused), or None if there is nothing there."""
        try:
            found = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise InvalidSource(f"{path} cannot be read ({e.strerror}).") from None
        if stat.S_ISLNK(found.st_mode):
            raise InvalidSource(f"{path} is a link; Kolibri's storage holds only files and folders, so the drive is "
                                "not as Kolibri exported it.")
        return found

    def missing(self, ref: StorageFile, node: Node) -> None:
        """Name REF's file, which the drive lacks, once, with the first node that needed it."""
        path = self.where(ref)
        if path not in self.named:
            self.named.add(path)
            self.plan.result.missing.append(f"{node.title}: {path}")

    def copy(self, ref: StorageFile, node: Node) -> str | None:
        """Note REF's file for copying; its path in SOURCE, or None (named) if the drive lacks it."""
        path = self.find(ref)
        if path is None:
            self.missing(ref, node)
            return None
        self.plan.copies[path.name] = (path, self.on_drive[path])  # named by its checksum: copied once
        return Path("media", "kolibri", self.plan.result.folder.name, path.name).as_posix()

    def row(self, node: Node, kind: str, kolibri_kind: str) -> dict:
        """NODE's row of items.csv: id, texts in its language, audience, subjects, poster, credits."""
        lang = self.lang(node)
        item_id = self.item_id(node, kolibri_kind)
        row = {"id": item_id, "kind": kind, "languages": lang if lang != NO_LANGUAGE else "",
               "audiences": "educators" if node.coach else "children",  # Kolibri says so (drafts.py)
               "subjects": " ".join(sorted(node.subjects)),
               f"title_{lang}": cell(node.title or item_id), f"description_{lang}": cell(node.description)}
        self.plan.result.no_language += lang == NO_LANGUAGE
        thumbnails = sorted((f for f in node.files if (f.thumbnail or f.preset.endswith("_thumbnail"))
                             and f.ext in PICTURES), key=lambda f: f.priority)
        if thumbnails and (poster := self.copy(thumbnails[0], node)):
            row["poster"] = poster
        row.update(self.credits(node))
        return {k: v for k, v in row.items() if v}

    def lang(self, node: Node) -> str:
        return node.lang or self.channel_lang

    def item_id(self, node: Node, kolibri_kind: str) -> str:
        """A stable id: the title's words in Latin letters, then the first digits of the node's id
        (more of them, should two clash), so a second import of the channel gives the same ids."""
        digits = node.id if HEX32.fullmatch(node.id) else hashlib.sha256(node.id.encode()).hexdigest()
        for length in (8, 12, 16, 32):
            item_id = f"{slug(node.title, 64 - 1 - length) or kolibri_kind}-{digits[:length]}"
            if item_id not in self.plan.ids:
                self.plan.ids.add(item_id)
                return item_id
        raise InvalidSource(f"{self.database} has two nodes with the id {node.id[:40]!r}; the database is damaged.")

    def credits(self, node: Node) -> dict[str, str]:
        """Licence, author, copyright and source, each one clean line that `check` accepts."""
        name = tidy(node.licence)
        licence = LICENCES.get(name, name)
        if name == "Special Permissions":  # the permissions themselves, when they fit in the cell
            licence = _credit("licence", node.terms) or name
        holder = node.owner
        if name == "Public Domain":  # nobody holds a copyright to note
            holder = ""
        elif holder.strip() and not re.match(r"(?i)\s*(©|\(c\)|copyright)", holder):
            holder = f"© {holder.strip()}"
        values = {"licence": licence, "author": node.author, "copyright": holder, "source": self.source}
        cleaned = {name: _credit(name, value) for name, value in values.items()}
        return {name: cell(value) for name, value in cleaned.items() if value}

    def skip(self, kind: str, why: str, count: int = 1) -> None:
        self.plan.result.skipped[(kind, why)] += count


def _add(plan: _Plan, source: Path) -> ImportedChannel:
    """Copy PLAN's files into SOURCE and add its rows to the sheets, all or nothing."""
    result = plan.result
    # HELD: the lock and the scratch folder, let go either way. UNDO: every change to the
    # authoring folder, undone (while still locked) unless the import gets to its end.
    with ExitStack() as held, ExitStack() as undo:
        open_folder(source, held, undo)
        items = Sheet.read(source / "items.csv", header(plan.items))
        courses = Sheet.read(source / "courses.csv", header(plan.courses, COURSE_COLUMNS, ("course", "module", "lessons")))
        _check_unused(plan, items, courses)
        scratch = Path(held.enter_context(tempfile.TemporaryDirectory(dir=source.absolute(), prefix=".import-kolibri-",
                                                                      ignore_cleanup_errors=True)))
        files = scratch / result.folder.name
        files.mkdir()
        for name, (path, size) in plan.copies.items():
            copy_exactly(path, files / name, size, during="imported")
            result.size += size
        for name in plan.copies:  # only now: each was on its way to the disk while the next was copied
            with open(files / name, "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(files)
        result.files = len(plan.copies)
        move_into_place(files, result.folder, undo)
        # Courses first: a power cut between the two renames leaves modules of unknown items,
        # which `check` names, rather than items that lost their course.
        for sheet, rows in ((courses, plan.courses), (items, plan.items)):
            if rows:
                sheet.replace(rows, undo)
        if not items.text and not (source / "library.toml").exists():  # a new library: say where its name goes
            write_atomically(source / "library.toml", LIBRARY_TOML.encode())
            undo.callback((source / "library.toml").unlink, missing_ok=True)
        undo.pop_all()  # done: keep every change
    return result


def _check_unused(plan: _Plan, items: Sheet, courses: Sheet) -> None:
    """Refuse rows or a folder of this channel already in SOURCE: it was imported before."""
    result = plan.result
    again = (f"the channel {result.name!r} ({result.channel_id}) was imported into it before; to import it "
             f"again, delete its rows and {result.folder} first.")
    if items.text and "id" not in items.header:
        raise InvalidSource(f"{items.path} has no id column; fix its header row first.")
    for sheet, column in ((items, "id"), (courses, "course")):
        taken = {row.get(column, "").strip() for row in sheet.rows} & plan.ids
        if taken:
            raise InvalidSource(f"{sheet.path} already has the id {min(taken)!r}: {again}")
    if os.path.lexists(result.folder):
        raise InvalidSource(f"{result.folder} already exists: {again}")


def _wrong_size(path: Path, size: int, expected: int, database: Path) -> str:
    return (f"{path} is {size:,} bytes but {database.name} says {expected:,}; the drive's copy of the channel is "
            "damaged or incomplete: export it from Kolibri again.")


def _credit(name: str, value: str) -> str:
    """VALUE (read bounded) as the credit NAME: one line without marks that turn text, cut at a
    word to fit, or "" when it cannot be one (a licence is never cut: cut short, it would say another)."""
    value = tidy(TURNS_TEXT.sub("", value))
    if name == "licence" and len(value) > CREDITS[name]:
        return ""
    value = cut(value, CREDITS[name])
    return value if value and not credit_fault(name, value) else ""


