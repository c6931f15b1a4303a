"""Usage export of a long history: peak memory and time of Sanduq's export against the bare
`sqlite3 -csv` tool writing the same rows, measured in the same run, each in a child process.

    python3 bench/export.py [--quick] [--events N]
"""

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

RESULTS = Path(__file__).with_name("results-export.md")
QUERY = "SELECT id, time, type, item, value, lang, text FROM events ORDER BY rowid"


def ensure_sqlite3() -> str:
    """The sqlite3 command-line tool, installed from Debian when missing (as bench/servers.py does)."""
    if not shutil.which("sqlite3"):
        if os.geteuid() != 0:
            sys.exit("sqlite3 is missing; run as root or: apt-get install -y sqlite3")
        subprocess.run(["apt-get", "install", "-y", "-q", "sqlite3"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return shutil.which("sqlite3")


def make_usage(path: Path, count: int, items: list[str], months: list[str] | None = None) -> None:
    """COUNT events added to usage.db, written directly in batches of 50,000: spread over the
    twelve months of 2026, or over MONTHS in order (a history as a box records it)."""
    from server.usage import SCHEMA

    conn = sqlite3.connect(path)
    for statement in SCHEMA:
        conn.execute(statement)
    rng = random.Random(f"{count} {months}")  # another batch of ids for every call
    types = ["opened", "progress", "finished", "search-empty"]
    done = 0
    while done < count:
        batch = []
        for n in range(done, min(count, done + 50_000)):
            kind = types[n % 4]
            month = months[n * len(months) // count] if months else f"2026-{1 + n % 12:02d}"
            batch.append((uuid.UUID(int=rng.getrandbits(128)).hex, f"{month}-01T10:00:00.000000Z", kind,
                          None if kind == "search-empty" else rng.choice(items),
                          0.25 if kind == "progress" else None, "tg",
                          f"сказка {n % 977}" if kind == "search-empty" else None))
        with conn:
            conn.executemany("INSERT INTO events (id, time, type, item, value, lang, text) VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
        done += len(batch)
    conn.close()


def measure(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of COMMAND, run by a fresh helper so the peak is its own."""
    out = subprocess.run([sys.executable, __file__, "--measure", json.dumps(command)], check=True,
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(_project.REPO))).stdout
    seconds, peak = json.loads(out.splitlines()[-1])
    return seconds, peak


def run_measured(command: list[str]) -> None:
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    print(json.dumps([seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))


EXPORT = """
import sys
from pathlib import Path
from server.library import Library
from usb_updater.export import export_usage
export_usage(Library(sys.argv[1]), Path(sys.argv[2]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds (20,000 events)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in usage.db (default 1,000,000)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return run_measured(json.loads(args.measure))
    count = 20_000 if args.quick else args.events
    tool = ensure_sqlite3()
    from content_mirror.demo import install_demo
    from server.catalog import Filters
    from server.library import Library

    table = ["Usage export: Sanduq writes a CSV and a JSON Lines file a month and summary.csv; the reference, "
             "sqlite3 -csv, writes the same events as one CSV. Two sizes, to show time linear and memory flat.", "",
             "| events | Sanduq time, s | sqlite3 time, s | ratio | Sanduq peak RSS, MB | sqlite3 peak RSS, MB | Sanduq output |",
             "|---|---|---|---|---|---|---|"]
    for n in (count // 10, count):
        with tempfile.TemporaryDirectory() as tmp:
            library = Library(Path(tmp) / "data")
            install_demo(library)
            items = [i["id"] for i in library.catalog.items(Filters(), limit=200).items]
            print(f"making usage.db with {n:,} events", file=sys.stderr)
            make_usage(library.data_dir / "usage.db", n, items)
            stick, out = Path(tmp) / "stick", Path(tmp) / "reference.csv"
            sanduq = measure([sys.executable, "-c", EXPORT, str(library.data_dir), str(stick)])
            reference = measure(["sh", "-c", f"{tool} -csv {library.data_dir / 'usage.db'} '{QUERY}' > {out}"])
            size = sum(f.stat().st_size for f in (stick / "sanduq" / "exports").rglob("*") if f.is_file())
        table.append(f"| {n:,} | {sanduq[0]:.1f} | {reference[0]:.1f} | {sanduq[0] / reference[0]:.1f}x | "
                     f"{sanduq[1]:.1f} | {reference[1]:.1f} | {size / 2**20:.0f} MB |")
    table += ["", f"Three years at a box: {count:,} events over 36 months exported onto a stick, then one "
              "month more and the same stick again (only that month's files, the index and the summary "
              "are written). The goal: the second under 10% of the first.", "",
              "| export | time, s | files written | share of the first |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(Path(tmp) / "data")
        install_demo(library)
        items = [i["id"] for i in library.catalog.items(Filters(), limit=200).items]
        months = [f"{2024 + m // 12}-{m % 12 + 1:02d}" for m in range(36)]
        print(f"making three years of {count:,} events", file=sys.stderr)
        make_usage(library.data_dir / "usage.db", count, items, months)
        stick = Path(tmp) / "stick"
        first = measure([sys.executable, "-c", EXPORT, str(library.data_dir), str(stick)])
        made = sum(1 for _ in (stick / "sanduq" / "exports").rglob("usage-*"))
        make_usage(library.data_dir / "usage.db", count // 36, items, ["2027-01"])
        before = {f: f.stat().st_mtime_ns for f in (stick / "sanduq" / "exports").rglob("*") if f.is_file()}
        second = measure([sys.executable, "-c", EXPORT, str(library.data_dir), str(stick)])
        after = {f: f.stat().st_mtime_ns for f in (stick / "sanduq" / "exports").rglob("*") if f.is_file()}
        changed = sum(1 for f, t in after.items() if before.get(f) != t)
    table += [f"| first: 36 months | {first[0]:.2f} | {made} | 100% |",
              f"| next: one month more | {second[0]:.2f} | {changed} | {100 * second[0] / first[0]:.1f}% |"]
    text = "\n".join(table) + "\n"
    print(text)
    if not args.quick:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
