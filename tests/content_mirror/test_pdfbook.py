"""PDF storybooks into picture books: real poppler tools on PDFs made here.

Two kinds of fixture PDF, both made in the test, none committed: a storybook drawn by
rsvg-convert from SVG pages (real Cyrillic text in an embedded DejaVu font, which pdftotext
reads back), and small PDFs written byte by byte for what no tool would make on purpose: a
password, an encryption dictionary, no pages, 201 pages, a page of 25,000 characters.
A page that makes poppler crash, hang or run out of memory cannot be made on demand; a
script named pdftoppm stands in for it, and says so.
"""

import fcntl
import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from content_mirror import bundle, minisign, pdfbook, sheets
from content_mirror.authoring import read_source
from content_mirror.pdfbook import import_pdf
from server.errors import BadRequest, SanduqError
from tests.helpers import need_tool, write_source

ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(200)  # an MP3's start as recorders write it
PAGES = [("Гурбача хоб аст. Котёнок спит.", "#fde68a"), ("Ӯ ӣ ҳ ҷ қ ғ. Котёнок проснулся.", "#bfdbfe")]


@pytest.fixture(autouse=True)
def poppler():
    for tool in ("pdfinfo", "pdftotext", "pdftoppm"):
        need_tool(tool)


def storybook(path: Path, pages=PAGES) -> Path:
    """A PDF of PAGES (text, background colour), 600 x 450 pt each, drawn by rsvg-convert."""
    tool = need_tool("rsvg-convert")
    svgs = []
    for n, (text, colour) in enumerate(pages, 1):
        svg = path.parent / f"{path.stem}-{n}.svg"
        svg.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">'
                       f'<rect width="800" height="600" fill="{colour}"/>'
                       f'<circle cx="400" cy="250" r="{60 * n}" fill="#dc2626"/>'
                       f'<text x="60" y="520" font-family="DejaVu Sans" font-size="40">{text}</text></svg>',
                       encoding="utf-8")
        svgs.append(str(svg))
    subprocess.run([tool, "-f", "pdf", "-o", str(path), *svgs], check=True, timeout=60)
    for svg in svgs:
        os.unlink(svg)
    return path


PAD = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")


def _rc4(key: bytes, data: bytes) -> bytes:
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def handmade(path: Path, texts: list[str], *, title: str | None = None, box=(200, 150),
             encrypt: str | None = None, size: int = 12) -> Path:
    """A PDF written byte by byte: a page per text (lines split on newlines, Helvetica),
    an optional metadata title, and an optional encryption dictionary: "owner" (it opens
    without a password but is restricted, RC4 40-bit as PDF 1.1 has it) or "user" (it needs one)."""
    objs = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
            3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    kids = []
    for n, text in enumerate(texts):
        lines = b" T* ".join(b"(%s) Tj" % line.encode("latin-1") for line in text.split("\n"))
        stream = b"0.8 0.2 0.2 rg 10 10 60 40 re f BT /F1 %d Tf %d TL 5 %d Td %s ET" % (
            size, size + 1, box[1] - size, lines)
        objs[11 + 2 * n] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
        objs[10 + 2 * n] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >>"
                            b" /Contents %d 0 R >>" % (*box, 11 + 2 * n))
        kids.append(b"%d 0 R" % (10 + 2 * n))
    objs[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(texts))
    trailer = b"/Root 1 0 R"
    if title is not None:
        objs[4] = b"<< /Title <feff%s> >>" % title.encode("utf-16-be").hex().encode()
        trailer += b" /Info 4 0 R"
    if encrypt is not None:
        ident, owner, permissions = b"0123456789abcdef", b"\x11" * 32, -3904
        key = hashlib.md5(PAD + owner + struct.pack("<i", permissions) + ident).digest()[:5]
        user = _rc4(key, PAD) if encrypt == "owner" else b"\x22" * 32  # "user": no password opens it
        objs[5] = b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (owner.hex().encode(),
                                                                                 user.hex().encode(), permissions)
        trailer += b" /Encrypt 5 0 R /ID [<%s> <%s>]" % (ident.hex().encode(), ident.hex().encode())
    out, offsets = bytearray(b"%PDF-1.4\n"), {}
    for n in sorted(objs):
        offsets[n] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (n, objs[n])
    xref, size_ = len(out), max(objs) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size_
    out += b"".join(b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n"
                    for n in range(1, size_))
    out += b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (size_, trailer, xref)
    path.write_bytes(bytes(out))
    return path


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ROOT: what "left as it was" compares."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


