"""A PDF storybook made into a picture book of an authoring folder (docs/pdf-books.md).

Most picture books a ministry has are PDFs, and Chrome on Android does not show PDFs inline.
`import_pdf` adds one PDF, one page per spread, to an authoring folder as a `book`: each page
drawn as a JPEG sized for phones (poppler's pdftoppm), its words taken out (pdftotext) so the
book is searched, narration picked by page number from a folder of MP3s, and the PDF kept
beside them for printing. It runs on the content team's machine, never on a box.

Nothing is half-built: the pages are made in a hidden folder inside the authoring folder and
moved into place at the end, then the sheets are replaced whole; a refusal, a failure or
Ctrl-C undoes every step, so the folder is left as it was. Python never reads the PDF beyond
its first bytes: the tools read it, each process capped in memory and watched page by page,
so memory stays flat whatever the PDF's size, and a page made to hang them is stopped and named.
"""

from __future__ import annotations

import os
import re
import resource
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from content_mirror.drafts import ITEM_ALWAYS, header
from content_mirror.manifest import AUDIENCES, ITEM_ID, LANG, MAX_TEXT
from content_mirror.sheets import LIBRARY_TOML, Sheet, cell, move_into_place, open_folder, tidy
from server.errors import BadRequest, InvalidSource, SanduqError
from server.fsutil import program, write_atomically

# The long side of a page's picture: a spread across a phone held upright is about 1,080
# device pixels wide (412 CSS px at 2.6x), most phones in schools have 720; 1024 is sharp on
# both at a third of the bytes of 1,600 px, so a book of 30 pages is 3-6 MB over a shared
# hotspot. pdftoppm's -scale-to fits every page into that box whatever its size, so a page as
# large as PDF allows (200 x 200 inches) is drawn at 1024 px too, never refused.
LONG_SIDE = 1024
# Quality 80 shows no artefacts on illustrations at phone size; progressive, so a page on a
# busy hotspot shows whole and blurred at once rather than from the top down.
JPEG_OPTIONS = "quality=80,progressive=y,optimize=y"
# Picture books have 8 to 40 pages and anthologies a hundred or so. The bundle format holds at
# most 500 pages (manifest.MAX_LIST), and 200 keeps a book that a phone pages through, and a
# build, to minutes; a longer PDF (a whole textbook) is split into several books.
MAX_PAGES = 200
PAGE_SECONDS = 60  # for one page (or pdfinfo, or pdftotext over the book): 10x a slow laptop's time
# Each poppler process gets this much address space. A page of a real book needs 20-120 MB
# (the most for a huge progressive JPEG); a page made to exhaust memory stops here.
TOOL_MEMORY = 512 * 2**20
OUT_OF_MEMORY = re.compile(rb"Out of memory|bad_alloc")
PROGRESS = re.compile(rb"(\d+) (\d+) (.+)")  # pdftoppm -progress: "PAGE LAST FILE" after each page
# Narration named by page: 1.mp3, 01.mp3, page-1.mp3, Page 01.mp3, p1.mp3, саҳифа-1.mp3.
NARRATION_NAME = re.compile(r"(?:[^\W\d_]+[ _-]?)?(\d{1,4})\.mp3", re.IGNORECASE)
IGNORED = {"thumbs.db", "desktop.ini"}  # what file managers leave in a folder of recordings
# Metadata titles that are not a book's title but the name of the file it was made from.
JUNK_TITLE = re.compile(r"(?i)untitled|.*\.(docx?|odt|rtf|pdf|indd|idml|pub|pptx?|qxd|ai|psd)|microsoft word\b.*")


@dataclass
class ImportedBook:
    """What import_pdf added: the book's id, title, pages and where its files are."""

    book_id: str
    title: str
    pages: int
    narrated: int
    folder: Path  # media/books/ID inside the authoring folder


