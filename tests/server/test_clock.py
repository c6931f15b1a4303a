"""The clock's state recorded with each usage event (server/clock.py), on real usage.db files."""

import json
import sqlite3

import pytest

from server.clock import Clock, parse
from server.usage import UsageLog

NOW = parse("2026-03-10T12:00:00Z")


@pytest.fixture
def clock(tmp_path):
    return Clock(tmp_path, str(tmp_path / "synchronized"), now=lambda: NOW)


def test_synced_behind_or_unconfirmed(clock, tmp_path):
    assert clock._look() == "unconfirmed"  # a Pi with no internet: nothing confirms it
    (tmp_path / "clock.json").write_text(json.dumps({"floor": "2026-04-01T00:00:00Z"}))
    assert clock._look() == "behind"  # a bundle built later than the clock reads has been seen
    (tmp_path / "synchronized").touch()
    assert clock._look() == "synced"  # timesyncd set it from a time server
    for junk in ("[", '{"floor": 5}', '["x"]', "[" * 100_000):
        (tmp_path / "clock.json").write_text(junk)
        assert clock.floor() is None  # a damaged file is no floor, never a crash


def events(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT type, clock, boot FROM events ORDER BY rowid").fetchall()


def test_every_event_records_the_clocks_state_and_its_boot(clock, tmp_path):
    log = UsageLog(tmp_path / "usage.db", 0.01, clock=clock)
    log.record("opened", item="tip-sleep")
    log.close()
    assert events(tmp_path / "usage.db") == [("opened", "unconfirmed", clock.boot)]
    assert len(clock.boot) == 36  # Linux's boot id


def test_a_bundle_built_later_than_the_clock_reads_marks_this_boots_events_behind(clock, tmp_path):
    db = tmp_path / "usage.db"
    log = UsageLog(db, 0.01, clock=clock)
    for n in range(3):
        log.record("opened", item=f"tip-{n}")
    log.close()
    with sqlite3.connect(db) as conn:  # an event of an earlier boot, and one recorded while synced
        conn.execute("UPDATE events SET boot = 'earlier' WHERE item = 'tip-0'")
        conn.execute("UPDATE events SET clock = 'synced' WHERE item = 'tip-1'")
    found = clock.learn("2026-03-20T08:00:00Z", db)  # built ten days after the clock's now
    assert found == {"state": "behind", "built": "2026-03-20T08:00:00Z", "marked": 1}
    assert [c for _, c, _ in events(db)] == ["unconfirmed", "synced", "behind"]
    assert json.loads((tmp_path / "clock.json").read_text()) == {"floor": "2026-03-20T08:00:00Z"}
    assert clock.state() == "behind"  # and the next events say so too


def test_an_older_bundle_or_no_build_time_changes_nothing(clock, tmp_path):
    (tmp_path / "clock.json").write_text(json.dumps({"floor": "2026-03-01T00:00:00Z"}))
    assert clock.learn("2026-02-01T00:00:00Z", tmp_path / "usage.db") == {"state": "unconfirmed",
                                                                          "built": "2026-02-01T00:00:00Z"}
    assert clock.learn(None, tmp_path / "usage.db") == {"state": "unconfirmed", "built": None}
    assert clock.learn("not a time", tmp_path / "usage.db")["state"] == "unconfirmed"
    assert json.loads((tmp_path / "clock.json").read_text()) == {"floor": "2026-03-01T00:00:00Z"}


def test_a_store_from_before_the_columns_gains_them_and_keeps_its_events(tmp_path):
    db = tmp_path / "usage.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE events (id TEXT PRIMARY KEY, time TEXT NOT NULL, type TEXT NOT NULL, "
                     "item TEXT, value REAL, lang TEXT, text TEXT)")
        conn.execute("INSERT INTO events VALUES ('a', '2026-01-01T00:00:00Z', 'opened', 'tip-sleep', NULL, 'tg', NULL)")
    UsageLog(db, 0.01).close()
    assert events(db) == [("opened", None, None)]
