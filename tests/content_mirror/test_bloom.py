"""BloomPub books: what is read from them, and the hostile forms refused with a sentence."""

import io
import json
import stat
import zipfile
from pathlib import Path

import pytest

from content_mirror.authoring import read_source
from content_mirror.bloom import check_bloompub
from server.errors import InvalidSource

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "bloom"
PAGE = """<html><head><meta charset="utf-8"></head><body>
<div id="bloomDataDiv"><div data-book="bookTitle" lang="tg">Се гурба</div></div>
<div class="bloom-page cover frontCover"><div class="bloom-editable" lang="tg">Се гурба</div></div>
<div class="bloom-page numberedPage"><div class="bloom-translationGroup">
  <div class="bloom-editable bloom-content1" lang="tg"><p><span class="audio-sentence" id="i1">Гурбаи якум хоб аст.</span></p></div>
  <div class="bloom-editable bloom-content2" lang="ru"><p><span class="audio-sentence" id="i2">Первый котёнок спит.</span></p></div>
  <div class="bloom-editable" lang="z"><p>placeholder</p></div>
</div></div>
</body></html>"""
META = {"title": "Se gurba", "allTitles": json.dumps({"tg": "Се гурба", "ru": "Три котёнка", "*": "x"}),
        "license": "cc-by", "copyright": "Copyright © 2026, Sanduq", "credits": "Матн: <b>Сино</b>",
        "tags": ["topic:Animal Stories", "level:1"], "features": ["talkingBook"], "summary": "Қисса"}


