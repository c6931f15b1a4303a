"""sanduq-report on a ministry's pile of sticks: `add` + `build` against the plain load of the
same files with Python's csv module into SQLite (and a school-by-week count), in the
same run, each in a child process; time and peak memory. The reference's table is the
plain one a programmer would write first: by box and SQLite's own week (%Y-%W), no check of the
rows, no filter of unbelievable times.

    python3 bench/report.py [--quick] [--boxes N] [--events N]

The sticks are synthetic but shaped as boxes write them (usb_updater/export.py's columns, a
file a month, box.json, summary.csv, receipts): N boxes over about two years, spread over ten
sticks, each box's newest month carried twice (an early copy on one stick, the full month on
another), so both sides also deduplicate.
"""

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from usb_updater.export import CSV_COLUMNS

RESULTS = Path(__file__).with_name("results-report.md")
MONTHS = [f"{2025 + m // 12}-{1 + m % 12:02d}" for m in range(24)]
ITEMS = [(f"item-{n:03d}", f"Story {n}", ("video", "book", "game", "audio")[n % 4]) for n in range(120)]
WORDS = ["сказка", "алифбо", "мультфильм", "шеър", "рақамҳо", "ҳайвонот", "песни", "буквы", "цвета", "танец"]

REFERENCE = r"""
import csv, json, sqlite3, sys, time
from pathlib import Path
start = time.perf_counter()
conn = sqlite3.connect(sys.argv[2])
conn.execute("CREATE TABLE events (event_id TEXT PRIMARY KEY, device TEXT, time TEXT, type TEXT, item TEXT, "
             "title TEXT, kind TEXT, value REAL, language TEXT, search_text TEXT, clock TEXT)")
for path in sorted(Path(sys.argv[1]).rglob("usage-*.csv")):
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        conn.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
conn.commit()
loaded = time.perf_counter()
weeks = conn.execute("SELECT device, strftime('%Y-%W', substr(time, 1, 19)) AS week, sum(type = 'opened'), "
                     "sum(type = 'finished'), sum(type = 'progress' AND kind = 'video' AND value >= 0.75), "
                     "sum(type = 'saved'), sum(type = 'search-empty') FROM events GROUP BY 1, 2").fetchall()
events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
print(json.dumps([loaded - start, time.perf_counter() - loaded, events, len(weeks)]))
"""


