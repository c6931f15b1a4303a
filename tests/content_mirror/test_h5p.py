"""H5P packages: read for the catalog, checked before they travel.

The fixture package is a real zip made in each test: one library, H5P.Sanduq 1.0, with its
library.json, a small JS and CSS and an SVG icon, content in Tajik and Russian, CC BY 4.0 and
an author. Every hostile form is that package with one thing changed, and the package itself
passes, so each refusal test fails if its check is taken out. The real packages made by other
projects are read from ../shared/samples/h5p (never copied here), skipped where absent.
"""

import json
import os
import stat
import warnings
import zipfile
from pathlib import Path

import pytest

from content_mirror import h5p
from content_mirror.h5p import check_h5p, read_h5p
from content_mirror.manifest import MAX_TEXT, credit_fault
from server.errors import InvalidSource

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "h5p"
LABEL = "activity counting.h5p"
LIBRARY = {"title": "Sanduq test", "machineName": "H5P.Sanduq", "majorVersion": 1, "minorVersion": 0,
           "patchVersion": 2, "runnable": 1, "preloadedJs": [{"path": "js/sanduq.js"}],
           "preloadedCss": [{"path": "css/sanduq.css"}],
           # Needed only to edit: never required to be in the package.
           "editorDependencies": [{"machineName": "H5PEditor.Sanduq", "majorVersion": 1, "minorVersion": 0}]}
H5P_JSON = {"title": "Шумориш то панҷ", "language": "tg", "mainLibrary": "H5P.Sanduq", "embedTypes": ["iframe"],
            "license": "CC BY", "licenseVersion": "4.0", "yearFrom": 2019,
            "authors": [{"name": "Малика Раҳимова", "role": "Author"}],
            "preloadedDependencies": [{"machineName": "H5P.Sanduq", "majorVersion": "1", "minorVersion": "0"}]}
CONTENT = {"question": "<p>Чанд себ&nbsp;&amp; нок?</p>\n<p><strong>Сколько   яблок?</strong></p>",
           "answers": ["Панҷ", "Пять", "Панҷ"],
           "image": {"path": "images/apple.png", "mime": "image/png", "copyright": {"license": "U"}},
           "source": "https://example.org/apples", "id": "3f2a9c1e-77b0-4c55", "colour": "#ff0000",
           "picture": "apple.png", "behaviour": {"enableRetry": True, "tries": 3}}
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10">'
        '<defs><linearGradient id="g"/></defs><rect width="10" height="10" fill="url(#g)"/>'
        '<image xlink:href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/></svg>')


