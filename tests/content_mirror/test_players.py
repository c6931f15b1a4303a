"""Third-party players: fetched by name and version, kept only with the pinned hash, and code a
Chrome 60-era phone can run."""

import base64
import hashlib
import shutil
import subprocess
import tarfile
from dataclasses import replace

import pytest

from content_mirror import players
from server.errors import SanduqError
from tests.helpers import need_tool

pytestmark = pytest.mark.slow  # fetches from the npm registry (once; then the user's cache)
PARSE_AS_ES2017 = """
const acorn = require('internal/deps/acorn/acorn/dist/acorn');
const fs = require('fs');
for (const f of process.argv.slice(1)) {
  try { acorn.parse(fs.readFileSync(f, 'utf8'), {ecmaVersion: 2017}); }
  catch (e) { console.log(f + ': ' + e.message); process.exitCode = 1; }
}
"""


@pytest.mark.parametrize("name", sorted(players.PLAYERS))
def test_a_player_is_fetched_and_kept_only_with_its_pinned_hash(tmp_path, name):
    player = players.PLAYERS[name]
    good = players.fetch(player)  # the user's cache, as a build uses it
    digest = base64.b64encode(hashlib.sha512(good.read_bytes()).digest()).decode()
    assert player.integrity == "sha512-" + digest
    # A damaged copy in the cache is not used: it is fetched again and checked.
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / player.tarball).write_bytes(good.read_bytes() + b"tampered")
    assert players.fetch(player, cache).read_bytes() == good.read_bytes()
    # What the registry gives must be what we pinned, or nothing is kept.
    other = replace(player, integrity="sha512-" + base64.b64encode(bytes(64)).decode())
    with pytest.raises(SanduqError, match="is not the tarball Sanduq pins"):
        players.fetch(other, tmp_path / "other")
    assert not (tmp_path / "other" / player.tarball).exists()


def test_without_npm_the_same_tarball_comes_from_the_registry_address(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)  # as on a machine without Node
    got = players.fetch(players.BLOOM, tmp_path)
    assert got.name == "bloom-player-2.1.19.tgz"


def test_offline_the_message_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")  # nothing listens on port 9
    with pytest.raises(SanduqError) as refused:
        players.fetch(players.H5P, tmp_path)
    assert "could not be fetched" in refused.value.message and "h5p-standalone-3.7.1.tgz" in refused.value.message
    assert list(tmp_path.iterdir()) == []  # nothing half-fetched left


def test_the_players_code_parses_as_es2017_which_chrome_60_runs(tmp_path):
    """Chrome 60 (Android 7 phones) parses ES2017; `??`, `?.` or `catch {` would stop a whole player."""
    node = need_tool("node")
    scripts = []
    for player in players.PLAYERS.values():
        with tarfile.open(players.fetch(player)) as tar:
            for member in tar.getmembers():
                if member.name.startswith("package/dist/") and member.name.endswith(".js"):
                    target = tmp_path / player.package / member.name.rsplit("/", 1)[1]
                    target.parent.mkdir(exist_ok=True)
                    target.write_bytes(tar.extractfile(member).read())
                    scripts.append(str(target))
    assert len(scripts) >= 3
    done = subprocess.run([node, "--expose-internals", "-e", PARSE_AS_ES2017, *scripts],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_players_the_build_fetches_are_the_ones_a_box_runs():
    """Named twice on purpose, once per layer (server/gamezip.py cannot import the build's
    module): a player added to one and not the other is refused by every box, so they must agree."""
    from server.gamezip import PLAYERS as RUNS

    assert sorted(p.package for p in players.PLAYERS.values()) == sorted(RUNS)
