"""`add`: what sticks hold, into the report database, checked and each event once.

What it promises:

- a file is known by the SHA-256 of its bytes and the box folder it sits in: a file already
  added (the same stick twice, or the same month on two sticks) is skipped, so adding again
  changes nothing;
- every row is checked as it is read (an id a box writes, the box named by its own folder, a
  known event type, a time, a number where a number belongs, bounded text without NUL); a row
  that fails is refused, counted with its reason and file, never guessed at; a row the CSV
  reader cannot read at all is counted by its line;
- an event is kept once, by its id; the same id with different content is a conflict, noted
  with both versions, and the first one seen stays. A later export may only sharpen what the
  box knew about its clock (an event found to have been recorded while the clock was behind);
- one add is one transaction: a stick pulled out halfway, or any failure, leaves the
  database as it was. A file DuckDB cannot read at all is found, named in one sentence, and
  the add starts again without it.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import itertools
import re
import tempfile
from pathlib import Path
from typing import Callable

import duckdb

from content_mirror.report import sticks
from content_mirror.report.sticks import Found, Source
from content_mirror.report.store import Added, ReportError, first_line, insert, now, sql_text

TYPES = ("opened", "progress", "finished", "search-empty", "saved", "searched")
CLOCKS = ("synced", "unconfirmed", "behind")
REQUIRED = ("event_id", "device", "time", "type")  # the rest may be missing (older boxes wrote fewer)
COLUMNS = ("event_id", "device", "time", "type", "item", "title", "kind", "value", "language", "search_text", "clock")
CONTENT = ("device", "ts", "type", "item", "value", "language", "search_text")  # what a conflict compares
FORMULA = "=+-@|%\t\r"  # a box writes a quote before a text cell starting with one (export.safe_row)
HEADING = re.compile(r"[a-z_]{1,40}")
STREAM_ORD = "sanduq_ord"  # the column _Stream puts first: a row's file number
RESERVED = ("filename", "file_index", STREAM_ORD)  # DuckDB's own columns of a file read, and ours: never a heading's
# Rows on their way in: checked (reason: why one is refused) and numbered by file (ord).
INCOMING = ("event_id UUID, device VARCHAR, ts TIMESTAMP, type VARCHAR, item VARCHAR, kind VARCHAR, value DOUBLE, "
            "language VARCHAR, search_text VARCHAR, clock VARCHAR, ord INTEGER, reason VARCHAR")
SUMMARY = ("item", "title_tg", "title_ru", "title_en", "kind", "title_ky", "title_uz", "title_sr", "title_cnr")
MAX_RETRIES = 20
SCRATCH = ("incoming", "sources", "twice", "copies", "keepers", "dropped", "probe")  # temporary tables
PART = 64 << 20  # bytes of rows DuckDB reads at a time (a part ends with the file that fills it)
WAITING = 2  # parts written and waiting for DuckDB, at most: the scratch folder's size


class _Unreadable(Exception):
    """DuckDB refused to read a group of files: the transaction is lost, the add starts again."""

    def __init__(self, heading: tuple, group: list[Source]):
        self.heading, self.group = heading, group


class _Stream:
    """One scratch file of the rows of many plain usage files with the same heading, each row
    begun with its file's number in this add (sticks.copy_rows), read by DuckDB in one go once
    it holds PART bytes (or the files end), while the next is written (_Reader). Its
    writes failing (a full disk) is the officer's to mend, not a stick's fault."""

    def __init__(self, path: Path, heading: tuple):
        self.path, self.heading, self.sources = path, heading, []
        self.file = self._do(open, path, "wb")
        self.write(",".join((STREAM_ORD,) + heading).encode() + b"\n")

    def _do(self, what, *args):
        try:
            return what(*args)
        except OSError as e:
            raise ReportError(f"The rows could not be gathered in {self.path.parent} ({e.strerror or e}); free some "
                              "space there, then add again.") from e

    def write(self, data: bytes) -> None:
        self._do(self.file.write, data)

    def seek(self, at: int) -> None:
        self._do(self.file.seek, at)

    def truncate(self) -> None:
        self._do(self.file.truncate)

    def tell(self) -> int:
        return self.file.tell()

    def close(self) -> None:
        self._do(self.file.close)


class _Reader:
    """DuckDB reading the streams, each as soon as it is PART long, on a thread of its own while
    Python writes the next: the two share the machine's cores (Python hashing and copying, about
    2 s of 5 million rows, no longer waits for DuckDB's 3 s, nor DuckDB for it). Only this
    thread touches the connection from the first read() until the block ends, which waits for
    it, even through Ctrl+C; a part read is deleted at once, and no more than WAITING wait, so
    the scratch folder holds a few parts, never all the rows."""

    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self.conn, self.pending = conn, []
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sanduq-read")

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, kind, error, trace) -> None:
        # Until the thread has let go of the connection (each part's future done), whatever
        # happens: then the connection is the caller's again. Futures, not the thread's join,
        # which Python 3.11 may take as ended when a Ctrl+C interrupts it.
        stopped = None
        while True:
            if kind is not None or stopped is not None:
                for future in self.pending:
                    future.cancel()  # the parts not begun
            try:
                concurrent.futures.wait(self.pending)
                break
            except BaseException as e:  # Ctrl+C while waiting: DuckDB's query is stopped, then wait again
                stopped = stopped or e
                self.conn.interrupt()
        self.pool.shutdown(wait=False)
        if stopped is not None:
            raise stopped
        if kind is None:
            for future in self.pending:
                future.result()  # a failure on the thread, raised here

    def read(self, stream: _Stream, devices: list[str]) -> None:
        """STREAM closed and read into `incoming`; DEVICES: the box of each file number so far."""
        stream.close()
        if not stream.sources:
            stream.path.unlink(missing_ok=True)
            return
        self.pending.append(self.pool.submit(self._read, stream, devices))
        # A failure stops the add now, not after every file; and no more than WAITING parts wait
        # on the disk (Python gathers faster than DuckDB reads).
        while self.pending and (self.pending[0].done() or len(self.pending) > WAITING):
            self.pending.pop(0).result()

    def _read(self, stream: _Stream, devices: list[str]) -> None:
        _read(self.conn, (STREAM_ORD,) + stream.heading, [str(stream.path)], f"CAST(r.{STREAM_ORD} AS INTEGER)",
              devices, [], stream.sources)
        stream.path.unlink(missing_ok=True)


def add(conn: duckdb.DuckDBPyConnection, found: Found, progress: Callable[[int], None] = lambda n: None,
        scratch: Path | None = None) -> Added:
    """Add what FOUND holds, all or nothing; PROGRESS(n) is told of each file read. The rows
    are gathered in a scratch folder made in SCRATCH (default: the system's), a few parts of
    PART bytes at a time (_Reader), removed at the end."""
    problems, usage = list(found.problems), list(found.usage)
    for _ in range(MAX_RETRIES):
        added = Added(problems=list(problems))
        known = set(conn.execute("SELECT sha256, device FROM files").fetchall())
        with tempfile.TemporaryDirectory(prefix=".sanduq-report-", dir=scratch, ignore_cleanup_errors=True) as tmp:
            conn.execute("BEGIN TRANSACTION")
            try:
                batch = _load_usage(conn, usage, known, added, progress, Path(tmp))
                _merge(conn, batch, added)
                _add_small(conn, found, known, added, progress)
                for table in SCRATCH:  # else COMMIT keeps their rows, a second more
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                conn.execute("COMMIT")
                return added
            except _Unreadable as e:
                conn.execute("ROLLBACK")
                bad = _unreadable_files(conn, e.heading, e.group)
                if not bad:
                    raise e.__cause__ or duckdb.Error("the files could not be read") from None
                problems += [f"{s.path} was not added ({why}); copy it again from the stick." for s, why in bad]
                usage = [s for s in usage if s not in [s for s, _ in bad]]
            except BaseException:
                conn.execute("ROLLBACK")
                raise
    raise duckdb.Error("too many files could not be read")


def _fresh(sources: list[Source], known: set, added: Added) -> list[Source]:
    return [s for s in sources if _is_new(s, known, added)]


def _is_new(source: Source, known: set, added: Added) -> bool:
    if (source.sha256, source.device) in known:
        added.known += 1
        return False
    known.add((source.sha256, source.device))
    added.files += 1
    return True


def _load_usage(conn, usage: list[Source], known: set, added: Added, progress, scratch: Path) -> int:
    """Every row of the new files among USAGE into the temporary table `incoming`, checked as it
    is read (its `reason` says why a row is refused); _merge then sorts out what came twice and
    keeps the rest. Each file is read once, here: hashed, its lines counted, and (if plain) its
    rows copied into a stream for its heading, read in parts as it grows. Returns this add's
    batch number."""
    batch = conn.execute("SELECT coalesce(max(batch), 0) + 1 FROM files").fetchone()[0]
    conn.execute(f"CREATE OR REPLACE TEMP TABLE incoming ({INCOMING})")
    streams: dict[tuple, _Stream] = {}
    alone: dict[tuple, list[Source]] = {}  # files with quotes: DuckDB reads each on its own
    sources: list[Source] = []  # the new files; a file's place here (ord) names it in its rows
    devices: list[str] = []  # by ord: the box each file's folder names
    parts = itertools.count()
    with _Reader(conn) as reader:
        for source in usage:
            try:
                with sticks.open_file(source.path) as f:
                    first = sticks.first_line(f)
                    heading = _heading(first)
                    stream = streams.get(heading) or streams.setdefault(
                        heading, _Stream(scratch / f"rows-{next(parts)}.csv", heading))
                    start = stream.tell()
                    plain = sticks.copy_rows(f, source, first, stream, b"%d," % len(sources))
            except (OSError, ValueError) as e:
                added.problems.append(f"{source.path} was not added ({getattr(e, 'strerror', None) or e}); copy it "
                                      "again from the stick.")
                continue
            if not _is_new(source, known, added):
                if plain:
                    stream.seek(start)
                    stream.truncate()
                continue
            (stream.sources if plain else alone.setdefault(heading, [])).append(source)
            sources.append(source)
            devices.append(source.device)
            progress(1)
            if plain and stream.tell() >= PART:
                reader.read(streams.pop(heading), devices[:])
        for stream in streams.values():
            reader.read(stream, devices)
    conn.execute("CREATE OR REPLACE TEMP TABLE sources (filename VARCHAR, sha256 VARCHAR, device VARCHAR, "
                 "name VARCHAR, ord INTEGER, lines BIGINT)")
    insert(conn, "INSERT INTO sources", [[str(s.path), s.sha256, s.device, s.path.name, n, s.lines]
                                         for n, s in enumerate(sources)], 6)
    ords = {id(s): n for n, s in enumerate(sources)}
    for heading, group in alone.items():
        _read(conn, heading, [str(s.path) for s in group], "(CAST($3 AS INTEGER[]))[CAST(r.file_index AS BIGINT) + 1]",
              devices, [[ords[id(s)] for s in group]], group)
    conn.execute("""INSERT INTO files (sha256, kind, device, name, path, added, batch, ord, rows)
        SELECT s.sha256, 'usage', s.device, s.name, s.filename, ?, ?, s.ord, coalesce(c.n, 0)
        FROM sources s LEFT JOIN (SELECT ord, count(*) AS n FROM incoming GROUP BY ord) c USING (ord)""",
                 [now(), batch])
    # Refused rows out, counted by file and reason.
    conn.execute("""INSERT INTO refused SELECT s.sha256, s.device, i.reason, count(*), NULL
                    FROM incoming i JOIN sources s USING (ord) WHERE i.reason IS NOT NULL GROUP BY ALL""")
    conn.execute("DELETE FROM incoming WHERE reason IS NOT NULL")
    _unreadable_rows(conn, batch)
    conn.execute("""UPDATE files SET refused = coalesce(c.checked, 0), unreadable = coalesce(c.unread, 0)
        FROM (SELECT file, device, sum(rows) FILTER (reason != 'unreadable-row') AS checked,
                     sum(rows) FILTER (reason = 'unreadable-row') AS unread FROM refused GROUP BY ALL) c
        WHERE files.sha256 = c.file AND files.device = c.device AND files.batch = ?""", [batch])
    return batch


def _heading(first: bytes) -> tuple:
    """The file's column names from its FIRST line, checked: they become SQL names, so only plain
    ones pass."""
    try:
        names = tuple(next(csv.reader(io.StringIO(first.decode("utf-8-sig"))), []))
    except (UnicodeDecodeError, csv.Error):
        names = ()
    if not set(REQUIRED) <= set(names) or len(set(names)) != len(names) or set(RESERVED) & set(names) or \
            not all(HEADING.fullmatch(n) for n in names):
        raise ValueError("its first line is not the heading a box writes")
    return names


def _csv(heading: tuple, rejects: bool = False) -> str:
    """SQL reading a list of CSV files (the statement's parameter) with HEADING, every value as
    text. Nothing is guessed: a box writes commas, double quotes and this heading. A row that
    cannot be read is skipped (and counted by _unreadable_rows), never the end of the file."""
    columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in heading) + "}"
    keep = ", store_rejects = true, rejects_table = 'sanduq_rejects', rejects_scan = 'sanduq_scans'" if rejects else ""
    return (f"read_csv($1, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            f"columns = {columns}, ignore_errors = true, strict_mode = false, max_line_size = 1000000{keep})")


def _read(conn, heading: tuple, paths: list[str], ord: str, devices: list[str], more: list,
          group: list[Source]) -> None:
    """The CSV files PATHS (with HEADING) into `incoming`, each row checked against DEVICES[its
    file number], the box its file's folder names; ORD is the SQL for a row's file number (MORE:
    its parameters after the paths and devices). GROUP: the usage files read, named if DuckDB
    cannot read them. (The box is looked up in a list: a join with the files' table would make
    DuckDB, which cannot guess how many rows a CSV holds, build its hash table of the rows.)"""
    col = {c: f"r.{c}" if c in heading else "NULL" for c in COLUMNS}
    unquote = {c: f"CASE WHEN starts_with({col[c]}, chr(39)) AND contains('{sql_text(FORMULA)}', substr({col[c]}, 2, 1)) "
                  f"THEN substr({col[c]}, 2) ELSE {col[c]} END" for c in ("item", "search_text", "language")}
    try:
        conn.execute(f"""INSERT INTO incoming
            WITH rows AS (
                SELECT try_cast({col['event_id']} AS UUID) AS event_id, {col['event_id']} AS id_text,
                       {col['device']} AS device, {col['time']} AS time, try_cast({col['time']} AS TIMESTAMP) AS ts,
                       {col['type']} AS type, {unquote['item']} AS item, {col['kind']} AS kind,
                       {col['value']} AS value_text, try_cast({col['value']} AS DOUBLE) AS value,
                       {unquote['language']} AS language, {unquote['search_text']} AS search_text,
                       coalesce({col['clock']}, '') AS clock, {ord} AS ord
                FROM {_csv(heading)} r)
            SELECT event_id, device, ts, type, item, kind, value, language, search_text, clock, ord, CASE
                WHEN event_id IS NULL OR length(id_text) != 32 THEN 'bad-id'
                WHEN device IS DISTINCT FROM (CAST($2 AS VARCHAR[]))[ord + 1] THEN 'other-box'
                WHEN type IS NULL OR type NOT IN ({', '.join(f"'{t}'" for t in TYPES)}) THEN 'bad-type'
                WHEN time IS NOT NULL AND ts IS NULL THEN 'bad-time'
                WHEN value_text IS NOT NULL AND (value IS NULL OR isnan(value) OR isinf(value)) THEN 'bad-value'
                WHEN type = 'progress' AND NOT coalesce(value BETWEEN 0 AND 1, false) THEN 'bad-value'
                WHEN clock NOT IN ('', {', '.join(f"'{c}'" for c in CLOCKS)}) THEN 'bad-clock'
                WHEN length(coalesce(item, '')) > 200 OR length(coalesce(search_text, '')) > 200
                     OR length(coalesce(language, '')) > 16 OR length(coalesce(kind, '')) > 32 THEN 'too-long'
                WHEN contains(concat(item, search_text, language, kind), chr(0)) THEN 'bad-text'
                END
            FROM rows""", [paths, devices, *more])
    except duckdb.Error as e:
        # Memory, Ctrl+C, or (reading our scratch part) the disk: the machine's or the officer's,
        # said as such by the command, never blamed on the stick's files.
        if isinstance(e, (duckdb.OutOfMemoryException, duckdb.InterruptException)) or \
                isinstance(e, duckdb.IOException) and heading[0] == STREAM_ORD:
            raise
        raise _Unreadable(heading[1:] if heading[0] == STREAM_ORD else heading, group) from e


def _unreadable_rows(conn, batch: int) -> None:
    """Rows the CSV reader skipped (a quote never closed, a row of the wrong width, bytes that
    are not UTF-8), counted by line: only in files that gave fewer rows than they have lines,
    read again, every column, for the reasons (asking for them on every file costs half as
    much again as reading them)."""
    short = conn.execute("""SELECT s.filename, s.sha256, s.device FROM sources s JOIN files f
                            ON f.sha256 = s.sha256 AND f.device = s.device AND f.batch = ?
                            WHERE f.rows < s.lines""", [batch]).fetchall()
    for filename, sha256, device in short:
        conn.execute("DROP TABLE IF EXISTS sanduq_rejects; DROP TABLE IF EXISTS sanduq_scans")
        with sticks.open_file(Path(filename)) as f:
            heading = _heading(sticks.first_line(f))
        conn.execute(f"CREATE OR REPLACE TEMP TABLE probe AS SELECT * FROM {_csv(heading, rejects=True)}", [[filename]])
        conn.execute("""INSERT INTO refused SELECT ?, ?, 'unreadable-row', count(DISTINCT line), 'line ' || min(line)
                        FROM sanduq_rejects HAVING count(*) > 0""", [sha256, device])
    conn.execute("DROP TABLE IF EXISTS probe")


def _unreadable_files(conn, heading: tuple, group: list[Source]) -> list[tuple[Source, str]]:
    """The files of GROUP DuckDB cannot read at all, each with why (outside any transaction)."""
    bad = []
    for source in group:
        try:
            conn.execute(f"SELECT count(*) FROM (SELECT * FROM {_csv(heading)})", [[str(source.path)]]).fetchall()
        except duckdb.Error as e:
            bad.append((source, first_line(e)))
    return bad


def _merge(conn, batch: int, added: Added) -> None:
    """Each event once, into `events`: of an id found more than once (in this add, or kept
    before), the first version stays (the earliest add, then the earliest file); the others are
    counted as duplicates, or noted as conflicts when they say something else.

    Only ids seen twice are compared, so the common case (almost every id new and seen once)
    costs one count of the ids, not a sort of millions of rows. What came twice is left out
    before anything reaches `events`: rows deleted from it would cost a rewrite of the table."""
    content = ", ".join(CONTENT)
    mine = lambda t: ", ".join(f"{t}.{c}" for c in ("event_id",) + CONTENT + ("clock",))  # noqa: E731
    conn.execute("""CREATE OR REPLACE TEMP TABLE twice AS
                    SELECT event_id FROM incoming GROUP BY event_id HAVING count(*) > 1
                    UNION SELECT event_id FROM incoming SEMI JOIN events USING (event_id)""")
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE copies AS
        SELECT i.rowid AS rid, false AS old, {mine('i')}, {batch} AS batch, ord, s.sha256 AS file
        FROM incoming i SEMI JOIN twice USING (event_id) JOIN sources s USING (ord)
        UNION ALL
        SELECT e.rowid, true, {mine('e')}, batch, ord, f.sha256
        FROM events e SEMI JOIN twice USING (event_id) JOIN files f USING (batch, ord)""")
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE keepers AS SELECT * FROM copies
                     QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY batch, ord, {content}) = 1""")
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE dropped AS
        SELECT c.rid, c.event_id, c.device, c.file, c.clock, k.rid AS kept_rid, k.old AS kept_old, k.file AS kept_file,
               {_differ('c', 'k')} AS differs, {_shown('k')} AS kept, {_shown('c')} AS other
        FROM copies c JOIN keepers k USING (event_id) WHERE NOT c.old AND c.rid != k.rid""")
    conn.execute("""INSERT INTO conflicts SELECT replace(CAST(event_id AS VARCHAR), '-', ''), device, kept_file, file,
                    kept, other FROM dropped WHERE differs""")
    # What a box learnt later about its clock (server/clock.py marks a boot's events behind).
    for table, old in (("events", "kept_old"), ("incoming", "NOT kept_old")):
        conn.execute(f"""UPDATE {table} SET clock = 'behind' WHERE rowid IN
                         (SELECT kept_rid FROM dropped WHERE {old} AND NOT differs AND clock = 'behind')""")
    conn.execute(f"""INSERT INTO events SELECT event_id, device, ts, type, item, kind, value, language, search_text,
                     clock, {batch}, ord, NULL FROM incoming WHERE rowid NOT IN (SELECT rid FROM dropped)""")
    conn.execute("""UPDATE files SET duplicates = coalesce(c.dup, 0), conflicts = coalesce(c.clash, 0),
                        new = files.rows - files.refused - coalesce(c.dup, 0) - coalesce(c.clash, 0)
        FROM (SELECT f.sha256, f.device, d.dup, d.clash FROM files f LEFT JOIN (
                  SELECT file, device, count(*) FILTER (NOT differs) AS dup, count(*) FILTER (differs) AS clash
                  FROM dropped GROUP BY ALL) d ON d.file = f.sha256 AND d.device = f.device WHERE f.batch = ?) c
        WHERE files.sha256 = c.sha256 AND files.device = c.device""", [batch])
    row = conn.execute("""SELECT coalesce(sum(new), 0), coalesce(sum(duplicates), 0), coalesce(sum(conflicts), 0),
                                 coalesce(sum(refused + unreadable), 0) FROM files WHERE batch = ?""", [batch]).fetchone()
    added.events, added.duplicates, added.conflicts, added.refused = (int(n) for n in row)


