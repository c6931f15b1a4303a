"""The report's numbers: one query per table, shared by the workbook and the HTML page.

Each table is a list of column keys (texts.py names them in the reader's language) and rows.
Weeks are ISO weeks of the time the box recorded. An event counts in a week only when its time
is believable: not before 2020 and not after the report's date (a box whose clock went back
to a saved time after a power cut, or jumped ahead, still has its events kept and counted in
its totals, and the data-quality sheet says how many). A school is named as its box calls
itself (box.json, else its newest receipt), else by the box's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

EARLIEST = "2020-01-01"
# "Videos watched to 80%": a box reports a video's progress at quarters (server/static/site.js),
# so the nearest it measures is three quarters: each viewing past 75% sends one such event.
WATCHED = "type = 'progress' AND kind = 'video' AND value >= 0.75"


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[tuple]


def _believable(as_of: date) -> str:
    return f"ts >= TIMESTAMP '{EARLIEST}' AND ts < DATE '{as_of.isoformat()}' + INTERVAL 1 DAY"


SCHOOLS = """schools AS (
    SELECT d.device, coalesce(nullif(b.school, ''), nullif(v.school, ''), d.device) AS school
    FROM (SELECT device FROM events UNION SELECT device FROM visits UNION SELECT device FROM boxes) d
    LEFT JOIN boxes b USING (device)
    LEFT JOIN (SELECT device, arg_max(school, finished) AS school FROM visits GROUP BY device) v USING (device))"""


def coverage(conn, as_of: date) -> Table:
    rows = conn.execute(f"""WITH {SCHOOLS},
        ev AS (SELECT device, min(ts) FILTER ({_believable(as_of)}) AS first, max(ts) FILTER ({_believable(as_of)}) AS last,
                      count(DISTINCT CAST(ts AS DATE)) FILTER ({_believable(as_of)}) AS days, count(*) AS events,
                      count(*) FILTER (clock = 'behind') AS behind, count(*) FILTER (clock = 'unconfirmed') AS unconfirmed
               FROM events GROUP BY device),
        vis AS (SELECT device, max(finished) AS visit, arg_max(clock, finished) AS clock FROM visits GROUP BY device),
        fil AS (SELECT device, sum(duplicates) AS duplicates, sum(refused + unreadable) AS refused,
                       sum(conflicts) AS conflicts FROM files WHERE kind = 'usage' GROUP BY device)
        SELECT s.school, s.device, CAST(ev.first AS DATE), CAST(ev.last AS DATE), coalesce(ev.days, 0),
               coalesce(ev.events, 0), left(vis.visit, 10), coalesce(vis.clock, ''), coalesce(ev.behind, 0),
               coalesce(ev.unconfirmed, 0), coalesce(fil.duplicates, 0), coalesce(fil.refused, 0),
               coalesce(fil.conflicts, 0),
               CAST(floor(date_diff('day', greatest(CAST(ev.last AS DATE), try_cast(left(vis.visit, 10) AS DATE)),
                                    DATE '{as_of.isoformat()}') / 7) AS INTEGER)
        FROM schools s LEFT JOIN ev USING (device) LEFT JOIN vis USING (device) LEFT JOIN fil USING (device)
        ORDER BY s.school, s.device""").fetchall()
    return Table("coverage", ["school", "device", "first_event", "last_event", "active_days", "events", "last_visit",
                              "clock", "events_behind", "events_unconfirmed", "duplicates", "refused", "conflicts",
                              "weeks_silent"], rows)


def weeks(conn, as_of: date) -> Table:
    rows = conn.execute(f"""WITH {SCHOOLS},
        counts AS (
            SELECT device, date_trunc('week', ts) AS monday,  -- named once per week, not per event
                   count(*) FILTER (type = 'opened') AS a, count(*) FILTER (type = 'finished') AS b,
                   count(*) FILTER ({WATCHED}) AS c, count(*) FILTER (type = 'saved') AS d,
                   count(*) FILTER (type IN ('searched', 'search-empty')) AS e, count(*) FILTER (type = 'search-empty') AS f
            FROM events WHERE {_believable(as_of)} GROUP BY ALL)
        SELECT s.school, device, strftime(monday, '%G-W%V') AS week, a, b, c, d, e, f
        FROM counts JOIN schools s USING (device) ORDER BY s.school, device, week""").fetchall()
    return Table("weeks", ["school", "device", "week", "opened", "finished", "videos_watched", "saved", "searches",
                           "empty_searches"], rows)


def items(conn, as_of: date) -> Table:
    # Counted first, then named: joining the titles to millions of events before counting costs
    # four times as much.
    rows = conn.execute("""
        WITH counts AS (
            SELECT item, any_value(kind) AS kind, count(*) FILTER (type = 'opened') AS opened,
                   count(*) FILTER (type = 'finished') AS finished, count(*) FILTER (type = 'saved') AS saved,
                   count(DISTINCT device) FILTER (type = 'opened') AS schools
            FROM events WHERE item IS NOT NULL GROUP BY item)
        SELECT c.item, coalesce(nullif(i.title_tg, ''), ''), coalesce(nullif(i.title_ru, ''), ''),
               coalesce(nullif(i.title_en, ''), ''), coalesce(nullif(i.kind, ''), c.kind, ''),
               c.opened, c.finished, c.saved, c.schools,
               coalesce(i.title_ky, ''), coalesce(i.title_uz, ''), coalesce(i.title_sr, ''), coalesce(i.title_cnr, '')
        FROM counts c LEFT JOIN items i USING (item)
        ORDER BY c.opened DESC, c.item""").fetchall()
    return Table("items", ["item", "title_tg", "title_ru", "title_en", "kind", "opened", "finished", "saved",
                           "schools", "title_ky", "title_uz", "title_sr", "title_cnr"], rows)


def languages(conn, as_of: date) -> Table:
    rows = conn.execute("""
        SELECT coalesce(language, '') AS language, count(*) FILTER (type = 'opened') AS opened,
               count(*) FILTER (type = 'finished'), count(*) FILTER (type = 'saved'),
               count(*) FILTER (type = 'search-empty'), count(DISTINCT device)
        FROM events GROUP BY 1 ORDER BY opened DESC, language""").fetchall()
    return Table("languages", ["language", "opened", "finished", "saved", "empty_searches", "schools"], rows)


def empty_searches(conn, as_of: date, min_schools: int) -> Table:
    """What families looked for and did not find: only words typed at MIN_SCHOOLS schools or more,
    so nothing one family typed (a child's name) reaches the report."""
    rows = conn.execute("""
        SELECT query, count(DISTINCT device) AS schools, count(*) AS times, CAST(max(ts) AS DATE)
        FROM (SELECT device, ts, lower(trim(regexp_replace(search_text, '\\s+', ' ', 'g'))) AS query
              FROM events WHERE type = 'search-empty' AND search_text IS NOT NULL)
        WHERE query != '' GROUP BY query HAVING count(DISTINCT device) >= ?
        ORDER BY schools DESC, times DESC, query""", [min_schools]).fetchall()
    return Table("empty_searches", ["query", "schools", "times", "last_seen"], rows)


def quality(conn, as_of: date, silent_weeks: int, cover: Table | None = None) -> Table:
    """What the officer should know before trusting the numbers, one finding per row (COVER:
    the coverage table, when already counted)."""
    cover = cover or coverage(conn, as_of)
    rows: list[tuple] = []
    total = conn.execute(f"""SELECT count(*), count(*) FILTER (ts IS NULL),
        count(*) FILTER (ts IS NOT NULL AND NOT ({_believable(as_of)})), count(*) FILTER (clock = 'behind')
        FROM events""").fetchone()
    files = conn.execute("""SELECT coalesce(sum(duplicates), 0), coalesce(sum(conflicts), 0)
                            FROM files WHERE kind = 'usage'""").fetchone()
    rows += [("events_kept", "", "", total[0]), ("duplicates", "", "", files[0]), ("conflicts", "", "", files[1]),
             ("undated", "", "", total[1]), ("time_unbelievable", "", "", total[2]), ("clock_behind", "", "", total[3])]
    events = cover.columns.index("events")
    for row in cover.rows:
        school, device, silent = row[0], row[1], row[-1]
        if silent is not None and silent >= silent_weeks:
            rows.append(("silent", school, device, silent))
        elif silent is None:  # no believable event and no visit: a box never heard from, or one whose clock is off
            rows.append(("no_believable_time" if row[events] else "never_heard", school, device, row[events]))
    rows += conn.execute("""SELECT 'refused:' || r.reason, r.device, coalesce(f.name, r.file), sum(r.rows)
                            FROM refused r LEFT JOIN files f ON f.sha256 = r.file AND f.device = r.device
                            GROUP BY ALL ORDER BY 1, 2, 3""").fetchall()
    rows += conn.execute("""SELECT 'conflict', device, event_id || ': ' || kept || ' / ' || other, 1
                            FROM conflicts ORDER BY device, event_id LIMIT 1000""").fetchall()
    return Table("quality", ["finding", "school_or_box", "detail", "count"], rows)


def all_tables(conn, as_of: date, min_schools: int, silent_weeks: int) -> list[Table]:
    cover = coverage(conn, as_of)
    return [cover, weeks(conn, as_of), items(conn, as_of), languages(conn, as_of),
            empty_searches(conn, as_of, min_schools), quality(conn, as_of, silent_weeks, cover)]
