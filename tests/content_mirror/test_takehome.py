"""Take-home files made at build time (content_mirror/takehome.py), with the real ffmpeg,
rsvg-convert and tesseract: a book as a video, an activity or a tip as a card."""

import re
import subprocess
from pathlib import Path

import pytest

from content_mirror import takehome
from content_mirror.authoring import read_source
from content_mirror.video import index_first, probe
from tests.helpers import need_tool

pytestmark = pytest.mark.slow
COLOURS = {"red": (230, 40, 40), "green": (40, 200, 60), "blue": (40, 80, 230)}
ITEMS = """id,kind,languages,audiences,title_tg,title_ru,text_tg,text_ru,steps_tg,steps_ru,materials_ru,licence,author,file_tg
book-colours,book,tg ru,children,Рангҳо,Цвета,,,,,,CC-BY-4.0,Мадина,
tip-water,tip,tg ru,parents,Оби тоза нӯшед,Пейте чистую воду,Ба кӯдак ҳар рӯз оби ҷӯшонидашуда диҳед.,Давайте ребёнку кипячёную воду каждый день.,,,,,,
act-blocks,activity,ru,children,,Башня из кубиков,,,,"Поставьте кубик
Поставьте второй сверху",Кубики,,,
doc-plan,document,tg,educators,Нақшаи дарс,,,,,,,CC-BY-4.0,Шӯъбаи маориф,media/plan.tg.md
"""
PLAN = """# Нақшаи дарс

**Синну сол:** 4–5 сола  
**Давомнокӣ:** 25 дақиқа

## Мақсадҳо

1. Кӯдакон то панҷ мешуморанд.
2. Рақамҳоро бо ашёҳо мувофиқ мекунанд.

""" + "\n\n".join(f"Сархати {n}: бозӣ бо рақамҳо ва ашёҳои хурд дар гурӯҳҳои хурд." for n in range(60))
PAGES = """book,page,picture,text_tg,text_ru,narration_ru
book-colours,1,media/red.svg,Ин сурх аст.,Это красный.,media/one.mp3
book-colours,2,media/green.svg,Ин сабз аст.,Это зелёный.,media/two.mp3
book-colours,3,media/blue.svg,Ин кабуд аст.,А это синий цвет неба.,
"""


