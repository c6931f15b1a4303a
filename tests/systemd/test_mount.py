"""sanduq-mount and the daemon's umount, on real ext4 stick images through loop devices,
inside private mount namespaces (tests/usb_updater/sticks.py) so nothing reaches the host.

The kernel here has no vfat or exfat driver, so those are checked through the options
sanduq-mount chooses for them; ext4 is mounted for real. Nothing here runs as the
`sanduq` user (there is none on this machine): SANDUQ_USER names `nobody` instead.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.helpers import need_tool
from tests.systemd.staging import REPO
from tests.usb_updater.sticks import make_image, need_namespace, run_in_namespace

pytestmark = pytest.mark.system  # mounted stick images in a namespace, under the mount unit

MOUNT = REPO / "systemd/sanduq-mount"
UMOUNT = REPO / "systemd/sanduq-umount"


def options(fs: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(MOUNT), "options", fs], capture_output=True, text=True, timeout=10,
                          env={**os.environ, "SANDUQ_USER": "nobody"})


@pytest.mark.parametrize("fs", ["vfat", "exfat", "ntfs", "ext4"])
def test_no_stick_can_bring_exec_devices_or_setuid(fs):
    result = options(fs)
    assert result.returncode == 0, result.stderr
    assert {"nosuid", "nodev", "noexec"} <= set(result.stdout.strip().split(","))


@pytest.mark.parametrize("fs", ["vfat", "exfat", "ntfs"])
def test_filesystems_without_owners_are_mounted_for_the_service_user(fs):
    uid, gid = (subprocess.run(["id", flag, "nobody"], capture_output=True, text=True).stdout.strip()
                for flag in ("-u", "-g"))
    opts = options(fs).stdout.strip().split(",")
    assert f"uid={uid}" in opts and f"gid={gid}" in opts
    # the user reads and writes files and folders; nobody else on the box gets to write
    assert "fmask=0137" in opts and "dmask=0027" in opts


@pytest.mark.parametrize("args, message", [
    (["options", "xfs"], "not one Sanduq mounts"),
    (["add", "../etc"], "is not a device name"),
    (["add", "sdz9"], "not a block device"),
    (["frobnicate"], "usage:"),
])
def test_refusals_are_one_sentence(args, message):
    result = subprocess.run([str(MOUNT), *args], capture_output=True, text=True, timeout=10,
                            env={**os.environ, "SANDUQ_USER": "nobody"})
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


SETUP = r"""
# /run/sanduq as the tmpfiles.d entry makes it, private to this namespace.
mkdir -p /run/sanduq
mount -t tmpfs none /run/sanduq
mkdir -p /run/sanduq/sticks /run/sanduq/unmount
dev=$(losetup -f --show "$IMAGE")
name=${dev#/dev/}
stick=/run/sanduq/sticks/$name
trap 'umount -l "$stick" 2>/dev/null || true; losetup -d "$dev"' EXIT
export SANDUQ_USER=nobody
"""


def in_namespace(tmp_path, body: str) -> subprocess.CompletedProcess:
    need_namespace("ext4")
    need_tool("losetup")
    need_tool("findmnt")
    image = make_image(tmp_path / "stick.img", "ext4", size_mb=16, files={"sanduq/": b""})
    result = run_in_namespace(SETUP + body, timeout=90,
                              env={"IMAGE": str(image), "MOUNT": str(MOUNT), "UMOUNT": str(UMOUNT)})
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def mount_line(stdout: str) -> list[str]:
    """The mount options of the stick's line of mountinfo, printed as MOUNTED: LINE."""
    line = re.search(r"^MOUNTED: (.*)$", stdout, re.M).group(1).split()
    return line[5].split(",")


def test_a_stick_is_mounted_and_unmounted_when_pulled(tmp_path):
    result = in_namespace(tmp_path, r"""
"$MOUNT" add "$name"
echo "MOUNTED: $(grep " $stick " /proc/self/mountinfo)"
test -d "$stick/sanduq"
exec 3<"$stick/sanduq"        # the daemon still holds the stick when it is pulled out
"$MOUNT" remove "$name"       # what the unit's ExecStop runs when the device goes
mountpoint -q "$stick" && exit 1
test ! -e "$stick"
echo REMOVED
""")
    assert {"rw", "nosuid", "nodev", "noexec", "noatime"} <= set(mount_line(result.stdout))
    assert "REMOVED" in result.stdout


def test_the_daemons_umount_asks_root_and_waits_until_the_stick_is_gone(tmp_path):
    result = in_namespace(tmp_path, r"""
"$MOUNT" add "$name"
"$UMOUNT" "$stick" &          # the daemon: its PATH's umount, as the sanduq-usb unit sets it
asked=$!
wait_until 10 test -e "/run/sanduq/unmount/$name"
mountpoint -q "$stick"        # nothing happens until root acts on the request
"$MOUNT" requests             # what sanduq-unmount.path starts
wait "$asked"
echo "UMOUNT EXIT $?"
mountpoint -q "$stick" && exit 1
test -z "$(ls /run/sanduq/unmount)"
echo DONE
""")
    assert "UMOUNT EXIT 0" in result.stdout and "DONE" in result.stdout
    assert "safe to remove" in result.stderr


def test_a_stick_in_use_is_not_called_safe(tmp_path):
    result = in_namespace(tmp_path, r"""
"$MOUNT" add "$name"
exec 3<"$stick/sanduq"
touch "/run/sanduq/unmount/$name"
if "$MOUNT" requests; then echo "REQUESTS OK"; else echo "REQUESTS FAILED"; fi
mountpoint -q "$stick" && echo "STILL MOUNTED"
exec 3<&-
""")
    assert "REQUESTS FAILED" in result.stdout and "STILL MOUNTED" in result.stdout
    assert "something still uses it" in result.stderr


def test_the_real_umount_serves_every_other_mount(tmp_path):
    result = in_namespace(tmp_path, r"""
other=$(mktemp -d)
mount -t tmpfs none "$other"
"$UMOUNT" "$other"
mountpoint -q "$other" || echo "OTHER UNMOUNTED"
""")
    assert "OTHER UNMOUNTED" in result.stdout


@pytest.mark.parametrize("how", ["mounted elsewhere", "in fstab by device", "in fstab by label"])
def test_the_boxs_own_disks_are_left_alone(tmp_path, how):
    prepare = {
        "mounted elsewhere": 'mkdir -p /mnt/own && mount "$dev" /mnt/own',
        "in fstab by device": 'echo "$dev /srv ext4 defaults 0 2" >/tmp/fstab.$$ && mount --bind /tmp/fstab.$$ /etc/fstab',
        "in fstab by label": 'echo "LABEL=STICK /srv ext4 defaults 0 2" >/tmp/fstab.$$ && mount --bind /tmp/fstab.$$ /etc/fstab',
    }[how]
    result = in_namespace(tmp_path, prepare + r"""
"$MOUNT" add "$name"
mountpoint -q "$stick" && exit 1
echo LEFT ALONE
""")
    assert "LEFT ALONE" in result.stdout
    assert "left alone" in result.stderr
