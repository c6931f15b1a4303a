"""The usage log on real SQLite files: validation, budgets, size cap, damage, "popular"."""

import os
import sqlite3
import time

import pytest

from server.usage import UsageLog, problems, verify
from tests.helpers import wait_for


def rows(path, sql="SELECT type, item, value, lang, text FROM events ORDER BY rowid"):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def readable_rows(path) -> list:
    """rows(), or none while the store is being made anew (no table yet)."""
    try:
        return rows(path)
    except sqlite3.OperationalError:
        return []


@pytest.fixture
def log(tmp_path):
    usage = UsageLog(tmp_path / "usage.db", flush_seconds=0.01)
    yield usage
    usage.close()


@pytest.mark.parametrize("type,fields", [
    ("finished", {}),                                      # no item: once stopped every export
    ("opened", {"item": "../x"}),
    ("progress", {"item": "tip-sleep", "value": 10_000_000}),
    ("progress", {"item": "tip-sleep", "value": float("nan")}),
    ("progress", {"item": "tip-sleep"}),
    ("finished", {"item": "tip-sleep", "value": 3}),
    ("opened", {"item": "tip-sleep", "lang": "xx"}),
    ("search-empty", {"text": ""}),
    ("search-empty", {"text": "x" * 201}),
    ("search-empty", {"text": "x", "item": "tip-sleep"}),
    ("hack", {}),
])
def test_an_event_that_makes_no_sense_is_dropped_and_counted(tmp_path, log, type, fields):
    assert log.record(type, **fields) is False
    assert log.record("progress", item="tip-sleep", value=0.25, lang="tg") is True
    log.close()
    assert rows(tmp_path / "usage.db") == [("progress", "tip-sleep", 0.25, "tg", None)]
    assert problems(tmp_path) == [{"code": "events-dropped", "dropped": 1}]


def test_one_phone_gets_its_budget_and_the_others_are_not_touched(tmp_path):
    usage = UsageLog(tmp_path / "usage.db", flush_seconds=0.01, events_per_minute=120)
    kept = sum(usage.record("finished", item="tip-sleep", client="10.0.0.66") for _ in range(1000))
    assert 120 <= kept < 200  # the budget refills 2 a second: a flood keeps ~120
    assert all(usage.record("finished", item="book-cat", client=f"10.0.0.{n}") for n in range(1, 30))
    usage.close()
    assert len(rows(tmp_path / "usage.db")) == kept + 29
    assert problems(tmp_path) == [{"code": "events-dropped", "dropped": 1000 - kept}]
    assert not any("10.0.0" in str(r) for r in rows(tmp_path / "usage.db", "SELECT * FROM events"))


def test_an_opening_counts_once_per_phone_for_a_while(tmp_path, log):
    assert log.record("opened", item="tip-sleep", client="10.0.0.5")
    assert not log.record("opened", item="tip-sleep", client="10.0.0.5")  # a reload, a second tab
    assert log.record("opened", item="book-cat", client="10.0.0.5")
    assert log.record("opened", item="tip-sleep", client="10.0.0.6")
    log.close()
    assert [r[:2] for r in rows(tmp_path / "usage.db")] == [
        ("opened", "tip-sleep"), ("opened", "book-cat"), ("opened", "tip-sleep")]
    assert problems(tmp_path) == []  # a repeat is not a dropped event


def test_popular_counts_phones_not_a_flood(tmp_path, log):
    assert log.popular() == ()
    for _ in range(100_000):  # one client, 100,000 events in a few seconds
        log.record("opened", item="tip-sleep", client="10.0.0.66")
    for n in range(3):
        log.record("opened", item="video-count", client=f"10.0.0.{n}")
    log.record("opened", item="book-cat", client="10.0.0.1")
    log.record("opened", item="book-cat", client="10.0.0.2")
    log.close()
    fresh = UsageLog(tmp_path / "usage.db", flush_seconds=0.01)
    try:
        assert fresh.popular() == ("video-count", "book-cat", "tip-sleep")
        assert fresh.popular(1) == ("video-count",)
    finally:
        fresh.close()