def tone(path: Path, seconds: float, hz: int) -> Path:
    subprocess.run([need_tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency={hz}:duration={seconds}", "-ac", "1", "-ar", "22050", str(path)],
                   check=True, capture_output=True)
    return path


@pytest.fixture
def source(tmp_path):
    need_tool("rsvg-convert")
    folder = tmp_path / "source"
    (folder / "media").mkdir(parents=True)
    for name, (r, g, b) in COLOURS.items():
        (folder / "media" / f"{name}.svg").write_text(
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 30"><rect width="40" height="30" '
            f'fill="rgb({r},{g},{b})"/></svg>')
    tone(folder / "media" / "one.mp3", 1.3, 440)
    tone(folder / "media" / "two.mp3", 2.1, 660)
    (folder / "media" / "plan.tg.md").write_text(PLAN, encoding="utf-8")
    (folder / "items.csv").write_text(ITEMS, encoding="utf-8")
    (folder / "pages.csv").write_text(PAGES, encoding="utf-8")
    return folder


def kept(source_read, item_id: str) -> dict[str, Path]:
    """The take-home files of ITEM_ID by language."""
    item = next(i for i in source_read.manifest["items"] if i["id"] == item_id)
    return {ref["lang"]: source_read.paths[ref["sha256"]] for ref in item.get("files", []) if ref["role"] == "takehome"}


def frame_colour(video: Path, at: float) -> tuple[int, int, int]:
    """The colour in the middle of the picture area of the frame shown AT seconds."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1",
                          "-vf", "crop=40:40:407:150", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    pixels = len(out) // 3
    return tuple(sum(out[c::3]) // pixels for c in range(3))


def test_a_book_becomes_a_video_per_language_each_page_as_long_as_its_narration(source):
    made = []
    read = takehome.add_takehome(read_source(source), source, report=made.append)
    videos = kept(read, "book-colours")
    assert set(videos) == {"tg", "ru"} and len(made) == 2 + 2 + 1 + 1  # two videos, three cards, a PDF
    ru = videos["ru"]
    narrations = [probe(source / "media" / name).seconds for name in ("one.mp3", "two.mp3")]
    reading = takehome.READING[0] + takehome.READING[1] * 5  # page 3 has five words, no voice
    found = probe(ru)
    assert found.seconds == pytest.approx(sum(narrations) + reading, abs=0.1)
    assert (found.video, found.audio, found.height, found.index_first) == ("h264", "aac", 480, True)
    assert index_first(ru) and ru.stat().st_size < 5_000_000 * 3 / 10  # under 5 MB for 10 pages
    # Each page's picture is on screen while its narration plays, in the book's order.
    starts = [0, narrations[0], sum(narrations)]
    lengths = [*narrations, reading]
    for (name, rgb), start, length in zip(COLOURS.items(), starts, lengths):
        seen = frame_colour(ru, start + length / 2)
        assert all(abs(a - b) < 30 for a, b in zip(seen, rgb)), f"page {name} shows {seen}"
    assert probe(videos["tg"]).seconds == pytest.approx(sum(takehome.page_seconds(w, []) for w in
                                                            ("Ин сурх аст.", "Ин сабз аст.", "Ин кабуд аст.")), abs=0.1)


def ocr(picture: Path, lang: str) -> str:
    out = subprocess.run([need_tool("tesseract"), str(picture), "-", "-l", lang], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def test_a_tip_and_an_activity_become_readable_cards_in_their_languages(source):
    read = takehome.add_takehome(read_source(source), source, report=lambda _: None)
    tip, activity = kept(read, "tip-water"), kept(read, "act-blocks")
    assert set(tip) == {"tg", "ru"} and set(activity) == {"ru"}  # only the languages they are in
    for path in (*tip.values(), *activity.values()):
        assert path.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
        width = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=width", "-of", "csv=p=0",
                                str(path)], capture_output=True, check=True).stdout.strip()
        assert width == b"1080"
    assert "Оби тоза нӯшед" in ocr(tip["tg"], "tgk") and "кипячёную воду" in ocr(tip["ru"], "rus")
    words = ocr(activity["ru"], "rus")
    assert "Башня из кубиков" in words and "Понадобится" in words and "Как делать" in words  # the site's words
    assert "2. Поставьте второй сверху" in words


def test_a_document_becomes_an_a4_pdf_whose_words_are_words(source):
    read = takehome.add_takehome(read_source(source), source, report=lambda _: None)
    pdf = kept(read, "doc-plan")["tg"]
    info = subprocess.run([need_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info and int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 2  # a long plan runs on
    words = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    lines = [" ".join(line.split()) for line in words.splitlines() if line.strip()]
    assert lines[:3] == ["Нақшаи дарс", "Синну сол: 4–5 сола", "Давомнокӣ: 25 дақиқа"]  # its own h1 not twice
    assert "1. Кӯдакон то панҷ мешуморанд." in lines and "Сархати 59: бозӣ бо рақамҳо ва ашёҳои хурд дар" in words
    assert "Шӯъбаи маориф · CC-BY-4.0" in words and re.search(r"\b1 ?/ ?[23]\b", words)  # numbered pages


def test_a_document_with_its_own_pdf_gets_none_made(source):
    (source / "media" / "plan.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    sheet = source / "items.csv"
    sheet.write_text(sheet.read_text(encoding="utf-8").replace("media/plan.tg.md", "media/plan.pdf"), encoding="utf-8")
    read = takehome.add_takehome(read_source(source), source, report=lambda _: None)
    assert kept(read, "doc-plan") == {}  # the box offers the print file itself


def test_what_is_made_is_kept_and_an_edit_makes_it_again(source):
    takehome.add_takehome(read_source(source), source, report=lambda _: None)
    again = []
    first = kept(takehome.add_takehome(read_source(source), source, report=again.append), "tip-water")
    assert again == []  # nothing drawn twice
    sheet = source / "items.csv"
    sheet.write_text(sheet.read_text(encoding="utf-8").replace("Пейте чистую", "Пейте только чистую"),
                     encoding="utf-8")
    second = kept(takehome.add_takehome(read_source(source), source, report=again.append), "tip-water")
    assert again == ["tip-water: take-home JPG in ru made"]
    assert second["tg"] == first["tg"] and second["ru"] != first["ru"] and not first["ru"].exists()


def test_without_making_only_what_is_made_is_taken(source):
    read = takehome.add_takehome(read_source(source), source, make=False, report=lambda _: None)
    assert all(not kept(read, i) for i in ("book-colours", "tip-water", "act-blocks", "doc-plan"))


def test_a_narration_that_is_no_sound_is_named_and_leaves_nothing_half_made(source):
    (source / "media" / "two.mp3").write_bytes(b"ID3" + bytes(300))
    said = []
    read = takehome.add_takehome(read_source(source), source, report=said.append)
    assert set(kept(read, "book-colours")) == {"tg"}  # the book still ships; its Russian video waits
    assert any(line.startswith("book-colours: no take-home file in ru:") and "two.mp3" in line for line in said)
    cache = source / takehome.CACHE
    assert not list(cache.glob("book-colours.ru.*")) and not list(cache.glob("takehome-*"))  # whole or nothing
    assert [p.name for p in cache.glob("book-colours.tg.*.mp4")]  # what was made before stays: the next build resumes


def test_the_demos_take_home_files_are_made_and_none_is_left_over():
    """make_media.sh takehome draws them; a demo edit that is not redrawn fails here."""
    from content_mirror.demo import SOURCE, TAKEHOME

    read = takehome.add_takehome(read_source(SOURCE), SOURCE, make=False, cache=TAKEHOME)
    used = set()
    for item in read.manifest["items"]:
        files = kept(read, item["id"])
        if item["kind"] in ("activity", "tip", "book", "document"):  # the demo's documents have no PDF
            assert set(files) == set(item["languages"]), f"run make_media.sh takehome ({item['id']})"
        used |= {p.name for p in files.values()}
    assert {p.name for p in TAKEHOME.iterdir()} == used


def test_a_build_carries_them_and_a_box_gives_them_under_their_titles(source, tmp_path, serve):
    import http.client
    from urllib.parse import unquote, urlsplit

    from content_mirror import minisign
    from content_mirror.bundle import build, open_payload, read_bundle
    from server.importer import install
    from server.library import Library

    minisign.keygen(tmp_path / "keys")
    result = build(source, tmp_path / "stick", tmp_path / "keys" / "sanduq.key", takehome=True,
                   report=lambda _: None)
    manifest = read_bundle(result.folder, [minisign.read_public_key(tmp_path / "keys" / "sanduq.pub")])
    roles = {(i["id"], r["lang"]) for i in manifest["items"] for r in i.get("files", []) if r["role"] == "takehome"}
    assert roles == {("book-colours", "tg"), ("book-colours", "ru"), ("tip-water", "tg"), ("tip-water", "ru"),
                     ("act-blocks", "ru"), ("doc-plan", "tg")}
    library = Library(tmp_path / "box")
    install(library, manifest, lambda sha: open_payload(result.folder, sha))
    live = serve(library)
    connection = http.client.HTTPConnection(urlsplit(live.url).netloc, timeout=10)
    connection.request("GET", "/save/book-colours/ru")
    answer = connection.getresponse()
    assert answer.status == 303 and unquote(answer.headers["Location"]).endswith("/Цвета.mp4")
    connection.close()


def rgb(picture: Path, at: float | None = None) -> bytes:
    """A picture, or a video's frame AT seconds, as 854x480 RGB bytes."""
    seek = ["-ss", f"{at:.3f}"] if at is not None else []
    return subprocess.run(["ffmpeg", "-v", "error", *seek, "-i", str(picture), "-frames:v", "1", "-s", "854x480",
                           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout


def distance(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a[::97], b[::97])) / len(a[::97])


def test_a_bloom_talking_book_becomes_a_video_of_its_story_pages_read_sentence_by_sentence(tmp_path):
    """The demo's own Bloom book: each story page as long as its sentences' recordings together,
    showing that page (the frame is nearest the page drawn alone); the quiz is left out."""
    import shutil
    import zipfile

    from content_mirror.bloom import page_files, story_pages
    from content_mirror.demo import SOURCE

    need_tool("rsvg-convert")
    folder = tmp_path / "source"
    (folder / "media").mkdir(parents=True)
    book = SOURCE / "media" / "books" / "yard-animals.bloompub"
    shutil.copy(book, folder / "media" / "yard.bloompub")
    (folder / "items.csv").write_text("id,kind,languages,audiences,title_tg,title_ru,file\n"
                                      "book-yard,book,tg ru,children,Ҳавлӣ,Двор,media/yard.bloompub\n", encoding="utf-8")
    read = takehome.add_takehome(read_source(folder), folder, report=lambda _: None)
    videos = kept(read, "book-yard")
    assert set(videos) == {"tg", "ru"}
    with zipfile.ZipFile(book) as z:
        pages = story_pages(z.read(page_files(z.namelist())[0]).decode())
        scratch = tmp_path / "alone"
        scratch.mkdir()
        lengths, drawn = [], []
        for n, page in enumerate(pages):
            voices = []
            for sid in page.sentences["tg"]:
                (scratch / f"{sid}.mp3").write_bytes(z.read(f"audio/{sid}.mp3"))
                voices.append(scratch / f"{sid}.mp3")
            lengths.append(takehome.page_seconds(page.words["tg"], voices))
            (scratch / page.picture).write_bytes(z.read(page.picture))
            drawn.append(rgb(takehome._rasterise(takehome.page_svg(scratch / page.picture, "image/svg+xml",
                                                                   page.words["tg"]), scratch, f"p{n}", 854, 480)))
    assert len(pages) == 4 and all(len(p.sentences["tg"]) >= 2 for p in pages)  # the quiz page is not a story page
    assert probe(videos["tg"]).seconds == pytest.approx(sum(lengths), abs=0.1)
    start = 0.0
    for n, length in enumerate(lengths):
        frame = rgb(videos["tg"], start + length / 2)
        nearest = min(range(len(drawn)), key=lambda k: distance(frame, drawn[k]))
        assert nearest == n, f"at page {n + 1} the video shows page {nearest + 1}"
        start += length


@pytest.mark.skipif(not (Path(__file__).resolve().parents[3] / "shared" / "samples").is_dir(),
                    reason="the shared samples are not here")
def test_a_real_bloom_book_from_bloom_library_becomes_a_video(tmp_path):
    import shutil

    folder = tmp_path / "source"
    (folder / "media").mkdir(parents=True)
    samples = Path(__file__).resolve().parents[3] / "shared" / "samples" / "bloom"
    shutil.copy(samples / "sign-language-with-talking-book.bloompub", folder / "media" / "talking.bloompub")
    (folder / "items.csv").write_text("id,kind,languages,audiences,title_en,file\n"
                                      "book-talking,book,en,children,Talking book,media/talking.bloompub\n",
                                      encoding="utf-8")
    read = takehome.add_takehome(read_source(folder), folder, report=lambda _: None)
    found = probe(kept(read, "book-talking")["en"])
    assert found.video == "h264" and found.audio == "aac" and found.seconds > 1


def test_a_pdf_storybook_brought_in_by_import_pdf_goes_home_as_a_video_too(tmp_path):
    from content_mirror.pdfbook import import_pdf
    from tests.content_mirror.test_pdfbook import PAGES, storybook

    need_tool("pdftoppm")
    folder = tmp_path / "source"
    import_pdf(storybook(tmp_path / "cat.pdf"), folder, book_id="book-cat", lang="tg", title="Гурбача")
    read = takehome.add_takehome(read_source(folder), folder, report=lambda _: None)
    video = kept(read, "book-cat")["tg"]
    words = [" ".join(text.split()) for text, _ in PAGES]
    assert probe(video).seconds == pytest.approx(sum(takehome.page_seconds(w, []) for w in words), abs=0.1)
    # The first page's picture (its pale yellow, beside the red sun) is on screen first.
    frame = rgb(video, 1.0)
    r, g, b = frame[(40 * 854 + 240) * 3:(40 * 854 + 240) * 3 + 3]
    assert r > 200 and g > 190 and b < 190, (r, g, b)


def bloom_with(tmp_path, replace: dict[str, bytes]) -> Path:
    """An authoring folder of the demo's Bloom book with some members of its zip replaced."""
    import zipfile

    from content_mirror.demo import SOURCE

    folder = tmp_path / "source"
    (folder / "media").mkdir(parents=True)
    with zipfile.ZipFile(SOURCE / "media" / "books" / "yard-animals.bloompub") as src, \
            zipfile.ZipFile(folder / "media" / "yard.bloompub", "w") as dst:
        for info in src.infolist():
            dst.writestr(info, replace.get(info.filename, src.read(info)))
    (folder / "items.csv").write_text("id,kind,languages,audiences,title_tg,title_ru,file\n"
                                      "book-yard,book,tg ru,children,Ҳавлӣ,Двор,media/yard.bloompub\n", encoding="utf-8")
    return folder


def test_a_recording_that_is_really_a_playlist_cannot_pull_other_files_into_the_video(tmp_path):
    """ffmpeg goes by a file's bytes: an "mp3" that is an HLS playlist naming a file elsewhere on
    the content team's machine must not be read as one (found in review; each recording is read
    as the format its name says)."""
    import zipfile

    from content_mirror.bloom import page_files, story_pages
    from content_mirror.demo import SOURCE

    need_tool("rsvg-convert")
    secret = tone(tmp_path / "secret.mp3", 3.0, 1500)
    with zipfile.ZipFile(SOURCE / "media" / "books" / "yard-animals.bloompub") as z:
        first = story_pages(z.read(page_files(z.namelist())[0]).decode())[0].sentences["tg"][0]
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3.0,\n{secret}\n#EXT-X-ENDLIST\n".encode()
    folder = bloom_with(tmp_path, {f"audio/{first}.mp3": playlist})
    said = []
    read = takehome.add_takehome(read_source(folder), folder, report=said.append)
    assert "tg" not in kept(read, "book-yard")  # not made, and said so
    assert any(line.startswith("book-yard: no take-home file in tg:") for line in said)
    assert "ru" in kept(read, "book-yard")  # the other language is not touched


def test_a_bloom_page_with_self_closed_tags_keeps_its_words_and_narration():
    from content_mirror.bloom import story_pages

    page = ('<div class="bloom-page numberedPage"><img src="cat.png" alt="" />'
            '<div class="bloom-editable" lang="tg"><p><span class="audio-sentence" id="s1">Як.<br />Ду.</span> '
            '<span class="audio-sentence" id="s2">Се.</span></p></div></div>')
    (found,) = story_pages(page)
    assert found.picture == "cat.png" and found.words == {"tg": "Як. Ду. Се."}
    assert found.sentences == {"tg": ["s1", "s2"]}


def test_a_photograph_too_large_for_an_svg_is_made_frame_sized_first(tmp_path):
    big = tmp_path / "big.jpg"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "nullsrc=s=3600x3000,geq=random(1)*255:128:128",
                    "-frames:v", "1", "-q:v", "1", str(big)], check=True, capture_output=True)
    assert big.stat().st_size > 7_500_000  # a data URI of it passes libxml2's 10 MB attribute limit
    out, scratch = tmp_path / "out.mp4", tmp_path / "scratch"
    scratch.mkdir()
    takehome.book_video([(big, "image/jpeg", "Расм.", [])], out, scratch)
    assert probe(out).video == "h264"


def test_a_caller_that_reads_again_and_again_has_each_file_hashed_once(source, monkeypatch):
    """The preview rebuilds at every save: the take-home files it takes are hashed once, as
    read_source hashes the folder's own files once."""
    takehome.add_takehome(read_source(source), source, report=lambda _: None)
    hashed, calls = {}, []
    real = takehome.sha256_file
    monkeypatch.setattr(takehome, "sha256_file", lambda path: calls.append(path) or real(path))
    first = takehome.add_takehome(read_source(source), source, make=False, report=lambda _: None, hashed=hashed)
    count = len(calls)
    second = takehome.add_takehome(read_source(source), source, make=False, report=lambda _: None, hashed=hashed)
    assert count == 6 and len(calls) == count  # six files, hashed the first time only
    assert first.manifest["files"] == second.manifest["files"]
