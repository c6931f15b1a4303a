"""sanduq-report add (intake.py): real boxes' exports into a real DuckDB file, every event once, every bad
row refused with its reason, the same stick twice changing nothing."""

import csv
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import pytest

from content_mirror.report import intake, sticks, store
from content_mirror.report.cli import main
from tests.helpers import need_tool
from usb_updater.export import CSV_COLUMNS

REPO = Path(__file__).resolve().parents[3]


def add(db, *places):
    found = sticks.Found()
    for place in places:
        here = sticks.find(place)
        for name in ("usage", "summaries", "boxes", "receipts", "problems"):
            getattr(found, name).extend(getattr(here, name))
    conn = store.connect(db)
    try:
        return intake.add(conn, found)
    finally:
        conn.close()


def dump(db) -> dict:
    """Every table's rows, sorted: what "changes nothing" compares."""
    conn = duckdb.connect(str(db), read_only=True)
    tables = [r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    out = {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}
    conn.close()
    return out


def events(db, where="true") -> list[tuple]:
    conn = duckdb.connect(str(db), read_only=True)
    rows = conn.execute(f"SELECT replace(CAST(event_id AS VARCHAR), '-', ''), device, type, item, value, language, "
                        f"search_text, clock FROM events WHERE {where} ORDER BY event_id").fetchall()
    conn.close()
    return rows


def test_the_report_reads_every_column_a_box_writes():
    assert intake.COLUMNS == tuple(CSV_COLUMNS)


def test_two_boxes_on_two_sticks_count_each_event_once_and_a_stick_added_twice_changes_nothing(make_box, tmp_path):
    khujand, osh = make_box("Мактаби №5, Хуҷанд"), make_box("Детский сад №3, Ош")
    ids = khujand.record(("2026-10-05T09:00:00.000000Z", "opened", "video-count", None, "tg"),
                         ("2026-11-02T09:00:00.000000Z", "opened", "book-cat", None, "tg"))
    khujand.export(tmp_path / "stick-a")
    # The box goes on recording; the next stick carries November again, with one event more.
    ids += khujand.record(("2026-11-20T09:00:00.000000Z", "finished", "book-cat", None, "tg"))
    khujand.export(tmp_path / "stick-b")
    ids += osh.record(("2026-11-03T10:00:00.000000Z", "saved", "video-count", None, "ru"))
    osh.export(tmp_path / "stick-b")
    db = tmp_path / "r.duckdb"

    first = add(db, tmp_path / "stick-a")
    assert (first.events, first.duplicates, first.conflicts, first.refused, first.problems) == (2, 0, 0, 0, [])
    second = add(db, tmp_path / "stick-b")
    # October is the same file on both sticks (skipped by its hash); November's new file
    # carries the event already counted once more.
    assert (second.events, second.duplicates, second.conflicts) == (2, 1, 0)
    assert sorted(e[0] for e in events(db)) == sorted(ids)
    before = dump(db)
    again = add(db, tmp_path / "stick-a", tmp_path / "stick-b")
    assert (again.files, again.events, again.duplicates) == (0, 0, 0)
    assert again.known > 0
    assert dump(db) == before
    conn = duckdb.connect(str(db), read_only=True)
    assert dict(conn.execute("SELECT device, school FROM boxes").fetchall()) == {
        khujand.device: "Мактаби №5, Хуҷанд", osh.device: "Детский сад №3, Ош"}
    conn.close()


def write_usage(path, rows, heading=CSV_COLUMNS):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(heading)
        out.writerows(rows)


def row(n, device="sanduq-0000aaaa", type="opened", item="book-cat", value="", text="", clock="synced",
        time="2026-11-02T09:00:00.000000Z"):
    return [f"{n:032x}", device, time, type, item, "Cat", "book", value, "tg", text, clock]


def test_every_bad_row_is_refused_with_its_reason_and_the_good_ones_kept(tmp_path):
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / "usage-2026-11.csv", [
        row(1),
        row(2, type="search-empty", item="", text="'=HYPERLINK(\"http://x\")"),  # the box's formula guard, undone
        ["not-an-id"] + row(3)[1:],
        row(4, device="sanduq-0000bbbb"),  # another box's row in this box's folder
        row(5, type="teleported"),
        row(6, time="yesterday"),
        row(7, type="progress", value="NaN"),
        row(8, type="progress", value="7"),
        row(9, clock="fast"),
        row(10, type="search-empty", item="", text="x" * 201),
    ])
    with (folder / "usage-2026-11.csv").open("a", encoding="utf-8", newline="") as f:
        f.write(f'{11:032x},sanduq-0000aaaa,"2026-11-02T09:00:00.000000Z,opened\r\n')  # a quote never closed
    db = tmp_path / "r.duckdb"
    added = add(db, tmp_path / "stick")
    kept = events(db)
    assert [e[0][-1] for e in kept] == ["1", "2"]
    assert kept[1][6] == '=HYPERLINK("http://x")'
    conn = duckdb.connect(str(db), read_only=True)
    reasons = dict(conn.execute("SELECT reason, sum(rows) FROM refused GROUP BY 1").fetchall())
    conn.close()
    assert reasons == {"bad-id": 1, "other-box": 1, "bad-type": 1, "bad-time": 1, "bad-value": 2, "bad-clock": 1,
                       "too-long": 1, "unreadable-row": 1}
    assert added.refused == 9


