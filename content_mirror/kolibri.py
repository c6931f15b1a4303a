"""A Kolibri channel, as exported to a drive, added to an authoring folder (docs/kolibri.md).

Schools and NGOs often have their content as Kolibri channels already. `import_channel` reads
the channel's own database (`content/databases/ID.sqlite3`, opened read-only) and copies the
files Sanduq can play out of `content/storage/` into `media/kolibri/SHORT/` of an authoring
folder: videos, audio, PDF documents, HTML5 apps with index.html at their top, and H5P. The
topic tree becomes courses, and every row is a draft for people to finish in a spreadsheet.
What Sanduq cannot play (exercises, slideshows, ePubs ...) is counted by kind and reason, never
dropped unsaid. It runs on the content team's machine, never on a box.

Everything in the database and on the drive is untrusted: names of storage files must be plain
hex and short extensions, so no path leaves storage; a storage file that is a link, or whose
size is not what the database says, is refused by name; text is bounded before it is read.
Files are copied into a hidden folder and moved into place at the end, then the sheets are
replaced whole (content_mirror/sheets.py), so a refusal or a failure leaves the folder as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import stat
import tempfile
import unicodedata
import zipfile
from collections import Counter
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from content_mirror.manifest import (CREDITS, LANG, MAX_ITEMS, MAX_LIST, MAX_TEXT, SUBJECTS, TURNS_TEXT,
                                     credit_fault)
from content_mirror.sheets import LIBRARY_TOML, Sheet, cell, move_into_place, open_folder, tidy
from server.errors import BadRequest, InvalidSource, Refused, SanduqError
from server.fsutil import fsync_dir, write_atomically
from server.gamezip import check_game_zip

HEX32 = re.compile(r"[0-9a-f]{32}")  # a channel's id, a node's id, a storage file's checksum
EXTENSION = re.compile(r"[a-z0-9]{1,10}")
MAX_TITLE = 300  # a title on a phone's screen; a longer one is cut at a word
NO_LANGUAGE = "und"  # ISO 639's "undetermined": text whose language Kolibri does not say
# Columns read from each table; a database without one of them is not a Kolibri channel's.
# The newer ones are read when present: duration and categories came with schema 5.
TABLES = {
    "content_channelmetadata": ("id", "name", "root_id"),
    "content_contentnode": ("id", "parent_id", "kind", "title", "description", "sort_order", "lft", "lang_id",
                            "license_name", "license_description", "license_owner", "author", "coach_content"),
    "content_file": ("contentnode_id", "local_file_id", "preset", "lang_id", "thumbnail", "supplementary",
                     "priority"),
    "content_localfile": ("id", "extension", "file_size"),
    "content_language": ("id", "lang_code"),
    "content_contenttag": ("id", "tag_name"),
    "content_contentnode_tags": ("contentnode_id", "contenttag_id"),
}
NEWER = {"content_contentnode": ("duration", "categories")}
NUMBERS = {"sort_order", "lft", "coach_content", "duration", "thumbnail", "supplementary", "priority", "file_size"}
TEXT_LIMIT = 2000  # characters of any other text column read (an author, a licence's description ...)
# The columns of items.csv made new, in this order ("title" stands for title_ru, title_tg ...).
ITEM_COLUMNS = ["id", "kind", "languages", "audiences", "subjects", "duration", "title", "description", "file",
                "poster", "subtitles", *CREDITS]
VIDEO_PRESETS = ("low_res_video", "high_res_video")  # low first: the build makes videos fit for phones anyway
AUDIO = {"mp3", "m4a", "ogg", "opus"}
PICTURES = {"png", "jpg", "jpeg", "webp"}
# Kolibri's kinds Sanduq has no player for, and why (any other kind: "Sanduq has no kind for it").
UNPLAYABLE = {"exercise": "Kolibri's exercises (Perseus) cannot be played by Sanduq",
              "slideshow": "Kolibri's slideshows cannot be played by Sanduq"}
# Kolibri's licence names (le-utils licenselookup.json) -> SPDX ids. le-utils defines each CC
# name by its 4.0 deed (the address it gives), which is what Studio showed the publisher.
# Public Domain (the CC mark), All Rights Reserved and Special Permissions have no SPDX id.
LICENCES = {"CC BY": "CC-BY-4.0", "CC BY-SA": "CC-BY-SA-4.0", "CC BY-ND": "CC-BY-ND-4.0",
            "CC BY-NC": "CC-BY-NC-4.0", "CC BY-NC-SA": "CC-BY-NC-SA-4.0", "CC BY-NC-ND": "CC-BY-NC-ND-4.0"}
# le-utils subject ids (le_utils/constants/labels/subjects.py) whose meaning is one of ours; a
# narrower id takes its nearest listed parent's subject ("d&WXdXWF.qs0Xlaxq.nG96nHDc",
# arithmetic, is mathematics), and None stops one that only looks related.
CATEGORIES = {
    "d&WXdXWF.qs0Xlaxq": "numeracy",  # mathematics
    "BCG3&slG.Tsyej9ta": "numeracy",  # numeracy
    "BCG3&slG.HLo9TbNq": "literacy",  # literacy
    "d&WXdXWF.kHKJ&PbV": "literacy",  # reading and writing
    "d&WXdXWF.kHKJ&PbV.YMBXStib": None,  # logic and critical thinking, filed under reading
    "d&WXdXWF.i1IdaNwr": "science",  # sciences
    "d&WXdXWF.5QAjgfv7": "creative",  # arts: visual art, dance, drama
    "d&WXdXWF.5QAjgfv7.u0aKjT4i": "music",
    "PbGoe2MV.kivAZaeX": "health",  # public health
    "ziJ6PCuU": "teaching",  # for teachers: guides, lesson plans
}
_CYRILLIC = ("а a б b в v г g д d е e ё yo ж zh з z и i й y к k л l м m н n о o п p р r с s т t у u ф f х kh "
             "ц ts ч ch ш sh щ shch ы y э e ю yu я ya ғ gh ӣ i қ q ӯ u ҳ h ҷ j і i ї yi є ye ў u ң ng ө o ү u "
             "ә a ұ u һ h ґ g").split()
TRANSLITERATE = str.maketrans(dict(zip(_CYRILLIC[::2], _CYRILLIC[1::2])) | {"ъ": "", "ь": ""})


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
class _Node:
    id: str
    parent: str
    kind: str
    title: str
    description: str
    lang: str
    order: tuple
    row: dict  # the rest of its columns, as read
    children: list[_Node] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


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
    database = _database(kolibri_data, channel)
    try:
        plan = _plan(database, kolibri_data / "content" / "storage", source)
        return _add(plan, source)
    except OSError as e:  # a drive or a folder that cannot be read, a full disk: undone by then
        raise SanduqError(f"Adding {database} to {source} stopped ({e.strerror}: {e.filename}); the folder is "
                          "as it was.") from e


def command(args) -> int:
    """`sanduq-mirror import-kolibri KOLIBRI_DATA SOURCE [--channel ID]`: import and say what happened."""
    done = import_channel(args.kolibri_data, args.source, channel=args.channel)
    added = ", ".join(_count(n, kind) for kind, n in sorted(done.added.items()))
    print(f"Added the Kolibri channel {done.name!r} ({done.channel_id}) to {args.source}: {added}; its "
          f"{done.files} files ({done.size / 1e6:.1f} MB) are in {done.folder}.")
    for (kind, why), n in sorted(done.skipped.items()):
        print(f"Skipped {_count(n, kind + ' node')}: {why}.")
    for missing in done.missing[:10]:
        print(f"  not on the drive: {missing}")
    if len(done.missing) > 10:
        print(f"  ... and {len(done.missing) - 10} more files not on the drive")
    if done.no_language:
        print(f"{done.no_language} rows have no language in Kolibri: their words are in the columns ending "
              f"_{NO_LANGUAGE}; move them to the right language's columns.")
    print("The rows are drafts: every item is for children (coach content for educators) and has no ages; "
          "fill in audiences, ages and subjects in items.csv.")
    print(f"Check the folder with: sanduq-mirror check {args.source}")
    return 0


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 or thing == "audio" else f"{n} {thing}s"


def _data_folder(given: Path) -> Path:
    """The folder holding content/: KOLIBRI_DATA itself, or the drive it was exported onto."""
    if not (given / "content").is_dir() and (given / "KOLIBRI_DATA" / "content").is_dir():
        return given / "KOLIBRI_DATA"
    return given


def _database(kolibri_data: Path, channel: str | None) -> Path:
    """The channel database to read: content/databases/CHANNEL.sqlite3, or the only one there."""
    folder = kolibri_data / "content" / "databases"
    if channel is not None:
        if not HEX32.fullmatch(channel.lower()):
            raise BadRequest(f"{channel!r} is not a Kolibri channel id (32 hexadecimal digits).")
        database = folder / f"{channel.lower()}.sqlite3"
        if not database.is_file():
            raise InvalidSource(f"{database} does not exist; is the channel {channel} exported to {kolibri_data}?")
        return database
    if not folder.is_dir():
        raise InvalidSource(f"{kolibri_data} has no content/databases folder; give the folder a Kolibri channel "
                            "was exported to (KOLIBRI_DATA).")
    found = sorted(p for p in folder.iterdir() if p.suffix == ".sqlite3" and HEX32.fullmatch(p.stem) and p.is_file())
    if not found:
        raise InvalidSource(f"{folder} holds no channel database (a file named CHANNEL_ID.sqlite3).")
    if len(found) > 1:
        raise BadRequest(f"{folder} holds {len(found)} channels ({', '.join(p.stem for p in found[:5])}); "
                         "choose one with --channel.")
    return found[0]


def _plan(database: Path, storage: Path, source: Path) -> _Plan:
    """Read the channel and work out its rows and the files to copy, or refuse it."""
    with open(database, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise InvalidSource(f"{database} is not a SQLite database; export the channel from Kolibri again.")
    # Read-only and immutable: nothing is written to the drive, not even a journal or a lock.
    uri = f"file:{quote(str(database.resolve()))}?mode=ro&immutable=1"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as db:
            db.execute("PRAGMA trusted_schema = OFF")
            name, root = _read_tree(db, database)
    except sqlite3.DatabaseError as e:
        raise InvalidSource(f"{database} cannot be read as a Kolibri channel database ({e}).") from None
    short = database.stem[:8]
    plan = _Plan(ImportedChannel(database.stem, name, source / "media" / "kolibri" / short))
    _Placer(plan, storage, database, name).place(root)
    if not plan.items:
        kinds = Counter()
        for (kind, _), n in plan.result.skipped.items():
            kinds[kind] += n
        skipped = ", ".join(_count(n, kind) for kind, n in kinds.most_common(5))
        raise InvalidSource(f"{database} holds nothing Sanduq can play ({skipped or 'no nodes'}); nothing was added.")
    return plan


def _columns(db: sqlite3.Connection, database: Path, table: str, needed: tuple[str, ...]) -> list[str]:
    """The SQL for NEEDED columns of TABLE and its NEWER ones (NULL where the schema lacks them),
    text cut at TEXT_LIMIT, so that no cell of a gigabyte reaches Python."""
    kind = db.execute("SELECT type FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    if kind is None or kind[0] != "table":
        raise InvalidSource(f"{database} is not a Kolibri channel database (it has no table {table}).")
    have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    lacking = [c for c in needed if c not in have]
    if lacking:
        raise InvalidSource(f"{database} is not a Kolibri channel database its importer knows (table {table} has "
                            f"no column {lacking[0]}).")
    return [f"NULL AS {c}" if c not in have else c if c in NUMBERS else f"substr({c}, 1, {TEXT_LIMIT}) AS {c}"
            for c in (*needed, *NEWER.get(table, ()))]


def _read_tree(db: sqlite3.Connection, database: Path) -> tuple[str, _Node]:
    """The channel's name and its tree of nodes, each with its files and tags, children in order."""
    for table, needed in TABLES.items():
        _columns(db, database, table, needed)
    channel = database.stem
    found = db.execute("SELECT substr(name, 1, 200), substr(root_id, 1, 100) FROM content_channelmetadata "
                       "WHERE id = ?", (channel,)).fetchone()
    if found is None:
        raise InvalidSource(f"{database} is not the database of the channel {channel} its name says.")
    name, root_id = tidy(_str(found[0])) or channel, _str(found[1])
    count = db.execute("SELECT count(*) FROM content_contentnode").fetchone()[0]
    if count > MAX_ITEMS:
        raise InvalidSource(f"{database} has {count:,} nodes, more than the {MAX_ITEMS:,} a library may hold.")
    languages = {_str(i): _lang(_str(code) or _str(i)) for i, code in db.execute(
        "SELECT substr(id, 1, 20), substr(lang_code, 1, 20) FROM content_language")}
    nodes = _read_nodes(db, database, languages)
    root = nodes.get(root_id)
    if root is None:
        raise InvalidSource(f"{database} is not a whole channel database (its root node {root_id[:40]!r} is missing).")
    # Each node goes under its parent once (a hostile database may repeat an id): so the nodes
    # reached from the root make a tree, each met once, and a cycle cannot be reached at all.
    attached = {root_id}
    for node in nodes.values():
        parent = nodes.get(node.parent)
        if parent is not None and node.id not in attached:
            attached.add(node.id)
            parent.children.append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.order)
    _read_files(db, database, nodes, languages)
    for node_id, tag in db.execute("SELECT substr(t.contentnode_id, 1, 100), substr(g.tag_name, 1, 40) FROM "
                                   "content_contentnode_tags t JOIN content_contenttag g ON g.id = t.contenttag_id"):
        if _str(node_id) in nodes:
            nodes[_str(node_id)].tags.append(_str(tag).strip().lower())
    return name, root


