"""A folder of media drafted into a new authoring folder (docs/authoring.md, "A folder of media").

A content team's first material is a folder of files, not sheets. `scan` walks FOLDER and
writes OUT: items.csv with one row per video, audio, Markdown document, Bloom book, H5P
activity and HTML5 game zip, the files themselves in OUT/media/ in their folders as they were
(hard-linked when they can be, else copied), so OUT stands alone and can be moved. What it
can say it fills in: kind, duration (ffprobe), languages where a file or folder name says them,
titles from the format's own metadata or the file name, credits a Bloom book or H5P package
carries. Audiences stay empty on purpose (content_mirror/drafts.py): `check` then names every
row still to finish.

`story.tg.mp3` and `story.ru.mp3` (or `Tajik/story.mp3` and `Russian/story.mp3`) are one item
with `file_tg` and `file_ru`; `story.tg.vtt` is its Tajik subtitles and `story.jpg` its poster.
A PDF gets no row: it becomes a picture book only through import-pdf, so the exact command for
each is written to OUT/TODO.txt, with every file skipped and why.

FOLDER is untrusted: links are never followed, hidden files and other types are skipped and
named, sizes and counts are bounded, a file is placed only at the size it was found, and
ffprobe may open local files only (content_mirror/video.py). Everything is written into a
hidden folder beside OUT and renamed to OUT at the end, so a failure leaves no half-written OUT.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shlex
import shutil
import unicodedata
import zipfile
from collections import Counter, deque
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from content_mirror.bloom import EXTENSIONS as BLOOM, check_bloompub
from content_mirror.drafts import CODES, MAX_TITLE, NO_LANGUAGE, clock, cut, header, lang_rank, place, plural, slug
from content_mirror.h5p import check_h5p
from content_mirror.sheets import LIBRARY_TOML, Sheet, cell, tidy
from content_mirror.video import probe
from server.errors import BadRequest, InvalidSource, Refused, SanduqError
from server.fsutil import fsync_dir, write_atomically
from server.gamezip import check_game_zip

KINDS = {".mp4": "video", ".m4v": "video", ".webm": "video", ".mp3": "audio", ".m4a": "audio", ".ogg": "audio",
         ".opus": "audio", ".md": "document", ".bloompub": "book", ".bloomd": "book", ".h5p": "game", ".zip": "game"}
# Posters. An SVG can hold a script a phone would run, so it is not taken from a stranger's folder.
PICTURES = (".jpg", ".jpeg", ".png", ".webp")
MAX_ENTRIES = 20_000  # files and folders looked at: a school's whole library is a few thousand
MAX_FILE = 4 * 2**30  # a feature-length film fits; a disk image does not
MAX_DEPTH = 20
MAX_THUMBNAIL = 8 * 2**20
# The names of folders that hold one language, in English, in Russian and in the language
# itself, for the languages a content team here names files in (drafts.CODES). A name not
# listed is no language.
FOLDERS = {"tg": "tajik tojiki тоҷикӣ таджикский", "ru": "russian русский",
           "en": "english английский англисӣ", "ky": "kyrgyz kirghiz кыргызча кыргыз киргизский кыргызский",
           "uz": "uzbek o'zbek o'zbekcha ўзбек ўзбекча узбекский", "sr": "serbian srpski српски сербский",
           "cnr": "montenegrin crnogorski црногорски черногорский"}
FOLDER_LANG = {name: code for code, names in FOLDERS.items() for name in [code, *names.split()]}
NAME_LANG = re.compile(r"(.+?)[._-]([A-Za-z]{2,3})")  # story.tg, story_ru, story-EN


@dataclass
class Scanned:
    """What scan drafted into OUT, and what it left for people."""

    out: Path
    drafted: Counter = field(default_factory=Counter)  # kind -> rows of items.csv
    files: int = 0  # files placed in OUT/media
    size: int = 0  # their bytes
    pdfs: list[str] = field(default_factory=list)  # an import-pdf command for each PDF
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path in FOLDER, a folder's ending in /; why)
    no_language: int = 0  # rows whose title went into title_und


@dataclass
class _File:
    rel: PurePosixPath  # in FOLDER, and in OUT/media
    path: Path
    size: int  # when it was found: what is placed in OUT, or nothing
    lang: str | None
    stem: str  # the name without its extension and language
    key: tuple[str, str]  # (its folder without language-named ones, stem): what names one item

    @property
    def ext(self) -> str:
        return self.rel.suffix.lower()


@dataclass
class _Item:
    kind: str
    files: list[_File]
    poster: _File | None = None
    subtitles: dict[str, _File] = field(default_factory=dict)


def command(args) -> int:
    """`sanduq-mirror scan FOLDER OUT`: draft OUT and say what is left to do."""
    done = scan(args.folder, args.out)
    kinds = ", ".join(plural(n, kind) for kind, n in sorted(done.drafted.items()))
    print(f"Drafted {plural(sum(done.drafted.values()), 'item')} in {done.out / 'items.csv'}: {kinds or 'none'}; "
          f"{done.files} files ({done.size / 1e6:.1f} MB) in {done.out / 'media'}.")
    if done.pdfs:
        print(f"PDFs get no row: a PDF storybook becomes a picture book with import-pdf; run (the commands "
              f"are also in {done.out / 'TODO.txt'}):")
        for line in done.pdfs:
            print(f"  {line}")
    if done.skipped:
        folders = sum(rel.endswith("/") for rel, _ in done.skipped)
        counts = [plural(n, thing) for n, thing in ((len(done.skipped) - folders, "file"), (folders, "folder")) if n]
        print(f"Skipped {' and '.join(counts)} (each is listed in {done.out / 'TODO.txt'}):")
        by_why: dict[str, list[str]] = {}
        for rel, why in done.skipped:
            by_why.setdefault(why, []).append(rel)
        for why, names in by_why.items():
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            print(f"  {', '.join(names[:3])}{more}: {why}")
    if done.no_language:
        rows = "1 row has" if done.no_language == 1 else f"{done.no_language} rows have"
        print(f"{rows} no language in their file names: their titles are in the column title_{NO_LANGUAGE}; "
              "move them to the right language's column and fill in languages.")
    print("Every row still needs its audiences (children, parents, educators), and ages and subjects where you "
          "know them; check names each row that lacks them.")
    print(f"Open {done.out / 'items.csv'} in a spreadsheet, fill in what is missing, then run: "
          f"sanduq-mirror check {shlex.quote(str(done.out))}")
    return 0


def scan(folder: Path | str, out: Path | str) -> Scanned:
    """Draft the new authoring folder OUT from the media in FOLDER."""
    folder, out = Path(folder).absolute(), Path(out).absolute()
    _check_places(folder, out)
    result = Scanned(out)
    media, subtitles, pictures, pdfs = _sort(_walk(folder, result), result)
    items = _group(media)
    _attach(items, subtitles, pictures, result)
    rows, dropped, thumbnails = [], [], {}
    ids: set[str] = set()
    for item in items:
        first = item.files[0].rel
        row = _row(item, ids, result, thumbnails)
        if row is not None:
            rows.append((item, row))
        else:
            dropped.append((item, first))
    _left_with(dropped, rows, result)
    result.pdfs = [_import_pdf(f, out, ids) for f in pdfs]
    if not rows and not pdfs:
        raise InvalidSource(f"{folder} holds no videos, audio, Markdown, Bloom books, H5P, game zips or PDFs "
                            "that scan could use; nothing was written.")
    # Made with mkdir, not mkdtemp, so OUT gets the folder permissions the user's umask gives.
    scratch = out.with_name(f".{out.name}.scan-{secrets.token_hex(4)}")
    scratch.mkdir()
    try:
        _write(scratch, folder, rows, thumbnails, result)
        scratch.rename(out)  # an empty OUT is replaced; a fuller one was refused
    except BaseException as e:
        shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(e, OSError):
            raise SanduqError(f"Writing {out} stopped ({e.strerror}: {e.filename}); nothing was left "
                              "half-written.") from e
        raise
    fsync_dir(out.parent)
    result.drafted = Counter(item.kind for item, _ in rows)
    return result


def _check_places(folder: Path, out: Path) -> None:
    if not folder.is_dir():
        raise BadRequest(f"{folder} is not a folder; give the folder of media to scan.")
    if out.is_relative_to(folder.resolve()) or out.resolve().is_relative_to(folder.resolve()):
        raise BadRequest(f"{out} lies inside {folder}; give an OUT folder outside the folder of media.")
    if (out / "items.csv").exists():
        raise BadRequest(f"{out} already holds an items.csv; scan drafts a new authoring folder, so give a "
                         "folder that does not exist yet.")
    if os.path.lexists(out) and (not out.is_dir() or out.is_symlink() or any(out.iterdir())):
        raise BadRequest(f"{out} already exists and is not an empty folder; give a folder that does not exist yet.")
    if not out.parent.is_dir():
        raise BadRequest(f"{out.parent} does not exist; make it first or give another OUT.")


def _walk(folder: Path, result: Scanned):
    """(path in FOLDER, path, size) of each plain file, breadth first in name order; what is
    not one (a link, a hidden file, a device) is noted as skipped, never followed."""
    todo, seen = deque([(folder, PurePosixPath())]), 0
    while todo:
        path, rel = todo.popleft()
        try:
            with os.scandir(path) as listing:  # never more of a listing than the bound lets be looked at
                entries = sorted(itertools.islice(listing, MAX_ENTRIES + 1 - seen), key=lambda e: e.name)
        except OSError as e:
            result.skipped.append((f"{rel}/", f"cannot be read ({e.strerror})"))
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                result.skipped.append(("./", f"the folder holds more than {MAX_ENTRIES:,} files and folders; the "
                                             "rest were not looked at: scan a smaller folder at a time"))
                return
            name = rel / entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            shown = (str(name) if entry.name.isprintable() else repr(str(name))) + ("/" if is_dir else "")
            if not entry.name.isprintable():
                result.skipped.append((shown, "its name holds a line break or control character; rename it"))
            elif entry.name.startswith("."):
                result.skipped.append((shown, "hidden"))
            elif entry.is_symlink():
                result.skipped.append((shown, "a link, which scan never follows; put the file itself in the folder"))
            elif is_dir:
                if len(name.parts) < MAX_DEPTH:
                    todo.append((Path(entry.path), name))
                else:
                    result.skipped.append((shown, f"more than {MAX_DEPTH} folders deep"))
            elif not entry.is_file(follow_symlinks=False):
                result.skipped.append((shown, "not a file (a device or a pipe)"))
            elif (size := entry.stat(follow_symlinks=False).st_size) > MAX_FILE:
                result.skipped.append((shown, f"larger than {MAX_FILE // 2**30} GB"))
            else:
                yield name, Path(entry.path), size


def _sort(found, result: Scanned) -> tuple[list[_File], list[_File], list[_File], list[_File]]:
    """The files found, by what they are: media, subtitles, pictures, PDFs; the rest skipped."""
    media, subtitles, pictures, pdfs = [], [], [], []
    for rel, path, size in found:
        ext = rel.suffix.lower()
        folder_lang = next((FOLDER_LANG[_folded(p)] for p in reversed(rel.parts[:-1])
                            if _folded(p) in FOLDER_LANG), None)
        stem, lang = rel.stem, None
        if match := NAME_LANG.fullmatch(rel.stem):
            if match[2].lower() in CODES:
                stem, lang = match[1], match[2].lower()
        where = "/".join(p for p in rel.parts[:-1] if _folded(p) not in FOLDER_LANG)
        file = _File(rel, path, size, lang or folder_lang, stem, (where, stem.casefold()))
        if ext in KINDS:
            media.append(file)
        elif ext == ".vtt":
            subtitles.append(file)
        elif ext in PICTURES:
            pictures.append(file)
        elif ext == ".pdf":
            pdfs.append(file)
        elif ext == ".svg":
            result.skipped.append((str(rel), "an SVG picture can hold a script a phone would run; save a poster "
                                             "as JPEG or PNG"))
        else:
            result.skipped.append((str(rel), "not a kind of file scan knows (videos, audio, Markdown, Bloom books, "
                                             "H5P, game zips, PDFs, and their posters and subtitles)"))
    return media, subtitles, pictures, pdfs


def _folded(name: str) -> str:
    """A folder's name as FOLDER_LANG spells it: NFC, lower case, one kind of apostrophe."""
    return re.sub(r"[’‘ʻ`]", "'", unicodedata.normalize("NFC", name).casefold())


