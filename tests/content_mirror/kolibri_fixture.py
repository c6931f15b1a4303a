"""A Kolibri channel as Kolibri exports it to a drive, built by code (tests and bench/kolibri.py).

    KOLIBRI_DATA/content/databases/CHANNEL_ID.sqlite3
    KOLIBRI_DATA/content/storage/C/H/CHECKSUM.EXT      (C, H: the checksum's first two digits)

The database has the tables and columns of Kolibri's content schema 5 that a channel
database holds (kolibri/core/content/contentschema/versions/content_schema_5.py), each column
as that schema names it; the few tables the importer never reads (assessment metadata,
prerequisites, related nodes) are left out. Checksums are the MD5 of a file's bytes, as
Kolibri Studio names storage files.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE content_contenttag (id char(32) NOT NULL PRIMARY KEY, tag_name varchar(30) NOT NULL);
CREATE TABLE content_language (id varchar(14) NOT NULL PRIMARY KEY, lang_code varchar(3) NOT NULL,
    lang_subcode varchar(10) NULL, lang_name varchar(100) NULL, lang_direction varchar(3) NOT NULL);
CREATE TABLE content_localfile (id varchar(32) NOT NULL PRIMARY KEY, extension varchar(40) NOT NULL,
    available bool NOT NULL, file_size integer NULL);
CREATE TABLE content_contentnode (id char(32) NOT NULL PRIMARY KEY, license_name varchar(50) NULL,
    license_description text NULL, title varchar(200) NOT NULL, coach_content bool NOT NULL,
    content_id char(32) NOT NULL, channel_id char(32) NOT NULL, description text NULL, sort_order real NULL,
    license_owner varchar(200) NOT NULL, author varchar(200) NOT NULL, kind varchar(200) NOT NULL,
    available bool NOT NULL, options text NULL, grade_levels text NULL, resource_types text NULL,
    learning_activities text NULL, accessibility_labels text NULL, categories text NULL, learner_needs text NULL,
    duration integer NULL, lft integer unsigned NOT NULL, rght integer unsigned NOT NULL,
    tree_id integer unsigned NOT NULL, level integer unsigned NOT NULL,
    lang_id varchar(14) NULL REFERENCES content_language (id),
    parent_id char(32) NULL REFERENCES content_contentnode (id));
CREATE TABLE content_channelmetadata (id char(32) NOT NULL PRIMARY KEY, name varchar(200) NOT NULL,
    description varchar(400) NOT NULL, tagline varchar(150) NULL, author varchar(400) NOT NULL,
    version integer NOT NULL, thumbnail text NOT NULL, last_updated varchar NULL,
    min_schema_version varchar(50) NOT NULL, root_id char(32) NOT NULL REFERENCES content_contentnode (id));
CREATE TABLE content_contentnode_tags (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    contentnode_id char(32) NOT NULL REFERENCES content_contentnode (id),
    contenttag_id char(32) NOT NULL REFERENCES content_contenttag (id));
CREATE TABLE content_file (id char(32) NOT NULL PRIMARY KEY, preset varchar(150) NOT NULL,
    supplementary bool NOT NULL, thumbnail bool NOT NULL, priority integer NULL,
    contentnode_id char(32) NOT NULL REFERENCES content_contentnode (id),
    lang_id varchar(14) NULL REFERENCES content_language (id),
    local_file_id varchar(32) NOT NULL REFERENCES content_localfile (id));
"""
LANGUAGES = {"ru": "Русский", "tg": "Тоҷикӣ", "en": "English", "pt-BR": "Português (Brasil)"}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@dataclass
class Node:
    id: str
    kind: str
    title: str
    parent: str | None
    columns: dict
    children: list[str] = field(default_factory=list)


