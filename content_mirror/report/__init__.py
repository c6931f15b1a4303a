"""sanduq-report: a programme officer's pile of sticks into one trustworthy picture.

It runs on the officer's laptop (most likely Windows), so nothing here imports the box's code
or a module only Linux has: only the standard library, DuckDB, rustpy-xlsxwriter, Jinja2, tqdm and,
for `push`, psycopg. The modules, in the order the data flows:

- sticks.py   finds every box's exports and receipts on a stick or in a folder of copies;
- store.py    the report database (DuckDB, one file) and what its modules share;
- intake.py   `add`: checks each row, keeps each event once, notes conflicts and refused
              rows, and never counts the same file twice;
- figures.py  the numbers, one query each, shared by the workbook and the page;
- workbook.py the XLSX; page.py and charts.py the self-contained HTML report;
- outward.py  Parquet (by month, Hive layout) and PostgreSQL, for systems beyond one laptop;
- texts.py    every word a reader sees, in English and Russian; cli.py the command.
"""