def test_the_same_id_with_other_content_is_a_conflict_and_the_first_stays(tmp_path):
    a = tmp_path / "a" / "sanduq" / "exports" / "sanduq-0000aaaa"
    b = tmp_path / "b" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(a / "usage-2026-11.csv", [row(1), row(2)])
    # The same events come back: #1 with another item (a conflict), #2 now known to have been
    # recorded while the clock was behind (what the box learnt later: not a conflict).
    write_usage(b / "usage-2026-11.csv", [row(1, item="video-count"), row(2, clock="behind"), row(3)])
    db = tmp_path / "r.duckdb"
    add(db, tmp_path / "a")
    added = add(db, tmp_path / "b")
    assert (added.events, added.duplicates, added.conflicts) == (1, 1, 1)
    kept = {e[0][-1]: e for e in events(db)}
    assert kept["1"][3] == "book-cat" and kept["2"][7] == "behind"
    conn = duckdb.connect(str(db), read_only=True)
    assert conn.execute("SELECT kept, other FROM conflicts").fetchall() == [
        ("sanduq-0000aaaa | 2026-11-02 09:00:00 | opened | book-cat |  | tg | ",
         "sanduq-0000aaaa | 2026-11-02 09:00:00 | opened | video-count |  | tg | ")]
    conn.close()


def test_an_older_box_export_without_the_clock_column_is_read(tmp_path):
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / "usage.csv", [row(1)[:-1], row(2)[:-1]], heading=CSV_COLUMNS[:-1])
    db = tmp_path / "r.duckdb"
    assert add(db, tmp_path / "stick").events == 2
    assert [e[7] for e in events(db)] == ["", ""]


def test_a_file_that_is_not_a_box_s_is_named_the_others_still_counted_and_fixing_it_adds_it(tmp_path, capsys):
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / "usage-2026-10.csv", [row(1)])
    (folder / "usage-2026-11.csv").write_bytes(b"\x00\x01PK\x03\x04 garbage\n" * 100)
    db = tmp_path / "r.duckdb"
    assert main(["--db", str(db), "add", str(tmp_path / "stick"), str(tmp_path / "no-such-stick")]) == 3
    err = sorted(capsys.readouterr().err.strip().splitlines())
    assert len(err) == 2
    assert "no-such-stick is not a folder that can be read" in err[0]
    assert "usage-2026-11.csv was not added (its first line is not the heading a box writes)" in err[1]
    assert len(events(db)) == 1
    write_usage(folder / "usage-2026-11.csv", [row(2)])
    assert main(["--db", str(db), "add", str(tmp_path / "stick")]) == 0
    assert len(events(db)) == 2