@pytest.mark.slow  # fills usage.db to its cap
def test_usage_db_stops_growing_at_its_cap_and_counts_what_it_drops(tmp_path):
    usage = UsageLog(tmp_path / "usage.db", flush_seconds=0.01, max_mb=1)
    for n in range(6000):
        usage.record("search-empty", text=f"{n} " + "сказка " * 25, lang="tg")
        if n % 1000 == 999:
            time.sleep(0.2)  # let the writer keep up: the queue is not what is tested here
    usage.close()
    kept = len(rows(tmp_path / "usage.db"))
    page_count, page_size = rows(tmp_path / "usage.db", "SELECT * FROM pragma_page_count, pragma_page_size")[0]
    assert 0 < kept < 6000 and page_count * page_size <= 1024 * 1024
    assert problems(tmp_path) == [{"code": "usage-full", "dropped": 6000 - kept}]
    again = UsageLog(tmp_path / "usage.db", flush_seconds=0.01, max_mb=1)
    for n in range(300):
        assert again.record("search-empty", text=f"again {n} " + "сказка " * 25)  # no error, ever
    again.close()
    [full] = problems(tmp_path)
    assert full["dropped"] + len(rows(tmp_path / "usage.db")) == 6300  # each one kept or counted


def damage(path, first_page=2):
    """Overwrite the file's pages from FIRST_PAGE on with junk, as a failing card does."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(4096 * (first_page - 1))
        f.write(os.urandom(size - 4096 * (first_page - 1)))


def filled_store(path, count=200):
    usage = UsageLog(path, flush_seconds=0.01)
    for n in range(count):
        usage.record("search-empty", text=f"old {n}")
    usage.close()
    assert not path.with_name("usage.db-wal").exists()  # all of it in the main file


@pytest.mark.parametrize("first_page", [1, 2])
def test_a_store_damaged_on_the_card_is_set_aside_when_it_opens(tmp_path, first_page):
    path = tmp_path / "usage.db"
    filled_store(path)
    damage(path, first_page)
    usage = UsageLog(path, flush_seconds=0.01)
    assert usage.record("finished", item="tip-sleep")
    usage.close()
    aside = list((tmp_path / "set-aside").iterdir())
    assert [p.name[:6] for p in aside] == ["usage-"] and aside[0].suffix == ".db"
    assert rows(path) == [("finished", "tip-sleep", None, None, None)]
    assert problems(tmp_path) == [{"code": "usage-set-aside", "file": aside[0].name}]


@pytest.mark.parametrize("first_page", [1, 2])
def test_a_store_damaged_while_the_server_runs_is_set_aside_and_recording_goes_on(tmp_path, first_page):
    path = tmp_path / "usage.db"
    filled_store(path)
    usage = UsageLog(path, flush_seconds=0.01)
    try:
        damage(path, first_page)
        assert usage.record("finished", item="tip-sleep")
        wait_for(lambda: (tmp_path / "set-aside").exists() and ("finished", "tip-sleep", None, None, None)
                 in readable_rows(path), "the damaged usage.db set aside and the new event written")
    finally:
        usage.close()
    # The new event, and whatever of the old ones could still be read (salvaged), nothing else.
    assert {r for r in rows(path) if r[0] != "search-empty"} == {("finished", "tip-sleep", None, None, None)}
    assert [p["code"] for p in problems(tmp_path)] == ["usage-set-aside"]


def test_check_reports_and_repairs_a_damaged_store(tmp_path):
    path = tmp_path / "usage.db"
    assert verify(tmp_path, repair=False) == []  # no store yet: nothing wrong
    filled_store(path)
    assert verify(tmp_path, repair=False) == []
    damage(path)
    [sentence] = verify(tmp_path, repair=False)
    assert sentence.startswith("The usage store usage.db is damaged (") and "--repair" in sentence
    assert path.exists() and not (tmp_path / "set-aside").exists()  # checking changes nothing
    [sentence] = verify(tmp_path, repair=True)
    moved = next((tmp_path / "set-aside").iterdir())
    assert f"set aside as set-aside/{moved.name}" in sentence and "new usage store was started" in sentence
    assert verify(tmp_path, repair=False) == [] and rows(path) == []


def test_the_events_a_damaged_store_still_gives_up_are_kept(tmp_path):
    """Exports are made from usage.db alone: events left behind in the set-aside file would be
    missing from every stick from then on. Those still readable come along to the new store."""
    path = tmp_path / "usage.db"
    filled_store(path, count=2000)
    pages = path.stat().st_size // 4096
    damage(path, first_page=pages)  # the last page rots
    usage = UsageLog(path, flush_seconds=0.01)
    usage.close()
    saved = [r for r in rows(path) if r[0] == "search-empty"]
    assert list((tmp_path / "set-aside").iterdir())  # it was found damaged and set aside
    assert len(saved) >= 1000, len(saved)  # all that could be read came along, in batches of 1000
