"""A Kolibri channel exported to a drive, added to an authoring folder: real channel databases
(the columns of Kolibri's content schema 5, built by kolibri_fixture.py) and real files.

The videos, their poster and subtitles and the audio are the demo library's own (real MP4, JPEG,
WebVTT and MP3); the PDF is written byte by byte; the HTML5 app is a zip made here. Hostile
drives are made by hand: what no Kolibri would write, but a drive can hold.
"""

import csv
import fcntl
import hashlib
import io
import os
import sqlite3
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from content_mirror import kolibri as kolibri_module, kolibri_db, sheets
from content_mirror.authoring import read_source
from content_mirror.cli import main
from content_mirror.kolibri import import_channel
from server.errors import BadRequest, InvalidSource, SanduqError
from tests.content_mirror.kolibri_fixture import ChannelBuilder, md5
from tests.helpers import folder_files, game_zip, write_source

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "content_mirror" / "demo" / "source" / "media"
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
       b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")
GAME = game_zip({"index.html": b"<!doctype html><title>game</title><p>play</p>"})
SHORT = md5("channel Сандуқ")[:8]


def channel(data: Path) -> ChannelBuilder:
    """Two courses in Tajik and Russian: every kind Sanduq plays, and some it does not.

    root "Сандуқ" (ru)
      Ҳисоб (tg)                       -> course: a module "Ҳисоб", then a module "Рақамҳо"
        video  Ҳисоб то панҷ           (low and high resolution, subtitles tg and ru, a poster)
        Рақамҳо (tg)
          audio  Суруди рақамҳо
          html5  Бозии рақамҳо
          exercise  Машқ                (skipped: Perseus)
      Чтение (ru)                      -> course: a module "Книги"
        Книги
          document  План урока          (PDF)
          document  Сказка              (ePub: skipped)
        Пусто                          (nothing in it: skipped)
      video  Цвета (no language: the channel's, ru; the same poster as the first video)
    """
    ch = ChannelBuilder(data)
    count = ch.topic("Ҳисоб", lang="tg")
    video = ch.node("video", "Ҳисоб то панҷ", count, lang="tg", duration=12, license_name="CC BY-SA",
                    author="Рухшона Каримова", license_owner="Pratham Books", categories="d&WXdXWF.qs0Xlaxq.nG96nHDc",
                    description="Якҷоя то панҷ ҳисоб мекунем.")
    ch.file(video, "high_res_video", (DEMO / "video" / "counting-1-5.en.mp4").read_bytes(), "mp4")
    ch.file(video, "low_res_video", (DEMO / "video" / "counting-1-5.tg.mp4").read_bytes(), "mp4")
    ch.file(video, "video_subtitle", (DEMO / "video" / "counting-1-5.tg.vtt").read_bytes(), "vtt", lang="tg",
            supplementary=True)
    ch.file(video, "video_subtitle", (DEMO / "video" / "counting-1-5.ru.vtt").read_bytes(), "vtt", lang="ru",
            supplementary=True)
    ch.file(video, "video_thumbnail", (DEMO / "video" / "counting-1-5.jpg").read_bytes(), "jpg", thumbnail=True,
            supplementary=True)
    numbers = ch.topic("Рақамҳо", count, lang="tg")
    song = ch.node("audio", "Суруди рақамҳо", numbers, lang="tg", duration=31, license_name="CC BY",
                   author="Sanduq", license_owner="© 2026 Sanduq")
    ch.file(song, "audio", (DEMO / "audio" / "five-fingers.tg.mp3").read_bytes(), "mp3")
    ch.tag(song, "Music")
    game = ch.node("html5", "Бозии рақамҳо", numbers, lang="tg", license_name="Public Domain",
                   license_owner="Nobody")
    ch.file(game, "html5_zip", GAME, "zip")
    exercise = ch.node("exercise", "Машқ", numbers, lang="tg")
    ch.file(exercise, "exercise", b"PK\x05\x06" + bytes(18), "perseus")
    reading = ch.topic("Чтение", lang="ru")
    books = ch.topic("Книги", reading, lang="ru")
    plan = ch.node("document", "План урока", books, lang="ru", coach_content=1, license_name="Special Permissions",
                   license_description="Только для детских садов", license_owner="Минобразования")
    ch.file(plan, "document", PDF, "pdf")
    tale = ch.node("document", "Сказка", books, lang="ru")
    ch.file(tale, "epub", b"PK\x03\x04epub", "epub")
    ch.topic("Пусто", reading, lang="ru")
    colours = ch.node("video", "Цвета", ch.root, license_name="All Rights Reserved", license_owner="Studio")
    ch.file(colours, "low_res_video", (DEMO / "video" / "colours.ru.mp4").read_bytes(), "mp4")
    ch.file(colours, "video_thumbnail", (DEMO / "video" / "counting-1-5.jpg").read_bytes(), "jpg", thumbnail=True,
            supplementary=True)
    ch.write()
    return ch


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def by_title(source: Path) -> dict[str, dict]:
    return {next(v for k, v in row.items() if k.startswith("title_") and v): row for row in rows(source / "items.csv")}