def one_month_added(tmp_path, month="10") -> tuple[Path, Path, dict]:
    """A box's folder on a stick with one month's file, added: (the folder, the database, its dump)."""
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / f"usage-2026-{month}.csv", [row(1)])
    db = tmp_path / "r.duckdb"
    add(db, tmp_path / "stick")
    return folder, db, dump(db)


def test_an_add_stopped_halfway_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    folder, db, before = one_month_added(tmp_path)
    write_usage(folder / "usage-2026-11.csv", [row(2)])
    # What a stick pulled out or Ctrl+C does after the rows are read and before they are kept.
    monkeypatch.setattr(intake, "_merge", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(["--db", str(db), "add", str(tmp_path / "stick")]) == 1
    assert dump(db) == before
    monkeypatch.undo()
    assert add(db, tmp_path / "stick").events == 1


def test_files_are_found_in_a_folder_of_copies_at_any_depth_and_receipts_name_the_school(tmp_path):
    copies = tmp_path / "from the field" / "week 48" / "school 12"
    write_usage(copies / "sanduq" / "exports" / "sanduq-0000aaaa" / "usage-2026-11.csv", [row(1)])
    (copies / "sanduq" / "receipts").mkdir(parents=True)
    (copies / "sanduq" / "receipts" / "sanduq-0000aaaa-20261120T100000Z.json").write_text(json.dumps(
        {"device_id": "sanduq-0000aaaa", "school": "Боғчаи №12", "finished": "2026-11-20T10:01:00Z",
         "clock": {"state": "behind"}, "bundles": [{"status": "installed"}]}), encoding="utf-8")
    (copies / "sanduq" / "exports" / "sanduq-0000aaaa" / "._usage-2026-11.csv").write_bytes(b"\x00\x05\x16\x07")
    (copies / "sanduq" / "receipts" / "broken.json").write_text("{", encoding="utf-8")
    db = tmp_path / "r.duckdb"
    added = add(db, tmp_path / "from the field")
    assert added.events == 1
    assert [p for p in added.problems if "broken.json" in p]
    conn = duckdb.connect(str(db), read_only=True)
    assert conn.execute("SELECT device, school, clock, ok FROM visits").fetchall() == [
        ("sanduq-0000aaaa", "Боғчаи №12", "behind", True)]
    conn.close()


def test_a_database_of_another_version_is_refused_with_a_sentence(tmp_path, capsys):
    db = tmp_path / "r.duckdb"
    conn = store.connect(db)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    conn.close()
    assert main(["--db", str(db), "add", str(tmp_path)]) == 1
    assert "made by another version of sanduq-report" in capsys.readouterr().err


@pytest.mark.parametrize("garbage", [b"", b"not a database at all" * 100])
def test_a_damaged_report_database_is_one_sentence(tmp_path, capsys, garbage):
    db = tmp_path / "r.duckdb"
    db.write_bytes(garbage or b"\x00" * 4096)
    assert main(["--db", str(db), "build", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "cannot be opened" in err and "Traceback" not in err


def test_a_stick_a_box_really_handled_is_read_whole(make_box, tmp_path):
    from server import settings as settings_table
    from server.usage import UsageLog
    from usb_updater.process import process_stick

    box = make_box("Боғчаи №7, Исфара")
    log = UsageLog(box.library.data_dir / "usage.db", flush_seconds=0.01)
    log.record("opened", item="video-count", lang="tg")
    log.record("progress", item="video-count", value=0.75, lang="tg")
    log.record("search-empty", text="динозавр", lang="tg")
    log.close()
    (tmp_path / "stick" / "sanduq").mkdir(parents=True)
    settings = settings_table.load({"data_dir": str(box.library.data_dir), "school_name": box.school,
                                    "disk_reserve_mb": 0, "status_dir": str(tmp_path / "run")}, env={})
    process_stick(box.library, tmp_path / "stick", settings)
    db = tmp_path / "r.duckdb"
    added = add(db, tmp_path / "stick")
    assert (added.events, added.refused, added.problems) == (3, 0, [])
    assert sorted(e[2] for e in events(db)) == ["opened", "progress", "search-empty"]
    conn = duckdb.connect(str(db), read_only=True)
    assert conn.execute("SELECT device, school, ok FROM visits").fetchall() == [(box.device, box.school, True)]
    conn.close()


def test_a_file_gone_between_finding_and_reading_is_named_and_the_others_are_added(tmp_path):
    # A stick pulled out while it is read: DuckDB cannot open the file, the transaction is lost,
    # and the add starts again without it.
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / "usage-2026-10.csv", [row(1)])
    write_usage(folder / "usage-2026-11.csv", [row(2)])
    found = sticks.find(tmp_path / "stick")
    (folder / "usage-2026-11.csv").unlink()
    conn = store.connect(tmp_path / "r.duckdb")
    added = intake.add(conn, found)
    conn.close()
    assert added.events == 1
    assert len(added.problems) == 1 and "usage-2026-11.csv was not added" in added.problems[0]
    assert [e[0][-1] for e in events(tmp_path / "r.duckdb")] == ["1"]


def test_links_pipes_and_endless_files_on_a_stick_are_skipped_never_read(tmp_path):
    import os
    import subprocess
    import sys

    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / "usage-2026-10.csv", [row(1)])
    (folder / "usage-2026-11.csv").symlink_to("/dev/zero")
    os.mkfifo(folder / "usage-2026-12.csv")
    (folder / "summary.csv").symlink_to("/etc/passwd")
    result = subprocess.run([sys.executable, "-m", "content_mirror.report.cli", "--db", str(tmp_path / "r.duckdb"),
                             "add", str(tmp_path / "stick")], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 3, result.stderr
    skipped = [line for line in result.stderr.splitlines() if "is a link or a special file" in line]
    assert len(skipped) == 3 and "Traceback" not in result.stderr
    assert len(events(tmp_path / "r.duckdb")) == 1


def test_a_file_copied_into_the_wrong_folder_does_not_keep_out_the_right_copy(tmp_path):
    wrong = tmp_path / "copies" / "school12"
    write_usage(wrong / "sanduq-0000bbbb" / "usage-2026-11.csv", [row(1), row(2)])  # box aaaa's file, misfiled
    db = tmp_path / "r.duckdb"
    first = add(db, tmp_path / "copies")
    assert (first.events, first.refused) == (0, 2)
    right = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(right / "usage-2026-11.csv", [row(1), row(2)])
    assert add(db, tmp_path / "stick").events == 2


def test_rows_that_are_not_utf8_or_name_duckdb_s_own_columns_are_counted_not_lost(tmp_path):
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / "usage-2026-10.csv", [row(1)])
    with (folder / "usage-2026-10.csv").open("ab") as f:
        f.write(f"{2:032x},sanduq-0000aaaa,2026-11-02T09:00:00Z,opened,book-cat,Cat,book,,tg,caf\xe9,synced\r\n".encode("latin-1"))
    write_usage(folder / "usage-2026-11.csv", [row(3) + ["1"]], heading=CSV_COLUMNS + ["file_index"])
    db = tmp_path / "r.duckdb"
    added = add(db, tmp_path / "stick")
    assert added.events == 1 and added.refused == 1
    assert [p for p in added.problems if "usage-2026-11.csv was not added (its first line is not the heading" in p]
    conn = duckdb.connect(str(db), read_only=True)
    assert conn.execute("SELECT reason, rows, example FROM refused").fetchall() == [("unreadable-row", 1, "line 3")]
    conn.close()


def test_a_nul_in_a_search_is_refused_and_a_conflict_never_shows_a_search_s_words(tmp_path):
    a = tmp_path / "a" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(a / "usage-2026-11.csv", [row(1, type="search-empty", item="", text="Aziz Karimov"),
                                          row(2, type="search-empty", item="", text="x\x00y")])
    b = tmp_path / "b" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(b / "usage-2026-11.csv", [row(1, type="search-empty", item="", text="Aziz K.")])
    db = tmp_path / "r.duckdb"
    assert add(db, tmp_path / "a").refused == 1
    assert add(db, tmp_path / "b").conflicts == 1
    conn = duckdb.connect(str(db), read_only=True)
    shown = conn.execute("SELECT kept || other FROM conflicts").fetchone()[0]
    assert "Aziz" not in shown and "[…]" in shown
    assert conn.execute("SELECT reason FROM refused").fetchall() == [("bad-text",)]
    conn.close()


def test_folders_too_deep_to_search_are_said(tmp_path):
    deep = tmp_path / "copies"
    for n in range(10):
        deep = deep / f"level{n}"
    write_usage(deep / "sanduq" / "exports" / "sanduq-0000aaaa" / "usage-2026-11.csv", [row(1)])
    found = sticks.find(tmp_path / "copies")
    assert found.usage == [] and any("were not searched" in p for p in found.problems)


def test_a_summary_far_larger_than_a_box_writes_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(sticks, "MAX_SUMMARY", 1000)  # (32 MB in the field: the limit, not its size, is tested)
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / "usage-2026-11.csv", [row(1)])
    (folder / "summary.csv").write_text("device,item,title_tg\n" + "sanduq-0000aaaa,x,y\n" * 100, encoding="utf-8")
    found = sticks.find(tmp_path / "stick")
    assert found.summaries == [] and [p for p in found.problems if "summary.csv could not be read" in p]
    assert len(found.usage) == 1


