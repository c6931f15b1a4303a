"""install.sh --box, staged with --root DIR: the same files every time, a config file from
the settings table, kept data and config, trusted keys, the hotspot, and its refusals.

Nothing that changes this machine runs: apt-get, useradd, chown, pip, systemctl, udevadm
and the like are replaced on PATH by stubs that record a call (and --root never calls them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path

import pytest

from content_mirror import minisign
from server import settings as settings_table
from tests.helpers import need_tool
from tests.systemd.staging import INSTALL, REPO, UNITS, snapshot, stage, stubbed_calls, stubs

CONFIG = "etc/sanduq/sanduq.toml"


@pytest.fixture
def key(tmp_path) -> Path:
    minisign.keygen(tmp_path / "keys")
    ministry = tmp_path / "keys/ministry.pub"
    (tmp_path / "keys/sanduq.pub").rename(ministry)
    return ministry


def staged_ok(root: Path, *args: str) -> subprocess.CompletedProcess:
    result = stage(root, *args)
    assert result.returncode == 0, result.stderr
    return result


def test_staging_twice_gives_the_same_files(tmp_path, key):
    first = tmp_path / "a"
    staged_ok(first, "--trusted-key", str(key))
    once = snapshot(first)
    staged_ok(first, "--trusted-key", str(key))
    assert snapshot(first) == once
    elsewhere = tmp_path / "b"
    staged_ok(elsewhere, "--trusted-key", str(key))
    assert snapshot(elsewhere) == once  # nothing in the staged files names the staging folder
    assert stubbed_calls(first) == "" and stubbed_calls(elsewhere) == ""


def test_staging_lays_out_the_whole_box(tmp_path, key):
    root = tmp_path / "box"
    staged_ok(root, "--trusted-key", str(key))
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).is_file()
    assert (root / "etc/udev/rules.d/99-sanduq-usb.rules").is_file()
    assert (root / "etc/tmpfiles.d/sanduq.conf").is_file()
    assert os.access(root / "opt/sanduq/libexec/sanduq-mount", os.X_OK)
    assert os.access(root / "opt/sanduq/libexec/usb-path/umount", os.X_OK)
    assert os.access(root / "opt/sanduq/libexec/sanduq-clock", os.X_OK)
    assert (root / "var/lib/sanduq").stat().st_mode & 0o777 == 0o750
    assert (root / "var/lib/sanduq/trusted-keys/ministry.pub").read_bytes() == key.read_bytes()
    # What would have changed the running system is written down, in order.
    plan = (root / "sanduq-install-plan.txt").read_text().splitlines()
    assert plan[0].startswith("apt-get install -y python3-venv ")
    assert "hostapd" not in plan[0] and "dnsmasq" not in plan[0]  # no hotspot asked
    assert any(line.startswith("useradd --system") and line.endswith(" sanduq") for line in plan)
    assert f"/opt/sanduq/venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input --upgrade {REPO}" in plan
    assert "chown sanduq:sanduq /var/lib/sanduq" in plan
    assert plan[-4:] == [
        "systemctl daemon-reload",
        "udevadm control --reload",
        "systemctl enable sanduq-server.service sanduq-usb.service sanduq-unmount.path sanduq-clock.path",
        "systemctl restart sanduq-unmount.path sanduq-clock.path sanduq-server.service sanduq-usb.service",
    ]


def test_the_config_file_holds_every_setting_with_a_comment(tmp_path):
    root = tmp_path / "box"
    staged_ok(root)
    path = root / CONFIG
    lines = path.read_text().splitlines()
    names = [s.name for s in settings_table.SETTINGS]
    assert list(tomllib.loads(path.read_text())) == names
    for name in names:
        line = next(i for i, text in enumerate(lines) if text.startswith(f"{name} = "))
        assert lines[line - 1].startswith("# ") and len(lines[line - 1]) > 10, name
    loaded = settings_table.load(env={}, config_file=path)
    box = {"port": 80, "mdns": True}
    assert loaded == {s.name: box.get(s.name, s.default) for s in settings_table.SETTINGS}


def test_running_again_keeps_config_and_data(tmp_path, key):
    root = tmp_path / "box"
    staged_ok(root)
    config = root / CONFIG
    config.write_text(config.read_text().replace('school_name = "Sanduq"', 'school_name = "Мактаби 5"'))
    edited = config.read_bytes()
    (root / "var/lib/sanduq/catalog.db").write_bytes(b"the library")
    result = staged_ok(root, "--trusted-key", str(key))
    assert config.read_bytes() == edited
    assert "Kept /etc/sanduq/sanduq.toml" in result.stderr
    assert (root / "var/lib/sanduq/catalog.db").read_bytes() == b"the library"
    assert (root / "var/lib/sanduq/trusted-keys/ministry.pub").is_file()


def test_offline_from_a_wheel_folder(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    root = tmp_path / "box"
    staged_ok(root, "--wheels", str(wheels))
    plan = (root / "sanduq-install-plan.txt").read_text()
    assert f"--no-index --find-links {wheels} --upgrade sanduq" in plan


def test_the_hotspot_only_when_asked(tmp_path):
    pytest.importorskip("provisioning.hotspot")
    plain = tmp_path / "plain"
    staged_ok(plain)
    assert not (plain / "etc/NetworkManager").exists()

    root = tmp_path / "box"
    staged_ok(root, "--hotspot-ssid", "Мактаби 5", "--hotspot-passphrase", "kitobkhona", "--country", "TJ")
    keyfile = root / "etc/NetworkManager/system-connections/sanduq-hotspot.nmconnection"
    assert "kitobkhona" in keyfile.read_text()
    assert "hostapd" not in (root / "sanduq-install-plan.txt").read_text()

    classic = tmp_path / "classic"
    staged_ok(classic, "--hotspot-ssid", "Sanduq", "--hotspot-passphrase", "kitobkhona", "--country", "TJ",
              "--hotspot-backend", "hostapd")
    first = (classic / "sanduq-install-plan.txt").read_text().splitlines()[0]
    assert first.startswith("apt-get install") and " hostapd dnsmasq" in first
    assert any((classic / "etc").rglob("hostapd*.conf"))


def one_sentence(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode != 0
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    for word in words:
        assert word in message
    return message


@pytest.mark.parametrize("args, words", [
    (["--hotspot-ssid", "Sanduq", "--country", "TJ"], ["--hotspot-passphrase"]),
    (["--hotspot-ssid", "Sanduq", "--hotspot-passphrase", "kitobkhona", "--country", "TJ",
      "--hotspot-backend", "wpa"], ["networkmanager or hostapd"]),
    (["--trusted-key", "/nonexistent/key.pub"], ["not a file that can be read", "/nonexistent/key.pub"]),
    (["--wheels", "/nonexistent"], ["not a folder"]),
    (["--bogus", "1"], ["Unknown option --bogus"]),
    (["--trusted-key"], ["needs a value"]),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, args, words):
    root = tmp_path / "box"
    result = stage(root, *args, os_release=None)
    one_sentence(result, *words)
    assert not root.exists()


def test_a_file_that_is_not_a_minisign_key_is_refused(tmp_path):
    bad = tmp_path / "not-a-key.pub"
    bad.write_text("untrusted comment: hello\nthis is not a key\n")
    one_sentence(stage(tmp_path / "box", "--trusted-key", str(bad)), "not a minisign public key")
    renamed = tmp_path / "key.txt"
    minisign.keygen(tmp_path / "k")
    shutil.copy(tmp_path / "k/sanduq.pub", renamed)
    one_sentence(stage(tmp_path / "box2", "--trusted-key", str(renamed)), "NAME.pub")


@pytest.mark.parametrize("release, accepted", [
    ('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n', True),
    ('ID=raspbian\nID_LIKE=debian\nVERSION_ID="12"\nPRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\n', True),
    ('ID=debian\nVERSION_ID="11"\nPRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\n', False),
    ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n', False),
    ('ID=debian\nVERSION_ID="12"\n$(touch /tmp/sanduq-os-release-ran)\n', True),
])
def test_only_bookworm(tmp_path, release, accepted):
    result = stage(tmp_path / "box", os_release=release)
    if accepted:
        assert result.returncode == 0, result.stderr
    else:
        pretty = release.split('PRETTY_NAME="')[1].split('"')[0]
        one_sentence(result, "Raspberry Pi OS or Debian 12 (Bookworm)", pretty)
    assert not Path("/tmp/sanduq-os-release-ran").exists()  # read as data, never run


def test_not_root_is_refused(tmp_path):
    """Really run as another user (nobody), through setpriv: no pretending."""
    need_tool("setpriv")
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    # A copy anyone can read: the repository or pytest's folders may be closed to nobody.
    folder = Path(tempfile.mkdtemp(prefix="sanduq-install-"))
    try:
        folder.chmod(0o755)
        shutil.copy(INSTALL, folder / "install.sh")
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 "bash", str(folder / "install.sh"), "--box"],
                                capture_output=True, text=True, timeout=30, cwd=folder)
    finally:
        shutil.rmtree(folder)
    one_sentence(result, "Run the box installer as root", "--root DIR")


def test_no_network_for_apt_says_how_to_install_offline(tmp_path):
    """The real box path, as root, with dpkg saying nothing is installed and apt-get failing
    as it does offline; it stops there, before touching anything."""
    if os.geteuid() != 0:
        pytest.skip("the box installer runs as root")
    release = Path("/etc/os-release").read_text()
    if 'VERSION_ID="12"' not in release:
        pytest.skip("the box installer only runs on Debian 12")
    bin_dir, log = stubs(tmp_path / "stubs")
    stubs(bin_dir, ["dpkg-query"], rc=1)
    stubs(bin_dir, ["apt-get"], rc=100)
    result = subprocess.run(["bash", str(INSTALL), "--box"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    message = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert "cannot reach the package servers" in message and "--wheels DIR" in message
    assert log.read_text().splitlines()[-1] == "apt-get update -qq"


def test_help_names_the_box():
    result = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0
    assert "--box" in result.stdout and "--root DIR" in result.stdout and "set -e" not in result.stdout


def test_shellcheck_finds_nothing():
    shellcheck = need_tool("shellcheck")
    scripts = [INSTALL, REPO / ".ci/run", REPO / "systemd/sanduq-mount", REPO / "systemd/sanduq-umount"]
    result = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "", result.stdout
