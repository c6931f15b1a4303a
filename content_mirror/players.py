"""Third-party players, fetched by name and exact version and checked against a pinned hash.

A BloomPub is played by SIL's bloom-player and an H5P package by h5p-standalone, as their
authors and Kolibri play them, rather than by code of ours that would lag behind the formats.
Neither is committed here: at build time the npm tarball is fetched with npm (the ordinary
client), or, on a machine without Node, from the same registry address npm uses, and kept
only if its SHA-512 is the one pinned below. The tarball travels in the signed bundle as it is
(role "player"), so its bytes, and so its SHA-256 in the store, are the same on every machine
and a box keeps one copy however many books use it; the box serves files from its `dist/`.

The versions are the newest on npm whose code still runs on Chrome 60-era phones (ES5 or
ES2017 syntax, checked in tests/content_mirror/test_players.py): bloom-player 2.18 and
h5p-standalone 3.8 use `??` and `catch {`, which Chrome before 80 and 66 cannot parse.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from server.errors import SanduqError

MAX_TARBALL = 20 * 1024 * 1024


@dataclass(frozen=True)
class Player:
    package: str
    version: str
    integrity: str  # npm's Subresource Integrity string of the tarball
    licence: str

    @property
    def tarball(self) -> str:
        return f"{self.package}-{self.version}.tgz"

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


BLOOM = Player("bloom-player", "2.1.19", "sha512-er6gJTX7VF6iqMPsTKdcf3INcse5K9O/ncKvwYQe5SymVLjGiuTAZ2ZdGFW3NAv/"
                                         "vRkjTJoyBnDhitnzrlBnzA==", "MIT")
H5P = Player("h5p-standalone", "3.7.1", "sha512-GUC/gjHqYR0T2Rq/vfNqr68cxcVfe60G2+/pUYON7R/v5G2/6wz35Gebk9gXJZezy"
                                        "gfVsQiV8TT0vYU0wkTKtQ==", "MIT (H5P core inside: GPL-3.0)")
PLAYERS = {"bloom": BLOOM, "h5p": H5P}


def cache_dir() -> Path:
    """Where fetched tarballs are kept between builds (SANDUQ_PLAYERS_DIR, else the user's cache)."""
    if os.environ.get("SANDUQ_PLAYERS_DIR"):
        return Path(os.environ["SANDUQ_PLAYERS_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sanduq" / "players"


def fetch(player: Player, cache: Path | None = None) -> Path:
    """The verified tarball of PLAYER, fetched into CACHE unless a verified copy is there."""
    cache = Path(cache or cache_dir())
    target = cache / player.tarball
    if target.is_file() and _integrity(target) == player.integrity:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
        got = _npm_pack(player, Path(tmp)) if shutil.which("npm") else _download(player, Path(tmp))
        if got.stat().st_size > MAX_TARBALL or _integrity(got) != player.integrity:
            raise SanduqError(f"{player.spec} as fetched is not the tarball Sanduq pins (its hash differs): "
                              "the registry or a proxy between changed it; do not use it, and tell the "
                              "Sanduq developers.")
        os.replace(got, target)
    return target


def _npm_pack(player: Player, folder: Path) -> Path:
    try:
        done = subprocess.run(["npm", "pack", player.spec, "--pack-destination", str(folder)],
                              capture_output=True, text=True, timeout=300, cwd=folder)
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0 or not (folder / player.tarball).is_file():
        said = (done.stderr.strip().splitlines() or [""])[-1][:200] if done else "it took over 5 minutes"
        raise _unreachable(player, f"npm pack failed: {said}")
    return folder / player.tarball


def _download(player: Player, folder: Path) -> Path:
    registry = os.environ.get("npm_config_registry") or "https://registry.npmjs.org/"
    url = f"{registry.rstrip('/')}/{player.package}/-/{player.tarball}"
    target = folder / player.tarball
    try:
        with urllib.request.urlopen(url, timeout=60) as answer, target.open("wb") as out:
            while chunk := answer.read(1 << 16):
                if out.tell() + len(chunk) > MAX_TARBALL:
                    break
                out.write(chunk)
    except OSError as e:
        raise _unreachable(player, str(getattr(e, "reason", e))[:200]) from None
    return target


def _unreachable(player: Player, why: str) -> SanduqError:
    return SanduqError(f"{player.spec} is needed to play these items and could not be fetched ({why}); "
                       f"connect this computer to the internet once, or put {player.tarball} from another "
                       f"computer's {cache_dir()} into that folder.")


def _integrity(path: Path) -> str:
    with path.open("rb") as f:
        return "sha512-" + base64.b64encode(hashlib.file_digest(f, "sha512").digest()).decode()
