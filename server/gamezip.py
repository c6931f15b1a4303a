"""What a game zip may hold; checked when a game is imported and again when it is served."""

from __future__ import annotations

import zipfile

from server.errors import Refused

MAX_MEMBER = 64 * 1024 * 1024  # one file of a game, unpacked
MAX_RATIO = 200  # unpacked / packed: beyond this it is a zip bomb, not a game
MAX_GAME = 512 * 1024 * 1024  # a whole game, unpacked


def check_game_zip(path, label: str, *, needs_index: bool = True) -> None:
    """Refuse a game zip with names that leave it, members too large, or a zip bomb (and one
    without index.html, unless NEEDS_INDEX is false: a player plays it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise Refused(f"game {label} is not a valid zip file", "bad-game", game=label) from None
    names = {m.filename for m in members}
    if needs_index and "index.html" not in names:
        raise Refused(f"game {label} has no index.html at the top of its zip", "bad-game", game=label)
    total = 0
    for m in members:
        name = m.filename
        if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") or ":" in name:
            raise Refused(f"game {label} has a file name that leaves the game ({name[:60]!r})",
                          "bad-game", game=label)
        if too_large(m):
            raise Refused(f"game {label} holds a file that unpacks far too large (a zip bomb?)",
                          "bad-game", game=label)
        total += m.file_size
    if total > MAX_GAME:
        raise Refused(f"game {label} unpacks to more than {MAX_GAME // 2**20} MB", "bad-game", game=label)


def too_large(member: zipfile.ZipInfo) -> bool:
    """A member too large to unpack, or packed so tightly it is a zip bomb (checked at import and
    again when served, since a store file could change between)."""
    return member.file_size > MAX_MEMBER or member.file_size > MAX_RATIO * max(member.compress_size, 1024)