def _read_nodes(db: sqlite3.Connection, database: Path, languages: dict[str, str]) -> dict[str, _Node]:
    """Every node by its id, its title and description tidied and bounded."""
    columns = _columns(db, database, "content_contentnode", TABLES["content_contentnode"])
    names = [c.rpartition(" ")[2] for c in columns]
    title, description = names.index("title"), names.index("description")
    # A title is cut in SQL at twice what is kept (whitespace is folded after), a description
    # just past what is kept: either is then cut at a word.
    columns[title] = f"substr(title, 1, {2 * MAX_TITLE}) AS title"
    columns[description] = f"substr(description, 1, {MAX_TEXT + 1}) AS description"
    nodes: dict[str, _Node] = {}
    for values in db.execute(f"SELECT {', '.join(columns)} FROM content_contentnode"):
        row = dict(zip(names, values))
        lang = languages.get(_str(row["lang_id"])) or _lang(_str(row["lang_id"]))
        order = (row["sort_order"] if isinstance(row["sort_order"], (int, float)) else float("inf"),
                 row["lft"] if isinstance(row["lft"], int) else 0)
        nodes[_str(row["id"])] = _Node(_str(row["id"]), _str(row["parent_id"]), _str(row["kind"]),
                                       _text(row.pop("title"), MAX_TITLE), _text(row.pop("description"), MAX_TEXT),
                                       lang, order, row)
    return nodes


