"""A folder of media drafted into an authoring folder: a real folder of real files (the demo
library's MP4s, WebVTT, JPEG and MP3s, its Bloom book, the shared H5P sample where present),
with what a content team's folder also holds: a PDF, a file of another kind, a hidden file,
and a link that leads out of the folder.
"""

import csv
import errno
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from content_mirror import scan as scan_module
from content_mirror.authoring import read_source
from content_mirror.cli import main
from content_mirror.drafts import clock
from content_mirror.scan import _new_id, scan
from server.errors import BadRequest, InvalidSource, SanduqError
from tests.content_mirror.test_kolibri import not_utf8_name_zip
from tests.helpers import game_zip, need_tool

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "content_mirror" / "demo" / "source" / "media"
SAMPLES = REPO.parent / "shared" / "samples"
H5P = SAMPLES / "h5p" / "drag-text.h5p"
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
       b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """FOLDER as a content team has it:

        video/hello-song.tg.mp4, .ru.mp4, .tg.vtt, .ru.vtt, hello-song.jpg  -> one video, tg and ru
        audio/Tajik/the-little-seed.mp3, audio/русский/the-little-seed.mp3  -> one audio, tg and ru
        audio/колыбельная.mp3                                               -> an audio, no language
        books/yard-animals.bloompub                                         -> a book, titles from Bloom
        games/drag-text.h5p (where the shared samples are)                  -> a game
        books/seed-story_tg.pdf                                             -> an import-pdf command
        notes.xyz, .DS_Store, video/outside.mp4 (a link out of FOLDER)      -> skipped
    """
    root = tmp_path / "media folder"
    for rel, source in {"video/hello-song.tg.mp4": "video/hello-song.tg.mp4",
                        "video/hello-song.ru.mp4": "video/hello-song.ru.mp4",
                        "video/hello-song.tg.vtt": "video/hello-song.tg.vtt",
                        "video/hello-song.ru.vtt": "video/hello-song.ru.vtt",
                        "video/hello-song.jpg": "video/hello-song.jpg",
                        "audio/Tajik/the-little-seed.mp3": "audio/little-seed.tg.mp3",
                        "audio/русский/the-little-seed.mp3": "audio/little-seed.ru.mp3",
                        "audio/колыбельная.mp3": "audio/five-fingers.en.mp3",
                        "books/yard-animals.bloompub": "books/yard-animals.bloompub"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEMO / source, root / rel)
    if H5P.is_file():
        (root / "games").mkdir()
        shutil.copyfile(H5P, root / "games" / "drag-text.h5p")
    (root / "books" / "seed-story_tg.pdf").write_bytes(PDF)
    (root / "notes.xyz").write_text("minutes of a meeting")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "secret.mp4").write_bytes(b"not in the folder")
    (root / "video" / "outside.mp4").symlink_to(tmp_path / "secret.mp4")
    return root


def rows_of(out: Path) -> dict[str, dict[str, str]]:
    with (out / "items.csv").open(encoding="utf-8-sig", newline="") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_a_folder_of_media_becomes_one_row_per_item(folder, tmp_path):
    need_tool("ffprobe")
    out = tmp_path / "draft"
    done = scan(folder, out)
    rows = rows_of(out)
    kinds = {"video": 1, "audio": 2, "book": 1} | ({"game": 1} if H5P.is_file() else {})
    assert done.drafted == kinds

    video = rows["hello-song"]
    assert (video["kind"], video["languages"], video["duration"]) == ("video", "tg ru", "0:16")
    assert video["file_tg"] == "media/video/hello-song.tg.mp4" and video["file_ru"] == "media/video/hello-song.ru.mp4"
    assert video["subtitles_tg"] == "media/video/hello-song.tg.vtt"
    assert video["subtitles_ru"] == "media/video/hello-song.ru.vtt"
    assert video["poster"] == "media/video/hello-song.jpg"
    assert video["title_tg"] == video["title_ru"] == "Hello song"
    assert video["audiences"] == ""  # left for people: check names it

    seed = rows["the-little-seed"]  # two files in language-named folders: one item
    assert (seed["kind"], seed["languages"], seed["duration"]) == ("audio", "tg ru", "0:36")
    assert seed["file_tg"] == "media/audio/Tajik/the-little-seed.mp3"
    assert seed["file_ru"] == "media/audio/русский/the-little-seed.mp3"

    lullaby = rows["kolybelnaya"]  # the id in Latin letters; the language unknown
    assert (lullaby["languages"], lullaby["title_und"], lullaby["file"]) == ("", "Колыбельная", "media/audio/колыбельная.mp3")
    assert done.no_language == 1 + H5P.is_file()  # the H5P sample says no language either

    book = rows["yard-animals"]  # titles, languages and credits from the book's own metadata
    assert (book["kind"], book["file"]) == ("book", "media/books/yard-animals.bloompub")
    assert book["title_tg"] == "Кӣ дар ҳавлӣ зиндагӣ мекунад?" and book["title_ru"] == "Кто живёт во дворе?"
    assert set(book["languages"].split()) == {"tg", "ru"}
    assert (book["licence"], book["author"]) == ("CC-BY-4.0", "Sanduq project")

    # OUT stands alone: every file is in it, byte for byte.
    assert (out / "media/video/hello-song.tg.mp4").read_bytes() == (folder / "video/hello-song.tg.mp4").read_bytes()
    assert done.files == 9 + H5P.is_file()
    assert (out / "library.toml").is_file()
    assert not list(tmp_path.glob(".draft.scan-*"))


