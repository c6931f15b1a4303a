"""The events beyond one laptop: Parquet files by month, and a PostgreSQL database.

Parquet in the Hive layout (OUT/events/month=2026-11/*.parquet, with OUT/boxes.parquet and
OUT/items.parquet beside it) is what DuckDB, ClickHouse, Spark and BigQuery read as it is.
DuckDB writes it: no other library is needed for it.

PostgreSQL gets three tables (sanduq_events keyed by event id, sanduq_boxes, sanduq_items),
the events loaded with COPY into a temporary table and merged with ON CONFLICT (the few boxes and
items upserted row by row): pushing twice, or after
a push that broke off halfway, leaves each event there once. psycopg is imported only here, so
the rest of the report runs without it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Callable

from content_mirror.report.store import ReportError, first_line

MARK = ".sanduq-report-export"
EVENT_COLUMNS = ("event_id", "device", "ts", "type", "item", "kind", "value", "language", "search_text", "clock")
# The id as the box writes it (32 hex digits) in Parquet; PostgreSQL keeps it as its own uuid type.
HEX_ID = "replace(CAST(event_id AS VARCHAR), '-', '') AS event_id"
BATCH = 50_000


def export_parquet(conn, out: Path) -> dict:
    """The deduplicated events into OUT, replacing an earlier export there; {month: events}."""
    out = Path(out)
    try:
        if out.exists() and (not out.is_dir() or any(out.iterdir())) and not (out / MARK).exists():
            raise ReportError(f"{out} already holds other files: give an empty folder, or one sanduq-report "
                              "exported to before.")
        out.mkdir(parents=True, exist_ok=True)
        (out / MARK).write_text("Written by sanduq-report export; it replaces what is here each time.\n")
    except OSError as e:
        raise ReportError(f"{out} cannot be written ({e.strerror or e}); give another folder.") from e
    new = out / f".events-{uuid.uuid4().hex[:8]}"
    columns = ", ".join((HEX_ID, *EVENT_COLUMNS[1:]))
    try:
        conn.execute(f"""COPY (SELECT {columns}, coalesce(strftime(ts, '%Y-%m'), 'undated') AS month FROM events
                              ORDER BY month, ts, event_id)
                         TO '{_path(new)}' (FORMAT parquet, PARTITION_BY (month), COMPRESSION zstd)""")
        for name in ("boxes", "items"):
            conn.execute(f"COPY (SELECT * FROM {name} ORDER BY ALL) TO '{_path(out / (name + '.parquet.new'))}' "
                         "(FORMAT parquet)")
            os.replace(out / f"{name}.parquet.new", out / f"{name}.parquet")
    except Exception as e:  # a full disk or a folder that refuses: the earlier export stays whole
        shutil.rmtree(new, ignore_errors=True)
        raise ReportError(f"The Parquet files could not be written into {out} ({first_line(e)}); free some space "
                          "or give another folder.") from e
    old = out / f".events-old-{uuid.uuid4().hex[:8]}"
    try:
        if (out / "events").exists():
            os.replace(out / "events", old)
        os.replace(new, out / "events")
    except OSError as e:  # on Windows, a Parquet file open in another program: the last export stays
        if old.exists() and not (out / "events").exists():
            os.replace(old, out / "events")
        shutil.rmtree(new, ignore_errors=True)
        raise ReportError(f"The last export in {out} could not be replaced ({e.strerror or e}); close any program "
                          "reading it and export again.") from e
    shutil.rmtree(old, ignore_errors=True)
    return dict(conn.execute("SELECT coalesce(strftime(ts, '%Y-%m'), 'undated'), count(*) FROM events "
                             "GROUP BY 1 ORDER BY 1").fetchall())


def _path(path: Path) -> str:
    return str(path).replace("'", "''")


PG_TABLES = (
    """CREATE TABLE IF NOT EXISTS sanduq_events (event_id uuid PRIMARY KEY, device text NOT NULL, ts timestamp,
           type text NOT NULL, item text, kind text, value double precision, language text, search_text text,
           clock text)""",
    "CREATE INDEX IF NOT EXISTS sanduq_events_device_at ON sanduq_events (device, ts)",
    "CREATE TABLE IF NOT EXISTS sanduq_boxes (device text PRIMARY KEY, school text, version text)",
    """CREATE TABLE IF NOT EXISTS sanduq_items (item text PRIMARY KEY, title_tg text, title_ru text, title_en text,
           kind text)""",
    *(f"ALTER TABLE sanduq_items ADD COLUMN IF NOT EXISTS title_{lang} text" for lang in ("ky", "uz", "sr", "cnr")),
)


def push_postgres(conn, url: str, progress: Callable[[int], None] = lambda n: None) -> int:
    """Every event, box and item into the PostgreSQL database at URL; the number of events there after."""
    import psycopg  # only for push: a laptop without it still adds and builds

    try:
        pg = psycopg.connect(url, connect_timeout=15, autocommit=False)
    except (psycopg.Error, ValueError) as e:
        raise ReportError(f"PostgreSQL could not be reached ({first_line(e)}); check the address, the user and the "
                          "password, and that the server accepts connections from this computer.") from e
    try:
        with pg:
            with pg.cursor() as cur:
                for sql in PG_TABLES:
                    cur.execute(sql)
                _upsert(cur, conn, "sanduq_boxes", "boxes", ("device", "school", "version"), "device")
                _upsert(cur, conn, "sanduq_items", "items", ("item", "title_tg", "title_ru", "title_en", "kind", "title_ky",
                                                             "title_uz", "title_sr", "title_cnr"), "item")
            pg.commit()
            rows = conn.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY event_id")
            while batch := rows.fetchmany(BATCH):  # one transaction per batch: a broken push resumes by pushing again
                with pg.cursor() as cur:
                    cur.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE sanduq_events) ON COMMIT DELETE ROWS")
                    with cur.copy(f"COPY incoming ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
                    # Only "behind" is news about an event already there: an older report pushing
                    # its "unconfirmed" must not undo it.
                    cur.execute("""INSERT INTO sanduq_events SELECT * FROM incoming ON CONFLICT (event_id) DO UPDATE
                                    SET clock = 'behind' WHERE EXCLUDED.clock = 'behind'
                                    AND sanduq_events.clock IS DISTINCT FROM 'behind'""")
                pg.commit()
                progress(len(batch))
            with pg.cursor() as cur:
                return cur.execute("SELECT count(*) FROM sanduq_events").fetchone()[0]
    except psycopg.Error as e:
        raise ReportError(f"PostgreSQL refused the events ({first_line(e)}); what was pushed before stays, and "
                          "pushing again carries on.") from e
    finally:
        pg.close()


def _upsert(cur, conn, table: str, source: str, columns: tuple, key: str) -> None:
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
    rows = conn.execute(f"SELECT {names} FROM {source} ORDER BY {key}").fetchall()
    cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}) "
                    f"ON CONFLICT ({key}) DO UPDATE SET {updates}", rows)