def _read_files(db: sqlite3.Connection, database: Path, nodes: dict[str, _Node], languages: dict[str, str]) -> None:
    """Each node's files, every storage name checked to be plain: no path leaves storage."""
    # One character more than a valid value may have, so a longer one fails its pattern.
    for row in db.execute("SELECT substr(f.contentnode_id, 1, 100), substr(f.preset, 1, 60), substr(f.lang_id, 1, 20), "
                          "f.thumbnail, f.supplementary, f.priority, substr(l.id, 1, 33), substr(l.extension, 1, 11), "
                          "l.file_size FROM content_file f JOIN content_localfile l ON l.id = f.local_file_id"):
        node_id, preset, lang, thumbnail, supplementary, priority, checksum, extension, size = row
        if not (isinstance(checksum, str) and HEX32.fullmatch(checksum)):
            raise InvalidSource(f"{database} names a storage file {str(checksum)[:40]!r} that is not a checksum "
                                "(32 hexadecimal digits); the database is damaged or was not made by Kolibri.")
        if not (isinstance(extension, str) and EXTENSION.fullmatch(extension)):
            raise InvalidSource(f"{database} gives the storage file {checksum} the extension {str(extension)[:20]!r}, "
                                "which is not a short lowercase name; the database is damaged or was not made by "
                                "Kolibri.")
        if (node := nodes.get(_str(node_id))) is not None:
            node.files.append({
                "preset": _str(preset), "lang": languages.get(_str(lang)) or _lang(_str(lang)),
                "thumbnail": thumbnail == 1, "supplementary": supplementary == 1,
                "priority": priority if isinstance(priority, int) else 0, "checksum": checksum, "ext": extension,
                "size": size if isinstance(size, int) and not isinstance(size, bool) else None})


