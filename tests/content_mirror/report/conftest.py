"""Real boxes' exports on folders standing for sticks (a stick's files are files: the report
never mounts anything), made by the box's own exporter from real usage.db files, each box
holding the test library (so titles and kinds come from its catalog)."""

import sqlite3
import uuid
from pathlib import Path

import pytest

from content_mirror.authoring import read_source
from server import settings as settings_table
from server.importer import install
from server.library import Library
from server.usage import SCHEMA
from tests.helpers import write_source
from tests.server.conftest import browser  # noqa: F401 (the HTML report opened in Chromium)
from usb_updater.export import export_usage


class Box:
    """A box whose usage.db holds exactly the events given, exported onto any stick."""

    def __init__(self, root: Path, school: str, source: Path):
        self.library = Library(root)
        found = read_source(source)
        install(self.library, found.manifest, found.open)
        self.school = school
        self.device = self.library.device_id

    def record(self, *events) -> list[str]:
        """Add EVENTS ((time, type, item, value, lang, text, clock), shorter tuples padded); their ids."""
        ids = []
        conn = sqlite3.connect(self.library.data_dir / "usage.db")
        with conn:
            for statement in SCHEMA:
                conn.execute(statement)
            for event in events:
                time, type, item, value, lang, text, clock = (tuple(event) + (None,) * 7)[:7]
                ids.append(uuid.uuid4().hex)
                conn.execute("INSERT INTO events (id, time, type, item, value, lang, text, clock) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (ids[-1], time, type, item, value, lang, text,
                                                                 clock or "synced"))
        conn.close()
        return ids

    def export(self, stick: Path) -> Path:
        settings = settings_table.load({"data_dir": str(self.library.data_dir), "school_name": self.school}, env={})
        export_usage(self.library, stick, settings)
        return stick


@pytest.fixture
def make_box(tmp_path):
    made = []
    source = write_source(tmp_path / "source")

    def make(school: str) -> Box:
        made.append(Box(tmp_path / f"box-{len(made)}", school, source))
        return made[-1]

    return make