def import_pdf(pdf: Path | str, source: Path | str, *, book_id: str, lang: str, title: str | None = None,
               narration: Path | str | None = None, audiences: tuple[str, ...] = ("children",),
               age_min: int | None = None, age_max: int | None = None) -> ImportedBook:
    """Add the PDF storybook PDF to the authoring folder SOURCE (made if new) as book BOOK_ID."""
    pdf, source = Path(pdf), Path(source)
    _check_arguments(book_id, lang, audiences, age_min, age_max)
    tools = {name: program(name, "poppler-utils", "to read PDF storybooks") for name in ("pdfinfo", "pdftotext", "pdftoppm")}
    try:
        return _add(pdf, source, tools, book_id, lang, title, narration, audiences, age_min, age_max)
    except OSError as e:  # a full disk, a folder that may not be written: undone by then
        raise SanduqError(f"Adding {pdf} to {source} stopped ({e.strerror}: {e.filename}); the folder is "
                          "as it was.") from e


def _add(pdf: Path, source: Path, tools: dict[str, str], book_id: str, lang: str, title: str | None,
         narration: Path | str | None, audiences: tuple[str, ...], age_min: int | None,
         age_max: int | None) -> ImportedBook:
    # HELD: the lock and the scratch folder, let go either way. UNDO: every change to the
    # authoring folder, undone (while still locked) unless the import gets to its end.
    with ExitStack() as held, ExitStack() as undo:
        open_folder(source, held, undo)
        # A new items.csv has the columns every importer's has, and this book's language's.
        items = Sheet.read(source / "items.csv", header([], always=(*ITEM_ALWAYS, f"title_{lang}",
                                                                    f"description_{lang}", "poster", "file")))
        pages_sheet = Sheet.read(source / "pages.csv", ["book", "page", "picture", f"text_{lang}",
                                                        f"narration_{lang}"])
        rel = Path("media", "books", book_id)
        _check_unused(book_id, items, pages_sheet, source / rel)
        count, meta_title = _pdf_info(tools["pdfinfo"], pdf)
        recordings = _narrations(Path(narration), pdf, count) if narration is not None else {}
        title = tidy(title or "") or meta_title or tidy(re.sub(r"[_-]+", " ", pdf.stem)) or book_id

        scratch = Path(held.enter_context(tempfile.TemporaryDirectory(dir=source.absolute(), prefix=".import-pdf-",
                                                                      ignore_cleanup_errors=True)))
        book = scratch / "book"
        book.mkdir()
        texts: list[str] = []

        def meanwhile() -> None:  # while pdftoppm draws, on the other core: the words, then the copies
            texts.extend(_texts(tools["pdftotext"], pdf, count, scratch / "text.txt"))
            _copy(pdf, book / f"{book_id}.pdf")
            for page, path in recordings.items():
                _copy(path, book / f"page-{page:03d}.{lang}.mp3")

        _draw(tools["pdftoppm"], pdf, count, book, meanwhile=meanwhile)

        move_into_place(book, source / rel, undo)
        picture = (rel / "page-001.jpg").as_posix()
        item = {"id": book_id, "kind": "book", "languages": lang, "audiences": " ".join(audiences),
                "age_min": "" if age_min is None else str(age_min),
                "age_max": "" if age_max is None else str(age_max),
                f"title_{lang}": cell(title), "poster": picture,
                "file": (rel / f"{book_id}.pdf").as_posix()}  # the PDF, offered for printing
        rows = [{"book": book_id, "page": str(n), "picture": (rel / f"page-{n:03d}.jpg").as_posix(),
                 f"text_{lang}": cell(text),
                 f"narration_{lang}": (rel / f"page-{n:03d}.{lang}.mp3").as_posix() if n in recordings else ""}
                for n, text in enumerate(texts, 1)]
        # Pages first: a power cut between the two renames leaves pages of an unknown book,
        # which `check` names, rather than a book without pages.
        for sheet, new_rows in ((pages_sheet, rows), (items, [item])):
            sheet.replace(new_rows, undo)
        if not items.text and not (source / "library.toml").exists():  # a new library: say where its name goes
            write_atomically(source / "library.toml", LIBRARY_TOML.encode())
            undo.callback((source / "library.toml").unlink, missing_ok=True)
        undo.pop_all()  # done: keep every change
    return ImportedBook(book_id, title, count, len(recordings), source / rel)


