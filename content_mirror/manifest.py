"""The bundle manifest, "sanduq-bundle/1": what a library update holds.

The authoring reader writes one, USB bundles carry one, and the device's importer installs
one. Everything in it is checked here before it is trusted, because a stick can hold
anything: wrong types, lies about sizes, file names that try to leave the store, text
larger than any phone needs.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from server.errors import InvalidSource

FORMAT = "sanduq-bundle/1"
KINDS = ("video", "audio", "book", "document", "game", "activity", "tip", "course")
AUDIENCES = ("children", "parents", "educators")
SUBJECTS = ("literacy", "numeracy", "socio-emotional", "physical", "creative", "science",
            "health", "music", "parenting", "teaching")
# A "player" is third-party code that plays a main file (bloom-player for a BloomPub,
# h5p-standalone for an H5P package): its npm tarball as published, kept once in the store.
# "takehome" is the file a phone keeps of an item that is not one file already (a book as a
# video, an activity or tip as a picture card, a document as a PDF; server/takehome.py).
ROLES = ("main", "poster", "subtitles", "picture", "narration", "print", "player", "takehome")
TAKEHOME_MIMES = ("video/mp4", "audio/mpeg", "image/jpeg", "application/pdf")  # what a phone opens as it is
# Extension -> MIME type. Only these travel: nothing a browser would run as a page of the
# site (no HTML; SVG and zips are served sandboxed, see server/files.py).
MIME_TYPES = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm",
    ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg", ".opus": "audio/ogg",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".svg": "image/svg+xml", ".vtt": "text/vtt", ".md": "text/markdown",
    ".pdf": "application/pdf", ".zip": "application/zip",
    # Zips of their own formats (the item's kind and player say how to play them).
    ".bloompub": "application/zip", ".bloomd": "application/zip", ".h5p": "application/zip",
    ".tgz": "application/gzip",  # a player's npm tarball
}
EXTENSIONS = {mime: ext for ext, mime in reversed(MIME_TYPES.items())}
ITEM_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
LANG = re.compile(r"[a-z]{2,3}")
CHANNEL = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SHA256 = re.compile(r"[0-9a-f]{64}")  # how every file is named: the hex SHA-256 of its bytes

MAX_ITEMS = 100_000
MAX_FILES = 1_000_000
MAX_TEXT = 20_000  # characters in one text field; a lesson plan fits, a novel does not
MAX_LIST = 500
# Credits (issue 11): what CC BY and its like require a copy to show, field -> most characters.
# Optional, so manifests made before them stay valid. Plain text, not per-language like titles:
# a licence is an id ("CC-BY-4.0"), and a name or a copyright notice is reproduced as the work
# gives it (CC BY asks that notices be kept, not translated).
CREDITS = {"licence": 100, "author": 300, "copyright": 300, "source": 500}
# Control characters (a line break too: a credit is one line), and the marks that reverse the
# order text is shown in, which could make a credit read as someone else's.
NOT_IN_A_CREDIT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
TURNS_TEXT = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# A word that begins "name:" with more after it reads as an address (https://..., data:...),
# at the start or after a space or an opening mark; "File:" inside an address is its path.
ADDRESS = re.compile(r"(?:^|[\s(\[<\"'«,;])([A-Za-z][A-Za-z0-9+.-]*):(?=\S)")


def is_sha256(name: object) -> bool:
    return isinstance(name, str) and SHA256.fullmatch(name) is not None


def credit_fault(field: str, value: object) -> str | None:
    """Why VALUE cannot be an item's credit FIELD (a key of CREDITS), in a few words; None if it can.

    A `source` is shown as text, never as a link: a box is offline, so a link out would lead a
    parent nowhere (or onto paid mobile data). Addresses in it must still be http(s), because
    a reader may copy one into a browser and other programs read the API: `javascript:`,
    `data:` or `file:` are never where a book came from.
    """
    if not isinstance(value, str):
        return "must be text"
    if not value.strip():
        return "must not be empty (leave the field out instead)"
    if len(value) > CREDITS[field]:
        return f"must be at most {CREDITS[field]} characters"
    if NOT_IN_A_CREDIT.search(value):
        return "must be one line, without control characters"
    if TURNS_TEXT.search(value):
        return "must not hold marks that change the text's direction"
    if field == "source":
        for scheme in ADDRESS.findall(value):
            if scheme.lower() not in ("http", "https"):
                return (f"{scheme[:40] + ':'!r} is not a web address Sanduq accepts; write addresses "
                        "with http:// or https://, or put a space after the colon")
    return None


def _fail(where: str, what: str) -> None:
    raise InvalidSource(f"manifest {where}: {what}")


def _text_map(where: str, value: Any, required: bool = False) -> dict[str, str]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        _fail(where, "must be an object of language code to text")
    for lang, text in value.items():
        if not LANG.fullmatch(str(lang)):
            _fail(where, f"{lang!r} is not a language code")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            _fail(where, f"text in {lang} must be a string of at most {MAX_TEXT} characters")
    if required and not any(v.strip() for v in value.values()):
        _fail(where, "needs text in at least one language")
    return value


def _lines_map(where: str, value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(where, "must be an object of language code to a list of lines")
    for lang, lines in value.items():
        if not LANG.fullmatch(str(lang)):
            _fail(where, f"{lang!r} is not a language code")
        if (not isinstance(lines, list) or len(lines) > MAX_LIST
                or not all(isinstance(x, str) and len(x) <= MAX_TEXT for x in lines)):
            _fail(where, f"lines in {lang} must be a list of strings")
    return value


def _words(where: str, value: Any, allowed: tuple[str, ...] | None, pattern=None) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        _fail(where, "must be a list")
    for word in value:
        ok = isinstance(word, str) and (word in allowed if allowed else pattern.fullmatch(word))
        if not ok:
            choices = f"one of {', '.join(allowed)}" if allowed else "a valid code"
            _fail(where, f"{word!r} is not {choices}")
    return value


def _int(where: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _fail(where, f"must be a whole number from {low} to {high}")
    return value


def validate(manifest: Any) -> dict:
    """Check a manifest's shape and return it; raise InvalidSource naming the first fault."""
    if not isinstance(manifest, dict):
        _fail("", "is not a JSON object")
    if manifest.get("format") != FORMAT:
        _fail("format", f"must be {FORMAT!r}")
    if not isinstance(manifest.get("channel"), str) or not CHANNEL.fullmatch(manifest["channel"]):
        _fail("channel", "must be a short lowercase name")
    _int("sequence", manifest.get("sequence"), 1, 2**53)
    if manifest.get("sequence") is None:
        _fail("sequence", "is missing")
    unknown = set(manifest) - {"format", "channel", "sequence", "full", "since", "base", "items", "files",
                               "remove"}
    if unknown:
        _fail("", f"has unknown fields {', '.join(sorted(map(str, unknown)))[:100]}")
    if not isinstance(manifest.get("full", True), bool):
        _fail("full", "must be true or false")
    _int("since", manifest.get("since"), 1, 2**53)
    # A delta is exact only on the very state it was made from: it names that manifest.
    if manifest.get("since") is not None and not is_sha256(manifest.get("base")):
        _fail("base", "a delta must name the SHA-256 of the manifest it was made from (64 hex)")
    if manifest.get("since") is None and "base" in manifest:
        _fail("base", "only a delta (with since) names a base")
    files = manifest.get("files")
    if not isinstance(files, dict) or len(files) > MAX_FILES:
        _fail("files", "must be an object of SHA-256 to {size, mime}")
    for sha, info in files.items():
        if not is_sha256(sha):
            _fail("files", f"{sha[:80]!r} is not a lowercase hex SHA-256 name")
        if not isinstance(info, dict):
            _fail(f"files.{sha[:12]}", "must be an object")
        _int(f"files.{sha[:12]}.size", info.get("size"), 0, 2**50)
        if info.get("size") is None:
            _fail(f"files.{sha[:12]}.size", "is missing")
        if info.get("mime") not in EXTENSIONS:
            _fail(f"files.{sha[:12]}.mime", f"{str(info.get('mime'))[:40]!r} is not a type Sanduq serves")
    items = manifest.get("items")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        _fail("items", "must be a list")
    seen = set()
    for n, item in enumerate(items):
        _item(f"items[{n}]", item, files)
        if item["id"] in seen:
            _fail(f"items[{n}].id", f"{item['id']!r} appears twice")
        seen.add(item["id"])
    remove = manifest.get("remove", [])
    _words("remove", remove, None, ITEM_ID)
    return manifest


