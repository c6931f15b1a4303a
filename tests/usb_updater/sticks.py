"""Real stick images, mounted inside a private mount namespace so no mount reaches the host.

    image = make_image(tmp_path / "stick.img", "fat32", files={"sanduq/": b""})
    result = run_in_namespace(f'mount_stick {image} {mnt}; ls {mnt}/sanduq', timeout=30)

The script runs as PID 1 of new mount and PID namespaces: when it ends or is killed,
every process it started (FUSE daemons too) dies and its mounts go with the namespace.
The kernel here has no vfat or exfat driver, so FAT32 goes through fusefat and exFAT
through exfat-fuse; ext4 is loop-mounted by the kernel.

fusefat ignores the "lower case" flag Windows and mtools put on short names: a folder
written as `sanduq` lists as `SANDUQ` (opening `sanduq` still works, lookups ignore case).
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path
from shlex import quote

import pytest

from tests.helpers import need_tool

REPO = Path(__file__).resolve().parents[2]
TOOLS = {"ext4": ("mkfs.ext4",), "fat32": ("mkfs.vfat", "mcopy"), "exfat": ("mkfs.exfat",)}
# What mounting each kind needs, beyond util-linux (mount, unshare, blkid, mountpoint).
MOUNT_TOOLS = {"ext4": (), "fat32": ("fusefat", "fusermount"), "exfat": ("mount.exfat-fuse",)}

# Bash functions every namespace script can call (bash -euo pipefail).
PRELUDE = r"""
declare -A FUSE_PIDS=()

# mount_stick IMAGE DIR [ro]: mount a stick image by its filesystem type, wait until mounted.
mount_stick() {
    local image=$1 dir=$2 mode=${3:-rw} type
    type=$(blkid -p -o value -s TYPE "$image")
    case $type in
        ext2|ext3|ext4) mount -o "loop,$mode" "$image" "$dir" ;;
        exfat) mount -t exfat-fuse -o "loop,$mode" "$image" "$dir" ;;
        vfat)
            # Foreground in the background, so unmount_stick can wait for every write to land.
            if [[ $mode == ro ]]; then fusefat -f -o ro "$image" "$dir" >&2 &
            else fusefat -f -o rw+ "$image" "$dir" >&2 &
            fi
            FUSE_PIDS[$dir]=$!
            wait_until 10 mountpoint -q "$dir" ;;
        *) echo "mount_stick: $image holds '$type', not a stick filesystem" >&2; return 1 ;;
    esac
}

# unmount_stick DIR: unmount, and for fusefat wait until its daemon has written everything.
unmount_stick() {
    local dir=$1
    if [[ -n ${FUSE_PIDS[$dir]:-} ]]; then
        fusermount -u "$dir"
        wait "${FUSE_PIDS[$dir]}" || true
        unset "FUSE_PIDS[$dir]"
    else
        umount "$dir"
    fi
}

# wait_until SECONDS COMMAND...: run COMMAND every 50 ms until it succeeds; fail at the deadline.
wait_until() {
    local seconds=$1; shift
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            echo "wait_until: '$*' still fails after ${seconds}s" >&2
            return 1
        fi
        sleep 0.05
    done
}

# wait_for_line FILE PATTERN [SECONDS]: wait until a line of FILE matches the grep -E PATTERN.
wait_for_line() {
    wait_until "${3:-10}" grep -qE -- "$2" "$1"
}

# Leave no FUSE daemon holding the image when the script ends early.
unmount_all() {
    local dir
    for dir in "${!FUSE_PIDS[@]}"; do fusermount -u "$dir" 2>/dev/null || true; done
}
trap unmount_all EXIT
"""


def need_tools(*names: str) -> None:
    """Skip (fail under SANDUQ_NO_SKIP=1) unless every tool is installed."""
    for name in names:
        need_tool(name)


@functools.cache
def _namespaces_work() -> str:
    """Empty when private namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "mounting stick images needs root"
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "true"], capture_output=True, text=True)
    return probe.stderr.strip() if probe.returncode else ""


def need_namespace(*kinds: str) -> None:
    """Skip unless this machine can mount stick images of these kinds in a private namespace."""
    need_tools("unshare", "mount", "blkid", "mountpoint",
               *(tool for kind in kinds for tool in MOUNT_TOOLS[kind]))
    if why := _namespaces_work():
        pytest.skip(f"no private mount namespace here: {why}")


def _stage(root: Path, files: dict[str, bytes]) -> None:
    """Write files under root; a name ending in "/" is an empty folder."""
    for name, data in files.items():
        target = root / name
        if name.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def make_image(path: Path, fs: str = "ext4", size_mb: int = 64,
               files: dict[str, bytes] | None = None, label: str = "STICK") -> Path:
    """A stick image of filesystem fs ("ext4", "fat32" or "exfat") holding files, made
    without mounting it on the host. FAT32 needs at least 33 MB."""
    if fs not in TOOLS:
        raise ValueError(f"no stick filesystem {fs!r}; choose one of {sorted(TOOLS)}")
    need_tools(*TOOLS[fs])
    path = Path(path)
    path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="stick-") as staging:
        staging = Path(staging)
        _stage(staging, files or {})
        if fs == "ext4":
            _run("mkfs.ext4", "-q", "-F", "-L", label, "-d", staging, path, f"{size_mb}M")
        elif fs == "fat32":
            _run("mkfs.vfat", "-F", "32", "-n", label, "-C", path, str(size_mb * 1024))
            if entries := sorted(staging.iterdir()):
                # mtools writes into the image file directly: no mount, no root.
                _run("mcopy", "-s", "-m", "-i", path, *entries, "::/", env={"MTOOLS_SKIP_CHECK": "1"})
        else:
            with open(path, "wb") as f:
                f.truncate(size_mb << 20)
            _run("mkfs.exfat", "-L", label, path)
            if files:
                _fill_exfat(path, staging)
    return path


def _fill_exfat(image: Path, staging: Path) -> None:
    # Nothing writes into an exFAT image unmounted, so copy through exfat-fuse in a namespace.
    need_namespace("exfat")
    result = run_in_namespace(
        f'mnt=$(mktemp -d); mount_stick {quote(str(image))} "$mnt"\n'
        f'cp -r {quote(str(staging))}/. "$mnt/"; unmount_stick "$mnt"; rmdir "$mnt"',
        timeout=60)
    if result.returncode:
        raise RuntimeError(f"filling {image} failed: {result.stderr}")


def _run(*args, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **(env or {})})
    if result.returncode:
        raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}")


def namespace_script(body: str) -> str:
    """The whole bash script run_in_namespace runs: the helper functions, then body."""
    return PRELUDE + "\n" + body + "\n"


def run_in_namespace(body: str, timeout: float = 60, env: dict[str, str] | None = None,
                     ) -> subprocess.CompletedProcess:
    """Run a bash script (after PRELUDE) in private mount and PID namespaces, as root.

    The repository is on PYTHONPATH, so `python3 -c 'import usb_updater'` works inside.
    A script still running at the timeout is killed with all it started, and the test fails
    showing its output so far.
    """
    command = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
               "--mount-proc", "bash", "-euo", "pipefail", "-c", namespace_script(body)]
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": python_path, **(env or {})})
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the namespace script ran over {timeout}s\nstdout:\n{_text(e.stdout)}\n"
                    f"stderr:\n{_text(e.stderr)}")


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""

