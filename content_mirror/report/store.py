"""The report database: one DuckDB file that grows stick by stick.

Why DuckDB: it reads thousands of CSV files in parallel and checks, joins and counts millions
of rows in SQL without holding them in Python (bench/report.py measures it against the csv
module and SQLite on the same files). What `add` promises:

- every file is known by the SHA-256 of its bytes: a file already added (the same stick twice,
  or the same month on two sticks) is skipped, so adding again changes nothing;
- every row is checked before it counts (an id a box would write, the box named by its own
  folder, a known event type, a time, a number where a number belongs, bounded text); a row
  that fails is refused, counted with its reason and file, never guessed at;
- an event is kept once, by its id; the same id with different content is a conflict, noted
  with both versions, and the first one seen stays. A later export may only sharpen what the
  box knew about its clock (an event found to have been recorded while the clock was behind);
- one add is one transaction: a stick pulled out halfway, or any failure, leaves the
  database as it was, and the next add does it all again.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb

from content_mirror.report import sticks
from content_mirror.report.sticks import Found, Source

SCHEMA_VERSION = "2"
TYPES = ("opened", "progress", "finished", "search-empty", "saved", "searched")
CLOCKS = ("synced", "unconfirmed", "behind")
REQUIRED = ("event_id", "device", "time", "type")  # the rest may be missing (older boxes wrote fewer)
COLUMNS = ("event_id", "device", "time", "type", "item", "title", "kind", "value", "language", "search_text", "clock")
CONTENT = ("device", "ts", "type", "item", "value", "language", "search_text")  # what a conflict compares
FORMULA = "=+-@|%\t\r"  # a box writes a quote before a text cell starting with one (export.safe_row)
HEADING = re.compile(r"[a-z_]{1,40}")
SUMMARY = ("item", "title_tg", "title_ru", "title_en", "kind")

TABLES = (
    # An event as its box wrote it: the id as a UUID, its time read (ts; NULL when the box had
    # none), and where it first came from: the add (batch) and the file's place in it (ord),
    # which decide which copy is the first. Titles are not repeated here: items holds them.
    # reason is set only during an add, on a row about to be refused.
    """CREATE TABLE IF NOT EXISTS events (event_id UUID, device VARCHAR, ts TIMESTAMP, type VARCHAR,
           item VARCHAR, kind VARCHAR, value DOUBLE, language VARCHAR, search_text VARCHAR, clock VARCHAR,
           batch INTEGER, ord INTEGER, reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS files (sha256 VARCHAR PRIMARY KEY, kind VARCHAR, device VARCHAR, name VARCHAR,
           path VARCHAR, added TIMESTAMP, batch INTEGER, ord INTEGER, rows BIGINT DEFAULT 0, new BIGINT DEFAULT 0,
           duplicates BIGINT DEFAULT 0, conflicts BIGINT DEFAULT 0, refused BIGINT DEFAULT 0)""",
    "CREATE TABLE IF NOT EXISTS refused (file VARCHAR, reason VARCHAR, rows BIGINT, example VARCHAR)",
    """CREATE TABLE IF NOT EXISTS conflicts (event_id VARCHAR, device VARCHAR, kept_file VARCHAR, file VARCHAR,
           kept VARCHAR, other VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS boxes (device VARCHAR PRIMARY KEY, school VARCHAR, version VARCHAR)",
    """CREATE TABLE IF NOT EXISTS visits (file VARCHAR PRIMARY KEY, device VARCHAR, school VARCHAR,
           finished VARCHAR, clock VARCHAR, ok BOOLEAN, usage_problem VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS items (item VARCHAR PRIMARY KEY, title_tg VARCHAR, title_ru VARCHAR,
           title_en VARCHAR, kind VARCHAR)""",
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
        raise ReportError(f"{path} was made by another version of sanduq-report; start a new one with --db.")
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", [SCHEMA_VERSION])
    return conn


def add(conn: duckdb.DuckDBPyConnection, found: Found, progress: Callable[[int], None] = lambda n: None) -> Added:
    """Add what FOUND holds, all or nothing; PROGRESS(n) is told of each file read."""
    added = Added(problems=list(found.problems))
    known = {row[0] for row in conn.execute("SELECT sha256 FROM files").fetchall()}
    conn.execute("BEGIN TRANSACTION")
    try:
        batch = _load_usage(conn, _fresh(found.usage, known, added), added, progress)
        _merge(conn, batch, added)
        _add_small(conn, found, known, added, progress)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return added


def _fresh(sources: list[Source], known: set[str], added: Added) -> list[Source]:
    return [s for s in sources if _is_new(s, known, added)]


def _is_new(source: Source, known: set[str], added: Added) -> bool:
    if source.sha256 in known:
        added.known += 1
        return False
    known.add(source.sha256)
    added.files += 1
    return True


def _load_usage(conn, sources: list[Source], added: Added, progress) -> int:
    """Every row of SOURCES straight into `events`, checked as it is read (its `reason` says why
    a row is refused), in one pass over the files; _merge then sorts out what came twice.
    Returns this add's batch number."""
    groups: dict[tuple, list[Source]] = {}
    for source in sources:
        try:
            groups.setdefault(_heading(source.path), []).append(source)
        except (OSError, ValueError) as e:
            added.problems.append(f"{source.path} was not added ({e}); copy it again from the stick.")
    batch = conn.execute("SELECT coalesce(max(batch), 0) + 1 FROM files").fetchone()[0]
    conn.execute("CREATE OR REPLACE TEMP TABLE sources (filename VARCHAR, sha256 VARCHAR, device VARCHAR, "
                 "name VARCHAR, ord INTEGER)")
    ord = 0
    for heading, group in groups.items():
        try:
            _read(conn, heading, group, ord, batch)
        except duckdb.Error:  # one file DuckDB cannot read at all: find it, keep the others
            conn.execute("DELETE FROM events WHERE batch = ? AND ord >= ?", [batch, ord])
            readable = []
            for source in group:
                try:
                    _read(conn, heading, [source], ord + len(readable), batch)
                    readable.append(source)
                except duckdb.Error as e:
                    added.problems.append(f"{source.path} was not added ({first_line(e)}); "
                                          "copy it again from the stick.")
                    conn.execute("DELETE FROM events WHERE batch = ? AND ord = ?", [batch, ord + len(readable)])
            group = readable
        _insert(conn, "INSERT INTO sources", [[str(s.path), s.sha256, s.device, s.path.name, ord + n]
                                              for n, s in enumerate(group)], 5)
        ord += len(group)
        progress(len(group))
    conn.execute("""INSERT INTO files (sha256, kind, device, name, path, added, batch, ord, rows)
        SELECT s.sha256, 'usage', s.device, s.name, s.filename, ?, ?, s.ord, coalesce(c.n, 0)
        FROM sources s LEFT JOIN (SELECT ord, count(*) AS n FROM events WHERE batch = ? GROUP BY ord) c USING (ord)""",
                 [_now(), batch, batch])
    # Refused rows out of events, counted by file and reason; rows the CSV reader could not read, by line.
    conn.execute("""INSERT INTO refused SELECT s.sha256, e.reason, count(*), NULL
                    FROM events e JOIN sources s USING (ord) WHERE e.batch = ? AND e.reason IS NOT NULL GROUP BY ALL""",
                 [batch])
    conn.execute("DELETE FROM events WHERE batch = ? AND reason IS NOT NULL", [batch])
    conn.execute("""UPDATE files SET refused = c.n FROM (SELECT file, sum(rows) AS n FROM refused GROUP BY file) c
                    WHERE files.sha256 = c.file AND files.batch = ?""", [batch])
    _unreadable_rows(conn, batch, {s.sha256: s for s in sources})
    return batch


def _unreadable_rows(conn, batch: int, sources: dict[str, Source]) -> None:
    """Rows the CSV reader skipped (a quote never closed, a row of the wrong width), counted by
    line: only in files that gave fewer rows than they have lines, read again for the reasons
    (asking the reader for them on every file costs half as much again as reading them)."""
    short = [sources[sha] for sha, rows in conn.execute("SELECT sha256, rows FROM files WHERE batch = ?", [batch]).fetchall()
             if rows < sources[sha].lines]
    for heading, group in _by_heading(short).items():
        conn.execute("DROP TABLE IF EXISTS sanduq_rejects; DROP TABLE IF EXISTS sanduq_scans")
        conn.execute(f"SELECT count(*) FROM {_csv(heading)}", [[str(s.path) for s in group]]).fetchall()
        conn.execute("""INSERT INTO refused
            SELECT s.sha256, 'unreadable-row', count(DISTINCT e.line), 'line ' || min(e.line)
            FROM sanduq_rejects e JOIN sanduq_scans c USING (scan_id, file_id) JOIN sources s ON s.filename = c.file_path
            GROUP BY ALL""")


def _by_heading(sources: list[Source]) -> dict[tuple, list[Source]]:
    groups: dict[tuple, list[Source]] = {}
    for source in sources:
        groups.setdefault(_heading(source.path), []).append(source)
    return groups


def _csv(heading: tuple, rejects: bool = True) -> str:
    """SQL reading a list of CSV files (the statement's parameter) with HEADING, every value as text.
    Nothing is guessed: a box writes commas, double quotes and this heading."""
    columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in heading) + "}"
    keep = ", store_rejects = true, rejects_table = 'sanduq_rejects', rejects_scan = 'sanduq_scans'" if rejects else ""
    return (f"read_csv(?, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            f"columns = {columns}, ignore_errors = true, max_line_size = 1000000{keep})")


def _heading(path: Path) -> tuple:
    """The file's column names, checked: they become SQL names, so only plain ones pass."""
    with path.open("rb") as f:
        first = f.readline(4096).decode("utf-8-sig")
    names = tuple(next(csv.reader(io.StringIO(first)), []))
    if not set(REQUIRED) <= set(names) or len(set(names)) != len(names) or \
            not all(HEADING.fullmatch(n) for n in names):
        raise ValueError("its first line is not the heading a box writes")
    return names


def _read(conn, heading: tuple, sources: list[Source], first: int, batch: int) -> None:
    """SOURCES (files with the same HEADING, numbered from FIRST) into `events`, each row checked."""
    col = {c: f"r.{c}" if c in heading else "NULL" for c in COLUMNS}
    guard = _sql(FORMULA)
    unquote = {c: f"CASE WHEN starts_with({col[c]}, chr(39)) AND contains('{guard}', substr({col[c]}, 2, 1)) "
                  f"THEN substr({col[c]}, 2) ELSE {col[c]} END" for c in ("item", "search_text", "language")}
    folders = "(VALUES " + ", ".join(f"({n}, '{_sql(s.device)}')" for n, s in enumerate(sources)) + \
        ") AS f(file_index, folder)"
    conn.execute(f"""INSERT INTO events
        WITH rows AS (
            SELECT try_cast({col['event_id']} AS UUID) AS event_id, {col['event_id']} AS id_text,
                   {col['device']} AS device, {col['time']} AS time, try_cast({col['time']} AS TIMESTAMP) AS ts,
                   {col['type']} AS type, {unquote['item']} AS item, {col['kind']} AS kind,
                   {col['value']} AS value_text, try_cast({col['value']} AS DOUBLE) AS value,
                   {unquote['language']} AS language, {unquote['search_text']} AS search_text,
                   coalesce({col['clock']}, '') AS clock, r.file_index + {first} AS ord, f.folder
            FROM {_csv(heading, rejects=False)} r JOIN {folders} USING (file_index))
        SELECT event_id, device, ts, type, item, kind, value, language, search_text, clock, {batch}, ord, CASE
            WHEN event_id IS NULL OR length(id_text) != 32 THEN 'bad-id'
            WHEN device IS DISTINCT FROM folder THEN 'other-box'
            WHEN type IS NULL OR type NOT IN ({', '.join(f"'{t}'" for t in TYPES)}) THEN 'bad-type'
            WHEN time IS NOT NULL AND ts IS NULL THEN 'bad-time'
            WHEN value_text IS NOT NULL AND (value IS NULL OR isnan(value) OR isinf(value)) THEN 'bad-value'
            WHEN type = 'progress' AND NOT coalesce(value BETWEEN 0 AND 1, false) THEN 'bad-value'
            WHEN clock NOT IN ('', {', '.join(f"'{c}'" for c in CLOCKS)}) THEN 'bad-clock'
            WHEN length(coalesce(item, '')) > 200 OR length(coalesce(search_text, '')) > 200
                 OR length(coalesce(language, '')) > 16 OR length(coalesce(kind, '')) > 32 THEN 'too-long'
            END
        FROM rows""", [[str(s.path) for s in sources]])


def _merge(conn, batch: int, added: Added) -> None:
    """Each event once: of an id found more than once (in this add, or kept before), the first
    version stays (the earliest add, then the earliest file); the others are counted as
    duplicates, or noted as conflicts when they say something else.

    Only ids seen twice are compared, so the common case (almost every id new and seen once)
    costs one count of the ids, not a sort of millions of rows."""
    content = ", ".join(CONTENT)
    conn.execute("""CREATE OR REPLACE TEMP TABLE twice AS
                    SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1""")
    conn.execute("""CREATE OR REPLACE TEMP TABLE copies AS
                    SELECT e.rowid AS rid, e.*, f.sha256 AS file FROM events e SEMI JOIN twice USING (event_id)
                    JOIN files f USING (batch, ord)""")
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE keepers AS SELECT DISTINCT ON (event_id) * FROM copies
                     ORDER BY event_id, batch, ord, {content}""")
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE dropped AS
        SELECT c.rid, c.event_id, c.device, c.file, c.clock, k.rid AS kept_rid, k.file AS kept_file,
               {_differ('c', 'k')} AS differs, {_shown('k')} AS kept, {_shown('c')} AS other
        FROM copies c JOIN keepers k USING (event_id) WHERE c.rid != k.rid""")
    conn.execute("""INSERT INTO conflicts SELECT replace(CAST(event_id AS VARCHAR), '-', ''), device, kept_file, file,
                    kept, other FROM dropped WHERE differs""")
    # What a box learnt later about its clock (server/clock.py marks a boot's events behind).
    conn.execute("""UPDATE events SET clock = 'behind' WHERE rowid IN
                    (SELECT kept_rid FROM dropped WHERE NOT differs AND clock = 'behind')""")
    conn.execute("DELETE FROM events WHERE rowid IN (SELECT rid FROM dropped)")
    conn.execute("""UPDATE files SET duplicates = coalesce(c.dup, 0), conflicts = coalesce(c.clash, 0),
                        new = files.rows - files.refused - coalesce(c.dup, 0) - coalesce(c.clash, 0)
        FROM (SELECT f.sha256, d.dup, d.clash FROM files f LEFT JOIN (
                  SELECT file, count(*) FILTER (NOT differs) AS dup, count(*) FILTER (differs) AS clash
                  FROM dropped GROUP BY file) d ON d.file = f.sha256 WHERE f.batch = ?) c
        WHERE files.sha256 = c.sha256""", [batch])
    row = conn.execute("""SELECT coalesce(sum(new), 0), coalesce(sum(duplicates), 0), coalesce(sum(conflicts), 0),
                                 coalesce(sum(refused), 0) FROM files WHERE batch = ?""", [batch]).fetchone()
    added.events, added.duplicates, added.conflicts, added.refused = (int(n) for n in row)
    added.refused += int(conn.execute("SELECT coalesce(sum(rows), 0) FROM refused WHERE reason = 'unreadable-row' "
                                      "AND file IN (SELECT sha256 FROM sources)").fetchone()[0])


