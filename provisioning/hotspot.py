"""`sanduq-provision hotspot`: the files that make wlan0 a captive hotspot, for either backend.

Every value is checked (wifi.py) before any file is touched; then each file is written only
if its bytes differ (files.py), and the other backend's files that we wrote are removed, so
switching backends never leaves two programs fighting over wlan0.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from provisioning import dnsmasq, hostapd, networkmanager
from provisioning.files import MARKER, ConfigFile, install, remove_ours
from provisioning.wifi import Hotspot
from server.languages import N_

BACKENDS = ("networkmanager", "hostapd")
COUNTRY_CONF = PurePosixPath("/etc/modprobe.d/sanduq-wifi-country.conf")


def country_conf(h: Hotspot) -> ConfigFile:
    """The regulatory country from boot on: NetworkManager has no setting for it."""
    return ConfigFile(COUNTRY_CONF, "\n".join([
        f"{MARKER} hotspot: the Wi-Fi rules of the country the box is in.",
        f"options cfg80211 ieee80211_regdom={h.country}",
        "",
    ]))


def files(h: Hotspot, backend: str) -> list[ConfigFile]:
    """Every file BACKEND needs for hotspot H."""
    if backend == "networkmanager":
        return [networkmanager.keyfile(h), dnsmasq.nm_dropin(), country_conf(h)]
    if backend == "hostapd":
        return [hostapd.hostapd_conf(h), dnsmasq.standalone(), hostapd.network_file(),
                hostapd.unmanaged_conf(), country_conf(h)]
    raise ValueError(f"unknown backend {backend!r}")


def write(h: Hotspot, backend: str, root: Path = Path("/")) -> list[tuple[Path, str]]:
    """Write BACKEND's files under ROOT and remove the other backend's; say what was done."""
    wanted = files(h, backend)
    others = {f.path for other in BACKENDS if other != backend for f in files(h, other)}
    stale = sorted(others - {f.path for f in wanted})
    return install(wanted, root) + remove_ours(stale, root)


# What to run next: a sentence (translated where it is printed) and the command (never).
NEXT_STEP = {
    "networkmanager": (N_("Start it with: %(command)s"),
                       f"nmcli connection reload && nmcli connection up {networkmanager.CONNECTION_ID}"),
    "hostapd": (N_("Start it with: %(command)s (each enabled, hostapd unmasked)"),
                "systemctl restart systemd-networkd dnsmasq hostapd"),
}
