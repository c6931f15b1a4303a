"""The NetworkManager backend (Raspberry Pi OS Bookworm): an access-point connection keyfile.

NetworkManager runs the hotspot itself: `ipv4.method=shared` gives wlan0 10.42.0.1/24 and
starts a dnsmasq for DHCP and DNS that reads /etc/NetworkManager/dnsmasq-shared.d/
(dnsmasq.py writes the captive part there).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from provisioning.files import MARKER, ConfigFile
from provisioning.wifi import BOX_ADDRESS, INTERFACE, PREFIX, Hotspot

CONNECTION_ID = "sanduq-hotspot"
KEYFILE = PurePosixPath(f"/etc/NetworkManager/system-connections/{CONNECTION_ID}.nmconnection")
# Fixed, so the same inputs give the same bytes; without one NetworkManager would make one up.
# (uuid.uuid5(uuid.NAMESPACE_DNS, "hotspot.sanduq"))
CONNECTION_UUID = "d1ee490a-2029-5241-afa5-b1f1041e4994"


def keyfile(h: Hotspot) -> ConfigFile:
    """The connection keyfile; mode 0600, as NetworkManager ignores a keyfile others can read."""
    lines = [
        f"{MARKER} hotspot; run it again to change this hotspot.",
        "[connection]",
        f"id={CONNECTION_ID}",
        f"uuid={CONNECTION_UUID}",
        "type=wifi",
        f"interface-name={INTERFACE}",
        "autoconnect=true",
        "",
        "[wifi]",
        "mode=ap",
        f"ssid={_ssid_value(h.ssid)}",
        "band=bg",  # 2.4 GHz: the old phones the schools have see nothing else
        f"channel={h.channel}",
        "",
    ]
    if h.passphrase is not None:
        lines += [
            "[wifi-security]",
            "key-mgmt=wpa-psk",
            f"psk={_string_value(h.passphrase)}",
            # WPA2 with CCMP only: Zero W-class boards fail to start the hotspot when
            # NetworkManager also offers WPA1/TKIP (raspberrypi/bookworm-feedback#311).
            "proto=rsn",
            "pairwise=ccmp",
            "group=ccmp",
            "",
        ]
    lines += [
        "[ipv4]",
        "method=shared",
        f"address1={BOX_ADDRESS}/{PREFIX}",
        "",
        "[ipv6]",
        "method=disabled",  # the library is reached over IPv4; nothing to route
        "",
    ]
    return ConfigFile(KEYFILE, "\n".join(lines), 0o600)


def _string_value(text: str) -> str:
    """TEXT as a GKeyFile string value: backslashes doubled, edge spaces kept by \\s."""
    body = text.replace("\\", "\\\\")
    stripped = body.strip(" ")
    if not stripped:
        return "\\s" * len(body)
    lead = len(body) - len(body.lstrip(" "))
    trail = len(body) - len(body.rstrip(" "))
    return "\\s" * lead + stripped + "\\s" * trail


def _ssid_value(ssid: str) -> str:
    """The SSID as NetworkManager reads it back: a string, with ';' escaped so that a name
    like "1;2;" is not taken for the old list-of-bytes form."""
    return _string_value(ssid).replace(";", "\\;")