@pytest.fixture
def kolibri(tmp_path) -> ChannelBuilder:
    return channel(tmp_path / "KOLIBRI_DATA")


def test_a_channel_becomes_items_courses_and_files(tmp_path, kolibri):
    source = tmp_path / "lib"
    done = import_channel(kolibri.data, source)
    assert (done.channel_id, done.name, done.folder) == (kolibri.channel_id, "Сандуқ",
                                                         source / "media" / "kolibri" / SHORT)
    assert dict(done.added) == {"video": 2, "audio": 1, "document": 1, "game": 1, "course": 2}
    assert dict(done.skipped) == {
        ("exercise", "Kolibri's exercises (Perseus) cannot be played by Sanduq"): 1,
        ("document", "its document is epub, not a PDF (only PDFs can be shown)"): 1,
        ("topic", "it holds nothing Sanduq can play"): 1}
    assert done.missing == [] and done.no_language == 0

    items = by_title(source)
    video = items["Ҳисоб то панҷ"]
    assert video["id"] == f"hisob-to-panj-{video['id'][-8:]}" and len(video["id"]) == 22
    node = next(n.id for n in kolibri.nodes.values() if n.title == "Ҳисоб то панҷ")
    assert video["id"] == f"hisob-to-panj-{node[:8]}"  # the node's own first 8 digits
    assert (video["kind"], video["languages"], video["audiences"], video["subjects"], video["duration"]) == (
        "video", "tg", "children", "numeracy", "0:12")  # Kolibri's 12 seconds, as scan writes a duration
    assert video["description_tg"] == "Якҷоя то панҷ ҳисоб мекунем."
    assert (video["licence"], video["author"], video["copyright"], video["source"]) == (
        "CC-BY-SA-4.0", "Рухшона Каримова", "© Pratham Books", f"Kolibri channel Сандуқ ({kolibri.channel_id})")
    folder = source / video["file"].rsplit("/", 1)[0]
    assert folder == done.folder
    # The low resolution is the one taken; poster and subtitles travel with it.
    assert (source / video["file"]).read_bytes() == (DEMO / "video" / "counting-1-5.tg.mp4").read_bytes()
    assert (source / video["subtitles_tg"]).read_bytes() == (DEMO / "video" / "counting-1-5.tg.vtt").read_bytes()
    assert (source / video["subtitles_ru"]).read_bytes() == (DEMO / "video" / "counting-1-5.ru.vtt").read_bytes()
    # One poster for two videos: copied once, named by its checksum.
    poster = f"media/kolibri/{SHORT}/{md5_of(DEMO / 'video' / 'counting-1-5.jpg')}.jpg"
    assert items["Цвета"]["poster"] == video["poster"] == poster
    assert len(list(folder.iterdir())) == done.files == 8  # 2 videos, 2 subtitles, poster, mp3, zip, pdf
    assert done.size == sum(p.stat().st_size for p in folder.iterdir())

    colours = items["Цвета"]  # no language of its own: the channel's
    assert (colours["languages"], colours["title_ru"], colours["licence"], colours["copyright"]) == (
        "ru", "Цвета", "All Rights Reserved", "© Studio")
    song = items["Суруди рақамҳо"]
    assert (song["kind"], song["duration"], song["subjects"], song["copyright"], song["licence"]) == (
        "audio", "0:31", "music", "© 2026 Sanduq", "CC-BY-4.0")
    game = items["Бозии рақамҳо"]
    assert (game["kind"], game["licence"], game["copyright"]) == ("game", "Public Domain", "")
    plan = items["План урока"]  # coach content is for educators; special permissions say what they are
    assert (plan["kind"], plan["audiences"], plan["licence"], plan["copyright"]) == (
        "document", "educators", "Только для детских садов", "© Минобразования")
    assert (source / plan["file"]).read_bytes() == PDF

    courses = rows(source / "courses.csv")
    count, reading = items["Ҳисоб"], items["Чтение"]
    assert (count["kind"], count["languages"], count["title_tg"]) == ("course", "tg", "Ҳисоб")
    assert [(c["course"], c["module"], c["title_tg"] or c["title_ru"], c["lessons"]) for c in courses] == [
        (count["id"], "1", "Ҳисоб", video["id"]),
        (count["id"], "2", "Рақамҳо", f"{song['id']} {game['id']}"),
        (reading["id"], "1", "Книги", plan["id"])]
    # Tree order: each course before its lessons, the video under the root last.
    assert [row["id"] for row in rows(source / "items.csv")] == [
        count["id"], video["id"], song["id"], game["id"], reading["id"], plan["id"], colours["id"]]
    assert (source / "library.toml").is_file()
    assert not [p for p in source.iterdir() if p.name.startswith(".")]  # no scratch left
    # New sheets: a BOM for Excel, and every column people are asked to fill, filled or not.
    head = (source / "items.csv").read_bytes().split(b"\n", 1)[0].decode()
    assert head == ("\ufeffid,kind,languages,audiences,age_min,age_max,subjects,duration,title_tg,title_ru,"
                    "description_tg,file,poster,subtitles_tg,subtitles_ru,licence,author,copyright,"
                    "source")
    assert (source / "courses.csv").read_bytes().startswith(b"\xef\xbb\xbfcourse,module,title_tg,title_ru,lessons\n")