def _group(media: list[_File]) -> list[_Item]:
    """One item per name: files of the same name and kind in different languages together.

    A file whose language is not known, and a Bloom book, H5P or game zip (each is a whole
    item), stays an item of its own; so does a second file in a language an item already has.
    """
    items: list[_Item] = []
    by_key: dict[tuple, list[_Item]] = {}
    for file in sorted(media, key=lambda f: str(f.rel)):
        kind = KINDS[file.ext]
        whole = file.lang is None or kind in ("book", "game")
        same = [] if whole else by_key.setdefault((file.key, kind), [])
        item = next((i for i in same if all(f.lang != file.lang for f in i.files)), None)
        if item is None:
            item = _Item(kind, [])
            items.append(item)
            same.append(item)
        item.files.append(file)
    return items


def _attach(items: list[_Item], subtitles: list[_File], pictures: list[_File], result: Scanned) -> None:
    """Subtitles to the video of their name, a picture as poster to each item of its name."""
    named: dict[tuple, list[_Item]] = {}
    for item in items:
        for key in dict.fromkeys(f.key for f in item.files):
            named.setdefault(key, []).append(item)
    for vtt in subtitles:
        videos = [i for i in named.get(vtt.key, []) if i.kind == "video"]
        langs = {f.lang for f in videos[0].files} if len(videos) == 1 else set()
        lang = vtt.lang or (next(iter(langs)) if len(langs) == 1 else None)
        if len(videos) != 1:
            why = "no video" if not videos else "more than one video"
            result.skipped.append((str(vtt.rel), f"subtitles, but {why} has its name (video.mp4: video.tg.vtt)"))
        elif lang is None:
            result.skipped.append((str(vtt.rel), "subtitles whose language the name does not say (video.tg.vtt)"))
        elif lang in videos[0].subtitles:
            result.skipped.append((str(vtt.rel), f"a second subtitles file in {lang} for the same video"))
        else:
            videos[0].subtitles[lang] = vtt
    for picture in pictures:
        owners = [i for i in named.get(picture.key, []) if i.poster is None]
        for item in owners:
            item.poster = picture
        if not owners:
            result.skipped.append((str(picture.rel), "a picture with no item of its name to be the poster of "
                                                     "(story.mp4: story.jpg)"))


