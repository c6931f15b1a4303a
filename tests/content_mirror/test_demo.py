"""The demo library: every kind, in Tajik, Russian and English, for all three audiences."""

import hashlib
import subprocess
import sys
import zipfile

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
        if item["kind"] == "book":
            assert roles.count("picture") == len(item["pages"]) and "narration" in roles
            assert all({"tg", "ru", "en"} <= set(p["text"]) for p in item["pages"])
        if item["kind"] == "game":
            main = next(f for f in item["files"] if f["role"] == "main")
            with zipfile.ZipFile(demo.paths[main["sha256"]]) as z:
                assert "index.html" in z.namelist()


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