def test_the_folder_reads_as_a_library(tmp_path, kolibri):
    import_channel(kolibri.data, tmp_path / "lib")
    source = read_source(tmp_path / "lib")
    items = {item["id"]: item for item in source.manifest["items"]}
    assert sorted(item["kind"] for item in items.values()) == ["audio", "course", "course", "document", "game",
                                                               "video", "video"]
    video = next(i for i in items.values() if i["title"] == {"tg": "Ҳисоб то панҷ"})
    assert sorted((f["role"], f.get("lang")) for f in video["files"]) == [
        ("main", None), ("poster", None), ("subtitles", "ru"), ("subtitles", "tg")]
    course = next(i for i in items.values() if i["title"] == {"tg": "Ҳисоб"})
    assert [m["title"] for m in course["modules"]] == [{"tg": "Ҳисоб"}, {"tg": "Рақамҳо"}]
    # The courses are the topics' names only: Kolibri gives topics no licence, so check says so.
    courses = {i["id"] for i in items.values() if i["kind"] == "course"}
    assert len(source.warnings) == 2 and all("has no licence" in w for w in source.warnings)
    assert {w.split("'")[1] for w in source.warnings} == courses


def test_the_command_imports_and_says_what_it_left_out(tmp_path, kolibri, capsys):
    assert main(["import-kolibri", str(kolibri.data), str(tmp_path / "lib")]) == 0
    said = capsys.readouterr().out
    assert f"Added the Kolibri channel 'Сандуқ' ({kolibri.channel_id}) to {tmp_path / 'lib'}: 1 audio, " \
           "2 courses, 1 document, 1 game, 2 videos;" in said
    assert "Skipped 1 exercise node: Kolibri's exercises (Perseus) cannot be played by Sanduq." in said
    assert "Skipped 1 document node: its document is epub, not a PDF" in said
    assert "The rows are drafts" in said
    assert said.rstrip().endswith(f"Check the folder with: sanduq-mirror check {tmp_path / 'lib'}")
    assert main(["check", str(tmp_path / "lib")]) == 0
    assert "7 items, 8 files" in capsys.readouterr().out


