"""H5P packages (.h5p): what one holds, for the catalog, and whether a box may carry it.

An H5P package is a zip of `h5p.json` (title, language, licence, the libraries it needs),
`content/content.json` with its media under `content/`, and one folder per library
(`H5P.DragText-1.8/library.json` and the JS and CSS it preloads). `read_h5p` takes out what a
catalog shows and searches; `check_h5p` also refuses a package that would not play offline
(a library or a preloaded file missing) or that is not what it says: files H5P itself does not
allow, web pages, SVG or XML that runs script or fetches from the internet, names that leave
the zip, links, zip bombs. The player runs the package's JS, so it is trusted only as far as
H5P's own rules go; the rest is what a zip from a stranger must never do. It runs on the
content team's machine at build time, reading every member bounded: JSON and markup are read
up to a cap, nothing else is read at all.
"""

from __future__ import annotations

import html
import json
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from content_mirror.manifest import CREDITS, LANG, MAX_TEXT, NOT_IN_A_CREDIT, TURNS_TEXT, credit_fault
from server.errors import InvalidSource
from server.gamezip import BAD_ZIP, MAX_GAME, markup_fault, too_large

MAX_MEMBERS = 20_000  # an activity with all its libraries holds a few hundred files
MAX_UNPACKED = MAX_GAME  # what a box takes (server/gamezip.py), so a package that builds installs
MAX_JSON = 4 * 2**20  # h5p.json, content.json, library.json: real ones are a few hundred KB at most
MAX_MARKUP = 8 * 2**20  # an SVG (or XML) read whole to look for script; icon fonts are under 1 MB
MAX_TITLE = 200
# H5P core's default content whitelist (h5p-php-library, H5PCore::$defaultContentWhitelist),
# less swf: no phone plays Flash. Library folders may also hold js and css
# ($defaultLibraryWhitelistExtras).
CONTENT_FILES = frozenset("json png jpg jpeg gif bmp tif tiff svg eot ttf woff woff2 otf webm mp4 ogg mp3 m4a "
                          "wav txt pdf rtf doc docx xls xlsx ppt pptx odt ods odp xml csv diff patch md "
                          "textile vtt webvtt gltf glb".split())
LIBRARY_FILES = CONTENT_FILES | {"js", "css"}
# Not in the whitelist either; named apart so the refusal says what the file would do.
WEB_PAGES = frozenset("html htm xhtml xht shtml mht mhtml php phtml asp aspx jsp hta".split())
MARKUP = ("svg", "xml")  # text a browser runs as a document when it is opened
MACHINE_NAME = re.compile(r"[\w.-]{1,255}", re.ASCII)  # H5P's own pattern for a library's name
LIBRARY_JSON = re.compile(r"([\w.-]{1,255})-(\d{1,4})\.(\d{1,4})/library\.json", re.ASCII)
# Keys of content.json whose strings are never words a reader sees (H5P's media and sub-content).
NOT_TEXT = frozenset({"path", "mime", "library", "subContentId", "license", "licenseVersion", "version"})
TAG = re.compile(r"<[^>]*>")
# A string of one word that names a thing rather than says something: a path, an address,
# a file name, an id or a colour.
REFERENCE_WORD = re.compile(r"[/\\\d#]|^[^\W\d_][\w+.-]*:|\.\w{2,5}$")
CC_KINDS = ("BY", "BY-SA", "BY-ND", "BY-NC", "BY-NC-SA", "BY-NC-ND")
CC_VERSIONS = ("1.0", "2.0", "2.5", "3.0", "4.0")
PUBLIC_DOMAIN = {"CC0 1.0": "CC0-1.0", "CC PDM": "CC-PDM-1.0", "ODC PDDL": "PDDL-1.0"}
GPL_VERSIONS = {"v1": "GPL-1.0-only", "v2": "GPL-2.0-only", "v3": "GPL-3.0-only"}


