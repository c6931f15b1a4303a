"""sanduq-report: turn field officers' sticks into one workbook and report.

    sanduq-report add STICK_OR_FOLDER...   the exports found there into the report database
    sanduq-report build OUT                the workbook (XLSX) and the HTML report into OUT
    sanduq-report export OUT               the events as Parquet, by month (Hive layout)
    sanduq-report push postgresql://...    the events into PostgreSQL, idempotently

Exit codes (one place): 0 done; 1 nothing done, and the sentence says why; 2 a wrong command
line; 3 done, but something found could not be read (each said in one sentence; the rest was
added, and adding the stick again after fixing it adds only what is missing).
"""

from __future__ import annotations

import argparse
import locale
import os
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from content_mirror.report.texts import LANGUAGES

DONE, FAILED, USAGE, PARTLY = 0, 1, 2, 3  # USAGE: argparse's own exit for a wrong command line
DB = "sanduq-report.duckdb"
NAME = "sanduq-report"


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a Windows console's code page has no ҳ or ҷ: never a traceback
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    args = _parser().parse_args(argv)
    # Imported here, so `--help` and a wrong command line answer even where DuckDB is missing.
    import duckdb

    from content_mirror.report.store import ReportError

    try:
        return args.run(args)
    except RuntimeError as e:  # Ctrl+C in a DuckDB query: DuckDB stops it and raises this, not KeyboardInterrupt
        if str(e) != "Query interrupted":
            raise
        print("Stopped; the report database is as it was before this command.", file=sys.stderr)
        return FAILED
    except ReportError as e:
        print(str(e), file=sys.stderr)
        return FAILED
    except duckdb.Error as e:
        print(f"The report database could not do it ({str(e).strip().splitlines()[0]}); the database is as it was "
              "before: check there is free space, then run the command again.", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        print("Stopped; the report database is as it was before this command.", file=sys.stderr)
        return FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=NAME, description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path(DB), help=f"the report database (default: ./{DB})")
    # --db is also taken after the command (sanduq-report add --db FILE STICK), as people type it.
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=f"the report database (default: ./{DB})")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    add = commands.add_parser("add", parents=[db], help="add every box's exports found on sticks or in folders")
    add.add_argument("places", nargs="+", type=Path, metavar="STICK_OR_FOLDER")
    add.set_defaults(run=_add)
    build = commands.add_parser("build", parents=[db], help="write the workbook and the HTML report into a folder")
    build.add_argument("out", type=Path, metavar="OUT")
    build.add_argument("--lang", choices=LANGUAGES, default=_default_language(),
                       help="the language of the workbook and report (default: Russian on a Russian, Tajik, "
                            "Kyrgyz or Uzbek system, else English)")
    build.add_argument("--as-of", type=date.fromisoformat, default=datetime.now(timezone.utc).date(),
                       metavar="YYYY-MM-DD", help="the report's date (default: today)")
    build.add_argument("--min-schools", type=_at_least(2), default=3,
                       help="show a search not found only when typed at this many schools, at least 2 (default: 3)")
    build.add_argument("--silent-weeks", type=_at_least(1), default=4,
                       help="name a box silent after this many weeks without events or visits (default: 4)")
    build.set_defaults(run=_build)
    export = commands.add_parser("export", parents=[db], help="write the events as Parquet files, by month")
    export.add_argument("out", type=Path, metavar="OUT")
    export.set_defaults(run=_export)
    push = commands.add_parser("push", parents=[db], help="load the events into PostgreSQL")
    push.add_argument("url", metavar="postgresql://USER@HOST/DATABASE")
    push.set_defaults(run=_push)
    return parser


def _add(args) -> int:
    from content_mirror.report import intake, sticks, store

    found = sticks.Found()
    for place in args.places:
        here = sticks.find(place)
        for name in ("usage", "summaries", "boxes", "receipts", "problems"):
            getattr(found, name).extend(getattr(here, name))
    with store.connect(args.db) as conn, _bar(len(found.usage) + len(found.summaries), "files") as bar:
        added = intake.add(conn, found, bar.update, scratch=args.db.absolute().parent)  # beside the database: room
    print(f"{added.files} new file(s) read, {added.known} added before; {added.events:,} new events, "
          f"{added.duplicates:,} carried before (counted once), {added.conflicts:,} conflicts, "
          f"{added.refused:,} rows refused. Database: {args.db}")
    for problem in added.problems:
        print(problem, file=sys.stderr)
    return PARTLY if added.problems else DONE


def _build(args) -> int:
    from content_mirror.report import figures, page, workbook

    with _existing(args.db) as conn:
        _folder(args.out)
        tables = figures.all_tables(conn, args.as_of, args.min_schools, args.silent_weeks)
    with _bar(len(tables) + 1, "parts") as bar:
        _replace(args.out / f"{NAME}.xlsx", lambda tmp: workbook.write(tmp, tables, args.lang, args.as_of,
                                                                           args.min_schools, bar.update))
        html = page.render({t.name: t for t in tables}, args.lang, args.as_of, args.min_schools, args.silent_weeks)
        _replace(args.out / f"{NAME}.html", lambda tmp: tmp.write_text(html, encoding="utf-8"))
        bar.update(1)
    print(f"Written: {args.out / (NAME + '.xlsx')} and {args.out / (NAME + '.html')}")
    return DONE


def _export(args) -> int:
    from content_mirror.report import outward

    with _existing(args.db) as conn:
        months = outward.export_parquet(conn, args.out)
    print(f"{sum(months.values()):,} events in {len(months)} month(s) written under {args.out / 'events'}")
    return DONE


def _push(args) -> int:
    from content_mirror.report import outward

    with _existing(args.db) as conn:
        total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        with _bar(total, "events") as bar:
            there = outward.push_postgres(conn, args.url, bar.update)
    print(f"{total:,} events pushed; PostgreSQL now holds {there:,}.")
    return DONE


def _existing(path: Path):
    from content_mirror.report import store

    if not path.is_file():
        raise store.ReportError(f"There is no report database at {path}: add sticks first with "
                                f"'{NAME} add STICK', or give the database with --db.")
    return store.connect(path)


def _folder(out: Path) -> None:
    from content_mirror.report.store import ReportError

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReportError(f"The folder {out} cannot be made ({e.strerror or e}); give another.") from e


def _replace(path: Path, write) -> None:
    """Write PATH whole or not at all (a report open in Excel on Windows cannot be replaced: say so)."""
    from content_mirror.report.store import ReportError

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:  # the workbook's writer says so too (rustpy-xlsxwriter raises OSError)
        tmp.unlink(missing_ok=True)
        raise ReportError(f"{path} could not be written ({getattr(e, 'strerror', None) or e}); close it if it is "
                          "open in another program, free some space, and build again.") from e


def _bar(total: int, unit: str):
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: a bar is only updated from the work itself
    return tqdm(total=total, unit=f" {unit}", disable=None, file=sys.stderr)  # disable=None: only on a terminal


def _at_least(least: int):
    def number(text: str) -> int:
        if not text.isdigit() or int(text) < least:
            raise argparse.ArgumentTypeError(f"give a whole number, at least {least}")
        return int(text)
    return number


def _default_language() -> str:
    name = (locale.getlocale()[0] or os.environ.get("LANG", "")).lower()
    return "ru" if name.startswith(("ru", "tg", "ky", "uz", "russian", "tajik", "kyrgyz", "uzbek")) else "en"


if __name__ == "__main__":
    sys.exit(main())
