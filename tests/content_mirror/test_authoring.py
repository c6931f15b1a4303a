import pytest

from content_mirror.authoring import read_source
from server.errors import InvalidSource
from content_mirror.demo import SOURCE as DEMO
from tests.helpers import COURSES, ITEMS, PAGES, write_source


def test_reads_every_kind_with_languages_side_by_side(source):
    manifest = read_source(source).manifest
    items = {i["id"]: i for i in manifest["items"]}
    assert manifest["channel"] == "test" and manifest["format"] == "sanduq-bundle/1"
    assert items["video-count"]["title"] == {"tg": "Ҳисоб то панҷ", "ru": "Счёт до пяти", "en": "Counting to five"}
    assert items["video-count"]["duration"] == 12
    assert items["act-shapes"]["duration"] == 900
    assert items["act-shapes"]["steps"] == {"tg": ["Коғаз гиред", "Шаклҳоро буред"]}
    roles = {(f["role"], f.get("lang"), f.get("page")) for f in items["book-cat"]["files"]}
    assert roles == {("poster", None, None), ("picture", None, 1), ("picture", None, 2), ("narration", "ru", 1)}
    assert items["course-start"]["modules"] == [
        {"title": {"tg": "Дарси аввал", "ru": "Первый урок", "en": "First lesson"},
         "lessons": ["doc-plan", "video-count"]}]
    # One picture used as cover and page 1 is one file.
    cover = [f["sha256"] for f in items["book-cat"]["files"] if f["role"] == "poster"][0]
    assert [f["sha256"] for f in items["book-cat"]["files"] if f.get("page") == 1][0] == cover
    assert manifest["files"][cover]["mime"] == "image/svg+xml"


def test_excel_bom_is_accepted(tmp_path):
    root = write_source(tmp_path)
    (root / "items.csv").write_bytes(b"\xef\xbb\xbf" + ITEMS.encode())
    assert len(read_source(root).manifest["items"]) == 7


@pytest.mark.parametrize("change,message", [
    (("act-shapes,activity,tg,parents children,4,6", "act-shapes,activity,tg,parents children,six,6"),
     "items.csv row 5, column age_min: 'six' is not a whole number"),
    (("tip-sleep,tip,tg ru en,parents,", "tip-sleep,tipp,tg ru en,parents,"),
     "items.csv row 4, column kind: 'tipp' is not one of"),
    (("media/count.mp4", "media/missing.mp4"), "items.csv row 2, column file: file 'media/missing.mp4' does not exist"),
    (("media/count.mp4", "../../etc/passwd"), "lies outside the authoring folder"),
    (("media/count.mp4", "media/cover.svg"), "column file: 'media/cover.svg' is not a usable type"),
    (("parenting health", "parenting cooking"), "column subjects: 'cooking' is not one of"),
    (("doc-plan,document,tg ru,educators", "doc-plan,document,tg ru,teachers"), "column audiences: 'teachers'"),
    (("act-shapes,activity", "tip-sleep,activity"), "row 5, column id: 'tip-sleep' is used by an earlier row"),
    (("Хоби хуб,Хороший сон,Good sleep", ",,"), "items.csv row 4: needs a title"),
    (("subtitles_tg", "subtitle_tg"), "items.csv column 'subtitle_tg': is not a known column"),
    (("Fun shapes", "Fun, shapes"), "items.csv row 5: has more cells than the header row"),
    (("CC-BY-SA-4.0", "CC-BY-SA-4.0 " + "x" * 100), "items.csv row 6, column licence: must be at most 100 characters"),
    (("© 2019 African Storybook", '"© 2019\nAfrican Storybook"'), "items.csv row 6, column copyright: must be one line"),
    (("African Storybook\n", "javascript:alert(1)\n"),
     "items.csv row 6, column source: 'javascript:' is not a web address Sanduq accepts"),
])
def test_faults_name_sheet_row_and_column(tmp_path, change, message):
    root = write_source(tmp_path, items=ITEMS.replace(*change))
    with pytest.raises(InvalidSource) as caught:
        read_source(root)
    assert message in caught.value.message


