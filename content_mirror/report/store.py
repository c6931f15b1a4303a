"""The report database: one DuckDB file that grows stick by stick (intake.py fills it,
figures.py counts from it).

Why DuckDB: it reads thousands of CSV files in parallel and checks, joins and counts millions
of rows in SQL without holding them in Python, spilling to disk past its memory limit
(bench/report.py measures it against the csv module and SQLite on the same files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

SCHEMA_VERSION = "4"

TABLES = (
    # An event as its box wrote it: the id as a UUID, its time read (ts; NULL when the box had
    # none), and where it first came from: the add (batch) and the file's place in it (ord),
    # which decide which copy is the first. Titles are not repeated here: items holds them.
    # reason is always NULL: rows are checked on their way in (intake.py's `incoming`); the
    # column stays so that report databases made before still open.
    """CREATE TABLE IF NOT EXISTS events (event_id UUID, device VARCHAR, ts TIMESTAMP, type VARCHAR,
           item VARCHAR, kind VARCHAR, value DOUBLE, language VARCHAR, search_text VARCHAR, clock VARCHAR,
           batch INTEGER, ord INTEGER, reason VARCHAR)""",
    # Every file added, by its bytes and the box folder it sat in; for usage files, what became of
    # its rows: new events, duplicates, conflicts, refused by a check, unreadable as CSV.
    """CREATE TABLE IF NOT EXISTS files (sha256 VARCHAR, kind VARCHAR, device VARCHAR, name VARCHAR,
           path VARCHAR, added TIMESTAMP, batch INTEGER, ord INTEGER, rows BIGINT DEFAULT 0, new BIGINT DEFAULT 0,
           duplicates BIGINT DEFAULT 0, conflicts BIGINT DEFAULT 0, refused BIGINT DEFAULT 0,
           unreadable BIGINT DEFAULT 0, PRIMARY KEY (sha256, device))""",
    "CREATE TABLE IF NOT EXISTS refused (file VARCHAR, device VARCHAR, reason VARCHAR, rows BIGINT, example VARCHAR)",
    """CREATE TABLE IF NOT EXISTS conflicts (event_id VARCHAR, device VARCHAR, kept_file VARCHAR, file VARCHAR,
           kept VARCHAR, other VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS boxes (device VARCHAR PRIMARY KEY, school VARCHAR, version VARCHAR)",
    """CREATE TABLE IF NOT EXISTS visits (file VARCHAR PRIMARY KEY, device VARCHAR, school VARCHAR,
           finished VARCHAR, clock VARCHAR, ok BOOLEAN, usage_problem VARCHAR)""",
    # Titles as the boxes' summaries carry them (the languages added later at the end).
    """CREATE TABLE IF NOT EXISTS items (item VARCHAR PRIMARY KEY, title_tg VARCHAR, title_ru VARCHAR,
           title_en VARCHAR, kind VARCHAR, title_ky VARCHAR, title_uz VARCHAR, title_sr VARCHAR, title_cnr VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
)


class ReportError(Exception):
    """Something the officer must do, as one sentence."""


@dataclass
class Added:
    files: int = 0  # new files read
    known: int = 0  # files skipped: added before
    events: int = 0  # new events kept
    duplicates: int = 0  # rows of events already kept (the same event carried twice)
    conflicts: int = 0
    refused: int = 0
    problems: list[str] = field(default_factory=list)


def connect(path: Path, memory: str = "1GB") -> duckdb.DuckDBPyConnection:
    """The report database at PATH, made if new. MEMORY bounds DuckDB; beyond it, it spills to disk."""
    try:
        conn = duckdb.connect(str(path))
    except duckdb.Error as e:
        raise ReportError(f"The report database {path} cannot be opened ({first_line(e)}); "
                          "close any program that has it open, or give another with --db.") from e
    conn.execute(f"SET memory_limit = '{memory}'")
    conn.execute("SET preserve_insertion_order = false")  # the order is ours to give, in each query
    for sql in TABLES:
        conn.execute(sql)
    found = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if found and found[0] != SCHEMA_VERSION:
        conn.close()
        raise ReportError(f"{path} was made by another version of sanduq-report; start a new one with --db.")
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", [SCHEMA_VERSION])
    return conn


def insert(conn, into: str, rows: list[list], width: int) -> None:
    """ROWS in one statement, as columns unnested (executemany costs a millisecond a row)."""
    if rows:
        columns = [[row[n] for row in rows] for n in range(width)]
        conn.execute(f"{into} SELECT {', '.join(f'unnest(${n + 1})' for n in range(width))}", columns)


def sql_text(text: str) -> str:
    """TEXT for a single-quoted SQL literal."""
    return text.replace("'", "''")


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def first_line(e: Exception) -> str:
    """An error's first line: DuckDB's and psycopg's messages go on with hints for programmers."""
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
