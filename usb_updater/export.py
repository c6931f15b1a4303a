"""Usage out onto the stick: a CSV a spreadsheet opens, JSON Lines of xAPI statements, and
a per-item summary, in STICK/sanduq/exports/DEVICE_ID/.

The events are split by the month they were recorded in (usage-2026-11.csv and .jsonl; events
whose time is not a date go to usage-undated): an insert writes only the months that changed
since this stick last took them, newest first, so a box with years of history exports what is
new in seconds, and a stick too full for all of it carries the newest months and says which
are left (they follow on the next insert). What the stick holds is kept beside the files
(months.json: each month's event count and last row); a month whose files are gone or do not
match is written again. box.json names the box (device id, school, version) for sanduq-report. Every file is written whole (temporary name, fsync, rename), and an
event carried twice is counted once downstream by its id. CSVs are UTF-8 with a BOM so Excel
shows Tajik and Russian correctly. No event names a person; a search that found nothing keeps
its words, which may (a child's name): they stay out of xAPI unless a setting says (xapi.py).
"""

from __future__ import annotations

import csv
import errno
import json
import math
import re
import sqlite3
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from server import __version__, sqlite_files
from server.fsutil import atomic_file, write_atomically
from server.i18n import pick
from server.library import Library
from server.settings import BY_NAME
from server.usage import SCHEMA
from usb_updater.xapi import VERBS, statement

FIELDS = ("id", "time", "type", "item", "value", "lang", "text", "clock")
FORMULA = ("=", "+", "-", "@", "|", "%", "\t", "\r")  # how a spreadsheet cell starts a formula
SUMMARY_COLUMNS = ["device", "item", "title_tg", "title_ru", "title_en", "kind", "opened", "finished", "last_opened",
                   "saved", "title_ky", "title_uz", "title_sr", "title_cnr"]  # a column added later goes at the end,
# where old readers ignore it
# clock (server/clock.py): synced, unconfirmed or behind; empty for events older than the column.
CSV_COLUMNS = ["event_id", "device", "time", "type", "item", "title", "kind", "value", "language", "search_text",
               "clock"]


class UsageUnreadable(OSError):
    """The box's usage store could not be read (the stick is not at fault)."""


class StickFull(OSError):
    """The stick filled up: the newest months are on it, MONTHS_LEFT are not (yet)."""

    def __init__(self, months_left: list[str]):
        super().__init__(errno.ENOSPC, "no space left on the stick")
        self.months_left = months_left


# The month an event was recorded in, as SQLite computes it; server/usage.py indexes it.
MONTH = "substr(time, 1, 7)"
MONTH_NAME = re.compile(r"(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])")
INDEX = "months.json"
BOX = "box.json"
LEGACY = ("usage.csv", "usage.jsonl")  # the whole history in one file, as boxes wrote it before


def export_usage(library: Library, stick: Path, settings: dict | None = None) -> list[dict]:
    """Write what changed of the usage onto STICK (the xAPI settings from SETTINGS); return [{"file", "events"}] for each file
    written (a month left as it was is not listed). OSError if the stick refuses; StickFull
    when it fills up, after the newest months that fit.

    Events stream from usage.db straight into the files, in the order they were recorded
    (never by the box's clock, which jumps), so memory stays flat however long the history.
    """
    folder = Path(stick) / "sanduq" / "exports" / library.device_id
    folder.mkdir(parents=True, exist_ok=True)
    item = _item_lookup(library)
    settings = settings or {name: BY_NAME[name].default for name in ("xapi_home_page", "xapi_search_text", "school_name")}
    xapi = {"home_page": settings["xapi_home_page"], "search_text": settings["xapi_search_text"]}
    written = []
    try:
        with _events(library.data_dir / "usage.db") as conn:
            months = _months(conn)
            held = _held(folder)
            changed = sorted((label for label, state in months.items()
                              if not _same(held.get(label), state) or not _whole(folder, label, held[label])),
                             key=lambda label: (label != "undated", label), reverse=True)
            for n, label in enumerate(changed):  # newest first: on a full stick, the newest land
                with _full_stick(changed[n:]):
                    events = _write_month(conn, folder, label, months[label]["raw"], library.device_id, item, xapi)
                written += [{"file": f"sanduq/exports/{library.device_id}/usage-{label}.{ext}", "events": events}
                            for ext in ("csv", "jsonl")]
                held[label] = dict(months[label], size=_sizes(folder, label))
                with _full_stick(changed[n + 1:]):  # this month is on; the index says so, or it is written again
                    write_atomically(folder / INDEX, json.dumps(_public(held, months), sort_keys=True).encode())
            with _full_stick([]), atomic_file(folder / "summary.csv", encoding="utf-8-sig") as summary:
                items = _summary(conn, csv.writer(summary), library.device_id, item)
            with _full_stick([]):  # how sanduq-report names the box (else by its id)
                write_atomically(folder / BOX, json.dumps({"device_id": library.device_id, "school": settings["school_name"],
                                                           "version": __version__}, ensure_ascii=False).encode())
    except sqlite3.DatabaseError as e:
        # The stick keeps its older, whole files; the server sets a damaged store aside.
        raise UsageUnreadable(errno.EIO, f"the box's usage store could not be read ({e})") from e
    for name in LEGACY:  # now in the monthly files: an old whole-history file would only go stale
        (folder / name).unlink(missing_ok=True)
    return written + [{"file": f"sanduq/exports/{library.device_id}/summary.csv", "events": items}]