def _differ(a: str, b: str) -> str:
    """SQL: the events A and B say different things (the clock and title may differ: see the module)."""
    return f"row({', '.join(f'{a}.{c}' for c in CONTENT)}) IS DISTINCT FROM row({', '.join(f'{b}.{c}' for c in CONTENT)})"


def _shown(t: str) -> str:
    """SQL: event T as one line of text, for the conflicts sheet."""
    return "concat_ws(' | ', " + ", ".join(f"coalesce(CAST({t}.{c} AS VARCHAR), '')" for c in CONTENT) + ")"


def _add_small(conn, found: Found, known: set[str], added: Added, progress) -> None:
    """Summaries (titles and kinds), box.json (school names) and receipts (visits), in one insert
    per table: DuckDB inserts a column of values far faster than row after row."""
    items: dict[str, list] = {}  # item -> its row; a later file wins
    files, boxes, visits = [], {}, {}
    now = _now()
    for source in _fresh(found.summaries, known, added):
        try:
            with source.path.open(encoding="utf-8-sig", newline="") as f:
                rows = [row for row in csv.DictReader(f)
                        if isinstance(row.get("item"), str) and 0 < len(row["item"]) <= 200]
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            added.problems.append(f"{source.path} was not added ({e}); copy it again from the stick.")
            continue
        items.update((row["item"], [_unquote(row.get(c) or "")[:500] for c in SUMMARY]) for row in rows)
        files.append([source.sha256, "summary", source.device, source.path.name, str(source.path), now, len(rows)])
        progress(1)
    for source, data in found.boxes:
        if _is_new(source, known, added):
            device = sticks.text(data, "device_id", 64)
            if device == source.device and sticks.DEVICE.fullmatch(device):
                boxes[device] = [device, sticks.text(data, "school"), sticks.text(data, "version", 40)]
            files.append([source.sha256, "box", source.device, source.path.name, str(source.path), now, 0])
    for source, data in found.receipts:  # when a field officer's stick was in the box, and its clock then
        if _is_new(source, known, added):
            device = sticks.text(data, "device_id", 64)
            if sticks.DEVICE.fullmatch(device):
                clock = data.get("clock") if isinstance(data.get("clock"), dict) else {}
                bundles = data.get("bundles") if isinstance(data.get("bundles"), list) else []
                ok = all(isinstance(b, dict) and b.get("status") in ("installed", "already installed") for b in bundles)
                visits[source.sha256] = [source.sha256, device, sticks.text(data, "school"),
                                         sticks.text(data, "finished", 40), sticks.text(clock, "state", 20), ok,
                                         sticks.text(data, "export_problem")]
            files.append([source.sha256, "receipt", device, source.path.name, str(source.path), now, 0])
    _insert(conn, "INSERT OR REPLACE INTO items", list(items.values()), 5)
    _insert(conn, "INSERT OR REPLACE INTO boxes", list(boxes.values()), 3)
    _insert(conn, "INSERT OR REPLACE INTO visits", list(visits.values()), 7)
    _insert(conn, "INSERT INTO files (sha256, kind, device, name, path, added, rows)", files, 7)


def _insert(conn, into: str, rows: list[list], width: int) -> None:
    """ROWS in one statement, as columns unnested (executemany costs a millisecond a row)."""
    if rows:
        columns = [[row[n] for row in rows] for n in range(width)]
        conn.execute(f"{into} SELECT {', '.join(f'unnest(${n + 1})' for n in range(width))}", columns)


def _unquote(text: str) -> str:
    return text[1:] if text[:1] == "'" and text[1:2] and text[1] in FORMULA else text


def _sql(text: str) -> str:
    return text.replace("'", "''")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def first_line(e: Exception) -> str:
    """An error's first line: DuckDB's and psycopg's messages go on with hints for programmers."""
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