@pytest.mark.parametrize("part", [intake.PART, 1], ids=["one part", "a part per file"])
def test_plain_files_are_read_in_one_stream_and_each_row_still_names_its_file(tmp_path, monkeypatch, part):
    # Files without a double quote are gathered into one stream (DuckDB opens one file, not a
    # thousand); a file with quotes is read on its own, since a quoted field may hold a line
    # break. Both ways, every row is checked against its own file's box and counted for its file.
    # A stream is read in parts while the next is written: with a part per file, the same.
    monkeypatch.setattr(intake, "PART", part)
    a = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    b = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000bbbb"
    write_usage(a / "usage-2026-10.csv", [row(1), ["not-an-id"] + row(2)[1:], row(3, type="teleported"),
                                          row(4, device="sanduq-0000bbbb"), row(5, type="progress", value="NaN")])
    write_usage(a / "usage-2026-11.csv", [row(6, type="search-empty", item="", text='say "hi"'),
                                          row(7, type="search-empty", item="", text="two\nlines")])
    write_usage(b / "usage-2026-11.csv", [row(8, device="sanduq-0000bbbb")])
    with (b / "usage-2026-11.csv").open("ab") as f:  # a last row without its line feed
        f.write(",".join(row(9, device="sanduq-0000bbbb")).encode())
    db = tmp_path / "r.duckdb"
    added = add(db, tmp_path / "stick")
    kept = {e[0][-1]: e for e in events(db)}
    assert sorted(kept) == ["1", "6", "7", "8", "9"]
    assert kept["6"][6] == 'say "hi"' and kept["7"][6] == "two\nlines"
    assert (added.events, added.refused, added.problems) == (5, 4, [])
    conn = duckdb.connect(str(db), read_only=True)
    files = dict(((d, n), (r, new, ref)) for d, n, r, new, ref in conn.execute(
        "SELECT device, name, rows, new, refused FROM files WHERE kind = 'usage'").fetchall())
    assert files == {("sanduq-0000aaaa", "usage-2026-10.csv"): (5, 1, 4), ("sanduq-0000aaaa", "usage-2026-11.csv"): (2, 2, 0),
                     ("sanduq-0000bbbb", "usage-2026-11.csv"): (2, 2, 0)}
    reasons = dict(conn.execute("SELECT reason, sum(rows) FROM refused GROUP BY 1").fetchall())
    conn.close()
    assert reasons == {"bad-id": 1, "bad-type": 1, "other-box": 1, "bad-value": 1}
    assert not list(tmp_path.glob("**/.sanduq-report-*")) and not list(Path(tempfile.gettempdir()).glob(
        ".sanduq-report-*")), "the gathered rows are removed"


