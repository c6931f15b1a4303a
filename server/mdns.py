"""Announcing the library on the network with mDNS (zeroconf), so `sanduq.local` and peer
boxes find it: `_http._tcp` under the school's name, and `_sanduq._tcp` whose TXT records
carry the device id, the version and the installed sequence of each channel (peer
mirroring will compare them).

The hotspot usually comes up after the server, and interfaces come and go; so a thread
looks at the machine's IPv4 addresses every few seconds and, when they change, announces
again on the new set. Announcing is best effort: a failure is logged, never fatal.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from typing import Callable

import ifaddr
from zeroconf import IPVersion, ServiceInfo, Zeroconf

log = logging.getLogger(__name__)
CHECK_SECONDS = 5.0
MAX_TXT_VALUE = 200  # bytes; a TXT string holds 255 with its key


def txt_records(device_id: str, version: str, sequences: dict[str, int]) -> dict[str, str]:
    """TXT records, checked: short ASCII keys, values that fit a TXT string."""
    records = {"id": device_id, "v": version, "path": "/"}
    for channel, sequence in sorted(sequences.items()):
        key = "seq." + re.sub(r"[^a-z0-9._-]", "", channel.lower())
        records[key[:40]] = str(int(sequence))
    for key, value in records.items():
        if not key.isascii() or "=" in key or len(value.encode()) > MAX_TXT_VALUE:
            raise ValueError(f"bad TXT record {key!r}")
    return records


def ipv4_addresses() -> set[str]:
    """The machine's IPv4 addresses, loopback excluded."""
    found = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                found.add(ip.ip)
    return found


class Announcer:
    """Owns the zeroconf instance and the two services; `start()`, then `stop()`."""

    def __init__(self, name: str, port: int, device_id: str, version: str,
                 sequences: Callable[[], dict[str, int]], addresses: Callable[[], set[str]] = ipv4_addresses,
                 every: float = CHECK_SECONDS):
        self.name = name
        self.port = port
        self.device_id = device_id
        self.version = version
        self.sequences = sequences
        self.addresses = addresses
        self.every = every
        self._zeroconf: Zeroconf | None = None
        self._announced: tuple = ()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mdns", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._refresh()
            except Exception:  # the network under us changed mid-way: try again next round
                log.exception("mDNS announcement failed")
                self._close()
            self._stop.wait(self.every)

    def _refresh(self) -> None:
        addresses = sorted(self.addresses())
        txt = txt_records(self.device_id, self.version, self.sequences())
        wanted = (tuple(addresses), tuple(sorted(txt.items())))
        if wanted == self._announced:
            return
        self._close()
        if not addresses:
            self._announced = wanted
            return
        zc = Zeroconf(interfaces=addresses, ip_version=IPVersion.V4Only)
        host = socket.gethostname().split(".")[0] + ".local."
        packed = [socket.inet_aton(a) for a in addresses]
        for service, properties in (("_http._tcp.local.", {"path": "/"}), ("_sanduq._tcp.local.", txt)):
            zc.register_service(ServiceInfo(service, f"{self.name}.{service}", port=self.port,
                                            properties=properties, server=host, addresses=packed),
                                allow_name_change=True)
        self._zeroconf, self._announced = zc, wanted
        log.info("announced %s on %s", self.name, ", ".join(addresses))

    def _close(self) -> None:
        if self._zeroconf is not None:
            try:
                self._zeroconf.unregister_all_services()
                self._zeroconf.close()
            finally:
                self._zeroconf = None
                self._announced = ()