def _row(item: _Item, ids: set[str], result: Scanned, thumbnails: dict) -> dict | None:
    """ITEM's row of items.csv, or None when none of its files can be used (each skipped, and why)."""
    row: dict[str, str] = {"kind": item.kind}
    titles: dict[str, str] = {}
    try:
        _metadata(item, row, titles, result, thumbnails)
    except (InvalidSource, Refused) as e:
        result.skipped.append((str(item.files[0].rel), e.message))
        return None
    except OSError as e:  # gone or unreadable since it was listed
        result.skipped.append((str(item.files[0].rel), f"cannot be read ({e.strerror})"))
        return None
    except (ValueError, NotImplementedError, EOFError):  # what zipfile raises reading a Bloom thumbnail ...
        result.skipped.append((str(item.files[0].rel), "a damaged zip file; export it again"))
        return None
    if not item.files:
        return None
    first = item.files[0]
    if item.kind in ("book", "game") or first.lang is None:
        row["file"] = _in_media(first.rel)
    else:
        row |= {f"file_{f.lang}": _in_media(f.rel) for f in item.files}
    langs = row.get("languages", "").split() or sorted({f.lang for f in item.files if f.lang}, key=lang_rank)
    row["languages"] = " ".join(langs)
    for file in item.files:
        if file.lang:
            titles.setdefault(file.lang, _title(file.stem))
    if not titles:
        titles[langs[0] if langs else NO_LANGUAGE] = _title(first.stem)
    row |= {f"title_{lang}": cell(cut(title, MAX_TITLE)) for lang, title in titles.items()}
    result.no_language += f"title_{NO_LANGUAGE}" in row
    if item.poster:
        row["poster"] = _in_media(item.poster.rel)
    row |= {f"subtitles_{lang}": _in_media(vtt.rel) for lang, vtt in item.subtitles.items()}
    return {"id": _new_id(first.stem, item.kind, ids), **{k: v for k, v in row.items() if v}}