def test_a_part_that_fails_while_the_next_is_written_stops_the_add_and_changes_nothing(tmp_path, monkeypatch):
    folder, db, before = one_month_added(tmp_path, "08")
    for n, month in enumerate(("09", "10", "11"), 2):
        write_usage(folder / f"usage-2026-{month}.csv", [row(n)])
    monkeypatch.setattr(intake, "PART", 1)
    read, calls = intake._read, []

    def second_fails(*args):  # on the reading thread: the second part, as if Ctrl+C or the disk failed there
        calls.append(args[2])
        if len(calls) == 2:
            raise KeyboardInterrupt()
        read(*args)

    monkeypatch.setattr(intake, "_read", second_fails)
    assert main(["--db", str(db), "add", str(tmp_path / "stick")]) == 1
    assert len(calls) >= 2 and dump(db) == before
    monkeypatch.setattr(intake, "_read", read)
    assert add(db, tmp_path / "stick").events == 3
    assert not list(tmp_path.glob("**/.sanduq-report-*")), "the parts are removed"


class Watched:
    """The real connection, each call noted by thread; the reading thread's calls made slow
    (as DuckDB reading 64 MB is), so that a Ctrl+C can land while the add waits for it. Only the
    timing is a stand-in: every call goes to the real DuckDB."""

    def __init__(self, conn):
        self.conn, self.inside, self.overlaps, self.lock = conn, {}, [], threading.Lock()

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def execute(self, sql, *args):
        me = threading.current_thread().name
        with self.lock:
            if self.inside:
                self.overlaps.append((me, sql.split()[0], dict(self.inside)))
            self.inside[me] = sql.split()[0]
        try:
            if me.startswith("sanduq-read"):
                time.sleep(1.0)
            return self.conn.execute(sql, *args)
        finally:
            with self.lock:
                self.inside.pop(me, None)


