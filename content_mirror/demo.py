"""The demo library: an authoring folder shipped inside the package.

`sanduq-mirror demo-source DIR` writes it out for a content team to start from;
`sanduq-server --demo` installs it through the same import path USB bundles use.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from content_mirror.authoring import read_source
from server.errors import SanduqError
from server.importer import InstallResult, install
from server.library import Library

SOURCE = Path(__file__).parent / "demo" / "source"
# The demo's take-home files (content_mirror/takehome.py), made on a machine with ffmpeg by
# make_media.sh takehome and committed: a box installing the demo has no ffmpeg.
TAKEHOME = Path(__file__).parent / "demo" / "takehome"


def write_source(target: Path) -> None:
    """Copy the demo's authoring folder to TARGET (which must not hold an items.csv yet)."""
    target = Path(target)
    if (target / "items.csv").exists():
        raise SanduqError(f"{target} already holds an authoring folder; choose an empty folder.")
    shutil.copytree(SOURCE, target, dirs_exist_ok=True)


def install_demo(library: Library, reserve_bytes: int = 0) -> InstallResult:
    """Fill LIBRARY with the demo (a no-op when this demo is already installed)."""
    from content_mirror.takehome import add_takehome

    source = add_takehome(read_source(SOURCE), SOURCE, make=False, cache=TAKEHOME)
    return install(library, source.manifest, source.open, reserve_bytes=reserve_bytes)


def make_takehome(report=print) -> None:
    """Draw the demo's take-home files that are missing (make_media.sh takehome)."""
    from content_mirror.takehome import add_takehome

    add_takehome(read_source(SOURCE), SOURCE, cache=TAKEHOME, report=report)