def _left_with(dropped: list[tuple[_Item, PurePosixPath]], rows: list[tuple[_Item, dict]], result: Scanned) -> None:
    """Name the poster and subtitles of each item that got no row, unless another row uses them."""
    used = {f.rel for item, _ in rows for f in _files_of(item)}
    named = {rel for rel, _ in result.skipped}
    for item, first in dropped:
        extras = [(item.poster, "the poster")] + [(vtt, "subtitles") for vtt in item.subtitles.values()]
        for file, what in extras:
            if file is not None and file.rel not in used and str(file.rel) not in named:
                named.add(str(file.rel))
                result.skipped.append((str(file.rel), f"{what} of {first}, which was skipped"))


def _files_of(item: _Item) -> list[_File]:
    return [f for f in [*item.files, item.poster, *item.subtitles.values()] if f is not None]


def _metadata(item: _Item, row: dict, titles: dict, result: Scanned, thumbnails: dict) -> None:
    """Fill ROW and TITLES with what ITEM's files say of themselves: ffprobe's duration and
    title tag, a Bloom book's meta.json, an H5P package's h5p.json. A file ffmpeg cannot read
    is skipped; a package that is unsafe or not what its name says raises InvalidSource."""
    file = item.files[0]
    if item.kind in ("video", "audio"):
        durations = []
        for one in list(item.files):
            try:
                found = probe(one.path)
            except InvalidSource:
                result.skipped.append((str(one.rel), "ffmpeg cannot read it; check that it plays, or export it again"))
                item.files.remove(one)
                continue
            durations.append(found.seconds)
            if found.title:
                titles.setdefault(one.lang or NO_LANGUAGE, found.title)
        row["duration"] = clock(max(durations, default=0))
    elif file.ext in BLOOM:
        book = check_bloompub(file.path, str(file.rel))
        titles.update(book.titles)
        row |= {"languages": " ".join(book.languages), "subjects": " ".join(book.subjects)}
        row |= {f"description_{lang}": cell(text) for lang, text in book.summary.items()}
        row |= {name: cell(value) for name, value in book.credits.items()}
        if item.poster is None and book.thumbnail and _thumbnail_size(file.path, book.thumbnail) <= MAX_THUMBNAIL:
            # Beside media/, not in it: a file of FOLDER's can never have its name. Named for the
            # book; for the book's whole file name when another book of its name took that.
            suffix = PurePosixPath(book.thumbnail).suffix
            made = PurePosixPath("posters", file.rel.parent, file.rel.stem + suffix)
            if made in thumbnails:
                made = PurePosixPath("posters", file.rel.parent, file.rel.name + suffix)
            thumbnails[made] = (file.path, book.thumbnail)
            row["poster"] = made.as_posix()
    elif file.ext == ".h5p":
        package = check_h5p(file.path, str(file.rel))
        titles[package.language or file.lang or NO_LANGUAGE] = package.title
        row |= {name: cell(value) for name in ("licence", "author", "copyright") if (value := getattr(package, name))}
    elif file.ext == ".zip":
        check_game_zip(file.path, str(file.rel))


