"""The services run under their units' kernel-side rules: seccomp system call filter,
MemoryDenyWriteExecute, RestrictAddressFamilies, the capability bounding set and
NoNewPrivileges, applied by tests/systemd/sandbox.py (there is no systemd PID 1 here to
start a unit; the file system sandbox is not emulated).

This is what proves the units do not break the code: Python's ctypes (the server's
mallopt call, libffi closures), cryptography's Ed25519, SQLite, waitress, and zeroconf,
which lists interfaces over netlink (hence AF_NETLINK in the server unit).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from content_mirror import minisign
from content_mirror.bundle import build
from tests.helpers import need_tool, write_source
from tests.systemd.staging import REPO

pytestmark = pytest.mark.system  # the units' kernel-side rules applied to the real services

SANDBOX = REPO / "tests/systemd/sandbox.py"
SERVER_UNIT = REPO / "systemd/sanduq-server.service"
USB_UNIT = REPO / "systemd/sanduq-usb.service"


def need_sandbox() -> None:
    need_tool("systemd-analyze")  # it names the system calls of each group
    if os.geteuid() != 0:
        pytest.skip("the sandbox runs the server on port 80 in a network namespace: needs root")
    try:
        import ctypes

        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        pytest.skip("libseccomp2 is not installed")


def sandboxed(unit, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SANDBOX), str(unit), *command], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


PROBE = r"""
import mmap, socket
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("wx allowed")
except OSError as e:
    print("wx refused", e.errno)
try:
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    print("packet allowed")
except OSError as e:
    print("packet refused", e.errno)
print("bounding", open("/proc/self/status").read().split("CapBnd:")[1].split()[0])
"""


def test_the_sandbox_bites():
    """Not a no-op: what the server unit forbids fails, with the errors systemd gives."""
    need_sandbox()
    result = sandboxed(SERVER_UNIT, sys.executable, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    assert "wx refused 1" in result.stdout  # EPERM
    assert "packet refused 97" in result.stdout  # EAFNOSUPPORT
    assert "bounding 0000000000000400" in result.stdout  # CAP_NET_BIND_SERVICE alone


# Inside a fresh network namespace: loopback, and a stand-in for the hotspot's wlan0 with the
# box's address, so zeroconf announces somewhere and nothing leaves this machine.
NETWORK = """
ip link set lo up
ip link add wlan0 type veth peer name phone0
ip addr add 10.42.0.1/24 dev wlan0
ip link set wlan0 up
ip link set phone0 up
exec "$PYTHON" -c "$HARNESS" "$@"
"""

HARNESS = r"""
import json, signal, subprocess, sys, time, urllib.request
from zeroconf import Zeroconf

sandbox, unit, data = sys.argv[1:4]
server = subprocess.Popen(
    [sys.executable, sandbox, unit, sys.executable, "-m", "server.cli", "--data-dir", data,
     "--host", "0.0.0.0", "--port", "80", "--mdns", "--demo", "--school-name", "Sandbox school"],
    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
result = {}
try:
    deadline = time.time() + 90
    while time.time() < deadline and server.poll() is None and "healthz" not in result:
        try:
            with urllib.request.urlopen("http://127.0.0.1/healthz", timeout=2) as r:
                result["healthz"] = json.load(r)
        except OSError:
            time.sleep(0.2)
    if "healthz" in result:
        with urllib.request.urlopen("http://10.42.0.1/api/search?q=seed", timeout=10) as r:
            result["search"] = len(json.load(r)["items"])
        zc = Zeroconf(interfaces=["10.42.0.1"])
        try:
            info = zc.get_service_info("_sanduq._tcp.local.", "Sandbox school._sanduq._tcp.local.", timeout=15000)
            result["mdns"] = info and {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
            result["mdns_port"] = info and info.port
        finally:
            zc.close()
finally:
    server.send_signal(signal.SIGTERM)
    result["log"] = server.communicate(timeout=30)[0]
    result["exit"] = server.returncode
print(json.dumps(result))
"""


def test_the_server_runs_under_its_unit(tmp_path):
    need_sandbox()
    need_tool("ip")
    need_tool("unshare")
    result = subprocess.run(
        ["unshare", "--net", "bash", "-euc", NETWORK, "network", str(SANDBOX), str(SERVER_UNIT),
         str(tmp_path / "data")],
        capture_output=True, text=True, timeout=180, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHON": sys.executable, "HARNESS": HARNESS})
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    log = found["log"]
    assert "healthz" in found, log
    assert found["healthz"]["status"] == "ok" and found["healthz"]["items"] > 0, log
    assert found["search"] > 0, log
    assert (found.get("mdns") or {}).get("id") == found["healthz"]["device_id"], log
    assert found["mdns_port"] == 80
    assert "Traceback" not in log and "announcement failed" not in log, log
    assert found["exit"] == 0, log


def test_the_usb_daemon_imports_under_its_unit(tmp_path):
    need_sandbox()
    minisign.keygen(tmp_path / "keys")
    data = tmp_path / "data"
    (data / "trusted-keys").mkdir(parents=True)
    shutil.copy(tmp_path / "keys/sanduq.pub", data / "trusted-keys")
    stick = tmp_path / "stick"
    build(write_source(tmp_path / "source"), stick, tmp_path / "keys/sanduq.key")
    result = sandboxed(USB_UNIT, sys.executable, "-m", "usb_updater", "process", str(stick),
                       "--data-dir", str(data), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    receipts = list((stick / "sanduq/receipts").glob("*.json"))
    assert len(receipts) == 1
    assert json.loads(receipts[0].read_text())["bundles"][0]["status"] in ("installed", "imported")
