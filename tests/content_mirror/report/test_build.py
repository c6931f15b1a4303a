"""sanduq-report build: the workbook read back with openpyxl, the HTML report opened in
Chromium with the network cut, both from real boxes' exports."""

import re

import openpyxl
import pytest

from content_mirror.report.cli import main
from content_mirror.report.texts import TEXT

WEEK_45 = "2026-11-02T09:00:00.000000Z"  # a Monday: ISO week 2026-W45
WEEK_46 = "2026-11-10T09:00:00.000000Z"
WEEK_48 = "2026-11-24T09:00:00.000000Z"


@pytest.fixture
def report(make_box, tmp_path):
    """Four schools' sticks added; returns a function building the report in a language."""
    schools = [make_box(name) for name in ("Мактаби №5, Хуҷанд", "Боғчаи №12, Душанбе", "Детский сад №3, Ош",
                                           "Боғчаи №1, Кӯлоб")]
    schools[0].record((WEEK_45, "opened", "video-count", None, "tg"), (WEEK_45, "opened", "video-count", None, "tg"),
                      (WEEK_45, "progress", "video-count", 0.75, "tg"), (WEEK_45, "finished", "video-count", None, "tg"),
                      (WEEK_46, "opened", "book-cat", None, "ru"), (WEEK_46, "saved", "book-cat", None, "ru"),
                      (WEEK_46, "search-empty", None, None, "tg", "=HYPERLINK(\"http://evil\",\"click\")"),
                      (WEEK_46, "searched", None, None, "tg"),
                      ("1970-01-01T00:00:05.000000Z", "opened", "book-cat", None, "tg"))
    schools[1].record((WEEK_48, "opened", "book-cat", None, "tg"))  # nothing anywhere in week 47
    for box in schools[:3]:  # "Муравей" typed in vain at three schools: shown; a name at one: not
        box.record((WEEK_46, "search-empty", None, None, "ru", "Муравей "))
    schools[1].record((WEEK_46, "search-empty", None, None, "tg", "Зарина Каримова"))
    for n, box in enumerate(schools[:3]):
        box.export(tmp_path / f"stick-{n}")
    db = tmp_path / "r.duckdb"
    assert main(["--db", str(db), "add", *(str(tmp_path / f"stick-{n}") for n in range(3))]) == 0

    def build(lang: str):
        out = tmp_path / f"out-{lang}"
        assert main(["--db", str(db), "build", str(out), "--lang", lang, "--as-of", "2026-12-01",
                     "--silent-weeks", "2"]) == 0
        return out

    return build, schools


def sheet(book, name):
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_the_workbook_counts_what_the_boxes_recorded(report):
    build, schools = report
    book = openpyxl.load_workbook(build("en") / "sanduq-report.xlsx")
    t = TEXT["en"]
    assert book.sheetnames == [t["readme"], t["coverage"], t["weeks"], t["items"], t["languages"],
                               t["empty_searches"], t["quality"]]
    weeks = {(r[t["school"]], r[t["week"]]): r for r in sheet(book, t["weeks"])}
    khujand = weeks[("Мактаби №5, Хуҷанд", "2026-W45")]
    assert (khujand[t["opened"]], khujand[t["finished"]], khujand[t["videos_watched"]]) == (2, 1, 1)
    later = weeks[("Мактаби №5, Хуҷанд", "2026-W46")]
    assert (later[t["opened"]], later[t["saved"]], later[t["searches"]], later[t["empty_searches"]]) == (1, 1, 3, 2)
    assert not [k for k in weeks if k[1].startswith("1970")]  # kept, but not a believable week
    boxes = {r[t["school"]]: r for r in sheet(book, t["coverage"])}
    assert set(boxes) == {"Мактаби №5, Хуҷанд", "Боғчаи №12, Душанбе", "Детский сад №3, Ош"}  # Kulob sent no stick
    assert boxes["Мактаби №5, Хуҷанд"][t["events"]] == 10
    assert boxes["Мактаби №5, Хуҷанд"][t["active_days"]] == 2
    assert boxes["Боғчаи №12, Душанбе"][t["events"]] == 3
    searches = sheet(book, t["empty_searches"])
    assert [(r[t["query"]], r[t["schools"]]) for r in searches] == [("муравей", 3)]  # the name stays out
    items = {r[t["item"]]: r for r in sheet(book, t["items"])}
    assert (items["video-count"][t["opened"]], items["video-count"][t["finished"]]) == (2, 1)
    assert items["book-cat"][t["schools"]] == 2
    quality = {r[t["finding"]]: r[t["count"]] for r in sheet(book, t["quality"])}
    assert quality[t["time_unbelievable"]] == 1 and quality[t["conflicts"]] == 0


def test_text_from_a_stick_stays_text_in_the_workbook(report, tmp_path):
    build, schools = report
    schools[3].record((WEEK_46, "search-empty", None, None, "tg", "=HYPERLINK(\"http://evil\",\"click\")"))
    for n in (1, 2):
        schools[n].record((WEEK_46, "search-empty", None, None, "tg", "=HYPERLINK(\"http://evil\",\"click\")"))
        schools[n].export(tmp_path / f"stick-more-{n}")
    schools[3].export(tmp_path / "stick-more-3")
    assert main(["--db", str(tmp_path / "r.duckdb"), "add", *(str(tmp_path / f"stick-more-{n}") for n in (1, 2, 3))]) == 0
    book = openpyxl.load_workbook(build("en") / "sanduq-report.xlsx")
    cells = [row[0] for row in book[TEXT["en"]["empty_searches"]].iter_rows(min_row=2)]
    evil = [c for c in cells if "hyperlink" in str(c.value)]
    assert evil and all(c.data_type == "s" and c.hyperlink is None for c in evil)