def _check_arguments(book_id: str, lang: str, audiences: tuple[str, ...], age_min: int | None,
                     age_max: int | None) -> None:
    if not ITEM_ID.fullmatch(book_id):
        raise BadRequest(f"{book_id!r} cannot be an id: use lowercase letters, digits and -, at most 64.")
    if not LANG.fullmatch(lang):
        raise BadRequest(f"{lang!r} is not a language code such as tg, ru or en.")
    if not audiences or not set(audiences) <= set(AUDIENCES):
        raise BadRequest(f"The audiences must be some of {', '.join(AUDIENCES)}.")
    for age in (age_min, age_max):
        if age is not None and not 0 <= age <= 99:
            raise BadRequest(f"{age} is not an age from 0 to 99.")
    if age_min is not None and age_max is not None and age_min > age_max:
        raise BadRequest(f"The youngest age ({age_min}) is above the oldest ({age_max}).")


def _check_unused(book_id: str, items: Sheet, pages: Sheet, target: Path) -> None:
    if items.text and "id" not in items.header:
        raise InvalidSource(f"{items.path} has no id column; fix its header row first.")
    if any(row.get("id", "").strip() == book_id for row in items.rows):
        raise InvalidSource(f"{items.path} already has an item {book_id!r}; choose another --id, "
                            "or delete that row and its pages first.")
    if any(row.get("book", "").strip() == book_id for row in pages.rows):
        raise InvalidSource(f"{pages.path} already has pages of {book_id!r}; choose another --id, "
                            "or delete those rows first.")
    if os.path.lexists(target):
        raise InvalidSource(f"{target} already exists; choose another --id, or remove that folder first.")


def _pdf_info(tool: str, pdf: Path) -> tuple[int, str | None]:
    """(pages, title from the metadata or None) of PDF; refuse what is not a readable, open PDF."""
    if not pdf.is_file():
        raise InvalidSource(f"{pdf} is not a file; give the book's PDF.")
    with pdf.open("rb") as f:
        head = f.read(1024)
    if b"%PDF-" not in head:  # where readers look for it: within the first 1024 bytes
        raise InvalidSource(f"{pdf} is not a PDF (it does not start with %PDF-).")
    with tempfile.TemporaryFile() as out:
        code, said = _run([tool, "-enc", "UTF-8", _arg(pdf)], lambda: f"read {pdf}", stdout=out)
        out.seek(0)
        info = out.read(1 << 16)  # a few hundred bytes, unless the metadata is made huge
    if code != 0:
        if any(b"Incorrect password" in line for line in said):
            raise InvalidSource(f"{pdf} is protected by a password; open it with the password, save a "
                                "copy without one and import that.")
        if any(re.search(rb"Invalid page count 0|the last page \(0\)", line) for line in said):
            raise InvalidSource(f"{pdf} has no pages.")
        raise InvalidSource(f"{pdf} cannot be read as a PDF ({_last_words(said)}).")
    # The metadata (Title, Author ...) comes first and may hold anything, even lines that look
    # like "Pages: 1"; pdfinfo prints Pages and Encrypted after it, so the last such line is its own.
    fields: dict[str, str] = {}
    title = None
    for line in info.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
        if key == "Title" and title is None:
            title = value
    if fields.get("Encrypted", "no") != "no":
        raise InvalidSource(f"{pdf} is encrypted (its maker restricted copying or printing); ask them "
                            "for a copy without protection and import that.")
    pages = int(fields["Pages"]) if fields.get("Pages", "").isdigit() else None
    if pages is None:
        raise InvalidSource(f"{pdf} cannot be read as a PDF (pdfinfo found no page count).")
    if pages == 0:
        raise InvalidSource(f"{pdf} has no pages.")
    if pages > MAX_PAGES:
        raise InvalidSource(f"{pdf} has {pages} pages, more than the {MAX_PAGES} a picture book may have; "
                            f"split it into books of at most {MAX_PAGES} pages.")
    title = tidy(title or "")
    return pages, title if title and len(title) <= 300 and not JUNK_TITLE.fullmatch(title) else None