def _differ(a: str, b: str) -> str:
    """SQL: the events A and B say different things (the clock may differ: see the module)."""
    return f"row({', '.join(f'{a}.{c}' for c in CONTENT)}) IS DISTINCT FROM row({', '.join(f'{b}.{c}' for c in CONTENT)})"


def _shown(t: str) -> str:
    """SQL: event T as one line of text, for the data-quality sheet. A search's words are not
    shown: the report shows only words typed at several schools (figures.empty_searches)."""
    shown = [f"CASE WHEN {t}.search_text IS NULL THEN '' ELSE '[…]' END" if c == "search_text"
             else f"coalesce(CAST({t}.{c} AS VARCHAR), '')" for c in CONTENT]
    return f"concat_ws(' | ', {', '.join(shown)})"


def _add_small(conn, found: Found, known: set, added: Added, progress) -> None:
    """Summaries (titles and kinds), box.json (school names) and receipts (visits), in one insert
    per table: DuckDB inserts a column of values far faster than row after row."""
    items: dict[str, list] = {}  # item -> its row; a later file wins
    files, boxes, visits = [], {}, {}
    when = now()
    for source in _fresh(found.summaries, known, added):
        try:  # the bytes hashed and bounded by sticks.py, not the file again
            rows = [row for row in csv.DictReader(io.StringIO(source.content.decode("utf-8-sig"), newline=""))
                    if isinstance(row.get("item"), str) and 0 < len(row["item"]) <= 200]
        except (UnicodeDecodeError, csv.Error) as e:
            added.problems.append(f"{source.path} was not added ({e}); copy it again from the stick.")
            continue
        items.update((row["item"], [_unquote(sticks.CONTROL.sub("", row.get(c) or ""))[:500] for c in SUMMARY])
                     for row in rows)
        files.append([source.sha256, "summary", source.device, source.path.name, str(source.path), when, len(rows)])
        progress(1)
    for source, data in found.boxes:
        if _is_new(source, known, added):
            device = sticks.text(data, "device_id", 64)
            if device == source.device and sticks.DEVICE.fullmatch(device):
                boxes[device] = [device, sticks.text(data, "school"), sticks.text(data, "version", 40)]
            files.append([source.sha256, "box", source.device, source.path.name, str(source.path), when, 0])
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
            files.append([source.sha256, "receipt", source.device, source.path.name, str(source.path), when, 0])
    insert(conn, "INSERT OR REPLACE INTO items", list(items.values()), len(SUMMARY))
    insert(conn, "INSERT OR REPLACE INTO boxes", list(boxes.values()), 3)
    insert(conn, "INSERT OR REPLACE INTO visits", list(visits.values()), 7)
    insert(conn, "INSERT INTO files (sha256, kind, device, name, path, added, rows)", files, 7)


def _unquote(text: str) -> str:
    return text[1:] if text[:1] == "'" and text[1:2] and text[1] in FORMULA else text