@dataclass
class H5PPackage:
    """What a catalog shows and searches of an H5P package; credits pass manifest.credit_fault."""

    title: str
    language: str | None  # a code like "tg"; None when the package says "und" or nothing
    main_library: str  # "H5P.DragText 1.8"
    libraries: list[str]  # the library folders it holds, "H5P.JoubelUI 1.3", sorted
    licence: str | None  # an SPDX id where one exists ("CC-BY-4.0"), else a few words
    author: str | None
    copyright: str | None
    text: str  # the words of content/content.json, a line per string, at most MAX_TEXT characters


def read_h5p(path: Path) -> H5PPackage:
    """Read the H5P package PATH; raise InvalidSource if its h5p.json or content.json cannot be read."""
    return _read(Path(path), Path(path).name, check=False)


def check_h5p(path: Path, label: str) -> H5PPackage:
    """Read the H5P package PATH as read_h5p does, and refuse it (InvalidSource, one sentence
    naming LABEL and the file inside) when it would not play offline or holds what it must not."""
    return _read(Path(path), label, check=True)


def _refuse(label: str, what: str, fix: str = "export it again from the H5P editor") -> NoReturn:
    raise InvalidSource(f"{label}: {what}; {fix}.")


def _shown(name: str) -> str:
    """A member's name as a message may show it: one line, bounded."""
    return name if name.isprintable() and len(name) <= 120 else repr(name[:120])


def _read(path: Path, label: str, check: bool) -> H5PPackage:
    try:
        archive = zipfile.ZipFile(path)
    except OSError as e:
        _refuse(label, f"the file cannot be read ({e.strerror})", "check the file and try again")
    except (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError):  # ValueError: a name in bad UTF-8
        _refuse(label, "the file is not a zip file, which an H5P package always is, or a damaged one")
    with archive:
        members = {m.filename: m for m in archive.infolist()}
        if check:
            _check_members(archive.infolist(), members, label)
        h5p = _json(archive, members, "h5p.json", label)
        content = _json(archive, members, "content/content.json", label)
        needs = [_dependency(dep, "h5p.json", label) for dep in _required(h5p, "preloadedDependencies", list, label)]
        title = _line(_required(h5p, "title", str, label), MAX_TITLE)
        if title is None:
            _refuse(label, "file h5p.json has no title")
        main = _required(h5p, "mainLibrary", str, label)
        main_library = next((f"{name} {major}.{minor}" for name, major, minor in needs if name == main), None)
        if main_library is None:
            _refuse(label, f"file h5p.json names the main library {_shown(main[:60])} but not its version "
                           "in preloadedDependencies")
        if check:
            _check_libraries(archive, members, needs, label)
            for info in members.values():
                if info.filename.lower().endswith(MARKUP):
                    _check_markup(archive, info, label)
        author = _author(h5p.get("authors"))
        folders = (LIBRARY_JSON.fullmatch(name) for name in members)
        return H5PPackage(title=title, language=_language(h5p.get("language") or h5p.get("defaultLanguage")),
                          main_library=main_library, libraries=sorted(f"{m[1]} {m[2]}.{m[3]}" for m in folders if m),
                          licence=_licence(h5p.get("license"), h5p.get("licenseVersion")),
                          author=author, copyright=_copyright(h5p.get("yearFrom"), h5p.get("yearTo"), author),
                          text=_text(content))