def package(path: Path, *, h5p_json: dict | None = None, content: dict | None = None,
            library: dict | None = None, files: dict | None = None) -> Path:
    """The fixture package at PATH; FILES adds members or, with None, takes them out."""
    members = {"h5p.json": json.dumps(h5p_json or H5P_JSON, ensure_ascii=False),
               "content/content.json": json.dumps(content or CONTENT, ensure_ascii=False),
               "content/images/apple.png": b"\x89PNG\r\n\x1a\n" + bytes(64),
               "H5P.Sanduq-1.0/library.json": json.dumps(library or LIBRARY),
               "H5P.Sanduq-1.0/js/sanduq.js": "H5P.Sanduq = function () {};",
               "H5P.Sanduq-1.0/css/sanduq.css": ".h5p-sanduq { color: #222; }",
               "H5P.Sanduq-1.0/icon.svg": ICON}
    members.update(files or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if data is not None:
                archive.writestr(name, data)
    return path


def refused(path: Path, *words: str) -> str:
    """The one sentence check_h5p refuses PATH with; it names LABEL and every one of WORDS."""
    with pytest.raises(InvalidSource) as caught:
        check_h5p(path, LABEL)
    message = caught.value.message
    assert message.startswith(f"{LABEL}: ") and message.endswith(".") and "\n" not in message
    for word in words:
        assert word in message
    return message


def test_reads_the_fixture_package(tmp_path):
    found = check_h5p(package(tmp_path / "a.h5p"), LABEL)
    assert found.title == "Шумориш то панҷ"
    assert found.language == "tg"
    assert found.main_library == "H5P.Sanduq 1.0"
    assert found.libraries == ["H5P.Sanduq 1.0"]
    assert found.licence == "CC-BY-4.0"
    assert found.author == "Малика Раҳимова"
    assert found.copyright == "© 2019 Малика Раҳимова"
    # Tags stripped, entities unescaped, spaces collapsed, each string once, in order; paths,
    # addresses, ids, colours, file names and numbers left out.
    assert found.text.split("\n") == ["Чанд себ & нок? Сколько яблок?", "Панҷ", "Пять"]
    assert read_h5p(tmp_path / "a.h5p") == found


@pytest.mark.parametrize("code, version, licence", [
    ("CC BY-SA", "3.0", "CC-BY-SA-3.0"), ("CC BY-NC-ND", "4.0", "CC-BY-NC-ND-4.0"), ("CC-BY", "2.5", "CC-BY-2.5"),
    ("CC BY", None, "CC BY"), ("CC0 1.0", None, "CC0-1.0"), ("CC PDM", None, "CC-PDM-1.0"),
    ("PD", "CC0 1.0", "CC0-1.0"), ("PD", None, "Public domain"), ("ODC PDDL", None, "PDDL-1.0"),
    ("GNU GPL", "v3", "GPL-3.0-only"), ("C", None, "All rights reserved"), ("U", None, None), (None, None, None),
    ("Some\nnew \u202elicence", None, "Some new licence")])
def test_licence_codes_become_spdx_ids(tmp_path, code, version, licence):
    h5p_json = {**H5P_JSON, "license": code, "licenseVersion": version}
    assert read_h5p(package(tmp_path / "a.h5p", h5p_json=h5p_json)).licence == licence


@pytest.mark.parametrize("code, language", [("ru", "ru"), ("pt-br", "pt"), ("und", None), ("English", None),
                                            (None, None)])
def test_language_is_a_code_or_none(tmp_path, code, language):
    h5p_json = {**H5P_JSON, "language": code}
    assert read_h5p(package(tmp_path / "a.h5p", h5p_json=h5p_json)).language == language


def test_credits_are_cleaned_to_one_bounded_line(tmp_path):
    h5p_json = {**H5P_JSON, "title": "  Шумориш\n\tто\u2028панҷ ", "yearFrom": "2019", "yearTo": 2021,
                "authors": [{"name": "Али\u202e\nВалиев\x00", "role": "Author"}, {"name": "Я" * 400},
                            {"name": "Али Валиев"}, "not an author"]}
    found = read_h5p(package(tmp_path / "a.h5p", h5p_json=h5p_json))
    assert found.title == "Шумориш то панҷ"
    assert found.author.startswith("Али Валиев, ЯЯЯ") and found.author.count("Али Валиев") == 1
    assert found.copyright.startswith("© 2019–2021 Али Валиев")
    for field in ("author", "copyright"):
        assert credit_fault(field, getattr(found, field)) is None


def test_no_year_means_no_copyright(tmp_path):
    h5p_json = {key: value for key, value in H5P_JSON.items() if key not in ("yearFrom", "authors")}
    found = read_h5p(package(tmp_path / "a.h5p", h5p_json=h5p_json))
    assert (found.author, found.copyright) == (None, None)


def test_text_is_bounded(tmp_path):
    content = {"lines": [f"Слово номер {'а' * (n % 7 + 1)} {'б' * (n // 7 + 1)}" for n in range(3000)]}
    text = read_h5p(package(tmp_path / "a.h5p", content=content)).text
    assert MAX_TEXT - 100 < len(text) <= MAX_TEXT
    assert text.startswith("Слово номер а б\nСлово номер аа б")
    assert not text.endswith(" ")


def test_libraries_needed_through_library_json_are_followed(tmp_path):
    library = {**LIBRARY, "preloadedDependencies": [{"machineName": "H5P.JoubelUI", "majorVersion": 1,
                                                     "minorVersion": 3}]}
    joubel = {"machineName": "H5P.JoubelUI", "majorVersion": 1, "minorVersion": 3,
              "preloadedJs": [{"path": "js/joubel-ui.js"}]}
    path = package(tmp_path / "a.h5p", library=library,
                   files={"H5P.JoubelUI-1.3/library.json": json.dumps(joubel),
                          "H5P.JoubelUI-1.3/js/joubel-ui.js": "var J;"})
    assert check_h5p(path, LABEL).libraries == ["H5P.JoubelUI 1.3", "H5P.Sanduq 1.0"]
    refused(package(tmp_path / "b.h5p", library=library), "library H5P.JoubelUI 1.3, which H5P.Sanduq 1.0 needs,",
            "export it again from the H5P editor with its libraries")


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"the shared H5P samples are not here ({SAMPLES})")
    return path


