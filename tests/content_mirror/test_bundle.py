"""Building and verifying signed bundles, full and delta."""

import json
import subprocess
import sys

import pytest

from content_mirror import bundle, minisign
from content_mirror.authoring import read_source
from server.errors import SanduqError
from tests.helpers import ITEMS, need_tool, write_source


@pytest.fixture
def keys(tmp_path):
    minisign.keygen(tmp_path / "keys")
    return tmp_path / "keys"


def test_full_bundle_layout(tmp_path, source, keys):
    result = bundle.build(source, tmp_path / "stick", keys / "sanduq.key")
    folder = tmp_path / "stick" / "sanduq" / "bundles" / "test-000001"
    assert result.folder == folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest == read_source(source).manifest
    assert sorted(p.name for p in (folder / "files").iterdir()) == sorted(manifest["files"])
    checked = bundle.verify_stick(tmp_path / "stick", [minisign.read_public_key(keys / "sanduq.pub")])
    assert [(c.name, c.problem) for c in checked] == [("test-000001", None)]


def test_stock_minisign_checks_a_bundle(tmp_path, source, keys):
    tool = need_tool("minisign")
    result = bundle.build(source, tmp_path / "stick", keys / "sanduq.key")
    done = subprocess.run([tool, "-Vm", str(result.folder / "manifest.json"), "-p", str(keys / "sanduq.pub")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "sequence:1" in done.stdout


def test_delta_carries_only_what_changed(tmp_path, keys):
    old_source = write_source(tmp_path / "v1")
    first = bundle.build(old_source, tmp_path / "stick", keys / "sanduq.key")
    new_items = ITEMS.replace("Counting to five", "Counting to five again")
    new_items = "\n".join(line for line in new_items.splitlines() if not line.startswith("tip-sleep")) + "\n"
    new_source = write_source(tmp_path / "v2", items=new_items)
    (new_source / "media" / "count.mp4").write_bytes(b"a new video")
    delta = bundle.build(new_source, tmp_path / "stick", keys / "sanduq.key", sequence=2,
                         since=first.folder / "manifest.json")
    m = delta.manifest
    assert m["full"] is False and m["since"] == 1 and m["sequence"] == 2
    assert [i["id"] for i in m["items"]] == ["video-count"] and m["remove"] == ["tip-sleep"]
    assert delta.files_written == 1  # the new video only; the cover and subtitles are on the box
    assert (delta.folder / "files").exists() and len(list((delta.folder / "files").iterdir())) == 1


def test_delta_needs_a_larger_sequence(tmp_path, source, keys):
    first = bundle.build(source, tmp_path / "stick", keys / "sanduq.key")
    with pytest.raises(SanduqError, match="must be larger than 1"):
        bundle.build(source, tmp_path / "stick", keys / "sanduq.key", since=first.folder / "manifest.json")


def test_files_too_large_for_fat32_are_refused(tmp_path, source, keys, monkeypatch):
    # A 4 GiB file would cost a minute of hashing here; the check is the same with a lower limit.
    monkeypatch.setattr(bundle, "FAT32_LIMIT", 1000)
    with pytest.raises(SanduqError, match="cannot travel on a FAT32 stick"):
        bundle.build(source, tmp_path / "stick", keys / "sanduq.key")


def test_rebuild_after_an_interrupted_build_keeps_whole_files(tmp_path, source, keys):
    first = bundle.build(source, tmp_path / "stick", keys / "sanduq.key")
    (first.folder / "manifest.json").unlink()
    victim = sorted((first.folder / "files").iterdir())[0]
    victim.write_bytes(b"half")
    again = bundle.build(source, tmp_path / "stick", keys / "sanduq.key")
    assert again.files_written == 1


def test_cli_keygen_build_verify(tmp_path, source):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "content_mirror", *map(str, args)],
                              capture_output=True, text=True, timeout=60)

    assert run("keygen", tmp_path / "k").returncode == 0
    built = run("build", source, tmp_path / "stick", "--key", tmp_path / "k" / "sanduq.key", "--keep-videos")
    assert built.returncode == 0 and "test update 1, 7 items" in built.stdout
    ok = run("verify", tmp_path / "stick", "--pubkey", tmp_path / "k" / "sanduq.pub")
    assert ok.returncode == 0 and "test-000001: ok" in ok.stdout
    payload = next((tmp_path / "stick" / "sanduq" / "bundles" / "test-000001" / "files").iterdir())
    payload.write_bytes(payload.read_bytes() + b"!")
    bad = run("verify", tmp_path / "stick", "--pubkey", tmp_path / "k" / "sanduq.pub")
    assert bad.returncode != 0 and "REFUSED: file" in bad.stdout and "Traceback" not in bad.stderr
    for command in ("keygen", "build", "verify", "demo-source", "check"):
        assert run(command, "--help").returncode == 0


def test_progress_bar_on_a_terminal_and_silence_in_a_pipe(monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a log
    assert bundle.progress_bar("Copying") is None
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)  # a terminal: only isatty() differs
    show = bundle.progress_bar("Copying")
    show(50_000_000, 100_000_000)
    show(100_000_000, 100_000_000)
    lines = screen.getvalue()
    assert "\rCopying [###############               ]  50% 50/100 MB" in lines
    assert lines.endswith("100% 100/100 MB\n")


def test_a_bundle_says_when_it_was_built_in_its_signed_comment(tmp_path):
    """A box whose clock reads earlier than this knows its clock is behind (server/clock.py)."""
    import time

    from content_mirror.bundle import read_signed
    from server.clock import parse

    minisign.keygen(tmp_path / "keys")
    result = bundle.build(write_source(tmp_path / "source"), tmp_path / "stick", tmp_path / "keys" / "sanduq.key")
    manifest, built = read_signed(result.folder, [minisign.read_public_key(tmp_path / "keys" / "sanduq.pub")])
    assert manifest["sequence"] == 1 and abs(parse(built) - time.time()) < 120
    comment = (result.folder / "manifest.json.minisig").read_text().splitlines()[2]
    assert comment == f"trusted comment: sanduq channel:test sequence:1 built:{built}"  # signed with the manifest
