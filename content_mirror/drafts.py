"""What the importers that draft rows for people to finish share (scan, import-kolibri).

Ids in Latin letters, titles cut at a word, counts in words, durations as m:ss, the columns of
a new items.csv in one order (import-pdf's too), and a file from a folder or drive nobody
vouches for placed at exactly the size it was found.

Audiences: a draft says who an item is for only where its source says so. A folder of files
says nothing, so scan leaves every row's audiences empty and `check` names each one. A Kolibri
channel does say: Kolibri has learners and coaches, and marks coach content, so import-kolibri
writes `educators` for coach content and `children` for the rest (Sanduq's learners are a
preschool's children); people correct a channel made for parents.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from pathlib import Path

from content_mirror.manifest import CREDITS
from content_mirror.sheets import tidy
from server.errors import InvalidSource

NO_LANGUAGE = "und"  # ISO 639's "undetermined": text whose language nothing says
MAX_TITLE = 300  # a title on a phone's screen; a longer one is cut at a word
DRAFT_TEXT = 2000  # a drafted description: a summary to start from (people may write up to MAX_TEXT)
# Languages in the order people here list them (scan also takes these from file names).
CODES = ("tg", "ru", "en", "ky", "uz", "sr", "cnr")
# The columns of a new items.csv, in this order ("title" stands for title_tg, title_ru ...).
ITEM_COLUMNS = ("id", "kind", "languages", "audiences", "age_min", "age_max", "subjects", "duration", "title",
                "description", "file", "poster", "subtitles", *CREDITS)
# Those a new items.csv always has, filled or not: what people are asked to fill in.
ITEM_ALWAYS = ("id", "kind", "languages", "audiences", "age_min", "age_max", "subjects", "duration", *CREDITS)
COURSE_COLUMNS = ("course", "module", "title", "lessons")
_CYRILLIC = ("а a б b в v г g д d е e ё yo ж zh з z и i й y к k л l м m н n о o п p р r с s т t у u ф f х kh "
             "ц ts ч ch ш sh щ shch ы y э e ю yu я ya ғ gh ӣ i қ q ӯ u ҳ h ҷ j і i ї yi є ye ў u ң ng ө o ү u "
             "ә a ұ u һ h ґ g").split()
TRANSLITERATE = str.maketrans(dict(zip(_CYRILLIC[::2], _CYRILLIC[1::2])) | {"ъ": "", "ь": ""})


def slug(text: str, room: int) -> str:
    """TEXT in Latin letters as an id's words (`Ҳисоб то панҷ` is `hisob-to-panj`), at most
    ROOM characters, cut at a word; "" when no letter of it has a Latin form."""
    words = unicodedata.normalize("NFKD", text.casefold().translate(TRANSLITERATE))
    found = re.sub(r"[^a-z0-9]+", "-", words.encode("ascii", "ignore").decode()).strip("-")
    if len(found) > room:
        kept = found[:room + 1].rsplit("-", 1)[0] if "-" in found[:room + 1] else found[:room]
        found = kept.strip("-")
    return found


def cut(text: str, limit: int) -> str:
    """TEXT tidied, and cut at a word with … when it is longer than LIMIT characters."""
    text = tidy(text)
    return text if len(text) <= limit else text[:limit - 1].rsplit(" ", 1)[0] + "…"


def plural(n: int, thing: str) -> str:
    """`1 video`, `2 videos`; audio is counted as it is."""
    return f"{n} {thing}" if n == 1 or thing == "audio" else f"{n} {thing}s"


def clock(seconds: float) -> str:
    """SECONDS as the duration column writes it: m:ss, or h:mm:ss; "" for none."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if not (hours or minutes or secs):
        return ""
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def lang_rank(code: str) -> tuple[int, str]:
    """Languages in the order people here list them; other codes after, und last."""
    return (CODES.index(code) if code in CODES else len(CODES) + (code == NO_LANGUAGE), code)


def header(rows: list[dict], columns: tuple[str, ...] = ITEM_COLUMNS,
           always: tuple[str, ...] = ITEM_ALWAYS) -> list[str]:
    """The header of a new sheet for ROWS: the columns ALWAYS and those any row fills, in the
    order of COLUMNS (a name there stands for it and its FIELD_LANG columns, by language)."""
    filled = dict.fromkeys([*always, *(column for row in rows for column, value in row.items() if value)])

    def rank(column: str) -> tuple[int, tuple[int, str]]:
        if column in columns:
            return columns.index(column), (-1, "")
        base, _, lang = column.rpartition("_")
        return (columns.index(base) if base in columns else len(columns)), lang_rank(lang)

    return sorted(filled, key=rank)


def place(path: Path, target: Path, size: int, *, during: str) -> bool:
    """Hard-link the file PATH as TARGET, or copy it (copy_exactly) where a link cannot be made
    (another filesystem); whether it was copied. Either way TARGET must be a plain file of SIZE
    bytes, the size PATH had when it was looked at, or it is refused as changed DURING."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, target, follow_symlinks=False)
    except OSError:
        copy_exactly(path, target, size, during=during)
        return True
    found = os.lstat(target)
    if not stat.S_ISREG(found.st_mode) or found.st_size != size:
        raise InvalidSource(changed_while(path, size, found.st_size, during))
    return False


def copy_exactly(path: Path, target: Path, size: int, *, during: str) -> None:
    """Copy the file PATH, of SIZE bytes when it was looked at, to the new file TARGET in the
    kernel, from a descriptor opened without following a link; refuse it (it "changed while it
    was DURING": imported, scanned) if its size is not SIZE now, or it shrinks meanwhile.

    copy_file_range, falling back to sendfile (what shutil.copyfile uses) where a filesystem
    cannot: no byte passes through Python, and a filesystem that can share blocks (Btrfs, XFS)
    or copy on the server (NFS, SMB) does so. Never more than SIZE bytes are copied. Then the
    kernel is told to start writing TARGET to the disk now, while the next file is copied, so
    the fsyncs at the end wait for little.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        if (now := os.fstat(fd).st_size) != size:
            raise InvalidSource(changed_while(path, size, now, during))
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            done, kernel_copy = 0, True
            while done < size:
                if kernel_copy:
                    try:
                        sent = os.copy_file_range(fd, out, size - done)
                    except OSError:  # not across these filesystems; a real fault comes again from sendfile
                        kernel_copy = False
                        continue
                else:
                    sent = os.sendfile(out, fd, done, size - done)
                if sent == 0:
                    break
                done += sent
            os.posix_fadvise(out, 0, 0, os.POSIX_FADV_DONTNEED)  # starts the writeback; drops only clean pages
        finally:
            os.close(out)
    finally:
        os.close(fd)
    if done != size:  # it shrank while it was copied
        raise InvalidSource(changed_while(path, size, done, during))


def changed_while(path: Path, size: int, now: int, during: str) -> str:
    """The sentence that refuses PATH, of SIZE bytes when it was looked at, NOW of another size."""
    return (f"{path} changed while it was {during} ({size:,} bytes, then {now:,}); is a program writing to "
            f"it? Try again once it is done.")