@contextmanager
def _full_stick(left: list[str]):
    """A stick that fills up here becomes StickFull, naming the months LEFT for the next insert."""
    try:
        yield
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(e, StickFull):
            raise StickFull(left) from e
        raise


def _months(conn: sqlite3.Connection) -> dict[str, dict]:
    """Each month's file label -> its event count, last row, events marked behind since (a month
    whose events the box later learnt were recorded with its clock behind is written again),
    and the raw month values it holds."""
    known = ", ".join(f"'{t}'" for t in VERBS)
    has_clock = "clock" in {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    behind = "sum(clock = 'behind')" if has_clock else "0"
    months: dict[str, dict] = {}
    for raw, count, last, late in conn.execute(f"SELECT {MONTH}, count(*), max(rowid), {behind} FROM events "
                                               f"WHERE type IN ({known}) GROUP BY 1"):
        label = _clean(raw) if MONTH_NAME.fullmatch(_clean(raw)) else "undated"
        state = months.setdefault(label, {"events": 0, "last": 0, "behind": 0, "raw": []})
        state["events"] += count
        state["last"] = max(state["last"], last)
        state["behind"] += late or 0
        state["raw"].append(raw)
    return months


def _write_month(conn, folder: Path, label: str, raws: list[str], device_id: str, item, xapi: dict) -> int:
    count = 0
    with atomic_file(folder / f"usage-{label}.csv", encoding="utf-8-sig") as rows, \
            atomic_file(folder / f"usage-{label}.jsonl", encoding="utf-8") as lines:
        writer = csv.writer(rows)
        writer.writerow(CSV_COLUMNS)
        for event in _rows(conn, raws):
            found = item(event["item"]) if event["item"] else None
            writer.writerow(safe_row([event["id"], device_id, event["time"], event["type"],
                                      event["item"], _title(found), found["kind"] if found else "",
                                      event["value"], event["lang"], event["text"], event["clock"]]))
            lines.write(json.dumps(statement(event, device_id, found, **xapi), ensure_ascii=False) + "\n")
            count += 1
    return count


def _held(folder: Path) -> dict[str, dict]:
    """What this stick says it holds (months.json); nothing when it is missing or not ours.

    The stick is not trusted for more than this: a wrong entry only makes the box write that
    month again, and a file whose size is not the entry's is written again (_whole)."""
    try:
        with (folder / INDEX).open("rb") as f:
            data = json.loads(f.read(1_000_000))
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested past Python's limit
        return {}
    if not isinstance(data, dict):
        return {}
    return {label: state for label, state in data.items()
            if (label == "undated" or MONTH_NAME.fullmatch(label)) and isinstance(state, dict)}


def _same(held: dict | None, state: dict) -> bool:
    return bool(held) and all(held.get(key) == state[key] for key in ("events", "last", "behind"))


def _public(held: dict, months: dict) -> dict:
    """The index as written: only months the box has, only the keys the box writes (whatever
    else the stick's old index held is not carried over)."""
    return {label: {k: state[k] for k in ("events", "last", "behind", "size") if k in state}
            for label, state in held.items() if label in months}


def _sizes(folder: Path, label: str) -> list[int]:
    return [(folder / f"usage-{label}.{ext}").stat().st_size for ext in ("csv", "jsonl")]


def _whole(folder: Path, label: str, state: dict) -> bool:
    """Whether the month's files on the stick are the ones the index describes."""
    try:
        return _sizes(folder, label) == state.get("size")
    except OSError:
        return False


def _item_lookup(library: Library):
    """Item by id, cached (bounded by the catalog: events name only items it holds or once held).

    A damaged catalog costs the export its titles, never the export: the usage is what the
    stick is for, and the box rebuilds its catalog by itself.
    """
    try:
        size = library.catalog.count()
    except sqlite3.DatabaseError:
        size = 0

    @lru_cache(maxsize=size + 16)
    def item(item_id: str) -> dict | None:
        try:
            return library.catalog.get(item_id)
        except sqlite3.DatabaseError:
            return None

    return item


@contextmanager
def _events(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to usage.db (readable while the server writes), or to an empty one."""
    conn = sqlite_files.connect(path, timeout=30) if path.exists() else None
    try:
        if conn is None or not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            if conn is not None:
                conn.close()
            conn = sqlite3.connect(":memory:")  # nothing recorded yet: the files get their headings
            conn.execute(SCHEMA[0])
        yield conn
    finally:
        conn.close()


def _rows(conn: sqlite3.Connection, months: list[str]) -> Iterator[dict]:
    """The events of MONTHS in the order they were recorded, as clean values whatever the row holds."""
    known = ", ".join(f"'{t}'" for t in VERBS)
    marks = ", ".join("?" * len(months))
    have = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    fields = ", ".join(name if name in have else f"NULL AS {name}" for name in FIELDS)  # a store not yet migrated
    for row in conn.execute(f"SELECT {fields} FROM events WHERE type IN ({known}) "
                            f"AND {MONTH} IN ({marks}) ORDER BY rowid", months):
        event = {name: _clean(value) for name, value in zip(FIELDS, row)}
        event["value"] = row[FIELDS.index("value")] if finite(row[FIELDS.index("value")]) else None
        yield event


def _clean(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else "" if value is None else str(value)


def _summary(conn: sqlite3.Connection, writer, device_id: str, item) -> int:
    """Per item: openings, completions, last opening, saves to phones, counted by SQLite;
    return the rows written."""
    writer.writerow(SUMMARY_COLUMNS)
    count = 0
    for item_id, opened, finished, last, saved in conn.execute(
            "SELECT CAST(item AS TEXT) AS item_id, sum(type = 'opened'), sum(type = 'finished'), "
            "max(CASE WHEN type = 'opened' THEN time END), sum(type = 'saved') FROM events "
            "WHERE type IN ('opened', 'finished', 'saved') AND item IS NOT NULL AND item != '' "
            "GROUP BY item_id ORDER BY 2 DESC, item_id"):
        found = item(item_id) or {"title": {}, "kind": ""}
        titles = found["title"]
        writer.writerow(safe_row([device_id, item_id, titles.get("tg", ""), titles.get("ru", ""), titles.get("en", ""),
                                  found["kind"], opened, finished, _clean(last), saved,
                                  *(titles.get(lang, "") for lang in ("ky", "uz", "sr", "cnr"))]))
        count += 1
    return count


def _title(item: dict | None) -> str:
    """The title a programme officer reads in the CSV: English, else the nearest (languages.chain)."""
    return pick(item["title"], "en") if item else ""


def finite(value: object) -> bool:
    """A number that can be written as one: not text, not NaN, not infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def safe_row(cells: list) -> list:
    """Text cells a spreadsheet would run as a formula get a leading quote, as Kolibri's do.

    Numbers we write ourselves stay numbers; None is an empty cell.
    """
    return ["" if c is None else "'" + c if isinstance(c, str) and c.startswith(FORMULA) else c for c in cells]