def _thumbnail_size(path: Path, member: str) -> int:
    with zipfile.ZipFile(path) as archive:
        return archive.getinfo(member).file_size


def _title(stem: str) -> str:
    """A title from a file name: `the-little-seed` is "The little seed"."""
    words = tidy(re.sub(r"[._-]+", " ", stem))
    return words[:1].upper() + words[1:]


def _in_media(rel: PurePosixPath) -> str:
    return PurePosixPath("media", rel).as_posix()


def _new_id(stem: str, kind: str, ids: set[str]) -> str:
    """An id from the file name in Latin letters (`Сказка` is `skazka`), made unique with -2, -3 ...
    Files are taken in name order, so scanning the same folder again gives the same ids."""
    base = slug(stem, 57) or kind  # room for -2 ... -999999
    item_id, n = base, 1
    while item_id in ids:
        n += 1
        item_id = f"{base}-{n}"
    ids.add(item_id)
    return item_id


def _import_pdf(pdf: _File, out: Path, ids: set[str]) -> str:
    """The import-pdf command that adds PDF to OUT as a picture book (LANG where no name says it)."""
    return shlex.join(["sanduq-mirror", "import-pdf", str(pdf.path), str(out), "--id", _new_id(pdf.stem, "book", ids),
                       "--lang", pdf.lang or "LANG"])