def test_the_h5p_row_takes_its_title_and_credits_from_h5p_json(folder, tmp_path):
    if not H5P.is_file():
        pytest.skip(f"{H5P} is absent (the shared samples are not here)")
    (folder / "video").rename(tmp_path / "away")  # no ffprobe needed
    shutil.rmtree(folder / "audio")
    scan(folder, tmp_path / "draft")
    game = rows_of(tmp_path / "draft")["drag-text"]
    assert (game["kind"], game["file"], game["title_und"]) == ("game", "media/games/drag-text.h5p", "Drag the Words")


def test_a_bloom_books_thumbnail_becomes_its_poster(tmp_path):
    book = SAMPLES / "bloom" / "multibook-target1.bloompub"
    if not book.is_file():
        pytest.skip(f"{book} is absent (the shared samples are not here)")
    (tmp_path / "in" / "Книги").mkdir(parents=True)
    shutil.copyfile(book, tmp_path / "in" / "Книги" / book.name)
    scan(tmp_path / "in", tmp_path / "draft")
    row = rows_of(tmp_path / "draft")["multibook-target1"]
    assert row["poster"] == "posters/Книги/multibook-target1.png"  # beside media/: no file of FOLDER's is there
    assert (tmp_path / "draft" / row["poster"]).read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_the_draft_lacks_only_audiences_until_people_fill_them(folder, tmp_path):
    need_tool("ffprobe")
    out = tmp_path / "draft"
    scan(folder, out)
    with pytest.raises(InvalidSource) as fault:
        read_source(out)
    problems = fault.value.message.split("\nand warnings")[0].splitlines()[1:]
    assert problems and all(p.endswith("column audiences: needs at least one of children, parents, educators")
                            for p in problems), problems

    rows = list(rows_of(out).values())
    for row in rows:
        row["audiences"] = "children"
    with (out / "items.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    source = read_source(out)  # fetches the Bloom and H5P players into the user's cache
    assert len(source.manifest["items"]) == len(rows)


@pytest.mark.slow
def test_the_command_prints_what_is_done_and_what_is_left(folder, tmp_path, capsys):
    need_tool("ffprobe")
    out = tmp_path / "draft"
    assert main(["scan", str(folder), str(out)]) == 0
    said = capsys.readouterr().out
    assert f"Drafted {4 + H5P.is_file()} items in {out / 'items.csv'}: 2 audio, 1 book" in said
    assert "sanduq-mirror import-pdf" in said and "--id seed-story --lang tg" in said
    assert "Every row still needs its audiences" in said
    assert f"Open {out / 'items.csv'} in a spreadsheet, fill in what is missing, then run: sanduq-mirror check" in said

    todo = (out / "TODO.txt").read_text()
    assert f"'{folder / 'books' / 'seed-story_tg.pdf'}'" in todo  # quoted: the folder's name has a space
    assert "video/outside.mp4: a link, which scan never follows" in todo
    assert "notes.xyz: not a kind of file scan knows" in todo
    assert ".DS_Store: hidden" in todo
    assert not (out / "media" / "video" / "outside.mp4").exists()


def test_skipped_files_are_named_with_why(folder, tmp_path):
    shutil.rmtree(folder / "video")
    shutil.rmtree(folder / "audio")
    (folder / "Tajik").mkdir()
    (folder / "Tajik" / "poster.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "broken.bloompub").write_bytes(b"not a zip")
    done = scan(folder, tmp_path / "draft")
    skipped = dict(done.skipped)
    assert skipped["notes.xyz"].startswith("not a kind of file scan knows")
    assert skipped[".DS_Store"] == "hidden"
    assert skipped["Tajik/poster.png"].startswith("a picture with no item of its name")
    assert "not a valid BloomPub" in skipped["broken.bloompub"]
    assert "video" not in {rel.split("/")[0] for rel in skipped}
    assert set(skipped) == {"notes.xyz", ".DS_Store", "Tajik/poster.png", "broken.bloompub"}  # and nothing else


def test_an_existing_authoring_folder_or_one_inside_folder_is_refused(folder, tmp_path):
    out = tmp_path / "library"
    out.mkdir()
    (out / "items.csv").write_text("id,kind\n")
    with pytest.raises(BadRequest, match="already holds an items.csv"):
        scan(folder, out)
    (out / "items.csv").unlink()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(BadRequest, match="not an empty folder"):
        scan(folder, out)
    with pytest.raises(BadRequest, match="lies inside"):
        scan(folder, folder / "draft")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidSource, match="nothing was written"):
        scan(empty, tmp_path / "draft")
    assert not (tmp_path / "draft").exists()


def test_a_failure_leaves_no_half_written_folder(folder, tmp_path, monkeypatch):
    shutil.rmtree(folder / "video")
    shutil.rmtree(folder / "audio")

    def full_disk(*args):  # a full disk cannot be made here
        raise OSError(errno.ENOSPC, "No space left on device", "TODO.txt")

    monkeypatch.setattr(scan_module, "_todo", full_disk)
    with pytest.raises(SanduqError, match="nothing was left half-written"):
        scan(folder, tmp_path / "draft")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media folder", "secret.mp4"]


def test_languages_come_only_from_names_that_say_them(tmp_path):
    root = tmp_path / "folder"
    for rel in ("story_RU.md", "story-en.md", "story.tg.md", "o‘zbek/story.md", "Serbian/other.md",
                "hello-song.md", "ru.md", "Crna Gora/x.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("# a story\n")
    scan(root, tmp_path / "draft")
    rows = rows_of(tmp_path / "draft")
    assert rows["story"]["languages"] == "tg ru en uz"
    assert rows["story"]["file_uz"] == "media/o‘zbek/story.md"
    assert rows["other"]["languages"] == "sr"
    assert rows["hello-song"]["languages"] == rows["ru"]["languages"] == rows["x"]["languages"] == ""


def test_ids_are_latin_unique_and_bounded():
    ids: set[str] = set()
    assert _new_id("Сказка про репку", "audio", ids) == "skazka-pro-repku"
    assert _new_id("сказка про репку", "audio", ids) == "skazka-pro-repku-2"
    assert _new_id("Ҷӯҷаҳо", "book", ids) == "jujaho"
    assert _new_id("故事", "video", ids) == "video"
    assert len(_new_id("a" * 300, "video", ids)) <= 64


def test_durations_are_written_as_the_column_reads_them():
    assert [clock(s) for s in (0, 17.4, 95, 3725)] == ["", "0:17", "1:35", "1:02:05"]


def markdown_folder(root: Path, names=("story.tg.md", "story.ru.md", "songs/hello.en.md")) -> Path:
    for rel in names:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n")
    return root


def test_items_csv_is_a_new_sheet_with_a_bom_and_the_columns_to_fill(tmp_path):
    scan(markdown_folder(tmp_path / "in"), tmp_path / "draft")
    head = (tmp_path / "draft" / "items.csv").read_bytes().split(b"\n", 1)[0].decode()
    assert head == ("\ufeffid,kind,languages,audiences,age_min,age_max,subjects,duration,title_tg,title_ru,title_en,"
                    "file_tg,file_ru,file_en,licence,author,copyright,source")


def test_skipped_folders_are_told_from_files(tmp_path, capsys):
    root = markdown_folder(tmp_path / "in")
    (root / ".git").mkdir()
    (root / "notes.xyz").write_text("minutes")
    assert main(["scan", str(root), str(tmp_path / "draft")]) == 0
    assert "Skipped 1 file and 1 folder (each is listed in" in capsys.readouterr().out
    assert "  .git/: hidden\n" in (tmp_path / "draft" / "TODO.txt").read_text()


def test_a_listing_is_read_no_further_than_the_bound(tmp_path, monkeypatch):
    root = tmp_path / "in"
    root.mkdir()
    for n in range(200):
        (root / f"story-{n:03}.md").write_text("# a story\n")
    read = []
    scandir = os.scandir

    class Counted:  # os.scandir, counting the entries of FOLDER taken from it
        def __init__(self, path):
            self.listing, self.counted = scandir(path), Path(path) == root

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

        def __iter__(self):
            return self

        def __next__(self):
            entry = next(self.listing)
            if self.counted:
                read.append(entry)
            return entry

        def close(self):
            self.listing.close()

    monkeypatch.setattr(scan_module, "MAX_ENTRIES", 10)
    monkeypatch.setattr(os, "scandir", Counted)
    done = scan(root, tmp_path / "draft")
    assert len(read) <= 11 and sum(done.drafted.values()) == 10
    assert dict(done.skipped)["./"].startswith("the folder holds more than 10 files and folders")


def test_files_are_copied_exactly_where_they_cannot_be_linked(tmp_path, monkeypatch):
    # Stands in for OUT on another filesystem than FOLDER: os.link fails with EXDEV.
    def cannot(*args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    root = markdown_folder(tmp_path / "in")
    monkeypatch.setattr(os, "link", cannot)
    done = scan(root, tmp_path / "draft")
    for rel in ("story.tg.md", "story.ru.md", "songs/hello.en.md"):
        original, placed = root / rel, tmp_path / "draft" / "media" / rel
        assert placed.read_bytes() == original.read_bytes()
        assert placed.stat().st_ino != original.stat().st_ino  # a copy, not a link
    assert (done.files, done.size) == (3, sum((root / r).stat().st_size for r in ("story.tg.md", "story.ru.md",
                                                                                 "songs/hello.en.md")))


@pytest.mark.parametrize("linked", [True, False])
def test_a_file_that_grows_after_it_was_looked_at_is_refused(tmp_path, monkeypatch, linked):
    root = markdown_folder(tmp_path / "in")
    group = scan_module._group

    def grow_then_group(media):
        (root / "story.tg.md").write_bytes(b"x" * 100_000)  # a program writing to the folder meanwhile
        return group(media)

    monkeypatch.setattr(scan_module, "_group", grow_then_group)
    if not linked:
        monkeypatch.setattr(os, "link", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EXDEV, "cross-device")))
    with pytest.raises(InvalidSource, match=r"story\.tg\.md changed while it was scanned \(\d+ bytes, then 100,000\)"):
        scan(root, tmp_path / "draft")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # nothing half-written


def test_poster_and_subtitles_of_an_item_that_got_no_row_are_named(tmp_path):
    need_tool("ffprobe")
    root = tmp_path / "in"
    (root / "video").mkdir(parents=True)
    (root / "video" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really" * 100)
    (root / "video" / "broken.jpg").write_bytes((DEMO / "video" / "hello-song.jpg").read_bytes())
    (root / "video" / "broken.tg.vtt").write_text("WEBVTT\n")
    (root / "story.md").write_text("# a story\n")
    skipped = dict(scan(root, tmp_path / "draft").skipped)
    assert skipped["video/broken.mp4"].startswith("ffmpeg cannot read it")
    assert skipped["video/broken.jpg"] == "the poster of video/broken.mp4, which was skipped"
    assert skipped["video/broken.tg.vtt"] == "subtitles of video/broken.mp4, which was skipped"
    assert not (tmp_path / "draft" / "media" / "video").exists()


def test_two_bloom_books_of_one_name_keep_their_own_posters(tmp_path):
    books = [SAMPLES / "bloom" / "multibook-target1.bloompub", SAMPLES / "bloom" / "sign-language-with-talking-book.bloompub"]
    if not all(book.is_file() for book in books):
        pytest.skip("the shared Bloom samples are absent")
    (tmp_path / "in").mkdir()
    shutil.copyfile(books[0], tmp_path / "in" / "book.bloomd")
    shutil.copyfile(books[1], tmp_path / "in" / "book.bloompub")
    scan(tmp_path / "in", tmp_path / "draft")
    rows = rows_of(tmp_path / "draft")
    assert {rows["book"]["file"], rows["book-2"]["file"]} == {"media/book.bloomd", "media/book.bloompub"}
    for row in rows.values():
        with zipfile.ZipFile(tmp_path / "draft" / row["file"]) as book:
            thumbnail = book.read(next(n for n in book.namelist() if n.startswith("thumbnail.")))
        assert (tmp_path / "draft" / row["poster"]).read_bytes() == thumbnail
    assert rows["book"]["poster"] != rows["book-2"]["poster"]


def test_a_zip_whose_names_zipfile_cannot_read_is_skipped(tmp_path):
    root = markdown_folder(tmp_path / "in")
    (root / "odd.zip").write_bytes(not_utf8_name_zip())
    (root / "game.zip").write_bytes(game_zip({"index.html": b"<p>play"}))
    done = scan(root, tmp_path / "draft")
    # The box's own check says so (server/gamezip.py catches what zipfile raises on such a name).
    assert dict(done.skipped)["odd.zip"] == "game odd.zip is not a valid zip file"
    assert done.drafted == {"document": 2, "game": 1}