def bloompub(path: Path, extra: dict[str, bytes] | None = None, *, page: str = PAGE, meta=META) -> Path:
    members = {"three-cats.htm": page.encode(), "meta.json": json.dumps(meta).encode(),
               "thumbnail.png": b"\x89PNG\r\n\x1a\n" + bytes(64), "audio/i1.mp3": b"ID3" + bytes(64)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in {**members, **(extra or {})}.items():
            z.writestr(name, data)
    return path


def test_a_book_gives_its_titles_languages_words_and_credits(tmp_path):
    book = check_bloompub(bloompub(tmp_path / "b.bloompub"), "b.bloompub")
    assert book.page_file == "three-cats.htm"
    assert book.titles == {"tg": "Се гурба", "ru": "Три котёнка"}
    assert set(book.languages) == {"tg", "ru"}  # not Bloom's placeholder "z"
    assert "Гурбаи якум хоб аст." in book.text["tg"] and "Первый котёнок спит." in book.text["ru"]
    assert "placeholder" not in " ".join(book.text.values())
    assert book.credits == {"licence": "CC-BY-4.0", "copyright": "Copyright © 2026, Sanduq", "author": "Матн: Сино"}
    assert book.subjects == ["science"] and book.talking and book.thumbnail == "thumbnail.png"


@pytest.mark.parametrize("extra, words", [
    ({"../evil.htm": b"x"}, "leaves the book"),
    ({"pictures/run.exe": b"MZ"}, "is a program"),
    ({"pictures/page.html": b"<script>"}, "web page or script outside"),
    ({"cat.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'}, "holds a script"),
    ({"dog.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>'}, "holds a script"),
    ({"two.htm": b"<html></html>"}, "one .htm page file"),
    # The forms a simpler check let through (the judgment is now every package's, gamezip.markup_fault).
    ({"a.svg": b'<svg/onload=alert(1)>'}, "holds a script"),
    ({"b.svg": b'<svg><a xlink:href="jav&#x61;script:alert(1)">x</a></svg>'}, "holds a script"),
    ({"c.svg": b'<svg><svg:script>alert(1)</svg:script></svg>'}, "holds a script"),
    ({"d.svg": b'<svg><style>@import url(http://example.org/x.css)</style></svg>'}, "refers to something outside the book"),
    ({"e.svg": b'<svg><style>@import "http://example.org/x.css";</style></svg>'}, "refers to something outside the book"),
    ({"meta.json": b"{not json"}, "meta.json is not valid JSON"),
])
def test_hostile_books_are_refused_naming_the_file(tmp_path, extra, words):
    path = tmp_path / "b.bloompub"
    bloompub(path, extra) if "meta.json" not in extra else _with_meta(path, extra["meta.json"])
    with pytest.raises(InvalidSource, match=words) as refused:
        check_bloompub(path, "b.bloompub")
    assert "b.bloompub" in refused.value.message


def _with_meta(path: Path, meta: bytes) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("three-cats.htm", PAGE)
        z.writestr("meta.json", meta)


def test_a_symlink_a_zip_bomb_and_not_a_zip_are_refused(tmp_path):
    link = tmp_path / "link.bloompub"
    with zipfile.ZipFile(link, "w") as z:
        z.writestr("three-cats.htm", PAGE)
        info = zipfile.ZipInfo("audio/i1.mp3")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/passwd")
    with pytest.raises(InvalidSource, match="symbolic link"):
        check_bloompub(link, "link.bloompub")
    bomb = tmp_path / "bomb.bloompub"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("three-cats.htm", PAGE)
        z.writestr("video/big.mp4", bytes(70 * 1024 * 1024))
    with pytest.raises(InvalidSource, match="zip bomb"):
        check_bloompub(bomb, "bomb.bloompub")
    junk = tmp_path / "junk.bloompub"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(InvalidSource, match="not a zip"):
        check_bloompub(junk, "junk.bloompub")


def test_the_authoring_reader_refuses_a_bad_book_with_its_row_and_column(tmp_path):
    (tmp_path / "media").mkdir()
    bloompub(tmp_path / "media" / "bad.bloompub", {"run.exe": b"MZ"})
    (tmp_path / "items.csv").write_text("id,kind,audiences,title_tg,file\nbook-bad,book,children,Бад,media/bad.bloompub\n",
                                        encoding="utf-8")
    with pytest.raises(InvalidSource) as refused:
        read_source(tmp_path)
    assert "items.csv row 2, column file: book bad.bloompub: file 'run.exe' is a program" in refused.value.message
    assert "has no pages" not in refused.value.message  # a BloomPub is the whole book


@pytest.mark.parametrize("name", ["sign-language-with-talking-book.bloompub", "multibook-target1.bloompub"])
def test_the_real_bloom_samples_are_read(name):
    if not (SAMPLES / name).is_file():
        pytest.skip(f"the shared samples are not here ({SAMPLES})")
    book = check_bloompub(SAMPLES / name, name)
    assert book.page_file.endswith(".htm") and book.titles and book.languages == ["en"]
    assert book.text["en"]
    assert book.talking == (name.startswith("sign-language"))


def test_the_books_first_language_comes_first_even_with_fewer_words(tmp_path):
    page = PAGE.replace('<div data-book="bookTitle" lang="tg">Се гурба</div>',
                        '<div data-book="contentLanguage1" lang="*">tg</div>').replace(
        "Первый котёнок спит.", "Первый котёнок спит долго-долго, до самого вечера, на тёплой печке.")
    book = check_bloompub(bloompub(tmp_path / "b.bloompub", page=page), "b.bloompub")
    assert book.languages == ["tg", "ru"]


def test_a_small_member_packed_like_a_bomb_and_an_encrypted_one_are_refused(tmp_path):
    bomb = tmp_path / "ratio.bloompub"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("three-cats.htm", PAGE)
        z.writestr("audio/i1.mp3", bytes(10 * 1024 * 1024))  # 10 MB of zeros pack 1000 to 1: under 64 MB
    with pytest.raises(InvalidSource, match="zip bomb"):
        check_bloompub(bomb, "ratio.bloompub")
    locked = bloompub(tmp_path / "locked.bloompub")
    data = bytearray(locked.read_bytes())
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # mark every member encrypted
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + at] |= 1
            start += 4
    locked.write_bytes(bytes(data))
    with pytest.raises(InvalidSource, match="damaged or encrypted"):
        check_bloompub(locked, "locked.bloompub")
