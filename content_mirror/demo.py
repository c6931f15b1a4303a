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


def write_source(target: Path) -> None:
    """Copy the demo's authoring folder to TARGET (which must not hold an items.csv yet)."""
    target = Path(target)
    if (target / "items.csv").exists():
        raise SanduqError(f"{target} already holds an authoring folder; choose an empty folder.")
    shutil.copytree(SOURCE, target, dirs_exist_ok=True)


def install_demo(library: Library, reserve_bytes: int = 0) -> InstallResult:
    """Fill LIBRARY with the demo (a no-op when this demo is already installed)."""
    source = read_source(SOURCE)
    return install(library, source.manifest, source.open, reserve_bytes=reserve_bytes)
