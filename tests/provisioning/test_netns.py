"""A real dnsmasq with the generated configuration, and a "phone" that joins: two network
namespaces joined by a veth pair stand for the box and a phone on its Wi-Fi (the radio is
the one thing that cannot exist here). Nothing runs in, or binds a port of, the host's own
namespace, and the namespaces have no route out.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import need_tool
from tests.provisioning.hotspots import written

pytestmark = pytest.mark.system  # a network namespace with a real dnsmasq

BOX, PHONE = "sqbox", "sqphone"  # the veth ends, as seen inside their namespaces
NAMES = ["connectivitycheck.gstatic.com", "captive.apple.com", "www.msftconnecttest.com",
         "detectportal.firefox.com", "example.org", "no-such-name.invalid"]


@dataclass
class Pair:
    box: str
    phone: str

    def run(self, ns: str, *command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *command], capture_output=True, text=True,
                              timeout=timeout)


@pytest.fixture
def pair():
    """The two namespaces, the box's end at 10.42.0.1/24; deleted afterwards, whatever happened."""
    ip = need_tool("ip")
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    tag = secrets.token_hex(3)
    made = []
    try:
        for ns in (f"sanduq-box-{tag}", f"sanduq-phone-{tag}"):
            subprocess.run([ip, "netns", "add", ns], check=True, capture_output=True)
            made.append(ns)
        box, phone = made
        for command in (
            # Made inside the box's namespace with its peer sent to the phone's: the host
            # never sees either end.
            ["-n", box, "link", "add", BOX, "type", "veth", "peer", "name", PHONE, "netns", phone],
            ["-n", box, "addr", "add", "10.42.0.1/24", "dev", BOX],
            ["-n", box, "link", "set", "lo", "up"], ["-n", box, "link", "set", BOX, "up"],
            ["-n", phone, "link", "set", "lo", "up"], ["-n", phone, "link", "set", PHONE, "up"],
        ):
            subprocess.run([ip, *command], check=True, capture_output=True)
        yield Pair(box, phone)
    finally:
        for ns in made:
            subprocess.run([ip, "netns", "delete", ns], capture_output=True)


def start_dnsmasq(pair: Pair, tmp_path: Path, backend: str) -> subprocess.Popen:
    """dnsmasq in the box's namespace, configured as it would be on the box for BACKEND."""
    dnsmasq = need_tool("dnsmasq")
    files = written(tmp_path / "root", "tajik", backend)
    log = tmp_path / "dnsmasq.log"
    state = [f"--pid-file={tmp_path / 'dnsmasq.pid'}", f"--dhcp-leasefile={tmp_path / 'leases'}",
             f"--log-facility={log}", "--log-dhcp",
             "--user=root"]  # the test's files are root's; the box runs it as dnsmasq
    if backend == "hostapd":
        # The generated file as it is, but for the interface: the veth end stands for wlan0.
        conf = files["/etc/dnsmasq.d/sanduq.conf"].read_text()
        assert "interface=wlan0\n" in conf
        (tmp_path / "dnsmasq.conf").write_text(conf.replace("interface=wlan0\n", f"interface={BOX}\n"))
        command = [dnsmasq, "--keep-in-foreground", f"--conf-file={tmp_path / 'dnsmasq.conf'}", *state]
    else:
        # NetworkManager's own command line for a shared connection (NetworkManager's
        # src/core/dnsmasq/nm-dnsmasq-manager.c), reading the generated drop-in folder.
        dropins = files["/etc/NetworkManager/dnsmasq-shared.d/sanduq.conf"].parent
        command = [dnsmasq, "--conf-file=/dev/null", "--no-hosts", "--keep-in-foreground",
                   "--bind-interfaces", "--except-interface=lo", "--clear-on-reload", "--strict-order",
                   "--listen-address=10.42.0.1", "--dhcp-range=10.42.0.10,10.42.0.254,60m",
                   f"--conf-dir={dropins}", *state]
    process = subprocess.Popen(["ip", "netns", "exec", pair.box, *command], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 10
    while "DHCP, IP range" not in (log.read_text() if log.exists() else ""):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"dnsmasq did not start: {process.communicate()[0]}"
                        f"{log.read_text() if log.exists() else ''}")
        time.sleep(0.05)
    return process


@pytest.fixture
def dnsmasq(pair, tmp_path):
    started = []

    def start(backend: str) -> None:
        started.append(start_dnsmasq(pair, tmp_path, backend))

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def lease(pair: Pair, tmp_path: Path) -> dict[str, str]:
    """Join like a phone that asks for option 114 (Android 11+, iOS 14+): busybox's DHCP client."""
    busybox = need_tool("busybox")
    script = tmp_path / "dhcp-event"
    script.write_text(f'#!/bin/sh\n[ "$1" = bound ] && env > {tmp_path / "lease.env"}\nexit 0\n')
    script.chmod(0o755)
    result = pair.run(pair.phone, busybox, "udhcpc", "-i", PHONE, "-f", "-q", "-n", "-t", "10", "-T", "1",
                      "-O", "114", "-s", str(script), timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    env = dict(line.split("=", 1) for line in (tmp_path / "lease.env").read_text().splitlines() if "=" in line)
    return env


@pytest.mark.parametrize("backend", ["networkmanager", "hostapd"])
def test_a_phone_gets_a_lease_naming_the_portal_and_every_name_is_the_box(pair, dnsmasq, tmp_path, backend):
    dig = need_tool("dig")
    dnsmasq(backend)
    got = lease(pair, tmp_path)
    assert bytes.fromhex(got["opt114"]).decode() == "http://10.42.0.1/"  # RFC 8910
    assert got["dns"].split() == ["10.42.0.1"] and got["router"] == "10.42.0.1"
    assert got["subnet"] == "255.255.255.0"
    assert int(got["ip"].split(".")[-1]) in range(10, 255) and got["ip"].startswith("10.42.0.")
    if backend == "hostapd":
        assert got["lease"] == "3600"

    # The phone takes its address, then asks the server the lease named for every name.
    subprocess.run(["ip", "-n", pair.phone, "addr", "add", f"{got['ip']}/24", "dev", PHONE], check=True)
    for name in NAMES:
        answer = pair.run(pair.phone, dig, "+short", "+time=2", "+tries=2", f"@{got['dns']}", name, "A")
        assert answer.stdout.split() == ["10.42.0.1"], (name, answer.stdout, answer.stderr)
