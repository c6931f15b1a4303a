"""BloomPub books (`.bloompub`, older `.bloomd`): read, checked, and what the catalog needs.

A BloomPub is a zip of one Bloom book folder: one `.htm` page file, `meta.json`, pictures,
`audio/ID.mp3` narration, optional `video/` and `activities/`. The box does not convert it:
SIL's bloom-player plays it as its authors made it (narration with the sentence highlighted,
every language, quizzes and activities), inside the same sandbox as a game (server/players.py).
What is read here is only what the catalog and search need (titles, languages, credits, the
words of every page) and what makes a zip harmless to carry.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
import stat
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

from content_mirror.manifest import CREDITS, LANG, MAX_TEXT, SUBJECTS, credit_fault
from server.errors import InvalidSource
from server.gamezip import BAD_ZIP, MAX_GAME, markup_fault, too_large

EXTENSIONS = (".bloompub", ".bloomd")
MAX_MEMBERS = 5_000
MAX_BOOK = MAX_GAME  # unpacked: what a box takes (server/gamezip.py), so a book that builds installs
MAX_PAGE_FILE = 16 * 1024 * 1024  # the .htm and meta.json are read whole: bounded
# Nothing a phone's browser would run outside the player: only activities (Bloom's own HTML5
# widgets, played by bloom-player in the same sandbox) may hold pages and scripts.
REFUSED = {".exe", ".dll", ".com", ".bat", ".cmd", ".msi", ".scr", ".vbs", ".ps1", ".sh", ".apk", ".jar",
           ".swf", ".php"}
PAGES = {".htm", ".html", ".xhtml", ".js", ".mjs"}
# Bloom's topic tags (bloomlibrary.org's list) and the subjects they are on a Sanduq shelf.
TOPICS = {"math": "numeracy", "science": "science", "environment": "science", "animal stories": "science",
          "health": "health", "primer": "literacy", "fiction": "literacy", "traditional story": "literacy",
          "dictionary": "literacy", "personal development": "socio-emotional",
          "community living": "socio-emotional", "culture": "creative"}
# Bloom writes CC licences without their version; the ones it offers are 4.0.
LICENCES = {"cc-by": "CC-BY-4.0", "cc-by-sa": "CC-BY-SA-4.0", "cc-by-nd": "CC-BY-ND-4.0",
            "cc-by-nc": "CC-BY-NC-4.0", "cc-by-nc-sa": "CC-BY-NC-SA-4.0", "cc-by-nc-nd": "CC-BY-NC-ND-4.0",
            "cc0": "CC0-1.0"}


@dataclass
class BloomBook:
    page_file: str  # the .htm that bloom-player opens
    titles: dict[str, str] = field(default_factory=dict)
    summary: dict[str, str] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)  # every page's words, per language
    subjects: list[str] = field(default_factory=list)
    credits: dict[str, str] = field(default_factory=dict)  # licence, author, copyright
    thumbnail: str | None = None
    talking: bool = False


def check_bloompub(path: Path, label: str) -> BloomBook:
    """Read the BloomPub at PATH; raise InvalidSource naming LABEL and the file if it is unsafe or not a book."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = _check_members(members, label)
            _check_svgs(archive, label)
            tops = page_files(names)
            if len(tops) != 1:
                raise InvalidSource(f"book {label} is not a Bloom book: it should hold one .htm page file at the "
                                    f"top of its zip, and holds {len(tops)}; publish it again from Bloom as BloomPub.")
            meta = _json(archive, "meta.json", label) if "meta.json" in names else {}
            book = BloomBook(page_file=tops[0])
            _read_pages(book, _read(archive, tops[0], label).decode("utf-8", "replace"))
            thumbs = [n for n in ("thumbnail.png", "thumbnail.jpg", "thumbnail.jpeg") if n in names]
            book.thumbnail = thumbs[0] if thumbs else None
    except zipfile.BadZipFile:
        raise InvalidSource(f"book {label} is not a valid BloomPub (not a zip file); publish it again from "
                            "Bloom as BloomPub.") from None
    except BAD_ZIP:
        raise InvalidSource(f"book {label} is damaged or encrypted; publish it again from Bloom as BloomPub.") from None
    _read_meta(book, meta)
    return book


def page_files(names) -> list[str]:
    """The page files at the top of a BloomPub whose member NAMES these are: a book has one."""
    return [n for n in names if "/" not in n and n.lower().endswith((".htm", ".html"))]


