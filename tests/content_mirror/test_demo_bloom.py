"""The demo's Bloom talking book: its folder, its .bloompub, its words and narration in Tajik and Russian."""

import json
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "content_mirror" / "demo"
FOLDER = DEMO / "bloom-yard-animals"
BLOOMPUB = DEMO / "source" / "media" / "books" / "yard-animals.bloompub"
PAGE_FILE = "yard-animals.htm"
LANGS = {"tg", "ru"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    content: list = field(default_factory=list)  # text and child Nodes, in document order

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    @property
    def children(self) -> list["Node"]:
        return [c for c in self.content if isinstance(c, Node)]

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def words(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else f" {c.words()} " for c in self.content).split())


class _Tree(HTMLParser):
    VOID = {"meta", "link", "img", "br", "hr", "input", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].content.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        while len(self.stack) > 1 and self.stack.pop().tag != tag:
            pass

    def handle_data(self, data):
        self.stack[-1].content.append(data)


@pytest.fixture(scope="module")
def zipped() -> dict[str, bytes]:
    with zipfile.ZipFile(BLOOMPUB) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


@pytest.fixture(scope="module")
def book() -> Node:
    tree = _Tree()
    tree.feed((FOLDER / PAGE_FILE).read_text(encoding="utf-8"))
    return tree.root


def pages(book: Node) -> list[Node]:
    return [n for n in book.iter() if "bloom-page" in n.classes]


def sentences(book: Node) -> dict[str, tuple[str, str]]:
    """id -> (lang, words) of every narrated sentence on the book's pages."""
    found = {}
    for page in pages(book):
        for editable in (n for n in page.iter() if "bloom-editable" in n.classes):
            for span in (n for n in editable.iter() if "audio-sentence" in n.classes):
                assert span.attrs["id"] not in found, f"sentence id {span.attrs['id']} is used twice"
                found[span.attrs["id"]] = (editable.attrs.get("lang"), span.words())
    return found


def test_the_committed_bloompub_is_the_book_folder(zipped):
    """make_media.sh bloom zips bloom-yard-animals/ as it is, plus the narration it speaks:
    an edit to the folder must not be left out of the book the boxes get."""
    folder = {p.name: p.read_bytes() for p in FOLDER.iterdir()}
    text_members = {name: data for name, data in zipped.items() if not name.startswith("audio/")}
    assert text_members == folder, "run content_mirror/demo/make_media.sh bloom"
    assert all(re.fullmatch(r"audio/[^/]+\.mp3", name) for name in set(zipped) - set(folder))
    with zipfile.ZipFile(BLOOMPUB) as z:  # made to give the same bytes on every run
        infos = z.infolist()
    assert [i.filename for i in infos] == sorted(zipped)
    assert {i.date_time for i in infos} == {(2026, 1, 1, 0, 0, 0)}
    assert BLOOMPUB.stat().st_size < 1_000_000


def test_every_sentence_has_its_narration_and_every_mp3_is_used(book, zipped):
    said = sentences(book)
    assert said and all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", sid) for sid in said), "ids start with a letter"
    assert {f"audio/{sid}.mp3" for sid in said} == {n for n in zipped if n.startswith("audio/")}
    assert {lang for lang, _ in said.values()} == LANGS
    for sid in said:
        header = zipped[f"audio/{sid}.mp3"][:4]
        # an MPEG-2 layer III frame (no ID3 tag first): 22.05 kHz, mono
        assert header[0] == 0xFF and header[1] & 0xFE == 0xF2, f"{sid}.mp3 is not MPEG-2 layer III"
        assert (header[2] >> 2) & 3 == 0 and header[3] >> 6 == 3, f"{sid}.mp3 is not 22.05 kHz mono"


def test_every_text_box_is_in_tajik_and_russian(book):
    groups = [g for p in pages(book) for g in p.iter() if "bloom-translationGroup" in g.classes]
    assert len(groups) >= 7  # title, cover credit, four story pages, back cover
    for group in groups:
        editables = [n for n in group.children if "bloom-editable" in n.classes]
        texts = {e.attrs["lang"]: e.words() for e in editables}
        assert set(texts) == LANGS and all(texts.values()), f"a text box has {texts}"
        narrated = {e.attrs["lang"]: [n for n in e.iter() if "audio-sentence" in n.classes] for e in editables}
        assert bool(narrated["tg"]) == bool(narrated["ru"]), "narrate both languages or neither"
    story = [p for p in pages(book) if "numberedPage" in p.classes]
    assert [p.attrs["data-page-number"] for p in story] == ["1", "2", "3", "4", "5"]  # 5: the quiz
    for page in story:
        langs = {lang for lang, _ in sentences(Node("page", {}, [page])).values()}
        assert langs == LANGS, f"page {page.attrs['data-page-number']} is not narrated in both languages"