def make_sticks(root: Path, boxes: int, events: int, seed: int = 7) -> int:
    """Exports of BOXES boxes with EVENTS events in all under ROOT/stick-NN/; the rows written."""
    rng = random.Random(seed)
    per_box = events // boxes
    written = 0
    for b in range(boxes):
        device = f"sanduq-{b:08x}"
        stick = root / f"stick-{b % 10:02d}" / "sanduq"
        folder = stick / "exports" / device
        folder.mkdir(parents=True)
        (folder / "box.json").write_text(json.dumps({"device_id": device, "school": f"Мактаби №{b + 1}",
                                                     "version": "0.1.0"}, ensure_ascii=False), encoding="utf-8")
        start = rng.randrange(0, 4)  # some boxes started later
        months = MONTHS[start:]
        behind = b % 17 == 0  # a few boxes lost their clock once
        for n, month in enumerate(months):
            count = per_box // len(months) + (per_box % len(months) if n == len(months) - 1 else 0)
            rows = [_event(rng, device, month, behind and n == 3) for _ in range(count)]
            _write(folder / f"usage-{month}.csv", rows)
            written += count
            if n == len(months) - 1:  # the newest month, carried earlier by another stick half-full
                early = root / f"stick-{(b + 1) % 10:02d}" / "sanduq" / "exports" / device
                early.mkdir(parents=True, exist_ok=True)
                _write(early / f"usage-{month}.csv", rows[: count // 2])
                written += count // 2
        with (folder / "summary.csv").open("w", encoding="utf-8-sig", newline="") as f:
            out = csv.writer(f)
            out.writerow(["device", "item", "title_tg", "title_ru", "title_en", "kind", "opened", "finished",
                          "last_opened", "saved"])
            out.writerows([device, item, f"Қисса {title}", f"Сказка {title}", title, kind, 0, 0, "", 0]
                          for item, title, kind in ITEMS)
        (stick / "receipts").mkdir(exist_ok=True)
        (stick / "receipts" / f"{device}-20261115T100000Z.json").write_text(json.dumps(
            {"device_id": device, "school": f"Мактаби №{b + 1}", "finished": "2026-11-15T10:05:00Z",
             "clock": {"state": "synced"}, "bundles": []}, ensure_ascii=False), encoding="utf-8")
    return written


def _event(rng: random.Random, device: str, month: str, behind: bool) -> list:
    kind = rng.choices(("opened", "progress", "finished", "saved", "search-empty"), (50, 20, 20, 5, 5))[0]
    item, title, item_kind = rng.choice(ITEMS)
    time_ = f"{month}-{rng.randint(1, 28):02d}T{rng.randint(7, 19):02d}:{rng.randint(0, 59):02d}:00.000000Z"
    search = kind == "search-empty"
    return [f"{rng.getrandbits(128):032x}", device, time_, kind, "" if search else item, "" if search else title,
            "" if search else item_kind, rng.choice((0.25, 0.5, 0.75)) if kind == "progress" else "",
            rng.choice(("tg", "ru")), rng.choice(WORDS) if search else "", "behind" if behind else "synced"]


def _write(path: Path, rows: list) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(CSV_COLUMNS)
        out.writerows(rows)


def measured(command: list[str], sticks: Path) -> tuple[float, float, str]:
    """COMMAND's wall time in seconds, its own peak RSS in MB (from wait4), and what it printed.
    Everything written before is on the disk first, so one step's writeback (the sticks just
    made, the reference's database) never lands in another's time, and the sticks' files are
    read once before, so every step finds them in the page cache (this machine's cache was seen
    to drop them between steps: a step then read them from the disk and took half as long again)."""
    os.sync()
    for path in sticks.rglob("*"):
        if path.is_file():
            path.read_bytes()
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.stdout.close()
        took = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"{command[:4]} failed: {err.read().decode()[-2000:]}")
    return took, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 boxes, 60,000 events; writes no results file")
    parser.add_argument("--boxes", type=int, default=1000)
    parser.add_argument("--events", type=int, default=5_000_000)
    args = parser.parse_args()
    boxes, events = (20, 60_000) if args.quick else (args.boxes, args.events)
    report = [sys.executable, "-m", "content_mirror.report.cli"]
    with tempfile.TemporaryDirectory(prefix="sanduq-report-bench-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        rows = make_sticks(tmp / "sticks", boxes, events)
        made = time.perf_counter() - start
        files = sum(1 for _ in (tmp / "sticks").rglob("usage-*.csv"))
        size = sum(p.stat().st_size for p in (tmp / "sticks").rglob("usage-*.csv")) / 1e6
        print(f"made {files:,} files, {rows:,} rows, {size:,.0f} MB in {made:.0f} s", file=sys.stderr)
        # Each side's libraries read from the disk once, untimed, as the files are (measured):
        # DuckDB's is 69 MB, and the first add after installing was seen to take 2-3 s more for it.
        subprocess.run([sys.executable, "-c", "import csv, sqlite3, duckdb, rustpy_xlsxwriter, content_mirror.report.cli"],
                       check=True)
        ref_took, ref_peak, out = measured([sys.executable, "-c", REFERENCE, str(tmp / "sticks"), str(tmp / "ref.db")],
                                          tmp / "sticks")
        ref_load, ref_count, ref_events, _ = json.loads(out.splitlines()[-1])
        add_took, peak1, _ = measured([*report, "--db", str(tmp / "r.duckdb"), "add", str(tmp / "sticks")], tmp / "sticks")
        build_took, peak2, _ = measured([*report, "--db", str(tmp / "r.duckdb"), "build", str(tmp / "out"),
                                         "--as-of", "2027-01-01"], tmp / "sticks")
        again_took, _, _ = measured([*report, "--db", str(tmp / "r.duckdb"), "add", str(tmp / "sticks")], tmp / "sticks")
        import duckdb

        kept = duckdb.connect(str(tmp / "r.duckdb"), read_only=True).execute("SELECT count(*) FROM events").fetchone()[0]
        if kept != ref_events:
            sys.exit(f"the two sides kept different events: {kept} and {ref_events}")
        ours = add_took + build_took
        lines = [
            f"sanduq-report on {boxes:,} boxes' exports: {files:,} monthly files, {rows:,} rows "
            f"({size:,.0f} MB of CSV) on ten sticks, {kept:,} distinct events; {os.cpu_count()} cores. "
            "The reference loads the same files with Python's csv module into SQLite (INSERT OR IGNORE on the "
            "event id) and counts a school-by-week table (by box and SQLite's %Y-%W week: the plain one, no checks).",
            "",
            "| step | sanduq-report, s | csv + SQLite, s | ratio | goal | met |",
            "|---|---|---|---|---|---|",
            f"| load, check and deduplicate (`add`) | {add_took:.1f} | {ref_load:.1f} | {ref_load / add_took:.1f}x | | |",
            f"| tables (`build`: workbook + HTML report; reference: the school-by-week table) | {build_took:.1f} | "
            f"{ref_count:.1f} | | | |",
            f"| **both** | **{ours:.1f}** | **{ref_load + ref_count:.1f}** | **{(ref_load + ref_count) / ours:.1f}x** | "
            f"≥ 4x | {'yes' if (ref_load + ref_count) / ours >= 4 else '**no**'} |",
            f"| the same sticks added again (nothing new) | {again_took:.1f} | | | | |",
            f"| peak memory, `add` / `build` (reference) | {peak1:,.0f} / {peak2:,.0f} MB | {ref_peak:,.0f} MB | | "
            f"< 1,500 MB | {'yes' if max(peak1, peak2) < 1500 else '**no**'} |",
        ]
        print("\n".join(lines))
        if not args.quick:
            RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