def test_real_packages_pass():
    drag = check_h5p(sample("drag-text.h5p"), "drag-text.h5p")
    assert drag.title == "Drag the Words" and drag.main_library == "H5P.DragText 1.8"
    assert {"H5P.JoubelUI 1.3", "H5P.Question 1.4", "jQuery.ui 1.10", "FontAwesome 4.5"} <= set(drag.libraries)
    assert "What are the colors of these berries when they are ripe?" in drag.text.split("\n")
    assert (drag.language, drag.licence, drag.author, drag.copyright) == (None, None, None, None)
    card = check_h5p(sample("greetingcard.h5p"), "greetingcard.h5p")
    assert (card.title, card.main_library, card.libraries) == ("Greeting card 1", "H5P.GreetingCard1 1.0",
                                                              ["H5P.GreetingCard1 1.0"])
    assert card.text == "Hello world!"  # not earth.jpg, its picture's path


@pytest.mark.parametrize("name, words", [
    ("broken-h5p-json.h5p", ["file h5p.json is not valid JSON"]),
    ("corrupt_archive.h5p", ["not a zip file"]),
    ("missing-preloaded-js.h5p", ["file H5P.GreetingCard-1.0/greetingcard.js", "H5P.GreetingCard-1.0/library.json"])])
def test_real_invalid_packages_are_refused(name, words):
    path = sample(f"invalid/{name}")
    with pytest.raises(InvalidSource) as caught:
        check_h5p(path, name)
    assert caught.value.message.startswith(f"{name}: ") and all(word in caught.value.message for word in words)


def test_read_alone_does_not_look_for_libraries():
    assert read_h5p(sample("invalid/missing-preloaded-js.h5p")).title == "Greeting card"


def without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize("changes, words", [
    ({"h5p.json": None}, ["file h5p.json is missing"]),
    ({"h5p.json": '{"title": "x",'}, ["file h5p.json is not valid JSON"]),
    ({"h5p.json": b'{"title": "\xff"}'}, ["file h5p.json is not valid JSON"]),
    ({"h5p.json": "[1, 2]"}, ["file h5p.json is not a JSON object"]),
    ({"h5p.json": json.dumps(without(H5P_JSON, "title"))}, ["file h5p.json has no title"]),
    ({"h5p.json": json.dumps({**H5P_JSON, "title": "\n\t"})}, ["file h5p.json has no title"]),
    ({"h5p.json": json.dumps(without(H5P_JSON, "mainLibrary"))}, ["file h5p.json has no mainLibrary"]),
    ({"h5p.json": json.dumps(without(H5P_JSON, "preloadedDependencies"))},
     ["file h5p.json has no preloadedDependencies"]),
    ({"h5p.json": json.dumps({**H5P_JSON, "mainLibrary": "H5P.Other"})}, ["h5p.json", "H5P.Other"]),
    ({"h5p.json": json.dumps({**H5P_JSON, "preloadedDependencies": [{"machineName": "../x", "majorVersion": 1}]})},
     ["file h5p.json names a library it needs wrongly"]),
    ({"content/content.json": None}, ["file content/content.json is missing"]),
    ({"content/content.json": "{"}, ["file content/content.json is not valid JSON"]),
    ({"content/content.json": "[" * 100_000 + "]" * 100_000}, ["file content/content.json is not valid JSON"]),
    ({"content/content.json": '"text"'}, ["file content/content.json is not a JSON object"]),
    (dict.fromkeys(["H5P.Sanduq-1.0/library.json", "H5P.Sanduq-1.0/js/sanduq.js", "H5P.Sanduq-1.0/css/sanduq.css"]),
     ["library H5P.Sanduq 1.0, which h5p.json needs, is not in the package"]),
    ({"H5P.Sanduq-1.0/library.json": "{"}, ["file H5P.Sanduq-1.0/library.json is not valid JSON"]),
    ({"H5P.Sanduq-1.0/library.json": json.dumps({**LIBRARY, "preloadedDependencies": [{"machineName": 7}]})},
     ["file H5P.Sanduq-1.0/library.json names a library it needs wrongly"]),
    ({"H5P.Sanduq-1.0/js/sanduq.js": None},
     ["file H5P.Sanduq-1.0/js/sanduq.js, which H5P.Sanduq-1.0/library.json preloads, is not in the package"]),
    ({"H5P.Sanduq-1.0/css/sanduq.css": None}, ["file H5P.Sanduq-1.0/css/sanduq.css, which"]),
    ({"H5P.Sanduq-1.0/library.json": json.dumps({**LIBRARY, "preloadedJs": [{"path": "../h5p.json"}]})},
     ["file H5P.Sanduq-1.0/../h5p.json, which"]),
])
def test_broken_packages_are_refused(tmp_path, changes, words):
    assert check_h5p(package(tmp_path / "good.h5p"), LABEL)
    refused(package(tmp_path / "a.h5p", files=changes), *words)