def test_pages_and_courses_are_checked(tmp_path):
    root = write_source(tmp_path, pages=PAGES.replace("book-cat,2,", "book-cat,3,"),
                        courses=COURSES.replace("doc-plan video-count", "doc-plan nothing-here"))
    with pytest.raises(InvalidSource) as caught:
        read_source(root)
    assert "pages.csv row 3, column page: expected page 2 of 'book-cat'" in caught.value.message
    assert "courses.csv row 2, column lessons: 'nothing-here' is not an id" in caught.value.message


def test_not_utf8_says_how_to_save(tmp_path):
    root = write_source(tmp_path)
    (root / "items.csv").write_bytes("id,kind\nx,tip\n".encode() + "Ҳ".encode("cp1251", "replace") + b"\xff")
    with pytest.raises(InvalidSource, match="save it as 'CSV UTF-8'"):
        read_source(root)


def test_credits_come_from_their_columns(source):
    items = {i["id"]: i for i in read_source(source).manifest["items"]}
    assert items["video-count"]["licence"] == "CC-BY-4.0"
    assert items["video-count"]["author"] == "Рухшона Каримова"
    assert items["video-count"]["copyright"] == "© 2021 Pratham Books"
    assert items["video-count"]["source"].startswith("Bloom Library, https://bloomlibrary.org/")
    assert items["tip-sleep"]["licence"] == "Used with permission" and "copyright" not in items["tip-sleep"]
    assert not {"licence", "author", "copyright", "source"} & set(items["doc-plan"])


def test_an_item_without_a_licence_is_a_warning_naming_its_row(source):
    """CC BY and its like require credit: `check` says which rows lack a licence, and the
    build still goes ahead (a library is not held back for it)."""
    read = read_source(source)
    assert len(read.manifest["items"]) == 7
    assert [w.split(":")[0] for w in read.warnings] == [
        "items.csv row 3, column licence", "items.csv row 5, column licence",
        "items.csv row 7, column licence", "items.csv row 8, column licence"]
    assert "'doc-plan' has no licence" in read.warnings[0]


def test_library_toml_gives_credits_an_items_own_cells_override(source):
    (source / "library.toml").write_text(
        'channel = "test"\nlicence = "CC-BY-4.0"\ncopyright = "© 2026 Шӯъбаи маориф"\n'
        'source = "Китобхонаи мактаб"\n', encoding="utf-8")
    read = read_source(source)
    items = {i["id"]: i for i in read.manifest["items"]}
    assert items["doc-plan"]["licence"] == "CC-BY-4.0" and items["doc-plan"]["source"] == "Китобхонаи мактаб"
    assert items["doc-plan"]["copyright"] == "© 2026 Шӯъбаи маориф" and "author" not in items["doc-plan"]
    assert items["book-cat"]["licence"] == "CC-BY-SA-4.0" and items["book-cat"]["source"] == "African Storybook"
    assert items["tip-sleep"]["copyright"] == "© 2026 Шӯъбаи маориф"
    assert read.warnings == []


def test_library_toml_credits_are_checked(source):
    (source / "library.toml").write_text('channel = "test"\nlicence = 4\nsource = "data:,x"\n',
                                         encoding="utf-8")
    with pytest.raises(InvalidSource) as caught:
        read_source(source)
    assert "library.toml, licence: must be text" in caught.value.message
    assert "library.toml, source: 'data:' is not a web address" in caught.value.message


def test_cc_by_without_anyone_to_credit_is_a_warning(source):
    items = ITEMS.replace("CC-BY-SA-4.0,,© 2019 African Storybook,", "CC-BY-SA-4.0,,,")
    items = items.replace("Used with permission,Шӯъбаи маориф,", "Used by permission,,")  # not CC
    (source / "items.csv").write_text(items, encoding="utf-8")
    warnings = [w for w in read_source(source).warnings if "column author" in w]
    assert len(warnings) == 1
    assert warnings[0].startswith("items.csv row 6, column author: 'book-cat' is under CC-BY-SA-4.0, which asks")


