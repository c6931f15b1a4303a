"""A box with a trusted key, and sticks (plain folders here; real images in test_sticks.py)."""

import shutil

import pytest

from content_mirror import minisign
from content_mirror.bundle import build
from server import settings as settings_table
from server.library import Library
from tests.helpers import write_source


@pytest.fixture
def keys(tmp_path):
    minisign.keygen(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def box(tmp_path, keys) -> Library:
    library = Library(tmp_path / "box")
    (library.data_dir / "trusted-keys").mkdir()
    shutil.copy(keys / "sanduq.pub", library.data_dir / "trusted-keys")
    return library


@pytest.fixture
def settings(box, tmp_path):
    return settings_table.load({"data_dir": str(box.data_dir), "disk_reserve_mb": 0,
                                "status_dir": str(tmp_path / "run")}, env={})


@pytest.fixture
def source(tmp_path):
    return write_source(tmp_path / "source")


@pytest.fixture
def stick(tmp_path, source, keys):
    """A folder standing for a stick, with one signed full bundle of the test source."""
    build(source, tmp_path / "stick", keys / "sanduq.key")
    return tmp_path / "stick"