def book_of(source: Path, book_id: str) -> dict:
    return next(i for i in read_source(source).manifest["items"] if i["id"] == book_id)


def test_a_two_page_pdf_becomes_a_picture_book(tmp_path):
    pdf = storybook(tmp_path / "kitten.pdf")
    done = import_pdf(pdf, tmp_path / "lib", book_id="kitten", lang="ru", title="Котёнок", age_min=3, age_max=6)
    folder = tmp_path / "lib" / "media" / "books" / "kitten"
    assert (done.pages, done.narrated, done.title, done.folder) == (2, 0, "Котёнок", folder)
    assert sorted(p.name for p in folder.iterdir()) == ["kitten.pdf", "page-001.jpg", "page-002.jpg"]
    assert (folder / "kitten.pdf").read_bytes() == pdf.read_bytes()  # kept whole, for printing
    # 600 x 450 pt: the long side fits 1024 px
    assert [pdfbook._jpeg_size(folder / f"page-00{n}.jpg") for n in (1, 2)] == [(1024, 768)] * 2
    assert (tmp_path / "lib" / "library.toml").is_file()
    assert not [p for p in (tmp_path / "lib").iterdir() if p.name.startswith(".")]  # no scratch left
    # A new items.csv has every importer's columns to fill in (content_mirror/drafts.py), credits too.
    assert (tmp_path / "lib" / "items.csv").read_bytes().split(b"\n", 1)[0].decode() == (
        "\ufeffid,kind,languages,audiences,age_min,age_max,subjects,duration,title_ru,description_ru,file,poster,"
        "licence,author,copyright,source")

    book = book_of(tmp_path / "lib", "kitten")
    assert (book["kind"], book["title"], book["languages"], book["audiences"]) == (
        "book", {"ru": "Котёнок"}, ["ru"], ["children"])
    assert (book["age_min"], book["age_max"]) == (3, 6)
    assert [page["text"] for page in book["pages"]] == [{"ru": text} for text, _ in PAGES]
    files = {(f["role"], f.get("page")): f["sha256"] for f in book["files"]}
    assert files[("poster", None)] == files[("picture", 1)] != files[("picture", 2)]
    # The PDF travels too, offered on the book's page for printing.
    assert files[("print", None)] == hashlib.sha256(pdf.read_bytes()).hexdigest()