def _narrations(folder: Path, pdf: Path, pages: int) -> dict[int, Path]:
    """Page number -> recording, from a folder of MP3s named by page; refuse anything else in it."""
    if not folder.is_dir():
        raise BadRequest(f"{folder} is not a folder; --narration takes a folder of MP3 files named by "
                         "page (1.mp3, 2.mp3 ...).")
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.lower() in IGNORED:
            continue
        if not path.is_file():
            raise InvalidSource(f"{path} is not a file; the narration folder holds only MP3 files named by page.")
        if path.suffix.lower() != ".mp3" or not _is_mp3(path):
            raise InvalidSource(f"{path} is not an MP3 file; narration is recorded or converted to MP3.")
        match = NARRATION_NAME.fullmatch(path.name)
        if not match:
            raise InvalidSource(f"{path} is not named by a page number (1.mp3, 01.mp3 or page-1.mp3).")
        page = int(match[1])
        if not 1 <= page <= pages:
            raise InvalidSource(f"{path} is narration of page {page}, but {pdf} has {pages} pages.")
        if page in found:
            raise InvalidSource(f"{found[page]} and {path} are both narration of page {page}; keep one.")
        found[page] = path
    return found


def _is_mp3(path: Path) -> bool:
    """Whether PATH starts as an MP3 does: an ID3 tag, or an MPEG audio frame header."""
    with path.open("rb") as f:
        head = f.read(4)
    if head[:3] == b"ID3":
        return True
    return (len(head) == 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0  # frame sync
            and (head[1] >> 3) & 3 != 1 and (head[1] >> 1) & 3 != 0 and head[2] >> 4 != 15)


def _texts(tool: str, pdf: Path, pages: int, out: Path) -> list[str]:
    """Each page's words, in reading order (pdftotext without -layout), read a piece at a time."""
    code, said = _run([tool, "-enc", "UTF-8", "-cropbox", "-f", "1", "-l", str(pages), _arg(pdf), _arg(out)],
                      lambda: f"take the words out of {pdf}")
    if code != 0:
        raise InvalidSource(f"pdftotext could not take the words out of {pdf} ({_last_words(said)}).")
    texts: list[str] = []
    rest = ""
    with out.open(encoding="utf-8", errors="replace", newline="") as f:
        while chunk := f.read(1 << 16):
            *whole, rest = (rest + chunk).split("\f")  # pdftotext ends each page with a form feed
            texts += [_page_text(raw, len(texts) + n, pdf) for n, raw in enumerate(whole, 1)]
            if len(rest) > 4 * MAX_TEXT:  # far too much even before whitespace is folded
                _page_text(rest, len(texts) + 1, pdf)
    if rest.strip():
        texts.append(_page_text(rest, len(texts) + 1, pdf))
    return (texts + [""] * pages)[:pages]


def _page_text(raw: str, page: int, pdf: Path) -> str:
    # Soft hyphens are where a word was broken at a line's end: joined again. Text four times
    # too long is refused before whitespace is folded, so no page is held whole however long.
    text = tidy(raw.replace("\u00ad\n", "").replace("\u00ad", "")) if len(raw) <= 4 * MAX_TEXT else raw
    if len(text) > MAX_TEXT:
        raise InvalidSource(f"Page {page} of {pdf} has {len(text):,} characters of text, more than the "
                            f"{MAX_TEXT:,} a book page may hold; is it really a picture book?")
    return text


def _draw(tool: str, pdf: Path, pages: int, book: Path, meanwhile: Callable[[], None]) -> None:
    """Draw every page into BOOK as page-001.jpg ...: one pdftoppm for the whole book (a process
    per page cost a tenth more time), watched page by page through its -progress lines, doing
    MEANWHILE (taking the words out, copying files) while it draws. Its progress lines wait in
    the pipe meanwhile (a few KB for the most pages a book may have), and its time limit
    starts after."""
    drawn = 0

    def page_done(line: bytes) -> bool:
        nonlocal drawn
        progress = PROGRESS.fullmatch(line)
        if not progress or int(progress[1]) != drawn + 1:
            return False
        drawn += 1
        _keep_page(Path(os.fsdecode(progress[3])), book / f"page-{drawn:03d}.jpg", drawn, pdf)
        return True

    code, said = _run([tool, "-progress", "-cropbox", "-jpeg", "-jpegopt", JPEG_OPTIONS, "-scale-to", str(LONG_SIDE),
                       "-f", "1", "-l", str(pages), _arg(pdf), _arg(book / "drawn")],
                      lambda: f"draw page {min(drawn + 1, pages)} of {pdf}", page_done=page_done,
                      meanwhile=meanwhile)
    if code != 0 or drawn != pages:
        raise InvalidSource(f"pdftoppm could not draw page {min(drawn + 1, pages)} of {pdf} ({_last_words(said)}).")