def test_warnings_are_listed_beside_faults(source):
    (source / "items.csv").write_text(ITEMS.replace("tip-sleep,tip,", "tip-sleep,tipp,"), encoding="utf-8")
    with pytest.raises(InvalidSource) as caught:
        read_source(source)
    assert "items.csv row 3, column licence: 'doc-plan' has no licence" in caught.value.message


def test_the_demo_credits_every_item():
    read = read_source(DEMO)
    assert read.warnings == []
    for item in read.manifest["items"]:
        assert (item["licence"], item["author"], item["source"]) == (
            "CC-BY-4.0", "Sanduq project", "Sanduq demo library"), item["id"]
        assert "Sanduq project" in item["copyright"]


def test_many_warnings_are_counted_not_listed(tmp_path):
    tips = "".join(f"tip-{n},tip,tg,parents,,,,,Маслиҳат {n},,,,Матн,,,,,,,,,,,,\n" for n in range(35))
    root = write_source(tmp_path, items=ITEMS.splitlines(keepends=True)[0] + tips, pages="book,page\n",
                        courses="course,module\n")
    warnings = read_source(root).warnings
    assert len(warnings) == 31 and warnings[-1] == "... and 5 more warnings like these"


def test_the_faults_are_given_as_a_list_too(tmp_path):
    write_source(tmp_path, ITEMS.replace("video-count,video", "video-count,film"))
    with pytest.raises(InvalidSource) as raised:
        read_source(tmp_path)
    faults = raised.value.values["faults"]
    listed = raised.value.message.splitlines()[1:]
    assert faults == listed[:len(faults)] and listed[len(faults)].startswith("and warnings")
    assert any("'film'" in fault for fault in faults)


def test_a_second_reading_hashes_only_what_changed(source, monkeypatch):
    from content_mirror import authoring

    hashed, counted = {}, []
    real = authoring.sha256_file
    monkeypatch.setattr(authoring, "sha256_file", lambda path: counted.append(path) or real(path))
    read_source(source, hashed=hashed)
    first = len(counted)
    (source / "media" / "plan.ru.md").write_text("# План урока\n\nНовый текст.\n", encoding="utf-8")
    again = read_source(source, hashed=hashed)
    assert first >= 5 and counted[first:] == [(source / "media" / "plan.ru.md").resolve()]
    assert again.manifest["files"]  # and the new text's hash is the one shipped
    assert any(path.name == "plan.ru.md" for path in again.paths.values())


def test_a_game_the_box_would_refuse_is_refused_at_check(source):
    import zipfile

    with zipfile.ZipFile(source / "media" / "game.zip", "w") as z:
        z.writestr("index.html", "<p>game</p>")
        z.writestr("../escape.js", "x")
    with pytest.raises(InvalidSource, match="file name that leaves the game"):
        read_source(source)


def test_a_player_is_fetched_once_however_many_items_it_plays(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    from content_mirror import players

    samples = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "h5p"
    if not samples.is_dir():
        pytest.skip(f"the shared samples are not here ({samples})")
    (tmp_path / "media").mkdir()
    shutil.copy(samples / "drag-text.h5p", tmp_path / "media" / "a.h5p")
    shutil.copy(samples / "greetingcard.h5p", tmp_path / "media" / "b.h5p")
    (tmp_path / "items.csv").write_text("id,kind,audiences,title_en,file\ngame-a,game,children,A,media/a.h5p\n"
                                        "game-b,game,children,B,media/b.h5p\n", encoding="utf-8")
    fetched, real = [], players.fetch
    monkeypatch.setattr(players, "fetch", lambda player, *a: fetched.append(player) or real(player, *a))
    manifest = read_source(tmp_path).manifest
    assert fetched == [players.H5P]
    assert len({ref["sha256"] for item in manifest["items"] for ref in item["files"] if ref["role"] == "player"}) == 1
