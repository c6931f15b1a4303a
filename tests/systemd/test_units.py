"""The units and the udev rule as install.sh stages them: systemd-analyze verify and
security on the staged tree, udev's own rule engine on the rule, the commands they start."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.helpers import need_tool
from tests.systemd.staging import REPO, UNITS, security_score, stage, verify, verify_tree
from tests.usb_updater.sticks import need_namespace

pytestmark = pytest.mark.system  # systemd-analyze on staged units, udev, namespaces

INSTANCES = [u.replace("@.", "@sda1.") for u in UNITS]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    need_tool("systemd-analyze")
    base = tmp_path_factory.mktemp("units")
    result = stage(base / "box")
    assert result.returncode == 0, result.stderr
    return verify_tree(base / "box", base / "verify")


def test_every_unit_is_staged_from_systemd_folder(tree):
    for unit in UNITS:
        assert (tree / "etc/systemd/system" / unit).read_bytes() == (REPO / "systemd" / unit).read_bytes()


def test_systemd_analyze_verify_accepts_every_unit(tree):
    accepted, messages = verify(tree, *INSTANCES)
    assert accepted, messages


@pytest.mark.parametrize("change, complaint", [
    (("NoNewPrivileges=yes", "NoNewPrivilegs=yes"), "Unknown key"),
    (("ProtectSystem=strict", "ProtectSystem=strictly"), "protect system"),
    (("/opt/sanduq/venv/bin/sanduq-server", "/opt/sanduq/venv/bin/sanduq-serve"), "is not executable"),
])
def test_the_verify_check_fails_on_a_broken_unit(tree, change, complaint):
    unit = tree / "etc/systemd/system/sanduq-broken.service"
    unit.write_text((tree / "etc/systemd/system/sanduq-server.service").read_text().replace(*change))
    try:
        accepted, messages = verify(tree, unit.name)
    finally:
        unit.unlink()
    assert not accepted
    assert complaint in messages


@pytest.mark.parametrize("unit", ["sanduq-server.service", "sanduq-usb.service", "sanduq-clock.service"])
def test_security_rates_the_services_ok(tree, unit):
    score = security_score(tree, unit)
    assert score <= 3.0, f"{unit} is rated {score}, above 3.0 ('OK')"


def test_the_security_check_fails_on_an_unhardened_unit(tree):
    unit = tree / "etc/systemd/system/sanduq-bare.service"
    unit.write_text("[Service]\nExecStart=/opt/sanduq/venv/bin/sanduq-server\n")
    try:
        assert security_score(tree, unit.name) > 3.0
    finally:
        unit.unlink()


def test_units_start_only_what_the_box_has(tree):
    """Each command a unit starts is a script install.sh stages or a console script of the
    package, which pip puts into the venv; output goes to the journal."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    for unit in UNITS:
        text = (REPO / "systemd" / unit).read_text()
        assert "StandardOutput" not in text and "StandardError" not in text  # the journal's default
        for command in re.findall(r"^Exec\w+=(\S+)", text, re.M):
            if command.startswith("/opt/sanduq/venv/bin/"):
                assert command.rsplit("/", 1)[1] in scripts
            else:
                staged = tree / command.lstrip("/")
                assert staged.is_file() and staged.stat().st_mode & 0o111, f"{unit}: {command} is not staged"


def test_the_server_listens_on_port_80_without_root():
    text = (REPO / "systemd/sanduq-server.service").read_text()
    assert re.search(r"^User=sanduq$", text, re.M)
    assert re.search(r"^AmbientCapabilities=CAP_NET_BIND_SERVICE$", text, re.M)
    assert re.search(r"^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$", text, re.M)


# -- the udev rule, run through udev's own rule engine (`udevadm test`) ------------------

UDEV_SCRIPT = r"""
# Inside a private mount namespace: udev's runtime folders and the rules are our own, and
# the links `udevadm test` makes under /dev land in throwaway folders.
for dir in /run/udev /dev/disk /dev/block; do mkdir -p "$dir"; mount -t tmpfs none "$dir"; done
mkdir -p /run/udev/rules.d
mount --bind "$RULES" /etc/udev/rules.d
if [ "$FAKE_USB" = yes ]; then
    # Loop devices stand for sticks here: no USB bus on this machine, so say they are on one.
    echo 'SUBSYSTEM=="block", KERNEL=="loop*", ENV{ID_BUS}="usb"' >/run/udev/rules.d/61-test-usb.rules
fi
dev=$(losetup -f --show "$IMAGE")
trap 'losetup -d "$dev"' EXIT
udevadm test --action=add "/sys/class/block/${dev#/dev/}" 2>&1
echo "DEVICE=${dev#/dev/}"
"""


def udev_test(tmp_path: Path, image: Path, rule_text: str, fake_usb: bool = True) -> tuple[str, str]:
    """(udevadm test's output, the loop device's name) for image under the given rule."""
    need_tool("udevadm")
    need_tool("losetup")
    need_namespace()
    rules = tmp_path / "rules.d"
    rules.mkdir(exist_ok=True)
    (rules / "99-sanduq-usb.rules").write_text(rule_text)
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-euo", "pipefail", "-c", UDEV_SCRIPT],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "RULES": str(rules), "IMAGE": str(image),
             "FAKE_USB": "yes" if fake_usb else "no"})
    assert result.returncode == 0, result.stderr + result.stdout
    device = re.search(r"^DEVICE=(\S+)$", result.stdout, re.M).group(1)
    return result.stdout, device


def image(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.img"
    with open(path, "wb") as f:
        f.truncate(16 << 20)
    tool = {"ext4": ["mkfs.ext4", "-q", "-F", "-L", "STICK"], "swap": ["mkswap"]}[kind]
    need_tool(tool[0])
    subprocess.run([*tool, str(path)], check=True, capture_output=True)
    return path


RULE = (REPO / "systemd/99-sanduq-usb.rules").read_text()


def test_a_usb_filesystem_starts_the_mount_service(tmp_path):
    out, device = udev_test(tmp_path, image(tmp_path, "ext4"), RULE)
    assert f"SYSTEMD_WANTS=sanduq-mount@{device}.service" in out.splitlines()
    assert re.search(r"^TAGS=.*:systemd:", out, re.M)
    # The rule is read without a single complaint.
    assert [line for line in out.splitlines() if "99-sanduq-usb.rules" in line] == [
        "Reading rules file: /etc/udev/rules.d/99-sanduq-usb.rules"]


def test_a_disk_not_on_usb_is_left_alone(tmp_path):
    out, _ = udev_test(tmp_path, image(tmp_path, "ext4"), RULE, fake_usb=False)
    assert "SYSTEMD_WANTS" not in out


def test_a_usb_partition_without_a_filesystem_is_left_alone(tmp_path):
    out, _ = udev_test(tmp_path, image(tmp_path, "swap"), RULE)
    assert "ID_FS_TYPE=swap" in out
    assert "SYSTEMD_WANTS" not in out


def test_the_rule_check_fails_on_a_broken_rule(tmp_path):
    out, _ = udev_test(tmp_path, image(tmp_path, "ext4"), RULE + 'BADKEY="1"\n')
    assert "99-sanduq-usb.rules:" in out and "Invalid key" in out
