"""Captive DNS and DHCP: every name is the box, and DHCP tells phones where the portal is.

Two files share the captive part: a drop-in for the dnsmasq NetworkManager starts for a
shared connection (it already sets the interface, address range and a one-hour lease on its
command line), and a whole configuration for Debian's dnsmasq in the hostapd backend.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from provisioning.files import MARKER, ConfigFile
from provisioning.wifi import BOX_ADDRESS, INTERFACE, PORTAL_URL

NM_DROPIN = PurePosixPath("/etc/NetworkManager/dnsmasq-shared.d/sanduq.conf")
STANDALONE = PurePosixPath("/etc/dnsmasq.d/sanduq.conf")  # Debian's dnsmasq reads this folder
DHCP_FIRST, DHCP_LAST = "10.42.0.10", "10.42.0.250"
LEASE = "1h"  # phones come and go all day; a visitor's address is free again soon


def captive_lines() -> list[str]:
    """The lines both files share."""
    return [
        "# Every name is the box: the phones' connectivity checks and any address typed",
        "# reach the library (the server answers each check as the phone expects).",
        f"address=/#/{BOX_ADDRESS}",
        "# Nothing is forwarded: the box is offline, and the phones' lookups stay here.",
        "no-resolv",
        "# RFC 8910: phones that read DHCP option 114 learn the portal's address at once.",
        f'dhcp-option=114,"{PORTAL_URL}"',
        "# A phone holding a lease from another network is told at once to ask again.",
        "dhcp-authoritative",
        "# Queries are not logged: no record of what a family looked up, no SD card wear.",
        "",
    ]


def nm_dropin() -> ConfigFile:
    """The drop-in NetworkManager's shared-mode dnsmasq reads."""
    return ConfigFile(NM_DROPIN, "\n".join([
        f"{MARKER} hotspot: captive DNS for NetworkManager's hotspot dnsmasq.",
        *captive_lines(),
    ]))


def standalone() -> ConfigFile:
    """The whole DHCP and DNS configuration of the hostapd backend."""
    return ConfigFile(STANDALONE, "\n".join([
        f"{MARKER} hotspot: DHCP and DNS for the hotspot on {INTERFACE} only.",
        f"interface={INTERFACE}",
        "except-interface=lo",
        "# bind-dynamic rather than bind-interfaces: it also serves an address that appears",
        "# after dnsmasq started, as wlan0's may at boot, and still binds nothing else.",
        "bind-dynamic",
        "no-hosts",  # /etc/hosts would answer the box's own name with 127.0.1.1
        f"dhcp-range={DHCP_FIRST},{DHCP_LAST},255.255.255.0,{LEASE}",
        f"dhcp-option=option:router,{BOX_ADDRESS}",
        f"dhcp-option=option:dns-server,{BOX_ADDRESS}",
        *captive_lines(),
    ]))