@pytest.mark.parametrize("name, data, words", [
    ("content/tool.exe", b"MZ", ["file content/tool.exe is a kind of file", "(.exe)"]),
    ("content/run.js", "alert(1)", ["file content/run.js is a kind of file", "(.js)"]),  # JS only in libraries
    ("content/game.swf", b"FWS", ["file content/game.swf", "(.swf)"]),
    ("content/README", "hello", ["file content/README", "(no extension)"]),
    ("H5P.NoLibrary-1.0/x.css", "a {}", ["file H5P.NoLibrary-1.0/x.css", "(.css)"]),  # a folder with no library.json
    ("content/page.html", "<p>hi</p>", ["file content/page.html is a web page"]),
    ("H5P.Sanduq-1.0/demo.HTM", "<p>hi</p>", ["file H5P.Sanduq-1.0/demo.HTM is a web page"]),
    ("content/x.xhtml", "<p/>", ["file content/x.xhtml is a web page"]),
    ("content/x.php", "<?php ?>", ["file content/x.php is a web page"]),
])
def test_files_h5p_does_not_allow_are_refused(tmp_path, name, data, words):
    refused(package(tmp_path / "a.h5p", files={name: data}), *words)


def test_content_cannot_pass_for_a_library(tmp_path):
    files = {"content/library.json": json.dumps(LIBRARY), "content/run.js": "alert(1)"}
    path = package(tmp_path / "a.h5p", files=files)
    refused(path, "file content/run.js is a kind of file")


SVG = '<svg xmlns="http://www.w3.org/2000/svg">{}</svg>'


@pytest.mark.parametrize("body, words", [
    ('<script>alert(1)</script>', ["holds a script", "save it without scripts"]),
    ('<svg:script xmlns:svg="http://www.w3.org/2000/svg">alert(1)</svg:script>', ["holds a script"]),
    ('<rect width="1" height="1" onload="alert(1)"/>', ["holds a script"]),
    ('<rect width="1"\nONCLICK = "alert(1)"/>', ["holds a script"]),
    ('<a href="javascript:alert(1)"><text>x</text></a>', ["holds a script"]),
    ('<a href="&#106;ava&#x73;cript&#58;alert(1)"><text>x</text></a>', ["holds a script"]),
    ('<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>', ["holds a script"]),
    ('<image href="http://tracker.example/p.png"/>', ["refers to something outside the package",
                                                      "http://tracker.example/p.png"]),
    ("<use xlink:href='https://example.org/s.svg#x'/>", ["refers to something outside"]),
    ('<image href="//example.org/p.png"/>', ["refers to something outside"]),
    ('<image href="file:///etc/passwd"/>', ["refers to something outside"]),
    ('<style>rect { fill: url( "https://example.org/f.svg#g" ) }</style>', ["refers to something outside"]),
    ('<style>@import "http://example.org/a.css";</style>', ["refers to something outside"]),
    ('<image href="data:text/html;base64,PHNjcmlwdD4="/>', ["refers to something outside"]),
])
def test_svg_that_runs_script_or_fetches_is_refused(tmp_path, body, words):
    # The same picture without BODY passes, so it is BODY that is refused.
    assert check_h5p(package(tmp_path / "good.h5p", files={"content/images/x.svg": SVG.format("")}), LABEL)
    refused(package(tmp_path / "a.h5p", files={"content/images/x.svg": SVG.format(body)}),
            "file content/images/x.svg", *words)