def test_narration_is_picked_by_page_number(tmp_path):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    (recordings / "01.mp3").write_bytes(ID3 + b"one")
    (recordings / "Page-2.MP3").write_bytes(b"\xff\xfb\x90\x64" + bytes(400))  # a bare MPEG frame, no tag
    (recordings / ".DS_Store").write_bytes(b"\x00")  # what a Mac leaves: passed over
    done = import_pdf(storybook(tmp_path / "kitten.pdf"), tmp_path / "lib", book_id="kitten", lang="tg",
                      narration=recordings)
    assert done.narrated == 2
    folder = tmp_path / "lib" / "media" / "books" / "kitten"
    assert (folder / "page-001.tg.mp3").read_bytes() == ID3 + b"one"
    # A new sheet starts with a BOM, so that Excel reads it as UTF-8.
    assert (tmp_path / "lib" / "pages.csv").read_bytes().startswith(b"\xef\xbb\xbfbook,page,")
    lines = (tmp_path / "lib" / "pages.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "book,page,picture,text_tg,narration_tg"
    assert lines[2].endswith(",media/books/kitten/page-002.tg.mp3")
    narration = {f["page"]: f for f in book_of(tmp_path / "lib", "kitten")["files"] if f["role"] == "narration"}
    assert sorted(narration) == [1, 2] and {f["lang"] for f in narration.values()} == {"tg"}


def test_the_title_is_the_pdfs_own_else_its_file_name(tmp_path):
    own = import_pdf(handmade(tmp_path / "a.pdf", ["Hello"], title="Котёнок и солнце"), tmp_path / "lib",
                     book_id="a", lang="ru")
    assert own.title == "Котёнок и солнце"
    junk = import_pdf(handmade(tmp_path / "the_little-seed.pdf", ["Hello"], title="Microsoft Word - seed.docx"),
                      tmp_path / "lib", book_id="b", lang="ru")
    assert junk.title == "the little seed"
    assert [i["title"] for i in read_source(tmp_path / "lib").manifest["items"]] == [
        {"ru": "Котёнок и солнце"}, {"ru": "the little seed"}]


def test_a_page_as_large_as_pdf_allows_is_drawn_at_phone_size(tmp_path):
    # 14,400 pt (200 inches) square: at 150 dpi that would be 30,000 px a side, 2.7 GB of pixels
    done = import_pdf(handmade(tmp_path / "poster.pdf", ["big"], box=(14400, 14400)), tmp_path / "lib",
                      book_id="big", lang="en")
    assert pdfbook._jpeg_size(done.folder / "page-001.jpg") == (1024, 1024)


def test_words_that_look_like_a_formula_stay_words(tmp_path):
    import_pdf(handmade(tmp_path / "sum.pdf", ["=1+2 apples"]), tmp_path / "lib", book_id="sum", lang="en")
    rows = (tmp_path / "lib" / "pages.csv").read_text(encoding="utf-8").splitlines()
    assert rows[1].split(",")[3] == " =1+2 apples"  # a spreadsheet shows it as text
    assert book_of(tmp_path / "lib", "sum")["pages"][0]["text"] == {"en": "=1+2 apples"}


def test_added_to_a_library_it_keeps_every_row_and_builds(tmp_path):
    source = write_source(tmp_path / "src")
    # As Excel saves a sheet: a BOM and CRLF line ends; a new language adds columns.
    items = source / "items.csv"
    items.write_bytes(b"\xef\xbb\xbf" + items.read_bytes().replace(b"\n", b"\r\n"))
    before = {name: (source / name).read_bytes() for name in ("items.csv", "pages.csv", "library.toml")}
    import_pdf(storybook(tmp_path / "kitten.pdf"), source, book_id="kitten-uz", lang="uz", title="Мушукча")
    after = items.read_bytes()
    old_header, _, old_rows = before["items.csv"].partition(b"\r\n")
    assert after.startswith(old_header + b",title_uz\r\n" + old_rows)
    assert after[len(old_header) + 11 + len(old_rows):].startswith(b"kitten-uz,book,uz,children,")
    assert after.count(b"\r\n") == before["items.csv"].count(b"\r\n") + 1
    pages_header, _, page_rows = before["pages.csv"].partition(b"\n")
    assert (source / "pages.csv").read_bytes().startswith(pages_header + b",text_uz\n" + page_rows)
    assert (source / "library.toml").read_bytes() == before["library.toml"]

    manifest = read_source(source).manifest
    assert len(manifest["items"]) == 8
    assert book_of(source, "kitten-uz")["title"] == {"uz": "Мушукча"}
    assert book_of(source, "book-cat")["pages"][0]["text"]["ru"] == "Котёнок спит."
    minisign.keygen(tmp_path / "keys")
    built = bundle.build(source, tmp_path / "stick", tmp_path / "keys" / "sanduq.key")
    assert any(i["id"] == "kitten-uz" for i in built.manifest["items"])
    checked = bundle.verify_stick(tmp_path / "stick", [minisign.read_public_key(tmp_path / "keys" / "sanduq.pub")])
    assert [c.problem for c in checked] == [None]


def test_the_command_adds_checks_and_refuses_in_one_sentence(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "content_mirror", *map(str, args)],
                              capture_output=True, text=True, timeout=120)

    pdf = storybook(tmp_path / "kitten.pdf")
    added = run("import-pdf", pdf, tmp_path / "lib", "--id", "kitten", "--lang", "ru", "--audience", "children",
                "--audience", "parents", "--age-min", "3", "--age-max", "6")
    assert added.returncode == 0, added.stderr
    assert "Added the book 'kitten'" in added.stdout and "2 pages" in added.stdout
    checked = run("check", tmp_path / "lib")
    assert checked.returncode == 0 and "1 items" in checked.stdout
    assert book_of(tmp_path / "lib", "kitten")["audiences"] == ["children", "parents"]
    again = run("import-pdf", pdf, tmp_path / "lib", "--id", "kitten", "--lang", "ru")
    assert again.returncode == 3
    assert again.stderr.count("\n") == 1 and "already has an item 'kitten'" in again.stderr
    assert "Traceback" not in again.stderr
    assert run("import-pdf", "--help").returncode == 0