def _check_members(members: list[zipfile.ZipInfo], label: str) -> set[str]:
    if len(members) > MAX_MEMBERS:
        raise InvalidSource(f"book {label} holds more than {MAX_MEMBERS} files, more than any book needs.")
    total, names = 0, set()
    for m in members:
        name = m.filename
        where = f"book {label}: file {name[:80]!r}"
        if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") or ":" in name:
            raise InvalidSource(f"{where} has a name that leaves the book; Sanduq refuses such a zip.")
        if stat.S_ISLNK(m.external_attr >> 16):
            raise InvalidSource(f"{where} is a symbolic link; Sanduq refuses such a zip.")
        if too_large(m):
            raise InvalidSource(f"{where} unpacks far too large (a zip bomb?); Sanduq refuses such a zip.")
        ext = posixpath.splitext(name)[1].lower()
        if ext in REFUSED:
            raise InvalidSource(f"{where} is a program, which a book never needs; Sanduq refuses it.")
        if ext in PAGES and "/" in name and not name.startswith("activities/"):
            raise InvalidSource(f"{where} is a web page or script outside the book's activities; "
                                "Sanduq refuses it.")
        total += m.file_size
        names.add(name)
    if total > MAX_BOOK:
        raise InvalidSource(f"book {label} unpacks to more than {MAX_BOOK // 2**20} MB.")
    return names


def _check_svgs(archive: zipfile.ZipFile, label: str) -> None:
    """Refuse SVG pictures that hold scripts or reach outside (a phone could open one by itself),
    judged as every package's markup is (server/gamezip.py)."""
    for m in archive.infolist():
        if m.filename.lower().endswith(".svg"):
            with archive.open(m) as f:
                data = f.read(MAX_PAGE_FILE + 1)
            if len(data) > MAX_PAGE_FILE:
                raise InvalidSource(f"book {label}: picture {m.filename[:80]!r} is larger than "
                                    f"{MAX_PAGE_FILE // 2**20} MB, too large for Sanduq to check; save it smaller.")
            fault = markup_fault(data, "book")
            if fault:
                raise InvalidSource(f"book {label}: picture {m.filename[:80]!r} {fault}.")


