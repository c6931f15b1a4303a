import pytest

from content_mirror.authoring import read_source
from server.errors import InvalidSource
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
