"""The workbook: one XLSX, a sheet per table, that Excel and LibreOffice open as they are.

XlsxWriter writes it row by row (constant memory, however many schools and weeks). Text from a
stick stays text: a search typed as "=HYPERLINK(...)" must never become a formula, a link or
a number in the officer's spreadsheet.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import xlsxwriter

from content_mirror.report.figures import Table
from content_mirror.report.texts import clock_word, texts

OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
           "constant_memory": True, "default_date_format": "yyyy-mm-dd"}
MAX_ROWS = 1_048_575  # Excel's own limit, less the heading


def write(path: Path, tables: list[Table], lang: str, as_of: date, min_schools: int,
          progress=lambda n: None) -> None:
    t = texts(lang)
    book = xlsxwriter.Workbook(str(path), OPTIONS)
    heading = book.add_format({"bold": True, "bg_color": "#E8EEF2", "text_wrap": True, "valign": "top"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    about = book.add_worksheet(t["readme"][:31])
    about.set_column(0, 0, 100)
    about.write_string(0, 0, t["title"], heading)
    about.write_string(1, 0, f"{t['as_of']}: {as_of.isoformat()}")
    about.write_string(2, 0, t["readme_text"].format(min=min_schools), wrap)
    for table in tables:
        sheet = book.add_worksheet(t[table.name][:31])
        sheet.write_row(0, 0, [t[c] for c in table.columns], heading)
        # Columns as wide as their heading and the first rows need (measuring every cell of a
        # hundred thousand rows would cost more than writing them).
        widths = [min(max(len(t[c]), 8), 40) for c in table.columns]
        for row in table.rows[:200]:
            widths = [max(w, min(len(str(v)), 60)) for w, v in zip(widths, row)]
        for n, width in enumerate(widths):
            sheet.set_column(n, n, width + 2)
        shown = [n for n, c in enumerate(table.columns) if c == "clock" or (table.name == "quality" and c == "finding")]
        for r, row in enumerate(table.rows[:MAX_ROWS], start=1):
            if shown or None in row:
                row = [_shown(t, table.name, c, v) for c, v in zip(table.columns, row)]
            sheet.write_row(r, 0, row)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(len(table.rows[:MAX_ROWS]), 1), len(table.columns) - 1)
        progress(1)
    book.close()


def _shown(t: dict, table: str, column: str, value):
    """A cell as the reader should see it: findings and clock states in words, nothing as None."""
    if value is None:
        return ""
    if table == "quality" and column == "finding":
        return t.get(value, value)
    if column == "clock":
        return clock_word(t, value)
    return value