def test_a_second_import_of_the_channel_is_refused_and_changes_nothing(tmp_path, kolibri, capsys):
    source = tmp_path / "lib"
    import_channel(kolibri.data, source)
    before = folder_files(source)
    assert main(["import-kolibri", str(kolibri.data), str(source), "--channel", kolibri.channel_id]) == 3
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "items.csv already has the id" in said
    assert "was imported into it before; to import it again, delete its rows and" in said
    assert folder_files(source) == before


def test_ids_are_the_same_at_every_import(tmp_path, kolibri):
    import_channel(kolibri.data, tmp_path / "one")
    import_channel(kolibri.data, tmp_path / "two")
    assert (tmp_path / "one" / "items.csv").read_bytes() == (tmp_path / "two" / "items.csv").read_bytes()
    assert (tmp_path / "one" / "courses.csv").read_bytes() == (tmp_path / "two" / "courses.csv").read_bytes()


def test_added_to_a_library_it_keeps_every_row(tmp_path, kolibri):
    source = write_source(tmp_path / "src")
    before = {name: (source / name).read_bytes() for name in ("items.csv", "courses.csv", "library.toml")}
    import_channel(kolibri.data, source)
    for name in ("items.csv", "courses.csv"):
        old_header, _, old_rows = before[name].partition(b"\n")
        after = (source / name).read_bytes()
        assert after.startswith(old_header) and old_rows in after  # new columns at the end of the header only
        assert after.count(b"\n") > before[name].count(b"\n")
    assert (source / "library.toml").read_bytes() == before["library.toml"]
    assert len(read_source(source).manifest["items"]) == 7 + 7


def test_a_partial_export_imports_what_is_on_the_drive_and_names_the_rest(tmp_path, kolibri):
    song = next(n for n in kolibri.nodes.values() if n.kind == "audio")
    audio = next(f[7] for f in kolibri.files if f[5] == song.id)
    kolibri.path(audio).unlink()
    poster = next(f[7] for f in kolibri.files if f[1] == "video_thumbnail")
    kolibri.path(poster).unlink()
    done = import_channel(kolibri.data, tmp_path / "lib")
    assert done.skipped[("audio", "its file is not on the drive (a partial export)")] == 1
    assert done.added["audio"] == 0 and done.added["video"] == 2
    assert done.missing == [f"Ҳисоб то панҷ: {kolibri.path(poster)}", f"Суруди рақамҳо: {kolibri.path(audio)}"]
    assert not any(row.get("poster") for row in rows(tmp_path / "lib" / "items.csv"))
    read_source(tmp_path / "lib")