def test_shaped_as_bloom_player_reads_it(book):
    """What bloom-player 2.1.19 relies on (checked playing it in Chromium)."""
    data = {n.attrs["data-book"]: n.words() for n in book.iter()
            if "data-book" in n.attrs and n.attrs.get("lang") == "*"}
    assert data["contentLanguage1"] == "tg"  # the language the book opens in, first in its menu
    links = [n for n in book.iter() if n.tag == "link"]
    assert links and all(link.attrs.get("type") == "text/css" for link in links)  # else not loaded
    for page in pages(book):
        assert "Device16x9Portrait" in page.classes  # the page size the player scales
    for group in (n for n in book.iter() if "bloom-translationGroup" in n.classes):
        assert group.attrs.get("data-default-languages") == "auto"  # one language shown at a time
        first = next(n for n in group.children if "bloom-editable" in n.classes)
        assert first.attrs["lang"] == "tg" and {"bloom-content1", "bloom-visibility-code-on"} <= set(first.classes)


def test_the_quiz_is_in_bloom_players_own_shape(book):
    """A comprehension quiz as Bloom makes it: bloom-player runs it by data-activity, takes the
    tick box as each choice's first child and knows the right one by its class."""
    quizzes = [p for p in pages(book) if "simple-comprehension-quiz" in p.classes]
    assert len(quizzes) == 1
    quiz = quizzes[0]
    assert quiz.attrs["data-activity"] == "simple-checkbox-quiz" and "numberedPage" in quiz.classes
    choices = [n for n in quiz.iter() if "checkbox-and-textbox-choice" in n.classes]
    assert len(choices) == 3 and sum("correct-answer" in c.classes for c in choices) == 1
    for choice in choices:
        box = choice.children[0]
        assert (box.tag, box.attrs.get("type")) == ("input", "checkbox")


def test_meta_json_names_the_book_and_its_licence(book):
    meta = json.loads((FOLDER / "meta.json").read_text(encoding="utf-8"))
    titles = json.loads(meta["allTitles"])  # Bloom writes JSON inside a string
    cover = {n.attrs["lang"]: n.words() for n in book.iter()
             if n.attrs.get("data-book") == "bookTitle" and "bloom-editable" in n.classes}
    assert titles == cover and set(titles) == LANGS
    assert meta["title"] == titles["tg"]
    assert meta["license"] == "cc-by" and meta["copyright"] == "© 2026 Sanduq project"
    assert {"talkingBook", "talkingBook:tg", "talkingBook:ru", "quiz"} <= set(meta["features"])
    assert meta["bloomdVersion"] >= 1  # so bloom-player trusts `features`
    assert "topic:Animal Stories" in meta["tags"]
    assert meta["pageCount"] == len([p for p in pages(book) if "numberedPage" in p.classes])


def test_pictures_are_plain_drawings():
    """Shapes only: nothing that runs or loads, small."""
    svgs = sorted(FOLDER.glob("*.svg"))
    assert len(svgs) == 5
    for path in svgs:
        assert path.stat().st_size < 8_000, f"{path.name} is large"
        root = ET.parse(path).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox"), path.name
        for element in root.iter():
            assert element.tag.rpartition("}")[2] not in {"script", "foreignObject", "image", "use", "style"}
            assert not any(name.endswith("href") or name.startswith("on") for name in element.attrib), path.name


def test_the_library_reader_accepts_it():
    from content_mirror.bloom import check_bloompub

    found = check_bloompub(BLOOMPUB, BLOOMPUB.name)
    assert found.page_file == PAGE_FILE and found.talking
    assert set(found.titles) == LANGS and set(found.languages) == LANGS
    assert found.credits["licence"] == "CC-BY-4.0"


def test_the_books_poster_in_the_library_is_its_cover():
    """items.csv's poster is a copy of the book's cover: an edit to one must reach the other."""
    demo = Path(__file__).resolve().parents[2] / "content_mirror" / "demo"
    assert (demo / "source" / "media" / "books" / "yard-animals.svg").read_bytes() == \
        (demo / "bloom-yard-animals" / "cover.svg").read_bytes()