def _check_members(infos: list[zipfile.ZipInfo], members: dict[str, zipfile.ZipInfo], label: str) -> None:
    """Refuse names, links, sizes and kinds of file a package must not hold, before reading any."""
    if len(infos) > MAX_MEMBERS:
        _refuse(label, f"the package holds more than {MAX_MEMBERS:,} files", "split it into smaller activities")
    if len(members) < len(infos):
        twice = next(m.filename for m in infos if members[m.filename] is not m)
        _refuse(label, f"file {_shown(twice)} is in the package twice, so what plays may not be what was checked")
    libraries = {name.split("/")[0] for name in members if re.fullmatch(r"[^/]+/library\.json", name)} - {"content"}
    total = 0
    for info in infos:
        name, shown = info.filename, _shown(info.filename)
        if (name.startswith("/") or "\\" in name or ":" in name or ".." in name.split("/")
                or not name.isprintable()):
            _refuse(label, f"file {shown} has a name that leaves the package or that no computer can use")
        if stat.S_ISLNK(info.external_attr >> 16):
            _refuse(label, f"file {shown} is a link to somewhere else, which Sanduq refuses",
                    "export the package again with the files themselves")
        if too_large(info):
            _refuse(label, f"file {shown} unpacks far too large (over 64 MB, or packed like a zip bomb)",
                    "make the file smaller and export the package again")
        total += info.file_size
        if info.is_dir():
            continue
        kind = name.rsplit(".", 1)[-1].lower() if "." in name.rsplit("/", 1)[-1] else ""
        if kind in WEB_PAGES:
            _refuse(label, f"file {shown} is a web page, which Sanduq refuses in an H5P package",
                    "take it out and export the package again")
        allowed = LIBRARY_FILES if name.split("/")[0] in libraries else CONTENT_FILES
        if kind not in allowed:
            _refuse(label, f"file {shown} is a kind of file an H5P package may not hold there "
                           f"({'.' + kind if kind else 'no extension'}), which Sanduq refuses",
                    "take it out and export the package again")
    if total > MAX_UNPACKED:
        _refuse(label, f"the package unpacks to more than {MAX_UNPACKED // 2**20:,} MB",
                "split it into smaller activities")


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, label: str) -> bytes:
    """The first CAP + 1 bytes of a member at most, so a lie about its size cannot fill memory."""
    try:
        with archive.open(info) as f:
            return f.read(cap + 1)
    except BAD_ZIP:
        _refuse(label, f"file {_shown(info.filename)} in the package is damaged or encrypted")


def _json(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], name: str, label: str) -> dict:
    if name not in members:
        _refuse(label, f"file {name} is missing, so this is not a whole H5P package")
    data = _member(archive, members[name], MAX_JSON, label)
    if len(data) > MAX_JSON:
        _refuse(label, f"file {name} is larger than {MAX_JSON // 2**20} MB, far more than H5P writes")
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # bad UTF-8 and bad JSON are both ValueErrors
        _refuse(label, f"file {name} is not valid JSON")
    if not isinstance(value, dict):
        _refuse(label, f"file {name} is not a JSON object")
    return value


def _required(h5p: dict, key: str, kind: type, label: str) -> Any:
    value = h5p.get(key)
    if not isinstance(value, kind) or not value:
        _refuse(label, f"file h5p.json has no {key}")
    return value


def _dependency(dep: Any, where: str, label: str) -> tuple[str, int, int]:
    """A library a package or a library needs: name, major and minor version (numbers or text)."""
    versions = [dep.get(key) if isinstance(dep, dict) else None for key in ("majorVersion", "minorVersion")]
    if (isinstance(dep, dict) and isinstance(dep.get("machineName"), str) and MACHINE_NAME.fullmatch(dep["machineName"])
            and all(type(v) is int and 0 <= v < 10_000 or isinstance(v, str) and re.fullmatch(r"\d{1,4}", v)
                    for v in versions)):
        return dep["machineName"], int(versions[0]), int(versions[1])
    _refuse(label, f"file {where} names a library it needs wrongly ({_shown(repr(dep)[:60])})")


def _check_libraries(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo],
                     needs: list[tuple[str, int, int]], label: str) -> None:
    """Every library needed to play, through each library.json's preloadedDependencies, is held
    with the files it preloads. editorDependencies are only needed to edit, and not followed."""
    todo = [(need, "h5p.json") for need in needs]
    seen = set()
    while todo:
        (name, major, minor), needer = todo.pop()
        if (name, major, minor) in seen:
            continue
        seen.add((name, major, minor))
        folder = f"{name}-{major}.{minor}"
        if f"{folder}/library.json" not in members:
            _refuse(label, f"library {name} {major}.{minor}, which {needer} needs, is not in the package",
                    "export it again from the H5P editor with its libraries")
        where = f"{folder}/library.json"
        library = _json(archive, members, where, label)
        for key in ("preloadedJs", "preloadedCss"):
            files = library.get(key, [])
            for file in files if isinstance(files, list) else [None]:
                path = file.get("path") if isinstance(file, dict) else None
                if not isinstance(path, str) or f"{folder}/{path}" not in members:
                    _refuse(label, f"file {_shown(f'{folder}/{path}')}, which {where} preloads, is not in the package")
        deps = library.get("preloadedDependencies", [])
        for dep in deps if isinstance(deps, list) else [None]:
            todo.append((_dependency(dep, where, label), f"{name} {major}.{minor}"))