class ChannelBuilder:
    """Nodes and files of one channel, written as Kolibri exports them by `write()`."""

    def __init__(self, kolibri_data: Path, name: str = "Сандуқ", lang: str | None = "ru", channel_id: str = ""):
        self.data = kolibri_data
        self.channel_id = channel_id or md5(f"channel {name}")
        self.name = name
        self.nodes: dict[str, Node] = {}
        self.files: list[tuple] = []  # content_file rows
        self.local: dict[str, tuple[str, int | None]] = {}  # checksum -> (extension, file_size)
        self.tags: list[tuple[str, str]] = []
        self.root = self.node("topic", name, None, lang=lang)

    def node(self, kind: str, title: str, parent: str | None, *, lang: str | None = None, **columns) -> str:
        """Add a node under PARENT; COLUMNS set any other column (author, duration ...). Its id."""
        node_id = columns.pop("id", None) or md5(f"{parent} {title} {len(self.nodes)}")
        self.nodes[node_id] = Node(node_id, kind, title, parent, {"lang_id": lang, **columns})
        if parent is not None:
            self.nodes[parent].children.append(node_id)
        return node_id

    def topic(self, title: str, parent: str | None = None, **columns) -> str:
        return self.node("topic", title, parent or self.root, **columns)

    def store(self, data: bytes, extension: str) -> str:
        """Put DATA in storage as Kolibri names it; its checksum."""
        checksum = hashlib.md5(data).hexdigest()
        path = self.data / "content" / "storage" / checksum[0] / checksum[1] / f"{checksum}.{extension}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.local[checksum] = (extension, len(data))
        return checksum

    def file(self, node: str, preset: str, data: bytes | None, extension: str, *, lang: str | None = None,
             thumbnail: bool = False, supplementary: bool = False, checksum: str | None = None,
             size: int | None = None) -> str:
        """A file of NODE: DATA stored (or, for DATA None, only named by CHECKSUM and SIZE)."""
        if data is not None:
            checksum = self.store(data, extension)
        if data is None or size is not None:
            self.local[checksum] = (extension, size)
        priority = sum(1 for f in self.files if f[5] == node)
        self.files.append((md5(f"{node} {preset} {lang} {checksum}"), preset, int(supplementary), int(thumbnail),
                           priority, node, lang, checksum))
        return checksum

    def tag(self, node: str, name: str) -> None:
        self.tags.append((node, name))

    def path(self, checksum: str) -> Path:
        extension = self.local[checksum][0]
        return self.data / "content" / "storage" / checksum[0] / checksum[1] / f"{checksum}.{extension}"

    @property
    def database(self) -> Path:
        return self.data / "content" / "databases" / f"{self.channel_id}.sqlite3"

    def write(self) -> Path:
        """Write the channel database (anew); its path."""
        self.database.parent.mkdir(parents=True, exist_ok=True)
        self.database.unlink(missing_ok=True)
        with sqlite3.connect(self.database) as db:
            db.executescript(SCHEMA)
            db.executemany("INSERT INTO content_language VALUES (?, ?, ?, ?, 'ltr')",
                           [(code, code.split("-")[0], code.partition("-")[2] or None, name)
                            for code, name in LANGUAGES.items()])
            counter = iter(range(1, 10**6))
            for node_id, level, lft, rght, order in self._walk(self.root, 0, counter):
                node = self.nodes[node_id]
                values = {"id": node.id, "title": node.title, "kind": node.kind, "parent_id": node.parent,
                          "content_id": md5(f"content {node.id}"), "channel_id": self.channel_id,
                          "coach_content": 0, "license_owner": "", "author": "", "available": 0, "lft": lft,
                          "rght": rght, "tree_id": 1, "level": level, "sort_order": order, **node.columns}
                db.execute(f"INSERT INTO content_contentnode ({', '.join(values)}) VALUES "
                           f"({', '.join('?' * len(values))})", list(values.values()))
            db.executemany("INSERT INTO content_localfile VALUES (?, ?, 0, ?)",
                           [(checksum, ext, size) for checksum, (ext, size) in self.local.items()])
            db.executemany("INSERT INTO content_file VALUES (?, ?, ?, ?, ?, ?, ?, ?)", self.files)
            for node_id, name in self.tags:
                db.execute("INSERT OR IGNORE INTO content_contenttag VALUES (?, ?)", (md5(f"tag {name}"), name))
                db.execute("INSERT INTO content_contentnode_tags (contentnode_id, contenttag_id) VALUES (?, ?)",
                           (node_id, md5(f"tag {name}")))
            db.execute("INSERT INTO content_channelmetadata VALUES (?, ?, '', '', 'Test author', 3, '', NULL, '5', ?)",
                       (self.channel_id, self.name, self.root))
        db.close()
        return self.database

    def _walk(self, node_id: str, level: int, counter):
        """(id, level, lft, rght, sort_order) of every node, as MPTT numbers a tree."""
        lft = next(counter)
        below = []
        for order, child in enumerate(self.nodes[node_id].children, 1):
            for row in self._walk(child, level + 1, counter):
                below.append(row if row[0] != child else (*row[:4], float(order)))
        yield node_id, level, lft, next(counter), 1.0
        yield from below
