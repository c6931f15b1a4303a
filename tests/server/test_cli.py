"""sanduq-server as a person runs it: a real process, a real port, one sentence on failure."""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from content_mirror.authoring import read_source
from server.importer import install
from server.library import Library

BIN = Path(sys.executable).parent


def run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_help_lists_every_setting():
    from server.settings import SETTINGS

    out = run("--help").stdout
    for s in SETTINGS:
        assert "--" + s.name.replace("_", "-") in out
    assert "--demo" in out
    for command in ("sanduq-server", "sanduq-mirror", "sanduq-usb"):
        assert (BIN / command).exists(), f"{command} is not installed: is it in pyproject.toml?"


def test_bad_flag_value_is_one_sentence():
    result = run("--port", "eighty")
    assert result.returncode != 0
    assert result.stderr.strip() == "--port: 'eighty' is not a valid port (port the web server listens on)."


def test_unwritable_data_dir_is_one_sentence(tmp_path):
    if os.geteuid() == 0:
        target = "/proc/sanduq"  # not even root can make a folder there
    else:
        target = "/root/sanduq"
    result = run("--data-dir", target, "--port", "0")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def start(tmp_path, *args):
    process = subprocess.Popen([sys.executable, "-m", "server", "--data-dir", str(tmp_path / "data"),
                                "--host", "127.0.0.1", "--port", "0", "--no-mdns", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = None
    for line in process.stdout:
        match = re.search(r"serving at (http://\S+/)", line)
        if match:
            url = match.group(1)
            break
    assert url, process.stderr.read()
    return process, url


def test_serves_and_stops_cleanly_on_sigterm(tmp_path, source):
    library = Library(tmp_path / "data")
    src = read_source(source)
    install(library, src.manifest, src.open)
    process, url = start(tmp_path)
    try:
        with urllib.request.urlopen(url + "healthz", timeout=5) as r:  # printed only once it answers
            assert json.load(r)["items"] == 7
        body = json.dumps({"events": [{"type": "opened", "item": "tip-sleep"}]}).encode()
        request = urllib.request.Request(url + "api/events", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    # the event queued a moment before SIGTERM was written on the way out
    assert [e["item"] for e in library_events(tmp_path / "data")] == ["tip-sleep"]


def library_events(data_dir):
    import sqlite3

    return [dict(zip(("id", "item"), r)) for r in
            sqlite3.connect(data_dir / "usage.db").execute("SELECT id, item FROM events")]


@pytest.mark.parametrize("config,expected", [("port = 'x'\n", "is not a valid port")])
def test_bad_config_file_is_one_sentence(tmp_path, config, expected):
    path = tmp_path / "sanduq.toml"
    path.write_text(config)
    result = run("--port", "0", env=dict(os.environ, SANDUQ_CONFIG=str(path)))
    assert result.returncode != 0 and expected in result.stderr and "Traceback" not in result.stderr


def test_check_finds_says_and_repairs_what_is_damaged(filled):
    data = str(filled.data_dir)
    sound = run("check", "--data-dir", data)
    assert sound.returncode == 0 and "is sound" in sound.stdout
    video = next(sha for sha, in filled.catalog.db.execute("SELECT sha256 FROM files WHERE mime = 'video/mp4'"))
    path = filled.store.path(video)
    rotten = bytearray(path.read_bytes())
    rotten[100] ^= 0xFF
    path.write_bytes(bytes(rotten))
    (filled.data_dir / "usage.db").write_bytes(b"not a database at all" * 300)
    found = run("check", "--data-dir", data)
    lines = found.stdout.splitlines()
    assert found.returncode == 1 and "Traceback" not in found.stderr
    assert any(video[:12] in line and "damaged" in line for line in lines)
    assert any("usage store" in line and "damaged" in line for line in lines)
    assert path.read_bytes() == bytes(rotten)  # reporting changes nothing
    repaired = run("check", "--data-dir", data, "--repair")
    assert repaired.returncode == 1 and "set aside" in repaired.stdout
    assert not path.exists() and (filled.store.quarantined / video).exists()
    after = run("check", "--data-dir", data)
    # What --repair cannot mend (the file's bytes) waits for the next stick, and is said so.
    assert after.returncode == 1 and after.stdout.splitlines() == [
        f"File {video[:12]}… is missing; the next stick that carries it brings it back."]
    assert run("check", "--help").returncode == 0