def _write(scratch: Path, folder: Path, rows: list[tuple[_Item, dict]], thumbnails: dict, result: Scanned) -> None:
    """Place the files, and write items.csv, library.toml and TODO.txt, into SCRATCH."""
    placed = {f.rel: f for item, _ in rows for f in _files_of(item)}
    copied = [target for rel, file in placed.items()
              if place(file.path, target := scratch / "media" / rel, file.size, during="scanned")]
    for target in copied:  # only now: each was on its way to the disk while the next was copied
        with open(target, "rb") as f:
            os.fsync(f.fileno())
    result.files, result.size = len(placed), sum(file.size for file in placed.values())
    for made, (book, member) in thumbnails.items():
        with zipfile.ZipFile(book) as archive, archive.open(member) as picture:
            (scratch / made).parent.mkdir(parents=True, exist_ok=True)
            write_atomically(scratch / made, picture.read(MAX_THUMBNAIL))
    sheet = [row for _, row in rows]
    # A new sheet, as every importer writes one (with a BOM, for Excel). Nothing to undo: a
    # failure removes the whole scratch folder.
    Sheet.read(scratch / "items.csv", header(sheet)).replace(sheet, ExitStack())
    write_atomically(scratch / "library.toml", LIBRARY_TOML.encode())
    write_atomically(scratch / "TODO.txt", _todo(folder, result).encode())
    for path, _, _ in os.walk(scratch):
        fsync_dir(path)


def _todo(folder: Path, result: Scanned) -> str:
    lines = [f"What is left to do in this authoring folder, drafted by sanduq-mirror scan from {folder}.", ""]
    if result.pdfs:
        lines += ["PDFs. A PDF storybook becomes a picture book, each page drawn for phones and its words searched,",
                  "with import-pdf (docs/pdf-books.md; it needs poppler-utils). Check each id and language (write",
                  "the language where it says LANG), then run:", "",
                  *(f"  {command}" for command in result.pdfs), "",
                  "A PDF that is not a storybook (a lesson plan, a guide) is a document: write its text as",
                  "Markdown, and add a row of kind document with the .md as file_LANG and the PDF as file, for",
                  "printing. Phones cannot show a PDF itself.", ""]
    if result.skipped:
        lines += ["Files skipped, and why:", *(f"  {rel}: {why}" for rel, why in result.skipped), ""]
    lines += ["Then fill in items.csv in a spreadsheet: every row needs its audiences (children, parents,",
              "educators); ages, subjects, descriptions and credits where you know them. Then run:",
              f"  sanduq-mirror check {shlex.quote(str(result.out))}", ""]
    return "\n".join(lines)