def test_ctrl_c_while_the_add_waits_for_duckdb_stops_it_and_no_two_threads_share_the_database(tmp_path, monkeypatch):
    folder, db, before = one_month_added(tmp_path, "08")
    for n, month in enumerate(("09", "10"), 2):
        write_usage(folder / f"usage-2026-{month}.csv", [row(n)])
    monkeypatch.setattr(intake, "PART", 1)  # a part per file: two parts, the add then waits for both
    conn = store.connect(db)
    watched = Watched(conn)
    main_thread = threading.main_thread().ident
    threading.Timer(0.4, lambda: signal.pthread_kill(main_thread, signal.SIGINT)).start()  # one Ctrl+C
    with pytest.raises(KeyboardInterrupt):
        intake.add(watched, sticks.find(tmp_path / "stick"))
    assert watched.inside == {} and watched.overlaps == [], "the rollback waited for the reading thread"
    conn.close()
    assert dump(db) == before
    assert add(db, tmp_path / "stick").events == 2


def test_duckdb_out_of_memory_is_said_as_the_machine_s_and_no_file_is_blamed(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    for m in (1, 2):
        write_usage(folder / f"usage-2026-{m:02d}.csv", [row(m * 1_000_000 + n) for n in range(150_000)])
    connect = store.connect
    monkeypatch.setattr(store, "connect", lambda path: _no_spill(connect(path, memory="30MB")))
    monkeypatch.setattr(intake, "PART", 1)
    db = tmp_path / "r.duckdb"
    assert main(["--db", str(db), "add", str(tmp_path / "stick")]) == 1
    err = capsys.readouterr().err
    assert "The report database could not do it" in err and "was not added" not in err
    conn = duckdb.connect(str(db), read_only=True)
    assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == 0
    conn.close()


def _no_spill(conn):
    conn.execute("SET temp_directory = ''")  # DuckDB may not spill to disk: it runs out of memory
    return conn


def test_a_stick_added_with_one_added_before_brings_only_its_own_rows(tmp_path):
    write_usage(tmp_path / "a" / "sanduq" / "exports" / "sanduq-0000aaaa" / "usage-2026-10.csv", [row(1), row(2)])
    write_usage(tmp_path / "b" / "sanduq" / "exports" / "sanduq-0000aaaa" / "usage-2026-11.csv", [row(3)])
    db = tmp_path / "r.duckdb"
    add(db, tmp_path / "a")
    added = add(db, tmp_path / "a", tmp_path / "b")
    assert (added.files, added.known, added.events, added.duplicates) == (1, 1, 1, 0)
    assert [e[0][-1] for e in events(db)] == ["1", "2", "3"]


def test_a_file_that_grows_while_it_is_read_is_named_and_the_others_are_added(tmp_path):
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    write_usage(folder / "usage-2026-10.csv", [row(1)])
    write_usage(folder / "usage-2026-11.csv", [row(2)])
    found = sticks.find(tmp_path / "stick")
    with (folder / "usage-2026-11.csv").open("a", encoding="utf-8", newline="") as f:  # still being copied
        csv.writer(f).writerow(row(3))
    conn = store.connect(tmp_path / "r.duckdb")
    added = intake.add(conn, found)
    conn.close()
    assert [e[0][-1] for e in events(tmp_path / "r.duckdb")] == ["1"]
    assert len(added.problems) == 1 and "usage-2026-11.csv was not added (it changed while it was read" in \
        added.problems[0]


FULL_SCRATCH = r"""
import subprocess, sys
from pathlib import Path
from content_mirror.report import intake, sticks, store
scratch = Path(sys.argv[1])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(scratch)], check=True)
conn = store.connect(Path(sys.argv[2]))
try:
    intake.add(conn, sticks.find(Path(sys.argv[3])), scratch=scratch)
except store.ReportError as e:
    print("said:", e)
print("events", conn.execute("SELECT count(*) FROM events").fetchone()[0], "files",
      conn.execute("SELECT count(*) FROM files").fetchone()[0])
"""


def test_no_room_to_gather_the_rows_is_one_sentence_and_nothing_is_added(tmp_path):
    need_tool("unshare")
    folder = tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa"
    for month in range(1, 13):  # about 150 KB of rows: more than the 64 KB the scratch folder has
        write_usage(folder / f"usage-2026-{month:02d}.csv", [row(month * 1000 + n) for n in range(100)])
    (tmp_path / "scratch").mkdir()
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", FULL_SCRATCH,
                             str(tmp_path / "scratch"), str(tmp_path / "r.duckdb"), str(tmp_path / "stick")],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stdout.splitlines() if line.startswith("said:")]
    assert len(said) == 1 and "could not be gathered" in said[0] and "free some space there, then add again" in said[0]
    assert "events 0 files 0" in result.stdout


def test_ctrl_c_inside_a_duckdb_query_on_the_main_thread_says_stopped(tmp_path, monkeypatch, capsys):
    # DuckDB stops its query at a Ctrl+C and raises RuntimeError('Query interrupted'), not
    # KeyboardInterrupt. A long real query stands in for the tables of a very large database.
    folder, db, before = one_month_added(tmp_path)
    from content_mirror.report import figures
    started, main_thread = threading.Event(), threading.main_thread().ident

    def tables(conn, *args):
        started.set()
        return conn.execute("SELECT count(*) FROM range(20000000000) t(a) WHERE a % 7 = 3").fetchall()  # a minute

    def ctrl_c():
        if started.wait(60):
            time.sleep(0.3)  # inside the query by then
            signal.pthread_kill(main_thread, signal.SIGINT)

    monkeypatch.setattr(figures, "all_tables", tables)
    threading.Thread(target=ctrl_c, daemon=True).start()
    assert main(["--db", str(db), "build", str(tmp_path / "out")]) == 1
    assert "Stopped; the report database is as it was" in capsys.readouterr().err
    assert dump(db) == before