def _read(archive: zipfile.ZipFile, name: str, label: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_PAGE_FILE:
        raise InvalidSource(f"book {label}: {name!r} is larger than {MAX_PAGE_FILE // 2**20} MB.")
    return archive.read(info)


def _json(archive: zipfile.ZipFile, name: str, label: str) -> dict:
    try:
        data = json.loads(_read(archive, name, label).decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidSource(f"book {label}: {name} is not valid JSON; publish the book again from Bloom.") from None
    if not isinstance(data, dict):
        raise InvalidSource(f"book {label}: {name} is not a JSON object; publish the book again from Bloom.")
    return data


def _read_meta(book: BloomBook, meta: dict) -> None:
    titles = meta.get("allTitles")
    if isinstance(titles, str):  # Bloom writes it as JSON inside a string
        try:
            titles = json.loads(titles)
        except ValueError:
            titles = None
    for lang, title in (titles if isinstance(titles, dict) else {}).items():
        code = _lang(lang)
        if code and isinstance(title, str) and _plain(title):
            book.titles.setdefault(code, _plain(title)[:300])
    if not book.titles and isinstance(meta.get("title"), str) and _plain(meta["title"]):
        first = book.languages[0] if book.languages else "en"
        book.titles[first] = _plain(meta["title"])[:300]
    summary = meta.get("summary")
    if isinstance(summary, str) and _plain(summary) and book.languages:
        book.summary[book.languages[0]] = _plain(summary)[:1000]
    tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
    for tag in tags:
        if isinstance(tag, str) and tag.lower().startswith("topic:"):
            subject = TOPICS.get(tag[6:].strip().lower())
            if subject in SUBJECTS and subject not in book.subjects:
                book.subjects.append(subject)
    licence = meta.get("license")
    notes = meta.get("licenseNotes")
    wanted = {"licence": LICENCES.get(licence) if isinstance(licence, str) else None,
              "copyright": meta.get("copyright"),
              "author": meta.get("author") or meta.get("credits")}
    if wanted["licence"] is None and isinstance(notes, str):
        wanted["licence"] = notes
    for name, value in wanted.items():
        text = _plain(value)[:CREDITS[name]] if isinstance(value, str) else ""
        if text and credit_fault(name, text) is None:
            book.credits[name] = text
    features = meta.get("features") if isinstance(meta.get("features"), list) else []
    book.talking = book.talking or "talkingBook" in features


def _read_pages(book: BloomBook, page: str) -> None:
    reader = _Pages()
    reader.feed(page)
    reader.close()
    for lang, lines in reader.words.items():
        text = "\n".join(dict.fromkeys(line for line in lines if line))
        if text:
            book.text[lang] = text[:MAX_TEXT]
    # The book's first language (Bloom's contentLanguage1) first, then by how much text each has.
    first = _lang(reader.first_lang)
    book.languages = sorted(reader.content_langs or book.text,
                            key=lambda code: (code != first, -len(book.text.get(code, ""))))
    book.talking = reader.narrated


class _Stacked(HTMLParser):
    """A parser that keeps a stack of open elements (self.stack, tuples whose first is the tag);
    an end tag closes up to its own element, as a browser forgives a missing one."""

    def handle_endtag(self, tag):
        # A tag never opened here (a void tag written `<br />`, which HTMLParser also ends) closes nothing.
        if not any(entry[0] == tag for entry in self.stack):
            return
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


class _Pages(_Stacked):
    """The words of each `bloom-editable` by language; which languages the story pages use."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.words: dict[str, list[str]] = {}
        self.content_langs: set[str] = set()
        self.stack: list[tuple[str, str | None, bool]] = []  # tag, language of text inside, on a story page
        self.narrated = False
        self.first_lang = ""  # the text of the data div's contentLanguage1
        self.in_first = False

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "meta", "link", "input", "hr", "source"):
            return
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        lang, story = (self.stack[-1][1], self.stack[-1][2]) if self.stack else (None, False)
        if "bloom-page" in classes:
            story = "numberedPage" in classes
        if "bloom-editable" in classes:
            lang = _lang(a.get("lang") or "")
        if "audio-sentence" in classes:
            self.narrated = True
        self.in_first = a.get("data-book") == "contentLanguage1"
        if a.get("id") == "bloomDataDiv":
            lang, story = None, False
        self.stack.append((tag, lang, story))

    def handle_data(self, data):
        if self.in_first and data.strip():
            self.first_lang, self.in_first = data.strip()[:20], False
        lang, story = (self.stack[-1][1], self.stack[-1][2]) if self.stack else (None, False)
        if lang and data.strip() and len(self.words.get(lang, ())) < 5_000:
            self.words.setdefault(lang, []).append(" ".join(data.split()))
            if story:
                self.content_langs.add(lang)


def _lang(code: str) -> str | None:
    """Bloom's language code as Sanduq's: `tg`, `ru-RU` -> `ru`; none for `z` and `*` (Bloom's placeholders)."""
    base = code.replace("_", "-").split("-")[0].lower()
    return base if LANG.fullmatch(base) else None


def _plain(text: str) -> str:
    """TEXT without markup, on one line (Bloom keeps <br> and <p> in some metadata)."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", text)).split())


@dataclass
class StoryPage:
    """A numbered page of a Bloom book, as the take-home video shows it (content_mirror/takehome.py)."""

    picture: str | None = None  # the first picture's member name
    words: dict[str, str] = field(default_factory=dict)  # per language
    sentences: dict[str, list[str]] = field(default_factory=dict)  # per language: audio/ID.mp3 ids, in order


def story_pages(page_html: str) -> list[StoryPage]:
    """The story pages of a book's page file, in order: numbered pages that are not activities
    or quizzes (those need the player), with their picture, words and narration by language."""
    reader = _Story()
    reader.feed(page_html)
    reader.close()
    return [page for page in reader.pages if page is not None]


class _Story(_Stacked):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pages: list[StoryPage | None] = []  # None: a page that is not a story page
        self.stack: list[tuple[str, str | None, int]] = []  # tag, language of text inside, page index (-1: none)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        lang, at = self.stack[-1][1:] if self.stack else (None, -1)
        if "bloom-page" in classes and len(self.pages) < 1000:
            story = "numberedPage" in classes and "bloom-interactive-page" not in classes \
                and not a.get("data-activity") and "simple-comprehension-quiz" not in classes
            self.pages.append(StoryPage() if story else None)
            at = len(self.pages) - 1
        page = self.pages[at] if at >= 0 else None
        if page is not None and tag == "img" and page.picture is None and a.get("src"):
            page.picture = unquote(a["src"].split("?")[0])
        if "bloom-editable" in classes:
            lang = _lang(a.get("lang") or "")
        if page is not None and lang and "audio-sentence" in classes and a.get("id"):
            page.sentences.setdefault(lang, []).append(a["id"])
        if tag not in ("br", "img", "meta", "link", "input", "hr", "source"):
            self.stack.append((tag, lang, at))

    def handle_data(self, data):
        if not self.stack or not data.strip():
            return
        _, lang, at = self.stack[-1]
        page = self.pages[at] if at >= 0 else None
        if page is not None and lang:
            page.words[lang] = " ".join((page.words.get(lang, "") + " " + data).split())[:MAX_TEXT]
