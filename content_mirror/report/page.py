"""The HTML report: one file, charts inline, that opens offline on any laptop and prints.

Jinja2 (Flask's own template engine, already installed) escapes every value that came from a
stick; the charts are SVG drawn by charts.py, which escapes its own labels.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from content_mirror.report import charts
from content_mirror.report.figures import Table
from content_mirror.report.texts import clock_word, texts

TOP = 20
BOX_COLUMNS = ("school", "device", "last_event", "last_visit", "clock", "events", "weeks_silent")
NUMERIC = {"events", "weeks_silent"}
WARN = {"conflicts", "time_unbelievable", "clock_behind", "undated"}


def render(tables: dict[str, Table], lang: str, as_of: date, min_schools: int, silent_weeks: int) -> str:
    t = texts(lang)
    env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.globals["zip"] = zip
    cover, weekly, items, searches = (tables[n] for n in ("coverage", "weeks", "items", "empty_searches"))
    per_week: Counter = Counter()
    per_school: Counter = Counter()
    for school, _device, week, opened, *_ in weekly.rows:
        per_week[week] += opened
        per_school[school] += opened
    schools = per_school.most_common()
    title = {"ru": 2, "en": 3}.get(lang, 3)  # the items table's column of the title in this language
    top_items = [(row[title] or row[3] or row[1] or row[0], row[5]) for row in items.rows[:TOP] if row[5]]
    shown = [cover.columns.index(c) for c in BOX_COLUMNS]
    boxes = Table("coverage", list(BOX_COLUMNS),
                  [tuple(clock_word(t, row[i]) if c == "clock" else row[i] for c, i in zip(BOX_COLUMNS, shown))
                   for row in cover.rows])
    html = env.get_template("report.html").render(
        lang=lang, t=t, numeric=NUMERIC, silent_weeks=silent_weeks, boxes=boxes,
        made=t["made"].format(date=as_of.isoformat(), boxes=len(cover.rows),
                              events=charts.number(sum(row[5] for row in cover.rows), lang)),
        quality=_quality(tables["quality"], t, lang),
        weeks=_chart(charts.columns, "weeks", t["chart_weeks"], _every_week(per_week), lang),
        schools=_chart(charts.bars, "schools", t["chart_schools"], schools[:TOP], lang),
        schools_more=t["more"].format(n=len(schools) - TOP) if len(schools) > TOP else "",
        items=_chart(charts.bars, "items", t["chart_items"], top_items, lang),
        searches=_chart(charts.bars, "searches", t["chart_searches"], [(q, n) for q, n, *_ in searches.rows[:TOP]], lang),
        no_searches=t["no_searches"].format(min=min_schools))
    return html


def _every_week(counts: Counter) -> list[tuple[str, int]]:
    """COUNTS by ISO week ("2026-W45"), with the weeks between that have none as 0: a silent
    week is part of the picture, and the time axis stays even."""
    if not counts:
        return []
    first, last = (date.fromisocalendar(int(w[:4]), int(w[6:]), 1) for w in (min(counts), max(counts)))
    weeks = []
    while first <= last:
        year, week, _ = first.isocalendar()
        weeks.append((f"{year}-W{week:02d}", counts.get(f"{year}-W{week:02d}", 0)))
        first += timedelta(days=7)
    return weeks


def _chart(draw, name: str, title: str, points: list, lang: str) -> Markup | None:
    return Markup(draw(name, title, points, lang)) if points else None  # noqa: S704 (charts.py escapes every label)


def _quality(table: Table, t: dict, lang: str) -> list[tuple[str, str, bool]]:
    """The first findings (totals), then how many boxes are silent and rows were refused."""
    rows = [(t[finding], charts.number(count, lang), finding in WARN and count > 0)
            for finding, _who, _detail, count in table.rows
            if finding in ("events_kept", "duplicates", "conflicts", "undated", "time_unbelievable", "clock_behind")]
    silent = sum(1 for finding, *_ in table.rows if finding == "silent")
    refused = sum(count for finding, _w, _d, count in table.rows if finding.startswith("refused:"))
    rows.append((t["silent"], str(silent), silent > 0))
    rows.append((t["refused"], charts.number(refused, lang), refused > 0))
    return rows