def test_files_are_copied_where_the_kernel_cannot_copy_between_filesystems(tmp_path, kolibri, monkeypatch):
    # Stands in for a drive whose filesystem copy_file_range cannot copy from (EXDEV on older
    # kernels, or FUSE): sendfile then copies, as shutil.copyfile does.
    def cannot(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", cannot)
    done = import_channel(kolibri.data, tmp_path / "lib")
    for name in os.listdir(done.folder):
        assert md5_of(done.folder / name) == name.split(".")[0]  # each the whole file, byte for byte
    assert done.files == 8


def test_a_game_without_index_html_at_its_top_is_skipped(tmp_path):
    ch = ChannelBuilder(tmp_path / "data")
    ch.file(ch.node("html5", "Nested", ch.root), "html5_zip", game_zip({"game/index.html": b"<p>x"}), "zip")
    ch.file(ch.node("html5", "Broken", ch.root), "html5_zip", b"PK\x03\x04 not really", "zip")
    ch.file(ch.node("html5", "Bomb", ch.root), "html5_zip", bomb(), "zip")
    ch.file(ch.node("audio", "Song", ch.root), "audio", b"ID3" + bytes(100), "mp3")
    ch.write()
    done = import_channel(ch.data, tmp_path / "lib")
    assert dict(done.skipped) == {
        ("html5", "its zip has no index.html at its top (Sanduq's games start there)"): 1,
        ("html5", "its zip is damaged"): 1,
        ("html5", "its zip holds names that leave it or files that unpack far too large"): 1}
    assert dict(done.added) == {"audio": 1}


def bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("index.html", b"<p>x")
        z.writestr("zeros.bin", bytes(80 * 2**20))  # 80 MB of zeros in 80 KB
    return out.getvalue()


def test_h5p_becomes_a_game_with_its_package(tmp_path):
    sample = REPO.parent / "shared" / "samples" / "h5p" / "greetingcard.h5p"
    if not sample.is_file():
        pytest.skip(f"{sample} is absent (the shared samples, see their README)")
    ch = ChannelBuilder(tmp_path / "data", lang="en")
    ch.file(ch.node("h5p", "Greeting card", ch.root), "h5p", sample.read_bytes(), "h5p")
    ch.write()
    import_channel(ch.data, tmp_path / "lib")
    [row] = rows(tmp_path / "lib" / "items.csv")
    assert (row["kind"], row["title_en"], row["file"]) == ("game", "Greeting card",
                                                           f"media/kolibri/{ch.channel_id[:8]}/{md5_of(sample)}.h5p")
    assert (tmp_path / "lib" / row["file"]).read_bytes() == sample.read_bytes()


def test_text_is_bounded_cleaned_and_kept_out_of_formulas(tmp_path):
    ch = ChannelBuilder(tmp_path / "data", lang=None)
    node = ch.node("audio", "=HYPERLINK(\"x\")  " + "слово " * 200, ch.root, lang="pt-BR",
                   description="а\x00б " * 10_000, author="A\u202eB\nC " + "x" * 400,
                   license_owner="Owner", license_name="CC BY-NC-ND", license_description="ignored")
    ch.file(node, "audio", b"ID3" + bytes(10), "mp3")
    nameless = ch.node("audio", "Без языка", ch.root)
    ch.file(nameless, "audio", b"ID3" + bytes(11), "mp3")
    ch.write()
    done = import_channel(ch.data, tmp_path / "lib")
    assert done.no_language == 1  # neither the node nor the channel says its language
    first, second = rows(tmp_path / "lib" / "items.csv")
    assert first["languages"] == "pt" and first["title_pt"].startswith(" =HYPERLINK(")
    assert len(first["title_pt"].strip()) <= 300 and first["title_pt"].endswith("…")
    assert len(first["description_pt"]) <= 20_000 and "\x00" not in first["description_pt"]
    assert len(first["author"]) <= 300 and "\u202e" not in first["author"] and "\n" not in first["author"]
    assert first["licence"] == "CC-BY-NC-ND-4.0"
    assert (second["languages"], second["title_und"]) == ("", "Без языка")
    assert second["id"].startswith("bez-yazyka-")
    read_source(tmp_path / "lib")


def test_a_channel_of_an_older_schema_imports_without_durations(tmp_path, kolibri):
    # Schema 5 added duration and categories; channels published before it lack them.
    _sql(kolibri, "ALTER TABLE content_contentnode DROP COLUMN duration")
    _sql(kolibri, "ALTER TABLE content_contentnode DROP COLUMN categories")
    done = import_channel(kolibri.data, tmp_path / "lib")
    assert done.added["video"] == 2
    video = by_title(tmp_path / "lib")["Ҳисоб то панҷ"]
    assert (video.get("duration", ""), video["subjects"]) == ("", "")


def test_a_drive_with_several_channels_needs_one_chosen(tmp_path):
    one = ChannelBuilder(tmp_path / "data", name="One")
    one.file(one.node("audio", "Song", one.root), "audio", b"ID3" + bytes(10), "mp3")
    one.write()
    two = ChannelBuilder(tmp_path / "data", name="Two")
    two.file(two.node("audio", "Other song", two.root), "audio", b"ID3" + bytes(12), "mp3")
    two.write()
    with pytest.raises(BadRequest, match="holds 2 channels .*; choose one with --channel"):
        import_channel(tmp_path / "data", tmp_path / "lib")
    assert not (tmp_path / "lib").exists()
    assert import_channel(tmp_path / "data", tmp_path / "lib", channel=two.channel_id.upper()).name == "Two"


def test_the_drive_root_is_understood(tmp_path):
    ch = ChannelBuilder(tmp_path / "drive" / "KOLIBRI_DATA")
    ch.file(ch.node("audio", "Song", ch.root), "audio", b"ID3" + bytes(10), "mp3")
    ch.write()
    assert import_channel(tmp_path / "drive", tmp_path / "lib").added["audio"] == 1


# Hostile or broken drives: each refused with one sentence naming the file, SOURCE untouched.
def _not_sqlite(ch: ChannelBuilder) -> None:
    ch.database.write_bytes(b"<html>not a database</html>" + bytes(100))


def _sql(ch: ChannelBuilder, statement: str, *values) -> None:
    """Change the channel's database as no Kolibri would."""
    with sqlite3.connect(ch.database) as db:
        db.execute(statement, values)
    db.close()


def _no_table(ch: ChannelBuilder) -> None:
    _sql(ch, "DROP TABLE content_file")


def _other_channel(ch: ChannelBuilder) -> None:
    _sql(ch, "UPDATE content_channelmetadata SET id = ?", md5("another"))


def _set_file(column: str, value) -> callable:
    def change(ch: ChannelBuilder) -> None:
        audio = next(f[7] for f in ch.files if f[1] == "audio")
        _sql(ch, f"UPDATE content_localfile SET {column} = ? WHERE id = ?", value, audio)
        if column == "id":
            _sql(ch, "UPDATE content_file SET local_file_id = ? WHERE local_file_id = ?", value, audio)
    return change


def _link(ch: ChannelBuilder) -> None:
    audio = ch.path(next(f[7] for f in ch.files if f[1] == "audio"))
    secret = audio.parent / "secret"
    secret.write_bytes(audio.read_bytes())
    audio.unlink()
    audio.symlink_to(secret)


def _linked_folder(ch: ChannelBuilder) -> None:
    audio = ch.path(next(f[7] for f in ch.files if f[1] == "audio"))
    elsewhere = ch.data / "elsewhere"
    audio.parent.rename(elsewhere)
    audio.parent.symlink_to(elsewhere)


def _grown(ch: ChannelBuilder) -> None:
    audio = ch.path(next(f[7] for f in ch.files if f[1] == "audio"))
    audio.write_bytes(audio.read_bytes() + b"more")


HOSTILE = {
    "not SQLite": (_not_sqlite, "is not a SQLite database"),
    "no content_file table": (_no_table, "is not a Kolibri channel database (it has no table content_file)"),
    "another channel's": (_other_channel, "is not the database of the channel"),
    "a checksum leaving storage": (_set_file("id", "../../../../etc/passwd"), "is not a checksum"),
    "an extension leaving storage": (_set_file("extension", "mp3/../../x"), "is not a short lowercase name"),
    "a size that lies": (_set_file("file_size", 3), "bytes but"),
    "a file that grew": (_grown, "bytes but"),
    "a link in storage": (_link, "is a link"),
    "a linked folder in storage": (_linked_folder, "is a link"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_drive_is_refused_by_name_and_leaves_the_folder_as_it_was(tmp_path, kolibri, case):
    damage, words = HOSTILE[case]
    damage(kolibri)
    source = write_source(tmp_path / "src")
    before = everything(source)
    with pytest.raises(InvalidSource) as refused:
        import_channel(kolibri.data, source)
    message = refused.value.message
    assert words in message and "\n" not in message
    assert str(kolibri.data) in message
    assert everything(source) == before
    with pytest.raises(InvalidSource):
        import_channel(kolibri.data, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_file_that_changes_during_the_import_is_refused(tmp_path, kolibri, monkeypatch):
    # Stands in for a program writing to the drive between the check of a file and its copy.
    source = write_source(tmp_path / "src")
    before = everything(source)
    add = kolibri_module._add

    def grow_then_add(plan, folder):
        audio = kolibri.path(next(f[7] for f in kolibri.files if f[1] == "audio"))
        audio.write_bytes(audio.read_bytes() + b"more")
        return add(plan, folder)

    monkeypatch.setattr(kolibri_module, "_add", grow_then_add)
    with pytest.raises(InvalidSource, match=r"\.mp3 changed while it was imported \([\d,]+ bytes, then [\d,]+\)"):
        import_channel(kolibri.data, source)
    assert everything(source) == before


@pytest.mark.parametrize("arguments, error, words", [
    ({"channel": "not-a-channel"}, BadRequest, "is not a Kolibri channel id"),
    ({"channel": md5("absent")}, InvalidSource, "does not exist; is the channel"),
])
def test_bad_arguments_are_refused_before_anything_is_touched(tmp_path, kolibri, arguments, error, words):
    with pytest.raises(error, match=words):
        import_channel(kolibri.data, tmp_path / "new", **arguments)
    assert not (tmp_path / "new").exists()


def test_a_folder_with_no_channel_is_refused(tmp_path):
    with pytest.raises(InvalidSource, match="has no content/databases folder"):
        import_channel(tmp_path, tmp_path / "new")
    (tmp_path / "content" / "databases").mkdir(parents=True)
    with pytest.raises(InvalidSource, match="holds no channel database"):
        import_channel(tmp_path, tmp_path / "new")


def test_a_channel_with_nothing_playable_is_refused(tmp_path):
    ch = ChannelBuilder(tmp_path / "data")
    ch.file(ch.node("exercise", "Quiz", ch.topic("Maths")), "exercise", b"x", "perseus")
    ch.write()
    with pytest.raises(InvalidSource, match=r"holds nothing Sanduq can play \(1 exercise, 1 topic\)"):
        import_channel(ch.data, tmp_path / "new")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("failing", ["courses.csv", "items.csv", "library.toml"])
def test_a_full_disk_at_any_write_puts_everything_back(tmp_path, kolibri, monkeypatch, failing):
    # A full disk, stood in for by failing the write of one file: the files copied and the
    # sheets already replaced go back as they were; a folder the import made goes again.
    source = tmp_path / "new" if failing == "library.toml" else write_source(tmp_path / "src")
    before = everything(source)
    for module in (sheets, kolibri_module):
        monkeypatch.setattr(module, "write_atomically", no_space_for(failing, module.write_atomically))
    with pytest.raises(SanduqError, match=f"No space left on device: .*{failing}\\); the folder is as it was"):
        import_channel(kolibri.data, source)
    assert everything(source) == before


def no_space_for(name: str, write):
    def write_unless_it_is_name(path, data, **kw):
        if Path(path).name == name:
            raise OSError(28, "No space left on device", str(path))
        write(path, data, **kw)
    return write_unless_it_is_name


def everything(root: Path) -> tuple[dict[str, bytes], list[str]]:
    """Every file's bytes and every path (empty folders too) under ROOT; nothing if it is not there."""
    return (folder_files(root), sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))) if root.exists() \
        else ({}, [])


def test_two_imports_into_one_folder_never_interleave(tmp_path, kolibri):
    source = write_source(tmp_path / "src")
    fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running import holds it
        with pytest.raises(SanduqError, match="Another import is adding to"):
            import_channel(kolibri.data, source)
    finally:
        os.close(fd)


def test_two_titles_alike_with_ids_alike_take_more_digits(tmp_path):
    ch = ChannelBuilder(tmp_path / "data")
    first, second = "abcdef01" + "1" * 24, "abcdef01" + "2" * 24  # the same first 8 digits
    for node_id in (first, second):
        ch.file(ch.node("audio", "Песня", ch.root, id=node_id), "audio", b"ID3" + node_id.encode(), "mp3")
    ch.write()
    import_channel(ch.data, tmp_path / "lib")
    assert [row["id"] for row in rows(tmp_path / "lib" / "items.csv")] == ["pesnya-abcdef01", "pesnya-abcdef012222"]


def test_skip_reasons_name_every_format_taken_and_unneeded_files_are_not_missing(tmp_path):
    ch = ChannelBuilder(tmp_path / "data")
    ch.file(ch.node("video", "Old film", ch.root), "high_res_video", b"RIFF avi", "avi")
    ch.file(ch.node("audio", "Old song", ch.root), "audio", b"RIFF wav", "wav")
    film = ch.node("video", "Film", ch.root)
    ch.file(film, "low_res_video", None, "mp4", checksum=md5("not on the drive"), size=10)
    ch.file(film, "high_res_video", b"\x00\x00\x00\x18ftypmp42 high", "mp4")
    ch.write()
    done = import_channel(ch.data, tmp_path / "lib")
    assert dict(done.skipped) == {("video", "it has no MP4 or WebM video"): 1,
                                  ("audio", "it has no MP3, M4A, Ogg or Opus audio"): 1}
    # The low resolution is not on the drive, but the high one is taken: nothing was missed.
    assert done.added == {"video": 1} and done.missing == []


def test_an_h5p_package_that_fails_the_build_check_is_skipped(tmp_path):
    ch = ChannelBuilder(tmp_path / "data")
    ch.file(ch.node("h5p", "Broken", ch.root), "h5p", b"PK\x03\x04 not really", "h5p")
    ch.file(ch.node("h5p", "Not whole", ch.root), "h5p", game_zip({"content/content.json": b"{}"}), "h5p")
    ch.file(ch.node("audio", "Song", ch.root), "audio", b"ID3" + bytes(100), "mp3")
    ch.write()
    done = import_channel(ch.data, tmp_path / "lib")
    assert dict(done.skipped) == {("h5p", "its H5P package fails the build's check (damaged, not whole, or holds "
                                          "what Sanduq refuses)"): 2}
    assert dict(done.added) == {"audio": 1} and len(list(done.folder.iterdir())) == 1


def test_a_zip_with_a_name_zipfile_cannot_read_is_skipped_as_damaged(tmp_path):
    ch = ChannelBuilder(tmp_path / "data")
    ch.file(ch.node("html5", "Odd names", ch.root), "html5_zip", not_utf8_name_zip(), "zip")
    ch.file(ch.node("audio", "Song", ch.root), "audio", b"ID3" + bytes(100), "mp3")
    ch.write()
    assert dict(import_channel(ch.data, tmp_path / "lib").skipped) == {("html5", "its zip is damaged"): 1}


def not_utf8_name_zip() -> bytes:
    """A zip whose one name is marked UTF-8 but is not: Python's zipfile raises UnicodeDecodeError."""
    data = bytearray(game_zip({"index.html": b"<p>x"}))
    central = data.rfind(b"PK\x01\x02")
    data[central + 9] |= 0x08  # general purpose flag bit 11: the name is UTF-8
    data[data.find(b"index.html", central)] = 0xFF
    return bytes(data)


@pytest.mark.parametrize("bound, most, table", [("MAX_ROWS", 3, "files of nodes"), ("MAX_ROWS", 20, "tags of nodes"),
                                                ("MAX_LANGUAGES", 3, "languages")])
def test_rows_are_counted_before_they_are_read(tmp_path, kolibri, monkeypatch, bound, most, table):
    for n in range(30 if table == "tags of nodes" else 0):  # the channel has 12 files
        kolibri.tag(kolibri.root, f"tag {n}")
    kolibri.write()
    monkeypatch.setattr(kolibri_db, bound, most)
    with pytest.raises(InvalidSource, match=f"has [0-9]+ {table}, more than the {most} a library may hold"):
        import_channel(kolibri.data, tmp_path / "lib")
    assert not (tmp_path / "lib").exists()


def test_a_hostile_databases_text_is_cut_before_python_reads_it(tmp_path):
    # Every text column as long as a database may make it, and a number column holding a
    # megabyte: what reaches Python is bounded by what a draft keeps, not by the database.
    ch = ChannelBuilder(tmp_path / "data")
    long = "слово " * 20_000
    for n in range(100):
        ch.node("audio", long, ch.root, description=long, author=long, license_owner=long,
                license_description=long, license_name=long, categories=long)
    ch.write()
    _sql(ch, "UPDATE content_contentnode SET sort_order = ?, duration = ?", b"x" * 2**20, long)
    tracemalloc.start()
    try:
        channel = kolibri_db.read_channel(ch.database)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    node = channel.root.children[0]
    assert len(node.title) <= 300 and node.duration is None
    assert len(node.description) <= 2_000 and node.description.endswith("слово…")  # cut at a word
    assert max(len(node.author), len(node.owner), len(node.terms)) <= 600 and node.subjects == set()
    assert peak < 4 * 2**20, peak  # 100 nodes: about 1.3 MB; read whole, they took over 100 MB
