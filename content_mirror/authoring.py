"""Reading an authoring folder (docs/authoring.md) into a bundle manifest.

One reader for everything: `sanduq-server --demo` installs what it returns, and bundle
building signs it. Every fault is reported with the sheet, row and column, as a content
team sees them in a spreadsheet (row 1 is the header), all at once so one pass fixes all.
Warnings (an item without a licence) are reported the same way but stop nothing: a library
is not held back from the children for its paperwork.
"""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from content_mirror import players
from content_mirror.bloom import EXTENSIONS as BLOOM_EXTENSIONS, check_bloompub
from content_mirror.h5p import check_h5p
from content_mirror.manifest import (AUDIENCES, CREDITS, FORMAT, ITEM_ID, KINDS, LANG, MIME_TYPES,
                                     SUBJECTS, credit_fault, is_sha256, validate)
from server.errors import InvalidSource, Refused, SanduqError
from server.gamezip import check_game_zip
from server.fsutil import sha256_file

ITEM_COLUMNS = {"id", "kind", "languages", "audiences", "age_min", "age_max", "subjects",
                "duration", "file", "poster", *CREDITS}
ITEM_LANG_COLUMNS = {"title", "description", "text", "steps", "materials", "file", "subtitles"}
PAGE_COLUMNS, PAGE_LANG_COLUMNS = {"book", "page", "picture"}, {"text", "narration"}
COURSE_COLUMNS, COURSE_LANG_COLUMNS = {"course", "module", "lessons"}, {"title"}
# A book's `file` is optional: the PDF it came from, offered for printing (role print), or a
# BloomPub, which is the whole book (no pages.csv rows).
OPTIONAL_MAIN = {"book"}
MAIN_TYPES = {"book": ("application/pdf", "application/zip"), "video": ("video/",), "audio": ("audio/",),
              "document": ("text/markdown", "application/pdf"),
              "game": ("application/zip",)}
MAX_ERRORS = 30


@dataclass
class Source:
    """A read authoring folder: the manifest, where each payload file lies, and what to improve."""

    manifest: dict
    paths: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def open(self, sha: str):
        return self.paths[sha].open("rb")