def _check_markup(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> None:
    """Refuse an SVG or XML file that runs script or fetches from elsewhere when opened."""
    shown = _shown(info.filename)
    data = _member(archive, info, MAX_MARKUP, label)
    if len(data) > MAX_MARKUP:
        _refuse(label, f"file {shown} is larger than {MAX_MARKUP // 2**20} MB, too large for Sanduq to check",
                "save it smaller")
    fault = markup_fault(data, "package")
    if fault:
        raise InvalidSource(f"{label}: file {shown} {fault}.")


def _line(value: Any, limit: int) -> str | None:
    """VALUE as one line of plain text at most LIMIT characters long, or None."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = " ".join(TURNS_TEXT.sub("", NOT_IN_A_CREDIT.sub(" ", str(value))).split())
    return text[:limit].strip() or None


def _credit(field: str, value: Any) -> str | None:
    text = _line(value, CREDITS[field])
    return text if text and credit_fault(field, text) is None else None


def _language(value: Any) -> str | None:
    code = (_line(value, 20) or "").lower().replace("_", "-").split("-")[0]
    return code if LANG.fullmatch(code) and code != "und" else None


def _licence(code: Any, version: Any) -> str | None:
    """H5P's licence code and version as an SPDX id where one exists; "U" (undisclosed) is None."""
    code, version = _line(code, CREDITS["licence"]), _line(version, 20)
    if code is None or code.upper() == "U":
        return None
    kind = code.upper().replace("CC-", "CC ", 1)
    if kind.startswith("CC ") and kind[3:] in CC_KINDS:
        return f"CC-{kind[3:]}-{version}" if version in CC_VERSIONS else kind
    if code == "PD":
        return PUBLIC_DOMAIN.get(version or "", "Public domain")
    if code == "GNU GPL":
        return GPL_VERSIONS.get(version or "", "GNU GPL")
    if code == "C":
        return "All rights reserved"
    return PUBLIC_DOMAIN.get(code) or _credit("licence", code)  # a code newer than this list, as it is


def _author(authors: Any) -> str | None:
    authors = authors[:50] if isinstance(authors, list) else []
    names = (_line(a.get("name"), CREDITS["author"]) for a in authors if isinstance(a, dict))
    return _credit("author", ", ".join(dict.fromkeys(name for name in names if name)))


def _copyright(year_from: Any, year_to: Any, author: str | None) -> str | None:
    """"© 2019–2021 NAME" when the package gives the year its copyright began, else None."""
    start, end = _year(year_from), _year(year_to)
    if start is None:
        return None
    years = start if end in (None, start) else f"{start}–{end}"
    return _credit("copyright", f"© {years} {author or ''}")


def _year(value: Any) -> str | None:
    text = str(value) if type(value) in (int, str) else ""
    return text if re.fullmatch(r"\d{1,4}", text) else None


def _text(content: dict) -> str:
    """The words of content.json a person would search for: every string, as plain text, once."""
    lines: dict[str, None] = {}
    size, todo = 0, [content]
    while todo and size <= MAX_TEXT:
        value = todo.pop()
        if isinstance(value, dict):
            todo.extend(v for k, v in reversed(value.items()) if k not in NOT_TEXT)
        elif isinstance(value, list):
            todo.extend(reversed(value))
        elif isinstance(value, str):
            words = " ".join(html.unescape(TAG.sub(" ", value)).split())
            if words and words not in lines and (" " in words or not REFERENCE_WORD.search(words)):
                lines[words] = None
                size += len(words) + 1
    text = "\n".join(lines)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT].rsplit(None, 1)[0]
