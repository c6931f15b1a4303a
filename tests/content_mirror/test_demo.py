"""The demo library: every kind, in Tajik, Russian and English, for all three audiences."""

import hashlib
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from content_mirror.authoring import read_source
from content_mirror.demo import SOURCE, install_demo
from content_mirror.manifest import AUDIENCES, KINDS


@pytest.fixture(scope="module")
def demo():
    return read_source(SOURCE)


def test_every_kind_in_three_languages_for_every_audience(demo):
    items = demo.manifest["items"]
    for kind in KINDS:
        of_kind = [i for i in items if i["kind"] == kind]
        assert of_kind, f"the demo has no {kind}"
        titled = set().union(*(i["title"] for i in of_kind))
        assert {"tg", "ru", "en"} <= titled, f"{kind} titles miss a language"
    for audience in AUDIENCES:
        assert any(audience in i["audiences"] for i in items)
    for language in ("tg", "ru", "en"):
        assert any(language in i.get("languages", []) for i in items)


def test_media_are_small_and_complete(demo):
    files = demo.manifest["files"]
    assert sum(f["size"] for f in files.values()) < 6_000_000
    items = {i["id"]: i for i in demo.manifest["items"]}
    for item in items.values():
        roles = [f["role"] for f in item.get("files", [])]
        if item["kind"] == "video":
            assert "poster" in roles and roles.count("subtitles") >= 3
            assert {files[f["sha256"]]["mime"] for f in item["files"] if f["role"] == "main"} == {"video/mp4"}
        if item["kind"] == "book" and "player" in roles:  # the Bloom talking book: bloom-player plays it
            assert roles.count("main") == 1 and "poster" in roles and {"tg", "ru"} <= set(item["text"])
        elif item["kind"] == "book":
            assert roles.count("picture") == len(item["pages"]) and "narration" in roles
            assert all({"tg", "ru", "en"} <= set(p["text"]) for p in item["pages"])
        if item["kind"] == "game":
            main = next(f for f in item["files"] if f["role"] == "main")
            with zipfile.ZipFile(demo.paths[main["sha256"]]) as z:
                assert "index.html" in z.namelist()


def test_the_committed_game_zip_is_the_game_folder():
    """The demo installs media/games/counting.zip, made from game-counting/ by make_media.sh:
    an edit to the folder must not be left out of the zip the boxes get."""
    demo_dir = Path(__file__).resolve().parents[2] / "content_mirror" / "demo"
    folder = {p.name: p.read_bytes() for p in (demo_dir / "game-counting").iterdir()}
    with zipfile.ZipFile(demo_dir / "source" / "media" / "games" / "counting.zip") as z:
        zipped = {name: z.read(name) for name in z.namelist()}
    assert zipped == folder, "run content_mirror/demo/make_media.sh game"


def test_every_childrens_item_has_a_picture_of_its_own(library):
    """A child who cannot read picks a card by its picture: each one needs its own."""
    from server.catalog import Filters

    install_demo(library)
    items = library.catalog.items(Filters(), limit=500, order="id").items
    owner: dict[str, str] = {}
    for item in (i for i in items if "children" in i["audiences"]):
        posters = [f for f in item["files"] if f["role"] == "poster"]
        assert posters, f"{item['id']} is for children but has no picture (items.csv column poster)"
        sha = hashlib.sha256(library.store.path(posters[0]["sha256"]).read_bytes()).hexdigest()
        assert sha == posters[0]["sha256"]
        assert sha not in owner, f"{item['id']} shows the same picture as {owner.get(sha)}"
        owner[sha] = item["id"]
    assert len(owner) >= 10


def test_svg_posters_are_plain_drawings(demo):
    """No words to translate, nothing that runs or loads: shapes only, and small."""
    for item in demo.manifest["items"]:
        for f in item.get("files", []):
            if f["role"] != "poster" or demo.manifest["files"][f["sha256"]]["mime"] != "image/svg+xml":
                continue
            path = demo.paths[f["sha256"]]
            assert path.stat().st_size < 8_000, f"{path.name} is large for a poster"
            root = ET.parse(path).getroot()
            assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox"), path
            for element in root.iter():
                tag = element.tag.rpartition("}")[2]
                assert tag not in {"script", "foreignObject", "text", "image", "style", "use"}, f"{path}: <{tag}>"
                for name, value in element.attrib.items():
                    assert not name.endswith("href") and not name.startswith("on"), f"{path}: {name}"
                    assert "url(" not in value, f"{path}: {name}={value}"


def test_demo_installed_and_every_file_served_with_its_hash(library, serve):
    result = install_demo(library)
    assert result.status == "installed"
    live = serve(library)
    status, body = live.json("/api/items?limit=200")
    assert status == 200 and body["total"] == result.items
    checked = 0
    for item in body["items"]:
        for f in item["files"]:
            status, headers, data = live.get(f["url"])
            assert status == 200 and hashlib.sha256(data).hexdigest() == f["sha256"] == headers["ETag"].strip('"')
            assert len(data) == f["size"]
            checked += 1
    assert checked >= len(read_source(SOURCE).manifest["files"])


@pytest.mark.parametrize("query,language", [("ҳисоб", "tg"), ("счёт", "ru"), ("count", "en")])
def test_demo_search_in_three_languages(library, query, language):
    from server.catalog import Filters

    install_demo(library)
    found = library.catalog.search(query, Filters(), limit=5).items
    assert found, f"nothing found for {query!r}"


def test_demo_source_command_writes_the_same_folder(tmp_path, demo):
    target = tmp_path / "demo"
    run = [sys.executable, "-m", "content_mirror", "demo-source", str(target)]
    assert subprocess.run(run, capture_output=True, timeout=60).returncode == 0
    assert read_source(target).manifest == demo.manifest
    again = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "already holds an authoring folder" in again.stderr
    check = subprocess.run([sys.executable, "-m", "content_mirror", "check", str(target)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "no problems found" in check.stdout


def test_check_command_lists_faults(tmp_path):
    (tmp_path / "items.csv").write_text("id,kind,audiences,title_en\nBad Id,tip,parents,x\n")
    result = subprocess.run([sys.executable, "-m", "content_mirror", "check", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "items.csv row 2, column id: 'Bad Id' must be lowercase" in result.stderr
    assert "Traceback" not in result.stderr
