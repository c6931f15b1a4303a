"""sanduq-report export and push: Parquet read back by DuckDB as a Hive-partitioned table, and a
real PostgreSQL (Debian's, a throwaway cluster on a port of its own) loaded twice."""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pytest

from content_mirror.report.cli import main
from tests.content_mirror.report.test_intake import row, write_usage

DEVICE = "sanduq-0000aaaa"


@pytest.fixture
def db(tmp_path):
    folder = tmp_path / "stick" / "sanduq" / "exports" / DEVICE
    write_usage(folder / "usage-2026-10.csv", [row(1, time="2026-10-01T08:00:00.000000Z"), row(2, time="2026-10-31T23:59:59.999999Z")])
    write_usage(folder / "usage-2026-11.csv", [row(3), row(4, type="search-empty", item="", text="сказка")])
    write_usage(folder / "usage-undated.csv", [row(5, time="")])
    (folder / "box.json").write_text('{"device_id": "%s", "school": "Мактаби №5"}' % DEVICE, encoding="utf-8")
    path = tmp_path / "r.duckdb"
    assert main(["--db", str(path), "add", str(tmp_path / "stick")]) == 0
    return path


def parquet_months(out: Path) -> dict:
    conn = duckdb.connect()
    found = dict(conn.execute(f"SELECT month, count(*) FROM read_parquet('{out}/events/*/*.parquet', "
                              "hive_partitioning = true) GROUP BY 1").fetchall())
    conn.close()
    return found


def test_the_events_go_out_as_parquet_by_month_and_a_new_export_replaces_the_old(db, tmp_path):
    out = tmp_path / "parquet"
    assert main(["--db", str(db), "export", str(out)]) == 0
    assert sorted(p.name for p in (out / "events").iterdir()) == ["month=2026-10", "month=2026-11", "month=undated"]
    assert parquet_months(out) == {"2026-10": 2, "2026-11": 2, "undated": 1}
    conn = duckdb.connect()
    assert conn.execute(f"SELECT school FROM '{out}/boxes.parquet'").fetchall() == [("Мактаби №5",)]
    searched = conn.execute(f"SELECT search_text, ts FROM read_parquet('{out}/events/*/*.parquet') "
                            "WHERE type = 'search-empty'").fetchall()
    conn.close()
    assert searched[0][0] == "сказка" and searched[0][1].isoformat() == "2026-11-02T09:00:00"
    write_usage(tmp_path / "more" / "sanduq" / "exports" / DEVICE / "usage-2026-12.csv",
                [row(6, time="2026-12-01T08:00:00.000000Z")])
    assert main(["--db", str(db), "add", str(tmp_path / "more")]) == 0
    assert main(["--db", str(db), "export", str(out)]) == 0
    assert parquet_months(out) == {"2026-10": 2, "2026-11": 2, "2026-12": 1, "undated": 1}
    assert [p.name for p in out.iterdir() if p.name.startswith(".events")] == []


def test_export_never_writes_over_a_folder_of_other_files(db, tmp_path, capsys):
    out = tmp_path / "Documents"
    out.mkdir()
    (out / "budget.xlsx").write_bytes(b"mine")
    assert main(["--db", str(db), "export", str(out)]) == 1
    assert "already holds other files" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["budget.xlsx"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL cluster of its own in a temporary folder, on a free port; its URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("Debian's postgresql package is not installed (./install.sh --dev installs it)")
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="sanduq-pg-"))
    as_user = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as its own user, in a folder it owns
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = lambda *args: subprocess.run([*as_user, *map(str, args)], check=True, capture_output=True, timeout=120)  # noqa: E731
    run(bin_dir / "initdb", "-D", folder / "data", "-U", "sanduq", "-A", "trust", "-E", "UTF8", "--no-sync")
    run(bin_dir / "pg_ctl", "-D", folder / "data", "-l", folder / "log", "-w", "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    yield f"postgresql://sanduq@127.0.0.1:{port}/postgres"
    run(bin_dir / "pg_ctl", "-D", folder / "data", "-m", "immediate", "stop")
    shutil.rmtree(folder, ignore_errors=True)


def pg_rows(url: str, sql: str) -> list:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.system
def test_push_loads_every_event_once_however_often_it_is_pushed(db, tmp_path, postgres):
    assert main(["--db", str(db), "push", postgres]) == 0
    first = pg_rows(postgres, "SELECT event_id, device, type, clock FROM sanduq_events ORDER BY event_id")
    assert len(first) == 5
    # A later stick says event 3 was recorded while the clock was behind; one more event.
    write_usage(tmp_path / "later" / "sanduq" / "exports" / DEVICE / "usage-2026-11.csv",
                [row(3, clock="behind"), row(4, type="search-empty", item="", text="сказка"), row(7)])
    assert main(["--db", str(db), "add", str(tmp_path / "later")]) == 0
    assert main(["--db", str(db), "push", postgres]) == 0
    assert main(["--db", str(db), "push", postgres]) == 0
    after = pg_rows(postgres, "SELECT event_id, device, type, clock FROM sanduq_events ORDER BY event_id")
    assert len(after) == 6
    assert dict((e.hex[-1:], c) for e, _d, _t, c in after)["3"] == "behind"
    assert pg_rows(postgres, "SELECT device, school FROM sanduq_boxes") == [(DEVICE, "Мактаби №5")]
    # Another officer's older report database, which never saw the later stick, pushes too:
    # what it says of event 3's clock ("synced") must not undo "behind".
    older = tmp_path / "older.duckdb"
    assert main(["--db", str(older), "add", str(tmp_path / "stick")]) == 0
    assert main(["--db", str(older), "push", postgres]) == 0
    again = pg_rows(postgres, "SELECT event_id, clock FROM sanduq_events ORDER BY event_id")
    assert dict((e.hex[-1:], c) for e, c in again)["3"] == "behind"
    assert pg_rows(postgres, "SELECT to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US') FROM sanduq_events "
                             f"WHERE event_id = '{2:032x}'") == [("2026-10-31 23:59:59.999999",)]


@pytest.mark.system
def test_a_server_that_cannot_be_reached_is_one_sentence(db, capsys):
    assert main(["--db", str(db), "push", f"postgresql://sanduq@127.0.0.1:{_free_port()}/postgres"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("PostgreSQL could not be reached") and len(err.splitlines()) == 1