class _Placer:
    """Walks the tree: each playable node becomes an item row, each topic a course or module."""

    def __init__(self, plan: _Plan, storage: Path, database: Path, name: str):
        self.plan, self.storage, self.database = plan, storage, database
        self.channel_lang = NO_LANGUAGE
        self.source = _credit("source", f"Kolibri channel {name} ({plan.result.channel_id})") or \
            f"Kolibri channel {plan.result.channel_id}"
        self.checked: dict[Path, bool] = {}  # a storage file or folder -> on the drive
        self.sizes: dict[Path, int] = {}  # a storage file on the drive -> its size

    def place(self, root: _Node) -> None:
        # The tree _read_tree made holds each node once, so each is placed once.
        self.channel_lang = root.lang or NO_LANGUAGE  # Kolibri's channel language is its root's
        for child in root.children:
            if child.kind == "topic":
                self.course(child)
            else:
                self.content(child)

    def course(self, topic: _Node) -> None:
        """TOPIC (under the root) as a course: its sub-topics its modules, the content right under
        it a module of its own name, everything deeper a lesson of the module it is in."""
        at = len(self.plan.items)  # the course's row goes before its lessons
        modules: list[tuple[_Node, list[str]]] = []
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

    def lessons(self, topic: _Node) -> list[str]:
        """The ids of every item under TOPIC, in tree order, topics below it flattened."""
        found, stack = [], list(reversed(topic.children))
        while stack:  # depth first without recursion: a hostile tree may be deep
            node = stack.pop()
            if node.kind == "topic":
                stack.extend(reversed(node.children))
            elif (item_id := self.content(node)) is not None:
                found.append(item_id)
        return found

    def content(self, node: _Node) -> str | None:
        """Add NODE as an item; its id, or None when it was skipped (and counted)."""
        chosen = self.choose(node)
        if chosen is None:
            return None
        kind, main = chosen
        row = self.row(node, kind, node.kind)
        row["file"] = self.copy(main, node)
        for ref in node.files if kind == "video" else ():
            column = f"subtitles_{ref['lang']}"
            if ref["preset"] == "video_subtitle" and ref["ext"] == "vtt" and ref["lang"] and column not in row:
                if rel := self.copy(ref, node):
                    row[column] = rel
        duration = node.row.get("duration")
        if kind in ("video", "audio") and isinstance(duration, int) and 0 < duration <= 10**6:
            row["duration"] = str(duration)
        self.plan.items.append(row)
        self.plan.result.added[kind] += 1
        return row["id"]

    def choose(self, node: _Node) -> tuple[str, dict] | None:
        """(Sanduq kind, main file) of NODE, or None, having counted why it is skipped."""
        mains = sorted((f for f in node.files if not f["supplementary"] and not f["thumbnail"]),
                       key=lambda f: f["priority"])
        if node.kind == "video":
            rank = {preset: n for n, preset in enumerate(VIDEO_PRESETS)}
            videos = sorted((f for f in mains if f["ext"] in ("mp4", "webm")),
                            key=lambda f: (f["ext"] != "mp4", rank.get(f["preset"], len(rank))))
            return self.present(node, "video", videos, "it has no MP4 video")
        if node.kind == "audio":
            return self.present(node, "audio", [f for f in mains if f["ext"] in AUDIO], "it has no MP3 audio")
        if node.kind == "document":
            others = ", ".join(sorted({f["ext"] for f in mains})) or "missing"
            return self.present(node, "document", [f for f in mains if f["ext"] == "pdf"],
                                f"its document is {others}, not a PDF (only PDFs can be shown)")
        if node.kind == "html5":
            chosen = self.present(node, "game", [f for f in mains if f["ext"] == "zip"], "it has no zip")
            return chosen and self.playable(node, chosen)
        if node.kind == "h5p":
            return self.present(node, "game", [f for f in mains if f["ext"] == "h5p"], "it has no .h5p file")
        kind = re.sub(r"[^a-z0-9_]", "", node.kind.lower())[:20] or "unnamed"  # printed: only plain letters
        self.skip(kind, UNPLAYABLE.get(kind, "Sanduq has no kind for it"))
        return None

    def present(self, node: _Node, kind: str, files: list[dict], why: str) -> tuple[str, dict] | None:
        """(KIND, the first of FILES the drive has), or None, counted as skipped (WHY if no FILES)."""
        if not files:
            self.skip(node.kind, why)
            return None
        for ref in files:
            if self.path(ref, node) is not None:
                return kind, ref
        self.skip(node.kind, "its file is not on the drive (a partial export)")
        return None

    def playable(self, node: _Node, chosen: tuple[str, dict]) -> tuple[str, dict] | None:
        """CHOSEN if its zip is a game Sanduq serves: index.html at its top, nothing unsafe."""
        path = self.path(chosen[1], node)
        try:
            with zipfile.ZipFile(path) as archive:
                top = "index.html" in archive.namelist()
        except (zipfile.BadZipFile, OSError):
            self.skip(node.kind, "its zip is damaged")
            return None
        if not top:
            self.skip(node.kind, "its zip has no index.html at its top (Sanduq's games start there)")
            return None
        try:
            check_game_zip(path, node.title)
        except Refused:
            self.skip(node.kind, "its zip holds names that leave it or files that unpack far too large")
            return None
        return chosen

    def path(self, ref: dict, node: _Node) -> Path | None:
        """The storage file of REF, checked once; None (and named) if the drive lacks it. A link,
        or a file of another size than the database says, is refused."""
        c = ref["checksum"]
        path = self.storage / c[0] / c[1] / f"{c}.{ref['ext']}"
        if path not in self.checked:
            for folder in (path.parent.parent, path.parent):
                if folder not in self.checked:
                    self.checked[folder] = self.lstat(folder) is not None
            found = self.lstat(path) if self.checked[path.parent.parent] and self.checked[path.parent] else None
            if found is None:
                self.plan.result.missing.append(f"{node.title}: {path}")
            elif not stat.S_ISREG(found.st_mode):
                raise InvalidSource(f"{path} is not a file; the drive is not as Kolibri exported it.")
            elif ref["size"] is not None and found.st_size != ref["size"]:
                raise InvalidSource(_wrong_size(path, found.st_size, ref["size"], self.database))
            else:
                self.sizes[path] = found.st_size
            self.checked[path] = found is not None
        return path if self.checked[path] else None

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

    def copy(self, ref: dict, node: _Node) -> str | None:
        """Note REF's file for copying; its path in SOURCE, or None (named) if the drive lacks it."""
        path = self.path(ref, node)
        if path is None:
            return None
        self.plan.copies[path.name] = (path, self.sizes[path])  # named by its checksum: a file used twice is copied once
        return Path("media", "kolibri", self.plan.result.folder.name, path.name).as_posix()

    def row(self, node: _Node, kind: str, kolibri_kind: str) -> dict:
        """NODE's row of items.csv: id, texts in its language, audience, subjects, poster, credits."""
        lang = self.lang(node)
        item_id = self.item_id(node, kolibri_kind)
        row = {"id": item_id, "kind": kind, "languages": lang if lang != NO_LANGUAGE else "",
               "audiences": "educators" if node.row.get("coach_content") == 1 else "children",
               "subjects": " ".join(self.subjects(node)),
               f"title_{lang}": cell(node.title or item_id), f"description_{lang}": cell(node.description)}
        self.plan.result.no_language += lang == NO_LANGUAGE
        thumbnails = sorted((f for f in node.files if (f["thumbnail"] or f["preset"].endswith("_thumbnail"))
                             and f["ext"] in PICTURES), key=lambda f: f["priority"])
        if thumbnails and (poster := self.copy(thumbnails[0], node)):
            row["poster"] = poster
        row.update(self.credits(node))
        return {k: v for k, v in row.items() if v}

    def lang(self, node: _Node) -> str:
        return node.lang or self.channel_lang

    def item_id(self, node: _Node, kolibri_kind: str) -> str:
        """A stable id: the title's words in Latin letters, then the first digits of the node's id
        (more of them, should two clash), so a second import of the channel gives the same ids."""
        words = unicodedata.normalize("NFKD", node.title.lower().translate(TRANSLITERATE))
        slug = re.sub(r"[^a-z0-9]+", "-", words.encode("ascii", "ignore").decode()).strip("-")
        digits = node.id if HEX32.fullmatch(node.id) else hashlib.sha256(node.id.encode()).hexdigest()
        for length in (8, 12, 16, 32):
            room = 64 - 1 - length
            stem = slug[:room].rsplit("-", 1)[0] if len(slug) > room and "-" in slug[:room] else slug[:room]
            item_id = f"{stem.strip('-') or kolibri_kind}-{digits[:length]}"
            if item_id not in self.plan.ids:
                self.plan.ids.add(item_id)
                return item_id
        raise InvalidSource(f"{self.database} has two nodes with the id {node.id[:40]!r}; the database is damaged.")

    def subjects(self, node: _Node) -> list[str]:
        """Our subjects that Kolibri's categories or tags name plainly; nothing is guessed."""
        found = {tag for tag in node.tags if tag in SUBJECTS}
        for category in re.split(r"[,\s\[\]\"']+", _str(node.row.get("categories"))[:2000]):
            while category and category not in CATEGORIES:
                category = category.rpartition(".")[0]
            if CATEGORIES.get(category):
                found.add(CATEGORIES[category])
        return sorted(found)

    def credits(self, node: _Node) -> dict[str, str]:
        """Licence, author, copyright and source, each one clean line that `check` accepts."""
        name = tidy(_str(node.row.get("license_name"))[:200])
        licence = LICENCES.get(name, name)
        if name == "Special Permissions":  # the permissions themselves, when they fit in the cell
            licence = _credit("licence", _str(node.row.get("license_description"))) or name
        holder = _str(node.row.get("license_owner"))
        if name == "Public Domain":  # nobody holds a copyright to note
            holder = ""
        elif holder.strip() and not re.match(r"(?i)\s*(©|\(c\)|copyright)", holder):
            holder = f"© {holder.strip()}"
        values = {"licence": licence, "author": _str(node.row.get("author")), "copyright": holder,
                  "source": self.source}
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
        items = Sheet.read(source / "items.csv", _header(plan.items, ITEM_COLUMNS))
        courses = Sheet.read(source / "courses.csv", _header(plan.courses, ["course", "module", "title", "lessons"]))
        _check_unused(plan, items, courses)
        scratch = Path(held.enter_context(tempfile.TemporaryDirectory(dir=source.absolute(), prefix=".import-kolibri-",
                                                                      ignore_cleanup_errors=True)))
        files = scratch / result.folder.name
        files.mkdir()
        for name, (path, size) in plan.copies.items():
            _copy(path, files / name, size)
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