class _Reader:
    def __init__(self, root: Path, hashed: dict | None = None):
        self.root = root.resolve()
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.more_warnings = 0
        self.files: dict[str, dict] = {}
        self.paths: dict[str, Path] = {}
        # (path, size, modified) -> SHA-256: a caller that reads the folder again and again (the
        # preview, at every save) passes its own, so only what changed is hashed again.
        self._hashed: dict[tuple[Path, int, int], str] = {} if hashed is None else hashed
        self._players: dict[players.Player, str] = {}  # -> the tarball's SHA-256, or why none

    def error(self, where: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{where}: {message}")

    def warn(self, where: str, message: str) -> None:
        if len(self.warnings) < MAX_ERRORS:
            self.warnings.append(f"{where}: {message}")
        else:
            self.more_warnings += 1

    def all_warnings(self) -> list[str]:
        more = [f"... and {self.more_warnings} more warnings like these"] if self.more_warnings else []
        return self.warnings + more

    def sheet(self, name: str, fixed: set[str], per_lang: set[str], required: bool) -> list[tuple[str, dict]]:
        path = self.root / name
        if not path.is_file():
            if required:
                self.error(name, "is missing; every authoring folder needs one")
            return []
        try:
            with path.open(encoding="utf-8-sig", newline="") as f:
                rows = list(csv.DictReader(f))
                header = rows and list(rows[0]) or []
        except UnicodeDecodeError:
            self.error(name, "is not UTF-8; save it as 'CSV UTF-8'")
            return []
        except csv.Error as e:
            self.error(name, f"is not a valid CSV file ({e})")
            return []
        for n, row in enumerate(rows, 2):
            if None in row:
                self.error(f"{name} row {n}", "has more cells than the header row "
                                              "(a comma inside a cell needs the cell in quotes)")
        for column in header:
            if column is None:
                continue
            base, _, lang = column.rpartition("_")
            if column not in fixed and not (base in per_lang and LANG.fullmatch(lang)):
                self.error(f"{name} column {column!r}", "is not a known column (see docs/authoring.md)")
        return [(f"{name} row {n}", {k: (v or "").strip() for k, v in row.items() if k})
                for n, row in enumerate(rows, 2)]

    def file(self, where: str, rel: str, allowed: tuple[str, ...] | None = None) -> str | None:
        """Hash the file REL names (once) and return its SHA-256, or record why not."""
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            self.error(where, f"{rel!r} lies outside the authoring folder")
            return None
        if not path.is_file():
            self.error(where, f"file {rel!r} does not exist")
            return None
        mime = MIME_TYPES.get(path.suffix.lower())
        if mime is None or (allowed and not mime.startswith(allowed)):
            kinds = ", ".join(allowed) if allowed else ", ".join(MIME_TYPES)
            self.error(where, f"{rel!r} is not a usable type here ({kinds})")
            return None
        return self._add(path, mime)

    def _add(self, path: Path, mime: str) -> str:
        found = path.stat()
        key = (path, found.st_size, found.st_mtime_ns)
        if key not in self._hashed:
            self._hashed[key] = sha256_file(path)
        sha = self._hashed[key]
        self.files[sha] = {"size": found.st_size, "mime": mime}
        self.paths[sha] = path
        return sha

    def player(self, where: str, player: players.Player) -> str | None:
        """The SHA-256 of PLAYER's tarball, fetched and checked once per build however many items
        it plays, or record why it cannot be had."""
        if player not in self._players:
            try:
                self._players[player] = self._add(players.fetch(player), "application/gzip")
            except SanduqError as e:
                self._players[player] = e.message
        found = self._players[player]
        if not is_sha256(found):
            self.error(where, found)
            return None
        return found


def _per_lang(row: dict, base: str) -> dict[str, str]:
    return {col.rpartition("_")[2]: v for col, v in row.items()
            if col.rpartition("_")[0] == base and v}


def _number(reader: _Reader, where: str, text: str, low: int, high: int) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        reader.error(where, f"{text!r} is not a whole number from {low} to {high}")
        return None
    return int(text)


def _duration(reader: _Reader, where: str, text: str) -> int | None:
    if not text:
        return None
    match = re.fullmatch(r"(?:(\d+):)?(\d+)(?::(\d\d))?", text)
    if not match:
        reader.error(where, f"{text!r} is not seconds (95) or minutes:seconds (1:35)")
        return None
    a, b, c = match.groups()
    if c is not None:  # h:mm:ss
        return int(a) * 3600 + int(b) * 60 + int(c)
    return int(a) * 60 + int(b) if a is not None else int(b)


def _words(reader: _Reader, where: str, text: str, allowed: tuple[str, ...] | None) -> list[str]:
    out = []
    for word in text.replace(",", " ").split():
        ok = word in allowed if allowed else LANG.fullmatch(word)
        if ok:
            out.append(word)
        else:
            reader.error(where, f"{word!r} is not " + (f"one of {', '.join(allowed)}" if allowed
                                                        else "a language code such as tg, ru, en"))
    return out


def _item(reader: _Reader, where: str, row: dict, credits: dict[str, str]) -> dict | None:
    item_id, kind = row.get("id", ""), row.get("kind", "")
    if not ITEM_ID.fullmatch(item_id):
        reader.error(f"{where}, column id", f"{item_id!r} must be lowercase letters, digits and -")
    if kind not in KINDS:
        reader.error(f"{where}, column kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        return None
    item: dict = {"id": item_id, "kind": kind,
                  "title": _per_lang(row, "title"),
                  "description": _per_lang(row, "description"),
                  "text": _per_lang(row, "text"),
                  "steps": {k: v.splitlines() for k, v in _per_lang(row, "steps").items()},
                  "materials": {k: v.splitlines() for k, v in _per_lang(row, "materials").items()},
                  "languages": _words(reader, f"{where}, column languages", row.get("languages", ""), None),
                  "audiences": _words(reader, f"{where}, column audiences", row.get("audiences", ""), AUDIENCES),
                  "subjects": _words(reader, f"{where}, column subjects", row.get("subjects", ""), SUBJECTS),
                  "age_min": _number(reader, f"{where}, column age_min", row.get("age_min", ""), 0, 99),
                  "age_max": _number(reader, f"{where}, column age_max", row.get("age_max", ""), 0, 99),
                  "duration": _duration(reader, f"{where}, column duration", row.get("duration", "")),
                  "files": []}
    if not item["title"]:
        reader.error(where, "needs a title in at least one language (title_tg, title_ru, title_en)")
    if not item["audiences"]:
        reader.error(f"{where}, column audiences", "needs at least one of " + ", ".join(AUDIENCES))
    if None not in (item["age_min"], item["age_max"]) and item["age_min"] > item["age_max"]:
        reader.error(f"{where}, column age_min", "is larger than age_max")
    main_types = MAIN_TYPES.get(kind)
    mains = {None: row.get("file", "")} | _per_lang(row, "file")
    for lang, rel in mains.items():
        if not rel:
            continue
        column = "file" + (f"_{lang}" if lang else "")
        if main_types is None:
            reader.error(f"{where}, column {column}", f"a {kind} has no main file")
            continue
        sha = reader.file(f"{where}, column {column}", rel, main_types)
        if sha:
            role = "print" if kind in ("document", "book") and rel.lower().endswith(".pdf") else "main"
            item["files"].append({"role": role, "lang": lang, "sha256": sha})
            if reader.files[sha]["mime"] == "application/zip":
                _check_package(reader, f"{where}, column {column}", item, reader.paths[sha])
    if main_types and kind not in OPTIONAL_MAIN and not any(mains.values()):
        reader.error(where, f"a {kind} needs its main file in column file or file_LANG")
    if row.get("poster"):
        sha = reader.file(f"{where}, column poster", row["poster"], ("image/",))
        if sha:
            item["files"].append({"role": "poster", "lang": None, "sha256": sha})
    for lang, rel in _per_lang(row, "subtitles").items():
        sha = reader.file(f"{where}, column subtitles_{lang}", rel, ("text/vtt",))
        if sha:
            item["files"].append({"role": "subtitles", "lang": lang, "sha256": sha})
    _credit(reader, where, item, row, credits)
    if kind == "tip" and not item["text"]:
        reader.error(where, "a tip needs its text in text_LANG columns")
    if kind == "activity" and not (item["steps"] or item["text"]):
        reader.error(where, "an activity needs steps_LANG or text_LANG")
    return item


def _credit(reader: _Reader, where: str, item: dict, row: dict, defaults: dict[str, str]) -> None:
    """The item's licence, author, copyright and source: its own cells, else library.toml's."""
    for name in CREDITS:
        value = row.get(name) or defaults.get(name)
        fault = value and credit_fault(name, value)
        if fault:
            reader.error(f"{where}, column {name}", fault)
        elif value:
            item[name] = value
    licence = item.get("licence", "")
    if not (row.get("licence") or defaults.get("licence")):
        reader.warn(f"{where}, column licence", f"{item['id']!r} has no licence; give one (for example "
                                                f"CC-BY-4.0), or a licence for every item in library.toml")
    # CC BY, BY-SA, BY-NC...: the licence itself asks that the creator be named.
    elif re.match(r"CC[-\s]BY\b", licence, re.I) and not (item.get("author") or item.get("copyright")):
        reader.warn(f"{where}, column author", f"{item['id']!r} is under {licence}, which asks that its "
                                               f"author be credited; fill column author or copyright")


def _library_credits(reader: _Reader, settings: dict) -> dict[str, str]:
    """Credits library.toml gives every item (licence = "CC-BY-4.0"...), the faulty ones reported."""
    credits = {}
    for name in CREDITS:
        if name in settings:
            fault = credit_fault(name, settings[name])
            if fault:
                reader.error(f"library.toml, {name}", fault)
            else:
                credits[name] = settings[name]
    return credits


def _check_package(reader: _Reader, where: str, item: dict, path: Path) -> None:
    """Check a zip by its format (a BloomPub, an H5P package, an HTML5 game), take the words it
    holds for search, and add the player it needs."""
    kind, ext = item["kind"], path.suffix.lower()
    if kind == "book" and ext not in BLOOM_EXTENSIONS:
        reader.error(where, "a book's file is its PDF (for printing) or a Bloom book (.bloompub)")
        return
    if kind == "game" and ext in BLOOM_EXTENSIONS:
        reader.error(where, "a Bloom book is a book: write kind book for it")
        return
    if ext == ".zip":
        _check_game(reader, where, path)
        return
    try:
        if ext in BLOOM_EXTENSIONS:
            book = check_bloompub(path, path.name)
            words, player = book.text, players.BLOOM
        else:
            package = check_h5p(path, path.name)
            lang = (item["languages"] or [package.language or ""])[0]
            words, player = ({lang: package.text} if lang and package.text else {}), players.H5P
    except InvalidSource as e:
        reader.error(where, e.message)
        return
    for lang, text in words.items():
        item["text"].setdefault(lang, text)
    sha = reader.player(where, player)
    if sha and not any(ref["sha256"] == sha for ref in item["files"]):
        item["files"].append({"role": "player", "lang": None, "sha256": sha})


def _check_game(reader: _Reader, where: str, path: Path) -> None:
    """The box's own check (server/gamezip.py): a game that builds is a game a box installs."""
    try:
        check_game_zip(path, path.name)
    except Refused as e:
        reader.error(where, e.message)


def read_source(folder: Path | str, *, sequence: int | None = None, hashed: dict | None = None) -> Source:
    """Read and check an authoring folder; raise InvalidSource listing every fault found (also
    as its `faults` value). HASHED: hashes kept from an earlier reading (see _Reader)."""
    root = Path(folder)
    if not root.is_dir():
        raise InvalidSource(f"{root} is not a folder; give the authoring folder that holds items.csv.")
    reader = _Reader(root, hashed)
    settings = {}
    if (root / "library.toml").is_file():
        try:
            settings = tomllib.loads((root / "library.toml").read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            reader.error("library.toml", f"cannot be read ({e})")
    credits = _library_credits(reader, settings)
    items: dict[str, dict] = {}
    for where, row in reader.sheet("items.csv", ITEM_COLUMNS, ITEM_LANG_COLUMNS, True):
        item = _item(reader, where, row, credits)
        if item is None:
            continue
        if item["id"] in items:
            reader.error(f"{where}, column id", f"{item['id']!r} is used by an earlier row")
        items[item["id"]] = item
    _pages(reader, items)
    _courses(reader, items)
    for item in items.values():
        bloom = any(reader.files[ref["sha256"]]["mime"] == "application/zip" for ref in item["files"])
        if item["kind"] == "book" and not item.get("pages") and not bloom:
            reader.error("pages.csv", f"book {item['id']!r} has no pages")
        if item["kind"] == "course" and not item.get("modules"):
            reader.error("courses.csv", f"course {item['id']!r} has no modules")
    if reader.errors:
        warnings = reader.all_warnings()
        also = "\nand warnings (a build would go ahead with these):\n" + "\n".join(warnings) if warnings else ""
        raise InvalidSource(f"The authoring folder {root} has {len(reader.errors)} "
                            f"problem(s) to fix:\n" + "\n".join(reader.errors) + also, faults=reader.errors)
    manifest = {"format": FORMAT, "channel": settings.get("channel", "local"),
                "sequence": sequence or settings.get("sequence", 1), "full": True,
                "items": [_tidy(item) for item in items.values()], "files": reader.files}
    return Source(validate(manifest), reader.paths, reader.all_warnings())


def _children(reader: _Reader, sheet: str, columns: set[str], lang_columns: set[str],
              parent_column: str, kind: str, child_column: str, items: dict[str, dict]):
    """Rows of SHEET that number the parts of an item: (where, row, parent item, number).

    Parts must point at an item of KIND and be numbered 1, 2, 3 ... in order, without gaps.
    """
    counts: dict[str, int] = {}
    for where, row in reader.sheet(sheet, columns, lang_columns, False):
        parent = items.get(row.get(parent_column, ""))
        if parent is None or parent["kind"] != kind:
            reader.error(f"{where}, column {parent_column}",
                         f"{row.get(parent_column)!r} is not the id of a {kind} in items.csv")
            continue
        number = _number(reader, f"{where}, column {child_column}", row.get(child_column, ""), 1, 500)
        expected = counts.get(parent["id"], 0) + 1
        if number != expected:
            reader.error(f"{where}, column {child_column}", f"expected {child_column} {expected} of {parent['id']!r}")
            continue
        counts[parent["id"]] = expected
        yield where, row, parent, number


def _pages(reader: _Reader, items: dict[str, dict]) -> None:
    for where, row, book, number in _children(reader, "pages.csv", PAGE_COLUMNS, PAGE_LANG_COLUMNS,
                                              "book", "book", "page", items):
        book.setdefault("pages", []).append({"text": _per_lang(row, "text")})
        sha = reader.file(f"{where}, column picture", row.get("picture", ""), ("image/",))
        if sha:
            book["files"].append({"role": "picture", "lang": None, "page": number, "sha256": sha})
        for lang, rel in _per_lang(row, "narration").items():
            sha = reader.file(f"{where}, column narration_{lang}", rel, ("audio/",))
            if sha:
                book["files"].append({"role": "narration", "lang": lang, "page": number, "sha256": sha})


def _courses(reader: _Reader, items: dict[str, dict]) -> None:
    for where, row, course, _ in _children(reader, "courses.csv", COURSE_COLUMNS, COURSE_LANG_COLUMNS,
                                           "course", "course", "module", items):
        lessons = row.get("lessons", "").split()
        for lesson in lessons:
            if lesson not in items:
                reader.error(f"{where}, column lessons", f"{lesson!r} is not an id in items.csv")
        if not _per_lang(row, "title"):
            reader.error(where, "a module needs a title in at least one language")
        course.setdefault("modules", []).append({"title": _per_lang(row, "title"), "lessons": lessons})


def _tidy(item: dict) -> dict:
    """Drop empty fields and null languages so manifests stay small and stable."""
    item["files"] = [{k: v for k, v in ref.items() if v is not None} for ref in item["files"]]
    return {k: v for k, v in item.items() if v not in (None, [], {}, "")}
