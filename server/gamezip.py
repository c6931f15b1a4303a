"""What a game zip or a player's tarball may hold; checked when imported and again when served."""

from __future__ import annotations

import html
import json
import re
import tarfile
import zipfile
import zlib

from server.errors import Refused

MAX_MEMBER = 64 * 1024 * 1024  # one file of a game, unpacked
MAX_RATIO = 200  # unpacked / packed: beyond this it is a zip bomb, not a game
MAX_GAME = 512 * 1024 * 1024  # a whole game, unpacked
# What a stranger's zip may throw when read: damaged, encrypted, packed in a way zipfile lacks,
# or a name marked UTF-8 that is not (a ValueError).
BAD_ZIP = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError, ValueError)
MAX_MEMBERS = 20_000  # a game, a Bloom book or an H5P package with its libraries holds hundreds
MAX_PLAYER_MEMBERS = 2_000  # bloom-player has 21 files, h5p-standalone 30
PLAYERS = ("bloom-player", "h5p-standalone")  # what server/players.py knows how to run
MAX_PLAYER = 32 * 1024 * 1024  # a player unpacked; bloom-player is 1.3 MB, h5p-standalone 0.6 MB
# What makes markup (an SVG, an XML file) more than a picture: script, markup that could hide
# one (an element of another language, an entity holding tags or read from elsewhere), and
# references, whose values are unescaped before they are judged (`&#106;avascript:` is
# javascript:). One judgment for every package format, at build time (Bloom, H5P).
SCRIPT = re.compile(r"<(?:[\w.-]+:)?(?:script|foreignobject)\b|[\s\"'/]on[a-z]+\s*=|(?:java|vb)script:")
ENTITY = re.compile(r"<!entity\s+%?\s*[\w.-]+\s+(?:system|public|[\"'][^\"']*[<&])")
REFERENCE = re.compile(r"(?:\bhref\s*=\s*|\burl\(\s*|@import\s*(?:url\(\s*)?)([\"']?)([^\"')>]{0,300})")
SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:")
SAFE_DATA = ("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")


def check_game_zip(path, label: str, *, needs_index: bool = True, kind: str = "game") -> None:
    """Refuse a zip of KIND ("game", or "book" for a Bloom book) with names that leave it,
    members too large, or a zip bomb (and one without index.html, unless NEEDS_INDEX is false:
    a player plays it)."""
    def refused(why: str) -> Refused:
        return Refused(f"{kind} {label} {why}", f"bad-{kind}", game=label)

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except BAD_ZIP:
        raise refused("is not a valid zip file") from None
    if len(members) > MAX_MEMBERS:  # the box keeps a served zip's table of files in memory
        raise refused(f"holds more than {MAX_MEMBERS:,} files")
    names = {m.filename for m in members}
    if needs_index and "index.html" not in names:
        raise refused("has no index.html at the top of its zip")
    total = 0
    for m in members:
        name = m.filename
        if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") or ":" in name:
            raise refused(f"has a file name that leaves the {kind} ({name[:60]!r})")
        if too_large(m):
            raise refused("holds a file that unpacks far too large (a zip bomb?)")
        total += m.file_size
    if total > MAX_GAME:
        raise refused(f"unpacks to more than {MAX_GAME // 2**20} MB")


def markup_fault(data: bytes, container: str) -> str | None:
    """Why the SVG or XML DATA must not travel, as the end of a sentence naming the file (its
    CONTAINER: "package", "book"), with what to do; None if it is only a picture."""
    if b"\0" in data:  # UTF-16 or UTF-32, where script would not show as the bytes looked for
        return "is not saved as UTF-8 text, which Sanduq needs to check it; save it again as plain UTF-8"
    text = data.decode("latin-1").lower()  # every ASCII byte kept as it is, whatever the encoding
    if SCRIPT.search(text):
        return "holds a script, which Sanduq refuses; save it without scripts"
    if ENTITY.search(text) or "xinclude" in text:  # XInclude: librsvg reads the files it names
        return ("declares an XML entity or inclusion that could hide a script or read other files, which Sanduq "
                "refuses; save it as plain SVG")
    for match in REFERENCE.finditer(text):
        value = re.sub(r"[\s\x00-\x1f]+", "", html.unescape(match[2]))
        if value.startswith(("javascript:", "vbscript:")):
            return "holds a script, which Sanduq refuses; save it without scripts"
        if (value.startswith("//") or SCHEME.match(value)) and not value.startswith(SAFE_DATA):
            shown = value[:60] if value[:60].isprintable() else repr(value[:60])
            return (f"refers to something outside the {container} ({shown}), which a box cannot reach; "
                    "save it with everything it shows inside it")
    return None


def too_large(member: zipfile.ZipInfo) -> bool:
    """A member too large to unpack, or packed so tightly it is a zip bomb (checked at import and
    again when served, since a store file could change between)."""
    return member.file_size > MAX_MEMBER or member.file_size > MAX_RATIO * max(member.compress_size, 1024)


def check_player_tarball(path, label: str) -> str:
    """The npm package name of a player's tarball; refuse one that is not a player we run, or
    holds links, names that leave it, or members too large (a signed bundle is trusted, but a
    box serves these files to every phone, so it checks them as it checks games)."""
    name, total = None, 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for n, member in enumerate(tar):
                where = member.name
                if n >= MAX_PLAYER_MEMBERS or not (member.isfile() or member.isdir()) or where.startswith("/") \
                        or ".." in where.split("/") or member.size > MAX_MEMBER:
                    raise Refused(f"player {label} holds {where[:60]!r}, which no player needs",
                                  "bad-game", game=label)
                total += member.size
                if total > MAX_PLAYER:
                    raise Refused(f"player {label} unpacks to more than {MAX_PLAYER // 2**20} MB, far more than "
                                  "a player needs", "bad-game", game=label)
                if where == "package/package.json":
                    name = json.loads(tar.extractfile(member).read(64 * 1024)).get("name")
    except (tarfile.TarError, OSError, EOFError, ValueError, AttributeError, zlib.error):
        raise Refused(f"player {label} is not a valid npm tarball", "bad-game", game=label) from None
    if name not in PLAYERS:
        raise Refused(f"player {label} is not one this box runs ({', '.join(PLAYERS)})", "bad-game", game=label)
    return name