def _header(rows: list[dict], order: list[str]) -> list[str]:
    """The columns ROWS fill, in ORDER (a name in ORDER stands for it and its FIELD_LANG columns)."""
    filled = {column for row in rows for column, value in row.items() if value}
    rank = {name: n for n, name in enumerate(order)}
    return sorted(filled, key=lambda c: (rank.get(c, rank.get(c.rpartition("_")[0], len(order))), c))


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


def _copy(path: Path, target: Path, size: int) -> None:
    """Copy the storage file PATH, of SIZE bytes when it was checked, to TARGET in the kernel,
    from a descriptor opened without following a link; refuse it if its size has changed since.

    copy_file_range, falling back to sendfile (what shutil.copyfile uses) where a filesystem
    cannot: no byte passes through Python, and a filesystem that can share blocks (Btrfs, XFS)
    or copy on the server (NFS, SMB) does so. Then the kernel is told to start writing TARGET
    to the disk now, while the next file is copied, so the fsyncs at the end wait for little.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        if (now := os.fstat(fd).st_size) != size:
            raise InvalidSource(_changed(path, size, now))
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            done, kernel_copy = 0, True
            while done < size:
                if kernel_copy:
                    try:
                        sent = os.copy_file_range(fd, out, size - done)
                    except OSError:  # not across these filesystems; a real fault comes again from sendfile
                        kernel_copy = False
                        continue
                else:
                    sent = os.sendfile(out, fd, done, size - done)
                if sent == 0:
                    break
                done += sent
            os.posix_fadvise(out, 0, 0, os.POSIX_FADV_DONTNEED)  # starts the writeback; drops only clean pages
        finally:
            os.close(out)
    finally:
        os.close(fd)
    if done != size:  # it shrank while it was copied
        raise InvalidSource(_changed(path, size, done))


def _changed(path: Path, size: int, now: int) -> str:
    return (f"{path} changed while it was imported ({size:,} bytes, then {now:,}); is a program writing to the "
            "drive? Import again once it is done.")


def _wrong_size(path: Path, size: int, expected: int, database: Path) -> str:
    return (f"{path} is {size:,} bytes but {database.name} says {expected:,}; the drive's copy of the channel is "
            "damaged or incomplete: export it from Kolibri again.")


def _str(value: object) -> str:
    """A database value as text, whatever type a hostile database stored."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _text(value: object, limit: int) -> str:
    """Tidy text of at most LIMIT characters, cut at a word with … when longer."""
    text = tidy(_str(value))
    return text if len(text) <= limit else text[:limit - 1].rsplit(" ", 1)[0] + "…"


def _credit(name: str, value: str) -> str:
    """VALUE as the credit NAME: one line without marks that turn text, cut at a word to fit,
    or "" when it cannot be one (a licence is never cut: cut short, it would say another)."""
    value = tidy(TURNS_TEXT.sub("", value[:4 * CREDITS[name]]))
    if len(value) > CREDITS[name]:
        value = "" if name == "licence" else value[:CREDITS[name] - 1].rsplit(" ", 1)[0] + "…"
    return value if value and not credit_fault(name, value) else ""


def _lang(code: str) -> str:
    """A language code as Sanduq's columns name it (pt-BR: pt), or "" if it is none."""
    code = re.split(r"[-_]", code, maxsplit=1)[0].lower()
    return code if LANG.fullmatch(code) else ""