@pytest.mark.parametrize("name, data, words", [
    ("content/shapes.svg", '<!DOCTYPE svg [<!ENTITY s "&#60;script&#62;alert(1)&#60;/script&#62;">]>'
                           + SVG.format("&s;"), ["declares an XML entity"]),
    ("content/shapes.svg", '<!DOCTYPE svg [<!ENTITY s SYSTEM "file:///etc/passwd">]>' + SVG.format("&s;"),
     ["declares an XML entity"]),
    ("content/shapes.svg", SVG.format('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd" '
                                      'parse="text"/>'), ["or inclusion"]),  # librsvg would read the file
    ("content/shapes.svg", SVG.format("<script>alert(1)</script>").encode("utf-16"), ["not saved as UTF-8"]),
    ("H5P.Sanduq-1.0/font.svg", SVG.format('<glyph onmouseover="alert(1)"/>'), ["H5P.Sanduq-1.0/font.svg",
                                                                                 "holds a script"]),
    ("content/data.xml", '<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
     ["content/data.xml", "holds a script"]),
])
def test_markup_hiding_script_is_refused(tmp_path, name, data, words):
    refused(package(tmp_path / "a.h5p", files={name: data}), f"file {name}", *words)


def test_entities_that_only_name_addresses_pass(tmp_path):
    """Illustrator writes entities like these into every SVG it saves."""
    svg = '<!DOCTYPE svg [<!ENTITY ns_svg "http://www.w3.org/2000/svg">]>' + SVG.format('<rect width="1"/>')
    assert check_h5p(package(tmp_path / "a.h5p", files={"content/ai.svg": svg}), LABEL)


@pytest.mark.parametrize("name", ["../evil.png", "content/../../evil.png", "/etc/evil.png", "content\\evil.png",
                                  "C:/evil.png", "content/evil\n.png"])
def test_names_that_leave_the_package_are_refused(tmp_path, name):
    path = package(tmp_path / "a.h5p")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(zipfile.ZipInfo(name), b"x")  # ZipInfo keeps the name as given
    refused(path, "has a name that leaves the package", repr(name) if "\n" in name else name)


def test_links_are_refused(tmp_path):
    path = package(tmp_path / "a.h5p")
    link = zipfile.ZipInfo("content/images/link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(link, "/etc/passwd")
    refused(path, "file content/images/link.png is a link")


def test_zip_bombs_are_refused(tmp_path):
    path = package(tmp_path / "a.h5p", files={"content/blank.txt": bytes(2 * 2**20)})  # 2 MB of zeros: about 2 KB
    refused(path, "file content/blank.txt unpacks far too large")


def test_a_file_twice_is_refused(tmp_path):
    path = package(tmp_path / "a.h5p", files={"content/images/x.svg": SVG.format("")})
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate it is asked to write
        archive.writestr("content/images/x.svg", SVG.format("<script>alert(1)</script>"))
    refused(path, "file content/images/x.svg is in the package twice")


def test_too_many_files_are_refused(tmp_path):
    files = {f"content/n/{n}.txt": b"" for n in range(h5p.MAX_MEMBERS - 7)}
    assert check_h5p(package(tmp_path / "most.h5p", files=files), LABEL)
    refused(package(tmp_path / "a.h5p", files={**files, "content/n/one-more.txt": b""}),
            "more than 20,000 files")


def test_too_large_in_all_is_refused(tmp_path, monkeypatch):
    # A gigabyte of real data that is not a zip bomb would take a minute to pack; the limit is
    # lowered instead, to just under what this package unpacks to.
    path = package(tmp_path / "a.h5p", files={"content/a.txt": "ә" * 40_000, "content/b.txt": "ӯ" * 40_000})
    assert check_h5p(path, LABEL)
    monkeypatch.setattr(h5p, "MAX_UNPACKED", 150_000)
    refused(path, "unpacks to more than")


@pytest.mark.parametrize("name, cap", [("content/content.json", "MAX_JSON"), ("content/big.svg", "MAX_MARKUP")])
def test_json_and_markup_are_read_bounded(tmp_path, name, cap):
    size = getattr(h5p, cap)
    # Random hex digits: packed they stay large, so this is a large file and not a zip bomb.
    filler = os.urandom(size // 2 + 1).hex()[:size]
    data = json.dumps({"text": filler}) if name.endswith(".json") else SVG.format(f"<!-- {filler} -->")
    refused(package(tmp_path / "a.h5p", files={name: data}), f"file {name} is larger than")


def test_damaged_members_are_refused(tmp_path):
    path = package(tmp_path / "a.h5p", files={"content/content.json": None})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("content/content.json", json.dumps(CONTENT), compress_type=zipfile.ZIP_STORED)
    data = path.read_bytes()
    at = data.index(b'"question"')
    path.write_bytes(data[:at] + b"'" + data[at + 1:])  # its CRC no longer matches
    refused(path, "file content/content.json in the package is damaged")