def test_the_russian_workbook_has_no_english_left(report):
    build, _ = report
    book = openpyxl.load_workbook(build("ru") / "sanduq-report.xlsx")
    assert book.sheetnames[1] == "Библиотеки"
    headings = [c for name in book.sheetnames[1:] for c in next(book[name].iter_rows(values_only=True))]
    assert not [h for h in headings if re.search("[A-Za-z]", h)]


def test_every_text_is_in_both_languages_and_the_russian_is_russian():
    assert set(TEXT["en"]) == set(TEXT["ru"])
    allowed = re.compile(r"sanduq-report add|ISO|\{\w+\}")
    latin = {k: v for k, v in TEXT["ru"].items() if re.search("[A-Za-z]", allowed.sub("", v))}
    assert latin == {}
    for key, english in TEXT["en"].items():
        assert re.findall(r"\{\w+\}", english) == re.findall(r"\{\w+\}", TEXT["ru"][key]), key


def test_the_html_report_opens_offline_with_its_charts(report, browser, tmp_path):
    build, _ = report
    html = build("ru") / "sanduq-report.html"
    text = html.read_text(encoding="utf-8")
    assert "<script" not in text and "http://evil" not in text  # the hyperlink search was at one school
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    asked = []
    context.route("**/*", lambda route: (asked.append(route.request.url), route.continue_()
                                         if route.request.url.startswith("file:") else route.abort()))
    page = context.new_page()
    page.goto(html.as_uri())
    assert [u for u in asked if not u.startswith("file:")] == []
    assert page.title() == TEXT["ru"]["title"]
    charts = {c: page.locator(f"svg[data-chart={c}] rect").count() for c in ("weeks", "schools", "items", "searches")}
    assert charts == {"weeks": 4, "schools": 3, "items": 2, "searches": 1}  # W45-W48, the silent W47 at 0
    assert page.locator("svg[data-chart=weeks] rect title").all_text_contents()[2] == "2026-W47: 0"
    assert page.locator("svg[data-chart=searches] text").first.text_content() == "муравей"
    # On a phone (an officer may open it on one) the charts and the table scroll, the page does not.
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    page.screenshot(path=str(tmp_path / "report-360.png"), full_page=True)
    context.close()


def test_a_box_whose_events_all_have_an_unbelievable_time_is_not_called_silent(make_box, tmp_path):
    lost = make_box("Боғчаи №9")
    lost.record(("1970-01-01T00:00:05.000000Z", "opened", "book-cat", None, "tg"))
    lost.export(tmp_path / "stick")
    db = str(tmp_path / "r.duckdb")
    assert main(["--db", db, "add", str(tmp_path / "stick")]) == 0
    assert main(["--db", db, "build", str(tmp_path / "out"), "--lang", "en", "--as-of", "2026-12-01"]) == 0
    book = openpyxl.load_workbook(tmp_path / "out" / "sanduq-report.xlsx")
    t = TEXT["en"]
    findings = {r[t["finding"]]: r for r in sheet(book, t["quality"])}
    assert findings[t["no_believable_time"]][t["school_or_box"]] == "Боғчаи №9"
    assert t["never_heard"] not in findings


def test_a_file_where_the_report_folder_should_be_is_one_sentence(report, tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    assert main(["--db", str(tmp_path / "r.duckdb"), "build", str(tmp_path / "taken")]) == 1
    assert main(["--db", str(tmp_path / "r.duckdb"), "export", str(tmp_path / "taken")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "Traceback" not in "".join(err)
    with pytest.raises(SystemExit) as exit:  # a threshold of one school would show what one family typed
        main(["--db", str(tmp_path / "r.duckdb"), "build", str(tmp_path / "out"), "--min-schools", "1"])
    assert exit.value.code == 2


def test_the_items_sheet_carries_the_titles_of_every_language_a_box_sent(tmp_path):
    import csv

    from tests.content_mirror.report.test_intake import row, write_usage

    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / "usage-2026-11.csv", [row(1)])
    with (folder / "summary.csv").open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(["device", "item", "title_tg", "title_ru", "title_en", "kind", "opened", "finished",
                      "last_opened", "saved", "title_ky", "title_uz", "title_sr", "title_cnr"])
        out.writerow(["sanduq-0000aaaa", "book-cat", "Гурбача", "Котёнок", "The kitten", "book", 1, 0, "", 0,
                      "Мышык", "Mushukcha", "Маче", "Mače"])
    db = str(tmp_path / "r.duckdb")
    assert main(["--db", db, "add", str(tmp_path / "stick")]) == 0
    assert main(["--db", db, "build", str(tmp_path / "out"), "--lang", "ru", "--as-of", "2026-12-01"]) == 0
    t = TEXT["ru"]
    items = sheet(openpyxl.load_workbook(tmp_path / "out" / "sanduq-report.xlsx"), t["items"])
    assert [(r[t["title_ky"]], r[t["title_uz"]], r[t["title_sr"]], r[t["title_cnr"]]) for r in items] == [
        ("Мышык", "Mushukcha", "Маче", "Mače")]
