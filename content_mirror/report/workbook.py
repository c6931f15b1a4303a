"""The workbook: one XLSX, a sheet per table, that Excel and LibreOffice open as they are.

Written by rustpy-xlsxwriter, Python's binding of rust_xlsxwriter (the Rust port by XlsxWriter's
own author), in constant memory, row by row from a generator: the hundred thousand rows of a
thousand schools' weeks take half a second, where XlsxWriter (pure Python, about 3 µs a cell)
took three (README, "Speed and memory"). Text from a stick stays text: a search typed as
"=HYPERLINK(...)" must never become a formula, a link or a number in the officer's
spreadsheet; the writer makes a formula only of a column it is told to, and we tell it none.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import rustpy_xlsxwriter as xlsx

from content_mirror.report.figures import Table
from content_mirror.report.texts import clock_word, texts

MAX_ROWS = 1_048_575  # Excel's own limit, less the heading


def write(path: Path, tables: list[Table], lang: str, as_of: date, min_schools: int,
          progress=lambda n: None) -> None:
    t = texts(lang)
    heading = xlsx.Format().set_bold().set_background_color("#E8EEF2").set_text_wrap().set_align("top")
    about = t["readme"][:31]
    sheets = [(about, iter([{t["title"]: f"{t['as_of']}: {as_of.isoformat()}"},
                            {t["title"]: t["readme_text"].format(min=min_schools)}]))]
    widths, frozen = {about: [100]}, {}
    for table in tables:
        name = t[table.name][:31]
        columns = [t[c] for c in table.columns]
        if len(set(columns)) != len(columns):  # a row is a mapping by heading: two alike would lose a column
            raise ValueError(f"two headings of {table.name} read the same in {lang}")
        sheets.append((name, _records(t, table, columns)))
        # Columns as wide as their heading and the first rows need (measuring every cell of a
        # hundred thousand rows would cost more than writing them).
        width = [min(max(len(h), 8), 40) for h in columns]
        for row in table.rows[:200]:
            width = [max(w, min(len(str(v)), 60)) for w, v in zip(width, row)]
        widths[name] = [w + 2 for w in width]
        frozen[name] = {"row": 1, "col": 0}
    xlsx.write_worksheets(sheets, str(path), freeze_panes=frozen, column_widths=widths,
                          header_format={"general": heading},
                          column_formats={about: [xlsx.Format().set_text_wrap().set_align("top")]},
                          autofilter={name: True for name in frozen}, datetime_format="yyyy-mm-dd")
    progress(len(tables))


def _records(t: dict, table: Table, columns: list[str]):
    """TABLE's rows as the writer takes them, by heading; an empty table still shows its headings."""
    in_words = "clock" in table.columns or table.name == "quality"
    for row in table.rows[:MAX_ROWS]:
        if in_words:
            row = [_shown(t, table.name, c, v) for c, v in zip(table.columns, row)]
        yield dict(zip(columns, row))
    if not table.rows:
        yield dict.fromkeys(columns)


def _shown(t: dict, table: str, column: str, value):
    """A cell as the reader should see it: findings and clock states in words."""
    if value is not None and table == "quality" and column == "finding":
        return t.get(value, value)
    if column == "clock":
        return clock_word(t, value or "")
    return value
