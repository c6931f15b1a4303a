"""Staging a box with `install.sh --box --root DIR`, and checking the staged units.

Nothing here starts a unit: there is no systemd PID 1 on this machine. `systemd-analyze`
verifies and rates unit files offline, against the staged tree given as --root.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.helpers import need_tool

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "install.sh"
UNITS = ("sanduq-server.service", "sanduq-usb.service", "sanduq-mount@.service",
         "sanduq-unmount.path", "sanduq-unmount.service", "sanduq-clock.path", "sanduq-clock.service")
# What must never run while staging: each is replaced by a stub that records its call.
FORBIDDEN = ("apt-get", "apt", "dpkg", "useradd", "adduser", "chown", "systemctl", "udevadm",
             "systemd-tmpfiles", "nmcli", "pip", "pip3", "mount", "umount")
BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def stubs(folder: Path, names=FORBIDDEN, rc: int = 97) -> tuple[Path, Path]:
    """A folder of commands that only append their name and arguments to a log and fail."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "calls.log"
    log.touch()
    for name in names:
        path = folder / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >>"{log}"\nexit {rc}\n')
        path.chmod(0o755)
    return folder, log


def stage(root: Path, *args: str, os_release: str | None = BOOKWORM, path_first: Path | None = None,
          ) -> subprocess.CompletedProcess:
    """Run `install.sh --box --root ROOT ARGS`, with every system-changing command stubbed."""
    if os_release is not None:
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc/os-release").write_text(os_release)
    bin_dir, _ = stubs(path_first or root.parent / f"{root.name}-stubs")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", str(INSTALL), "--box", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120, env=env)


def stubbed_calls(root: Path) -> str:
    return (root.parent / f"{root.name}-stubs" / "calls.log").read_text()


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root: its type and mode, and its bytes or link target."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        key = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            found[key] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            found[key] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            found[key] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
    return found


def verify_tree(staged: Path, dest: Path) -> Path:
    """A copy of a staged box that `systemd-analyze --root` can load units from.

    It adds the host's own units (sysinit.target and the like, which every service
    depends on) and, because the venv is not built by --root (a venv holds its own absolute
    path), an executable stand-in for each console script the units start.
    """
    need_tool("systemd-analyze")
    shutil.copytree(staged, dest, symlinks=True)
    for system in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if system.is_dir():
            shutil.copytree(system, dest / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
            break
    for unit in (dest / "etc/systemd/system").glob("sanduq-*"):
        for command in re.findall(r"^Exec\w+=(/opt/sanduq/venv/bin/\S+)", unit.read_text(), re.M):
            stand_in = dest / command.lstrip("/")
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.write_text("#!/bin/sh\n")
            stand_in.chmod(0o755)
    return dest


def verify(tree: Path, *units: str) -> tuple[bool, str]:
    """(accepted, messages) of `systemd-analyze verify`: accepted means exit 0 and not a
    single warning, since it exits 0 on an unknown key or a value it cannot parse."""
    result = subprocess.run(["systemd-analyze", "verify", f"--root={tree}", *units],
                            capture_output=True, text=True, timeout=60, cwd=tree)
    messages = (result.stdout + result.stderr).strip()
    return result.returncode == 0 and not messages, messages


def security_score(tree: Path, unit: str) -> float:
    """The overall exposure `systemd-analyze security` gives a unit (0 safe, 10 unsafe)."""
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--root={tree}", unit],
                            capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?) ", result.stdout)
    if not found:
        pytest.fail(f"no exposure level in systemd-analyze security's output:\n{result.stdout}{result.stderr}")
    return float(found.group(1))