def _item(where: str, item: Any, files: dict) -> None:
    if not isinstance(item, dict):
        _fail(where, "must be an object")
    if not isinstance(item.get("id"), str) or not ITEM_ID.fullmatch(item["id"]):
        _fail(f"{where}.id", "must be lowercase letters, digits and '-', at most 64")
    where = f"item {item['id']}"
    if item.get("kind") not in KINDS:
        _fail(f"{where}.kind", f"must be one of {', '.join(KINDS)}")
    _text_map(f"{where}.title", item.get("title"), required=True)
    for field in ("description", "text"):
        _text_map(f"{where}.{field}", item.get(field))
    for field in ("steps", "materials"):
        _lines_map(f"{where}.{field}", item.get(field))
    _words(f"{where}.languages", item.get("languages", []), None, LANG)
    _words(f"{where}.audiences", item.get("audiences", []), AUDIENCES)
    if not item.get("audiences"):
        _fail(f"{where}.audiences", "needs at least one audience")
    _words(f"{where}.subjects", item.get("subjects", []), SUBJECTS)
    low = _int(f"{where}.age_min", item.get("age_min"), 0, 99)
    high = _int(f"{where}.age_max", item.get("age_max"), 0, 99)
    if low is not None and high is not None and low > high:
        _fail(f"{where}.age_min", "is larger than age_max")
    _int(f"{where}.duration", item.get("duration"), 0, 10**6)
    pages = item.get("pages", [])
    if not isinstance(pages, list) or len(pages) > MAX_LIST:
        _fail(f"{where}.pages", "must be a list")
    for p, page in enumerate(pages, 1):
        if not isinstance(page, dict):
            _fail(f"{where}.pages[{p}]", "must be an object")
        _text_map(f"{where}.pages[{p}].text", page.get("text"))
    modules = item.get("modules", [])
    if not isinstance(modules, list) or len(modules) > MAX_LIST:
        _fail(f"{where}.modules", "must be a list")
    for m, module in enumerate(modules, 1):
        if not isinstance(module, dict):
            _fail(f"{where}.modules[{m}]", "must be an object")
        _text_map(f"{where}.modules[{m}].title", module.get("title"), required=True)
        _words(f"{where}.modules[{m}].lessons", module.get("lessons", []), None, ITEM_ID)
    refs = item.get("files", [])
    if not isinstance(refs, list) or len(refs) > MAX_LIST * 4:
        _fail(f"{where}.files", "must be a list")
    for ref in refs:
        if not isinstance(ref, dict) or ref.get("sha256") not in files:
            _fail(f"{where}.files", "names a file the manifest's files list does not hold")
        if (ref.get("role") == "player") != (files[ref["sha256"]].get("mime") == "application/gzip"):
            _fail(f"{where}.files", "a player is an npm tarball (application/gzip), and only a player is one")
        if ref.get("role") == "takehome" and files[ref["sha256"]].get("mime") not in TAKEHOME_MIMES:
            _fail(f"{where}.files", "a take-home file is an MP4, MP3, JPEG or PDF (what a phone opens by itself)")
        if ref.get("role") not in ROLES:
            _fail(f"{where}.files", f"role {str(ref.get('role'))[:20]!r} is not one of {', '.join(ROLES)}")
        if ref.get("lang") is not None and not LANG.fullmatch(str(ref["lang"])):
            _fail(f"{where}.files", f"{str(ref['lang'])[:10]!r} is not a language code")
        _int(f"{where}.files.page", ref.get("page"), 1, len(pages) or 1)
    for field in CREDITS:
        if field in item and (fault := credit_fault(field, item[field])):
            _fail(f"{where}.{field}", fault)
    known = {"id", "kind", "title", "description", "text", "steps", "materials", "languages",
             "audiences", "subjects", "age_min", "age_max", "duration", "pages", "modules", "files",
             *CREDITS}
    unknown = set(item) - known
    if unknown:
        _fail(where, f"has unknown fields {', '.join(sorted(unknown))[:100]}")


def digest(manifest: dict) -> str:
    """The SHA-256 of MANIFEST's canonical JSON: builder and box compute it alike from the dict."""
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def payload_size(manifest: dict, shas) -> int:
    return sum(manifest["files"][sha]["size"] for sha in shas)
