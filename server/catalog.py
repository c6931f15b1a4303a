"""The catalog: which items the library holds, in one SQLite file.

This module owns the database; the web app and the importers go through it. The catalog
changes only by `apply`, one transaction per update, so a power cut leaves the old library
or the new one, never a mix. Readers keep one connection per thread (WAL lets them read
while an import writes) and ask `generation()` to know when cached answers are stale.
The catalog is only a copy of what signed manifests said, so a damaged file is not mended in
place: `problem()` notices it, and `replace` swaps in a catalog rebuilt from the kept
manifests (server/library.py); every thread then reopens its connection on the new file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from server import names, search, sqlite_files

IDENTITY_EVERY = 1.0  # seconds between two looks at which file catalog.db is
from server.fsutil import fsync_dir


def _m1(db) -> None:  # db: sqlite_utils.Database
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["channels"].create({"channel": str, "sequence": int, "installed_at": str}, pk="channel")
    db["files"].create({"sha256": str, "size": int, "mime": str}, pk="sha256")
    # rowid is explicit so the search index and tags can point at it.
    db.execute("""CREATE TABLE items (
        rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        channel TEXT NOT NULL, age_min INTEGER, age_max INTEGER, added_at TEXT NOT NULL,
        data TEXT NOT NULL)""")
    db.execute("CREATE INDEX items_added ON items(added_at DESC, id)")
    # One row per filterable word: 'audience:children', 'lang:tg', 'subject:numeracy'.
    db.execute("""CREATE TABLE tags (item INTEGER NOT NULL REFERENCES items(rowid)
        ON DELETE CASCADE, tag TEXT NOT NULL, PRIMARY KEY (tag, item)) WITHOUT ROWID""")
    db.execute("CREATE INDEX tags_item ON tags(item)")
    db.execute("""CREATE TABLE item_files (item INTEGER NOT NULL REFERENCES items(rowid)
        ON DELETE CASCADE, sha256 TEXT NOT NULL)""")
    db.execute("CREATE INDEX item_files_item ON item_files(item)")
    db.execute("CREATE INDEX item_files_sha ON item_files(sha256)")
    # Folded text (search.fold); rowid = items.rowid.
    db.execute("""CREATE VIRTUAL TABLE items_fts USING fts5(title, body,
        tokenize = 'unicode61 remove_diacritics 2')""")
    db["meta"].insert({"key": "generation", "value": "0"})


def _m2(db) -> None:
    # The digest of the manifest each channel installed last: a delta must name it as its base.
    db.execute("ALTER TABLE channels ADD COLUMN base TEXT")
    # "New" follows install order, a counter, never the box's clock (it may be behind).
    db.execute("ALTER TABLE items ADD COLUMN installed INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE items SET installed = (SELECT count(DISTINCT added_at) FROM items AS o "
               "WHERE o.added_at <= items.added_at)")
    db.execute("INSERT INTO meta VALUES ('installs', (SELECT coalesce(max(installed), 0) FROM items))")
    db.execute("DROP INDEX items_added")
    db.execute("CREATE INDEX items_new ON items(installed DESC, id)")
    # Files the last switch stopped naming, still served until the next import (a phone may be
    # halfway through the replaced video).
    db.execute("CREATE TABLE retired (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, mime TEXT NOT NULL)")


def _m3(db) -> None:
    # A column of its own for the names of an item's kind and audiences (server/names.py), so
    # "книга" finds books and ranks them above a text that only mentions one; and English
    # stems beside their words (search.index_text). Titles and bodies come from the old index,
    # which holds words (of documents, subtitles) that the items' rows do not.
    db.execute("ALTER TABLE items_fts RENAME TO items_fts_old")
    db.execute("""CREATE VIRTUAL TABLE items_fts USING fts5(title, kind, body,
        tokenize = 'unicode61 remove_diacritics 2')""")
    old = db.execute("SELECT items_fts_old.rowid, items.data, title, body FROM items_fts_old "
                     "JOIN items ON items.rowid = items_fts_old.rowid")
    db.conn.executemany("INSERT INTO items_fts (rowid, title, kind, body) VALUES (?, ?, ?, ?)",
                        ((rowid, search.index_text(title), search.index_text(_kind_words(json.loads(data))),
                          search.index_text(body)) for rowid, data, title, body in old))
    db.execute("DROP TABLE items_fts_old")


def _m4(db) -> None:
    # Every language as it is typed (server/search.py): titles and bodies indexed by language,
    # Serbian and Uzbek in both alphabets, Serbian stems beside their words. The old body is
    # kept, folded again, for the words of documents and subtitles the items' rows do not hold.
    old = db.execute("SELECT items_fts.rowid, items.data, body FROM items_fts JOIN items ON items.rowid = items_fts.rowid")
    rows = [(search.index_texts(item["title"]), search.index_texts(bodies(item)) + " " + search.index_text(body), rowid)
            for rowid, item, body in ((r, json.loads(d), b) for r, d, b in old)]
    db.conn.executemany("UPDATE items_fts SET title = ?, body = ? WHERE rowid = ?", rows)


MIGRATIONS = [_m1, _m2, _m3, _m4]  # append, never edit: user_version counts how many ran


@dataclass
class Filters:
    """What a list or search is narrowed to; empty fields do not narrow."""

    kind: str | None = None
    audience: str | None = None
    subject: str | None = None
    lang: str | None = None
    age: int | None = None

    def sql(self) -> tuple[str, list]:
        where, args = [], []
        for prefix, value in (("audience", self.audience), ("subject", self.subject),
                              ("lang", self.lang)):
            if value:
                where.append("items.rowid IN (SELECT item FROM tags WHERE tag = ?)")
                args.append(f"{prefix}:{value}")
        if self.kind:
            where.append("items.kind = ?")
            args.append(self.kind)
        if self.age is not None:
            where.append("coalesce(items.age_min, 0) <= ? AND coalesce(items.age_max, 99) >= ?")
            args += [self.age, self.age]
        return (" AND ".join(where) or "1"), args


@dataclass
class Page:
    items: list[dict]
    total: int = 0


class Catalog:
    """The catalog file at PATH, created and migrated on first open."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._epoch = 0  # bumped by replace(): each thread then reopens on the new file
        self.damage: str | None = None  # why the file could not even be opened and migrated
        try:
            self._migrate()
        except sqlite3.DatabaseError as e:
            if not (sqlite_files.is_damage(e) or "no such table" in str(e)):
                raise
            self.damage = str(e)

    def _migrate(self) -> None:
        conn = self._connect()
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < len(MIGRATIONS):
                # Imported only here: reading needs plain sqlite3, and the server stays smaller.
                import sqlite_utils

                db = sqlite_utils.Database(conn)
                with conn:
                    conn.execute("BEGIN IMMEDIATE")
                    for number, migration in enumerate(MIGRATIONS[version:], version + 1):
                        migration(db)
                        conn.execute(f"PRAGMA user_version = {number}")
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite_files.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        # FULL: a commit is on disk before it returns; writes are rare (imports), reads many.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # 256 KB of page cache per connection, not SQLite's 2 MB: there is one connection per
        # web thread, and the kernel's page cache holds the file for all of them anyway.
        conn.execute("PRAGMA cache_size = -256")
        return conn

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection, on the file catalog.db is now.

        A new one after `replace` in this process (the epoch), and after a replace by another
        process (the USB daemon, `check --repair`): the file's identity is looked at once a
        second, and at once after `refresh()`. Each thread closes only its own connection.
        """
        local = self._local
        conn = getattr(local, "db", None)
        now = time.monotonic()
        if conn is not None and local.epoch == self._epoch and now - local.looked < IDENTITY_EVERY:
            return conn
        identity = self._identity()
        if conn is None or local.epoch != self._epoch or identity != local.identity:
            if conn is not None:
                conn.close()
            local.epoch, local.identity = self._epoch, identity
            conn = local.db = self._connect()
        local.looked = now
        return conn

    def refresh(self) -> None:
        """Look at which file catalog.db is before this thread's next query (call under the import lock)."""
        self._local.looked = float("-inf")

    def _identity(self) -> tuple[int, int] | None:
        try:
            found = os.stat(self.path)  # through the link: the file the catalog is now
        except OSError:
            return None
        return found.st_dev, found.st_ino

    def close(self) -> None:
        conn = getattr(self._local, "db", None)
        if conn is not None:
            conn.close()
            self._local.db = None

    def problem(self, *, full: bool = False) -> str | None:
        """What is wrong with the file (SQLite's quick or full check), or None when it is sound."""
        if self.damage:
            return self.damage
        try:
            conn = sqlite_files.connect(self.path, timeout=30)
            try:
                rows = conn.execute("PRAGMA integrity_check(5)" if full else "PRAGMA quick_check(5)").fetchall()
                conn.execute("SELECT value FROM meta WHERE key = 'installs'").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            # Locked, or on a full card: not damage, and no reason to rebuild anything.
            return str(e) if sqlite_files.is_damage(e) or "no such table" in str(e) else None
        # Debian 12's SQLite (3.40) quick_check wrongly reports NULLs in tags.item, a NOT NULL
        # column of a WITHOUT ROWID table; integrity_check does not, and neither does newer SQLite.
        faults = [r[0] for r in rows if r[0] != "ok" and not r[0].startswith("NULL value in tags.item")]
        return "; ".join(faults) or None

    def replace(self, rebuilt: Path, aside: Path) -> None:
        """Make the catalog at REBUILT the catalog, and move the damaged file to ASIDE.

        catalog.db becomes a link to REBUILT (a fresh name beside it). SQLite names a
        database's WAL after the file a link leads to, so connections still open on the
        damaged file (other threads', closed by each thread at its next query) can only ever
        checkpoint into, or delete, files of the damaged catalog, never the new one's.
        """
        with self._write_lock:
            damaged = Path(os.path.realpath(self.path))
            aside.parent.mkdir(parents=True, exist_ok=True)
            # A second name first, so catalog.db itself never stops existing for a moment.
            os.link(damaged, aside)
            link = self.path.with_name(f".{self.path.name}.link")
            link.unlink(missing_ok=True)
            link.symlink_to(rebuilt.name)
            os.replace(link, self.path)
            if damaged != self.path:
                damaged.unlink()
            if os.path.exists(f"{damaged}-wal"):
                os.replace(f"{damaged}-wal", f"{aside}-wal")
            # Its index is of use to no one now (open connections keep their mapping of it).
            Path(f"{damaged}-shm").unlink(missing_ok=True)
            fsync_dir(self.path.parent)
            self.damage = None
            self._epoch += 1

    # Reading

    def generation(self) -> int:
        """A number that changes whenever the catalog does."""
        return int(self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM items").fetchone()[0]

    def get(self, item_id: str) -> dict | None:
        row = self.db.execute("SELECT data FROM items WHERE id = ?", [item_id]).fetchone()
        return json.loads(row[0]) if row else None

    def items(self, filters: Filters, *, limit: int, offset: int = 0, order: str = "new") -> Page:
        where, args = filters.sql()
        # Among items added together, the ones a child can use come first.
        order_by = {"new": "installed DESC, instr('video book game audio activity tip document course', kind), id",
                    "id": "id"}[order]
        rows = self.db.execute(f"SELECT data FROM items WHERE {where} ORDER BY {order_by} "
                               "LIMIT ? OFFSET ?", args + [limit, offset]).fetchall()
        total = self.db.execute(f"SELECT count(*) FROM items WHERE {where}", args).fetchone()[0]
        return Page([json.loads(r[0]) for r in rows], total)

    def search(self, query: str, filters: Filters, *, limit: int) -> Page:
        """Items matching every word (or, failing that, any word), best match first."""
        where, args = filters.sql()
        for any_word in (False, True):
            expression = search.match_expression(query, any_word=any_word)
            if expression is None:
                return Page([])
            # Rank the matches on the index alone and read only the LIMIT winners' data:
            # 2-3x faster than sorting whole rows when a short prefix matches thousands.
            # bm25 adds up a word's hits weighted by column, then saturates the sum: in rows of
            # a length, one hit in the title (10) or the kind (6) outscores about ten in the body
            # (0.5 each), and the title stays a little above the kind.
            join = "" if where == "1" else f"JOIN items ON items.rowid = items_fts.rowid AND {where}"
            rows = self.db.execute(
                "WITH hits AS (SELECT items_fts.rowid AS hit, bm25(items_fts, 10.0, 6.0, 0.5) AS score "
                f"FROM items_fts {join} WHERE items_fts MATCH ? ORDER BY score LIMIT ?) "
                "SELECT items.data FROM hits JOIN items ON items.rowid = hits.hit ORDER BY hits.score",
                [*args, expression, limit]).fetchall()
            if rows or len(search.words(query)) < 2:
                return Page([json.loads(r[0]) for r in rows], len(rows))
        return Page([])

    def file(self, sha: str) -> tuple[int, str] | None:
        """(size, mime) of a file the catalog serves, or None."""
        row = self.db.execute("SELECT size, mime FROM files WHERE sha256 = ?", [sha]).fetchone()
        return (row[0], row[1]) if row else None

    def item_of(self, sha: str) -> str | None:
        """The id of an item that names the file SHA (the first by id), or None."""
        row = self.db.execute("SELECT items.id FROM item_files JOIN items ON items.rowid = item_files.item "
                              "WHERE item_files.sha256 = ? ORDER BY items.id LIMIT 1", [sha]).fetchone()
        return row[0] if row else None

    def served(self, sha: str) -> tuple[int, str, bool] | None:
        """(size, mime, retired) of a file /files may send: named now, or retired by the last switch."""
        row = self.db.execute("SELECT size, mime, 0 FROM files WHERE sha256 = ? UNION ALL "
                              "SELECT size, mime, 1 FROM retired WHERE sha256 = ? LIMIT 1", [sha, sha]).fetchone()
        return (row[0], row[1], bool(row[2])) if row else None

    def sequences(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT channel, sequence FROM channels").fetchall())

    def bases(self) -> dict[str, str]:
        """Each channel's digest of the manifest it installed last."""
        return dict(self.db.execute("SELECT channel, base FROM channels").fetchall())

    def sizes(self) -> dict[str, int]:
        """SHA-256 to size of every file the catalog names, retired ones included."""
        return dict(self.db.execute("SELECT sha256, size FROM files UNION SELECT sha256, size FROM retired"))

    def retired(self) -> dict[str, int]:
        """SHA-256 to size of the files the last switch retired."""
        return dict(self.db.execute("SELECT sha256, size FROM retired"))

    def drop_retired(self) -> None:
        """Stop serving retired files (an import needs their space)."""
        with self._write_lock:
            self.db.execute("DELETE FROM retired")

    def referenced(self) -> set[str]:
        """Every file the store must keep: those items name and those still retiring."""
        return set(self.sizes())

    def facets(self, chosen: Filters | None = None, *, ages: tuple[int, ...] = ()) -> dict[str, list]:
        """The filter values that still find items: {'kind': [...], 'lang': [...], 'age': [...], ...}.

        Each kind of choice is counted with the other choices in CHOSEN applied and its own
        left out, so a phone is offered only chips that lead somewhere, and can still change
        the one it made. AGES are the ages to look for.
        """
        chosen = chosen or Filters()
        out: dict[str, list] = {}
        for prefix, field in (("audience", "audience"), ("subject", "subject"), ("lang", "lang")):
            where, args = dataclasses.replace(chosen, **{field: None}).sql()
            out[prefix] = [r[0].partition(":")[2] for r in self.db.execute(
                "SELECT DISTINCT tag FROM tags JOIN items ON items.rowid = tags.item "
                f"WHERE tag >= ? AND tag < ? AND {where} ORDER BY tag", [prefix + ":", prefix + ";", *args])]
        where, args = dataclasses.replace(chosen, kind=None).sql()
        out["kind"] = [r[0] for r in self.db.execute(f"SELECT DISTINCT kind FROM items WHERE {where} ORDER BY kind", args)]
        out["age"] = []
        for age in ages:
            where, args = dataclasses.replace(chosen, age=age).sql()
            if self.db.execute(f"SELECT 1 FROM items WHERE {where} LIMIT 1", args).fetchone():
                out["age"].append(age)
        return out

    # Writing

    def apply(self, manifest: dict, *, now: str, digest: str, texts: dict[str, str] | None = None) -> None:
        """Install a checked manifest in one transaction: its items, removals, files, sequence.

        DIGEST is the manifest's (content_mirror.manifest.digest), kept as the channel's base.
        TEXTS maps an item id to extra searchable text (a document's words, subtitles).
        A full manifest replaces its channel: items of that channel it does not list go.
        Files no item names any more are retired, and those retired before are forgotten.
        """
        texts = texts or {}
        channel = manifest["channel"]
        with self._write_lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                remove = set(manifest.get("remove", []))
                if manifest.get("full", True):
                    listed = {item["id"] for item in manifest["items"]}
                    remove |= {r[0] for r in db.execute(
                        "SELECT id FROM items WHERE channel = ?", [channel])} - listed
                for item_id in remove:
                    self._delete(db, item_id)
                order = int(db.execute("UPDATE meta SET value = value + 1 WHERE key = 'installs' "
                                       "RETURNING value").fetchone()[0])
                for item in manifest["items"]:
                    self._put(db, item, channel, now, order, texts.get(item["id"], ""), manifest["files"])
                db.execute("DELETE FROM retired")
                unnamed = "FROM files WHERE sha256 NOT IN (SELECT sha256 FROM item_files)"
                db.execute(f"INSERT INTO retired SELECT sha256, size, mime {unnamed}")
                db.execute(f"DELETE {unnamed}")
                db.execute("INSERT OR REPLACE INTO channels (channel, sequence, installed_at, base) "
                           "VALUES (?, ?, ?, ?)", [channel, manifest["sequence"], now, digest])
                db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @staticmethod
    def _delete(db: sqlite3.Connection, item_id: str) -> None:
        row = db.execute("SELECT rowid FROM items WHERE id = ?", [item_id]).fetchone()
        if row:
            db.execute("DELETE FROM items_fts WHERE rowid = ?", [row[0]])
            db.execute("DELETE FROM items WHERE rowid = ?", [row[0]])

    def _put(self, db, item: dict, channel: str, now: str, order: int, extra_text: str, files: dict) -> None:
        old = db.execute("SELECT added_at, data, installed FROM items WHERE id = ?", [item["id"]]).fetchone()
        stored = {k: v for k, v in item.items() if v not in (None, [], {})}
        stored["files"] = [dict(ref, size=files[ref["sha256"]]["size"], mime=files[ref["sha256"]]["mime"])
                           for ref in item.get("files", [])]
        # An unchanged item keeps its place among "new"; a changed one comes to the top.
        unchanged = old and json.loads(old[1]) == dict(stored, added=old[0])
        added, order = (old[0], old[2]) if unchanged else (now, order)
        stored["added"] = added
        self._delete(db, item["id"])
        cursor = db.execute(
            "INSERT INTO items (id, kind, channel, age_min, age_max, added_at, installed, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [item["id"], item["kind"], channel, item.get("age_min"), item.get("age_max"), added, order,
             json.dumps(stored, ensure_ascii=False, separators=(",", ":"))])
        rowid = cursor.lastrowid
        tags = ({f"audience:{a}" for a in item.get("audiences", [])}
                | {f"subject:{s}" for s in item.get("subjects", [])}
                | {f"lang:{lang}" for lang in item.get("languages", [])})
        db.executemany("INSERT INTO tags VALUES (?, ?)", [(rowid, t) for t in sorted(tags)])
        db.executemany("INSERT INTO item_files VALUES (?, ?)",
                       [(rowid, ref["sha256"]) for ref in item.get("files", [])])
        db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?)",
                       [(ref["sha256"], files[ref["sha256"]]["size"], files[ref["sha256"]]["mime"])
                        for ref in item.get("files", [])])
        db.execute("INSERT INTO items_fts (rowid, title, kind, body) VALUES (?, ?, ?, ?)",
                   [rowid, search.index_texts(item["title"]), search.index_text(_kind_words(item)),
                    search.index_texts(bodies(item)) + " " + search.index_text(extra_text)])


def _kind_words(item: dict) -> str:
    """The words ITEM is found by for its kind and audiences, in every interface language."""
    return names.search_words(item["kind"], tuple(item.get("audiences", [])))


def bodies(item: dict) -> dict[str, str]:
    """Every searchable text of an item but its titles, by language (each indexed as its
    language is typed: server/search.py)."""
    found: dict[str, list[str]] = {}
    for name in ("description", "text"):
        for lang, text in item.get(name, {}).items():
            found.setdefault(lang, []).append(text)
    for name in ("steps", "materials"):
        for lang, lines in item.get(name, {}).items():
            found.setdefault(lang, []).extend(lines)
    for page in item.get("pages", []):
        for lang, text in page.get("text", {}).items():
            found.setdefault(lang, []).append(text)
    for module in item.get("modules", []):
        for lang, text in module.get("title", {}).items():
            found.setdefault(lang, []).append(text)
    return {lang: " ".join(texts) for lang, texts in found.items()}


def body_texts(item: dict) -> Iterable[str]:
    """Every searchable text of an item but its titles, in every language."""
    return bodies(item).values()
