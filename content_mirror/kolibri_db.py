"""A Kolibri channel's database read into a tree of nodes, every value bounded (docs/kolibri.md):
each node's texts, credits, files, and the subjects its categories and tags state plainly.

The database is untrusted: it is opened read-only and immutable, each text column is cut in
the query to what the importer keeps (so no cell of a gigabyte reaches Python), a number column
that holds anything but a number reads as NULL, rows are counted before they are read, and the
names of storage files must be plain hex and short extensions, so no path leaves storage.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from content_mirror.drafts import DRAFT_TEXT, MAX_TITLE, cut
from content_mirror.manifest import CREDITS, LANG, MAX_FILES, MAX_ITEMS, SUBJECTS
from content_mirror.sheets import tidy
from server.errors import BadRequest, InvalidSource

HEX32 = re.compile(r"[0-9a-f]{32}")  # a channel's id, a node's id, a storage file's checksum
EXTENSION = re.compile(r"[a-z0-9]{1,10}")
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
NUMBERS = {"sort_order", "lft", "coach_content", "duration"}
# Characters read of each text column of a node: a title twice what is kept (whitespace is
# folded after), a description one past a draft's, a credit twice what its column holds.
NODE_TEXT = {"id": 100, "parent_id": 100, "kind": 40, "lang_id": 20, "title": 2 * MAX_TITLE,
             "description": DRAFT_TEXT + 1, "license_name": 200, "license_description": 2 * CREDITS["licence"],
             "license_owner": 2 * CREDITS["copyright"], "author": 2 * CREDITS["author"], "categories": 1000}
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
MAX_LANGUAGES = 10_000  # Kolibri knows a few hundred
MAX_ROWS = MAX_FILES  # files of nodes, or tags of nodes: as many files as a library may hold


@dataclass(slots=True)
class StorageFile:
    """A file of a node, as content_file and content_localfile say."""

    preset: str
    lang: str
    thumbnail: bool
    supplementary: bool
    priority: int
    checksum: str  # 32 hex digits
    ext: str  # 1 to 10 lowercase letters and digits
    size: int | None  # what the database says, if it says


@dataclass(slots=True)
class Node:
    id: str
    parent: str
    kind: str
    title: str  # tidied, at most MAX_TITLE
    description: str  # tidied, at most DRAFT_TEXT
    lang: str  # a Sanduq column's language, or ""
    order: tuple
    licence: str  # license_name
    terms: str  # license_description
    owner: str  # license_owner
    author: str
    coach: bool
    duration: int | None  # seconds
    children: list[Node] = field(default_factory=list)
    files: list[StorageFile] = field(default_factory=list)
    subjects: set[str] = field(default_factory=set)  # what its categories and tags say plainly


@dataclass
class Channel:
    id: str
    name: str
    root: Node


def find_database(kolibri_data: Path, channel: str | None) -> Path:
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


def read_channel(database: Path) -> Channel:
    """The channel of DATABASE: its name and its tree of nodes, each with its files and tags,
    children in Kolibri's order; or InvalidSource naming the database."""
    with open(database, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise InvalidSource(f"{database} is not a SQLite database; export the channel from Kolibri again.")
    # Read-only and immutable: nothing is written to the drive, not even a journal or a lock.
    uri = f"file:{quote(str(database.resolve()))}?mode=ro&immutable=1"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as db:
            db.execute("PRAGMA trusted_schema = OFF")
            return _read(db, database)
    except sqlite3.DatabaseError as e:
        raise InvalidSource(f"{database} cannot be read as a Kolibri channel database ({e}).") from None


def _read(db: sqlite3.Connection, database: Path) -> Channel:
    columns = {table: _columns(db, database, table, needed) for table, needed in TABLES.items()}
    channel = database.stem
    found = db.execute("SELECT substr(name, 1, 200), substr(root_id, 1, 100) FROM content_channelmetadata "
                       "WHERE id = ?", (channel,)).fetchone()
    if found is None:
        raise InvalidSource(f"{database} is not the database of the channel {channel} its name says.")
    name, root_id = tidy(_str(found[0])) or channel, _str(found[1])
    _count(db, database, "SELECT count(*) FROM content_contentnode", MAX_ITEMS, "nodes")
    _count(db, database, "SELECT count(*) FROM content_language", MAX_LANGUAGES, "languages")
    languages = {_str(i): lang_column(_str(code) or _str(i)) for i, code in db.execute(
        "SELECT substr(id, 1, 20), substr(lang_code, 1, 20) FROM content_language")}
    nodes = _read_nodes(db, columns["content_contentnode"], languages)
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
    tags = "FROM content_contentnode_tags t JOIN content_contenttag g ON g.id = t.contenttag_id"
    _count(db, database, f"SELECT count(*) {tags}", MAX_ROWS, "tags of nodes")
    for node_id, tag in db.execute(f"SELECT substr(t.contentnode_id, 1, 100), substr(g.tag_name, 1, 40) {tags}"):
        if _str(node_id) in nodes and (tag := _str(tag).strip().lower()) in SUBJECTS:  # a tag "music"
            nodes[_str(node_id)].subjects.add(tag)
    return Channel(channel, name, root)


def _columns(db: sqlite3.Connection, database: Path, table: str, needed: tuple[str, ...]) -> list[str]:
    """The SQL for NEEDED columns of TABLE and its NEWER ones: NULL where the schema lacks them,
    a number only when it is one, text cut at NODE_TEXT (or 2,000 characters)."""
    kind = db.execute("SELECT type FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    if kind is None or kind[0] != "table":
        raise InvalidSource(f"{database} is not a Kolibri channel database (it has no table {table}).")
    have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    lacking = [c for c in needed if c not in have]
    if lacking:
        raise InvalidSource(f"{database} is not a Kolibri channel database its importer knows (table {table} has "
                            f"no column {lacking[0]}).")
    return [f"NULL AS {c}" if c not in have
            else f"CASE WHEN typeof({c}) IN ('integer', 'real') THEN {c} END AS {c}" if c in NUMBERS
            else f"substr({c}, 1, {NODE_TEXT.get(c, 2000)}) AS {c}"
            for c in (*needed, *NEWER.get(table, ()))]


def _count(db: sqlite3.Connection, database: Path, query: str, most: int, what: str) -> None:
    """Refuse DATABASE when QUERY counts more than MOST rows, before any is read."""
    count = db.execute(query).fetchone()[0]
    if count > most:
        raise InvalidSource(f"{database} has {count:,} {what}, more than the {most:,} a library may hold.")


def _read_nodes(db: sqlite3.Connection, columns: list[str], languages: dict[str, str]) -> dict[str, Node]:
    """Every node by its id, its title and description tidied and cut."""
    names = [c.rpartition(" ")[2] for c in columns]
    nodes: dict[str, Node] = {}
    for values in db.execute(f"SELECT {', '.join(columns)} FROM content_contentnode"):
        row = dict(zip(names, values))
        order = (row["sort_order"] if row["sort_order"] is not None else float("inf"),
                 row["lft"] if isinstance(row["lft"], int) else 0)
        duration = row["duration"]
        nodes[_str(row["id"])] = Node(
            _str(row["id"]), _str(row["parent_id"]), _str(row["kind"]), cut(_str(row["title"]), MAX_TITLE),
            cut(_str(row["description"]), DRAFT_TEXT),
            languages.get(_str(row["lang_id"])) or lang_column(_str(row["lang_id"])), order,
            _str(row["license_name"]), _str(row["license_description"]), _str(row["license_owner"]),
            _str(row["author"]), row["coach_content"] == 1, duration if isinstance(duration, int) else None,
            subjects=_subjects(_str(row["categories"])))
    return nodes


def _read_files(db: sqlite3.Connection, database: Path, nodes: dict[str, Node], languages: dict[str, str]) -> None:
    """Each node's files, every storage name checked to be plain: no path leaves storage."""
    files = "FROM content_file f JOIN content_localfile l ON l.id = f.local_file_id"
    _count(db, database, f"SELECT count(*) {files}", MAX_ROWS, "files of nodes")
    number = "CASE WHEN typeof({0}) = 'integer' THEN {0} END"
    # One character more than a valid value may have, so a longer one fails its pattern.
    for row in db.execute(f"SELECT substr(f.contentnode_id, 1, 100), substr(f.preset, 1, 60), "
                          f"substr(f.lang_id, 1, 20), {number.format('f.thumbnail')}, "
                          f"{number.format('f.supplementary')}, {number.format('f.priority')}, substr(l.id, 1, 33), "
                          f"substr(l.extension, 1, 11), {number.format('l.file_size')} {files}"):
        node_id, preset, lang, thumbnail, supplementary, priority, checksum, extension, size = row
        if not (isinstance(checksum, str) and HEX32.fullmatch(checksum)):
            raise InvalidSource(f"{database} names a storage file {str(checksum)[:40]!r} that is not a checksum "
                                "(32 hexadecimal digits); the database is damaged or was not made by Kolibri.")
        if not (isinstance(extension, str) and EXTENSION.fullmatch(extension)):
            raise InvalidSource(f"{database} gives the storage file {checksum} the extension {str(extension)[:20]!r}, "
                                "which is not a short lowercase name; the database is damaged or was not made by "
                                "Kolibri.")
        if (node := nodes.get(_str(node_id))) is not None:
            # Presets, languages and extensions are a few names used again and again: kept once.
            node.files.append(StorageFile(
                sys.intern(_str(preset)), sys.intern(languages.get(_str(lang)) or lang_column(_str(lang))),
                thumbnail == 1, supplementary == 1, priority or 0, checksum, sys.intern(extension), size))


def _subjects(categories: str) -> set[str]:
    """Our subjects that Kolibri's categories (le-utils subject ids) name plainly; nothing is guessed."""
    found = set()
    for category in re.split(r"[,\s\[\]\"']+", categories):
        while category and category not in CATEGORIES:
            category = category.rpartition(".")[0]
        if CATEGORIES.get(category):
            found.add(CATEGORIES[category])
    return found


def _str(value: object) -> str:
    """A database value as text, whatever type a hostile database stored."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def lang_column(code: str) -> str:
    """A language code as Sanduq's columns name it (pt-BR: pt), or "" if it is none."""
    code = re.split(r"[-_]", code, maxsplit=1)[0].lower()
    return code if LANG.fullmatch(code) else ""