# Each hostile or broken input: (what to make, import_pdf's arguments, words the refusal says).
def _plain(tmp: Path) -> Path:
    return handmade(tmp / "story.pdf", ["Once", "upon"])


def _recordings(tmp: Path, files: dict[str, bytes]) -> Path:
    folder = tmp / "recordings"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _bytes(data: bytes):
    def make(tmp: Path) -> Path:
        (tmp / "story.pdf").write_bytes(data)
        return tmp / "story.pdf"
    return make


HOSTILE = {
    "not a PDF": (_bytes(b"<html><script>alert(1)</script>"), {}, "is not a PDF"),
    "damaged": (_bytes(b"%PDF-1.4\n1 0 obj garbage\n"), {}, "cannot be read as a PDF"),
    "password": (lambda t: handmade(t / "story.pdf", ["a"], encrypt="user"), {}, "protected by a password"),
    "encrypted": (lambda t: handmade(t / "story.pdf", ["a"], encrypt="owner"), {}, "is encrypted"),
    "no pages": (lambda t: handmade(t / "story.pdf", []), {}, "has no pages"),
    "201 pages": (lambda t: handmade(t / "story.pdf", ["x"] * 201), {}, "has 201 pages, more than the 200"),
    "a novel on a page": (lambda t: handmade(t / "story.pdf", ["\n".join(["word " * 20] * 250)], box=(1000, 1000),
                                             size=3), {}, "characters of text"),
    "id taken": (_plain, {"book_id": "book-cat"}, "already has an item 'book-cat'"),
    "a WAV named .mp3": (_plain, {"narration": lambda t: _recordings(t, {"1.mp3": b"RIFF\x00\x00\x00\x00WAVEfmt "})},
                         "1.mp3 is not an MP3 file"),
    "not MP3 at all": (_plain, {"narration": lambda t: _recordings(t, {"1.wav": ID3})}, "1.wav is not an MP3 file"),
    "no page number": (_plain, {"narration": lambda t: _recordings(t, {"intro.mp3": ID3})},
                       "intro.mp3 is not named by a page number"),
    "page beyond the book": (_plain, {"narration": lambda t: _recordings(t, {"3.mp3": ID3})},
                             "3.mp3 is narration of page 3, but"),
    "a page twice": (_plain, {"narration": lambda t: _recordings(t, {"1.mp3": ID3, "page-01.mp3": ID3})},
                     "are both narration of page 1"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_bad_input_is_refused_by_name_and_leaves_the_folder_as_it_was(tmp_path, case):
    make, arguments, words = HOSTILE[case]
    source = write_source(tmp_path / "src")
    before = tree(source)
    pdf = make(tmp_path)
    arguments = {k: v(tmp_path) if callable(v) else v for k, v in arguments.items()}
    with pytest.raises(SanduqError) as refused:
        import_pdf(pdf, source, **{"book_id": "story", "lang": "en", **arguments})
    message = refused.value.message
    assert words in message and "\n" not in message
    assert "story.pdf" in message or "recordings" in message or "items.csv" in message
    assert tree(source) == before


def test_a_refused_pdf_leaves_no_new_folder_behind(tmp_path):
    with pytest.raises(SanduqError, match="has no pages"):
        import_pdf(handmade(tmp_path / "story.pdf", []), tmp_path / "new", book_id="story", lang="en")
    assert not (tmp_path / "new").exists()


def fake_tool(tmp_path: Path, monkeypatch, name: str, script: str) -> None:
    """Put a script named NAME first on PATH: it stands in for a PDF page that makes poppler
    crash, hang or run out of memory, which cannot be made on demand."""
    folder = tmp_path / "fake-bin"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("#!/bin/sh\n" + script + "\n")
    (folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")


@pytest.mark.parametrize("script, words", [
    ("kill -SEGV $$", "pdftoppm crashed (SIGSEGV) trying to draw page 1 of"),
    ("echo 'Out of memory' >&2; exit 0", "pdftoppm ran out of memory trying to draw page 1 of"),  # exit 0, as it does
    ("echo 'Syntax Error: Bad page' >&2; exit 1", "pdftoppm could not draw page 1 of"),
    ("ulimit -v >&2; exit 1", f"({pdfbook.TOOL_MEMORY // 1024})"),  # its memory is capped
])
def test_a_tool_that_fails_is_named_and_the_folder_left_as_it_was(tmp_path, monkeypatch, script, words):
    fake_tool(tmp_path, monkeypatch, "pdftoppm", script)
    source = write_source(tmp_path / "src")
    before = tree(source)
    with pytest.raises(SanduqError) as refused:
        import_pdf(_plain(tmp_path), source, book_id="story", lang="en")
    assert words in refused.value.message and "story.pdf" in refused.value.message
    assert tree(source) == before


@pytest.mark.slow
def test_a_tool_that_hangs_is_stopped_and_named(tmp_path, monkeypatch):
    fake_tool(tmp_path, monkeypatch, "pdftoppm", "exec sleep 60")
    monkeypatch.setattr(pdfbook, "PAGE_SECONDS", 1)
    source = write_source(tmp_path / "src")
    before = tree(source)
    with pytest.raises(SanduqError, match=r"pdftoppm took longer than 1 s to draw page 1 of .*story\.pdf"):
        import_pdf(_plain(tmp_path), source, book_id="story", lang="en")
    assert tree(source) == before


def test_a_failure_while_writing_the_sheets_puts_everything_back(tmp_path, monkeypatch):
    # A full disk at the last step, stood in for by failing the write of items.csv (pages.csv
    # has been replaced by then): both sheets and the book's folder go back as they were.
    source = write_source(tmp_path / "src")
    before = tree(source)
    write = sheets.write_atomically

    def full_disk(path, data, **kw):
        if Path(path).name == "items.csv":
            raise OSError(28, "No space left on device", str(path))
        write(path, data, **kw)

    monkeypatch.setattr(sheets, "write_atomically", full_disk)
    with pytest.raises(SanduqError, match="No space left on device"):
        import_pdf(_plain(tmp_path), source, book_id="story", lang="en")
    assert tree(source) == before


def test_two_imports_into_one_folder_never_interleave(tmp_path):
    source = write_source(tmp_path / "src")
    fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running import holds it
        with pytest.raises(SanduqError, match="Another import is adding to"):
            import_pdf(_plain(tmp_path), source, book_id="story", lang="en")
    finally:
        os.close(fd)


@pytest.mark.parametrize("arguments, words", [
    ({"book_id": "Kitten Book"}, "cannot be an id"),
    ({"lang": "russian"}, "is not a language code"),
    ({"age_min": 7, "age_max": 3}, "is above the oldest"),
    ({"audiences": ("pupils",)}, "must be some of"),
])
def test_bad_arguments_are_refused_before_anything_is_touched(tmp_path, arguments, words):
    with pytest.raises(BadRequest, match=words):
        import_pdf(_plain(tmp_path), tmp_path / "new", **{"book_id": "story", "lang": "en", **arguments})
    assert not (tmp_path / "new").exists()