def _keep_page(drawn: Path, page: Path, number: int, pdf: Path) -> None:
    """Check what pdftoppm wrote is a whole JPEG of the right size, make it durable and name it."""
    size = _jpeg_size(drawn) if drawn.parent == page.parent and drawn.is_file() else None
    if size is None or not 0 < max(size) <= LONG_SIDE:
        raise InvalidSource(f"pdftoppm made no usable picture of page {number} of {pdf}.")
    _fsync(drawn)
    drawn.rename(page)


def _jpeg_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a whole JPEG file (start and end markers, a frame header), else None."""
    with path.open("rb") as f:
        if f.read(2) != b"\xff\xd8":
            return None
        while (marker := f.read(4))[:1] == b"\xff" and len(marker) == 4:
            length = int.from_bytes(marker[2:], "big")
            if marker[1] in (0xC0, 0xC1, 0xC2):  # baseline, extended, progressive
                frame = f.read(5)
                f.seek(-2, os.SEEK_END)
                whole = f.read(2) == b"\xff\xd9"
                return (int.from_bytes(frame[3:5], "big"), int.from_bytes(frame[1:3], "big")) if whole else None
            f.seek(length - 2, os.SEEK_CUR)
    return None


def _run(args: list[str], doing: Callable[[], str], *, stdout=subprocess.DEVNULL,
         page_done: Callable[[bytes], bool] | None = None,
         meanwhile: Callable[[], None] | None = None) -> tuple[int, list[bytes]]:
    """Run a poppler tool with its memory capped; return its exit code and last lines on stderr.

    It is stopped after PAGE_SECONDS, counted again from each line PAGE_DONE says ends a page
    (warnings printed forever do not count); a crash or running out of memory is refused. Its
    stderr is read as it comes, never waited for with a timeout (subprocess polls such a wait
    every 50 ms), so a tool's run costs no more than the tool. MEANWHILE runs once it has
    started (its lines wait in the pipe, 64 KB, a thousand pages of progress).
    """
    name = Path(args[0]).name
    said: deque[bytes] = deque(maxlen=3)
    starved = False
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
                            preexec_fn=_cap_memory)
    try:
        if meanwhile is not None:
            meanwhile()
        with selectors.DefaultSelector() as watch:
            watch.register(proc.stderr, selectors.EVENT_READ)
            pending, deadline = b"", time.monotonic() + PAGE_SECONDS
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not watch.select(timeout=left):
                    raise InvalidSource(f"{name} took longer than {PAGE_SECONDS} s to {doing()} and was stopped; "
                                        "the PDF may be damaged or made to hang it.")
                chunk = os.read(proc.stderr.fileno(), 1 << 16)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                pending = pending[-4096:]  # a line without end is only ever shown in part
                for line in lines:
                    if page_done is not None and page_done(line):
                        deadline = time.monotonic() + PAGE_SECONDS
                    elif line.strip():
                        said.append(line)
                        starved = starved or OUT_OF_MEMORY.search(line) is not None
        code = proc.wait()  # its stderr is closed: it has ended or is ending
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    if code < 0:
        raise InvalidSource(f"{name} crashed ({signal.Signals(-code).name}) trying to {doing()}; "
                            "the PDF may be damaged.")
    if starved:  # pdftoppm may say so and still exit 0, with a page drawn in part
        raise InvalidSource(f"{name} ran out of memory trying to {doing()} (it may use {TOOL_MEMORY >> 20} MB); "
                            "the PDF may be made to exhaust memory.")
    return code, list(said)


def _arg(path: Path) -> str:
    """PATH for a tool's command line: absolute, so a name starting with - is never an option."""
    return str(path.absolute())


def _cap_memory() -> None:
    """In the tool's process before it starts: the address space it may have (TOOL_MEMORY)."""
    resource.setrlimit(resource.RLIMIT_AS, (TOOL_MEMORY, TOOL_MEMORY))


def _last_words(said: list[bytes]) -> str:
    """The last line a tool wrote to stderr, as printable text of at most 200 characters."""
    line = said[-1].decode("utf-8", "replace") if said else "it said nothing"
    return "".join(c if c.isprintable() else "?" for c in line).strip()[:200]


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)  # the kernel copies (copy_file_range/sendfile): no bytes in Python
    _fsync(target)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
