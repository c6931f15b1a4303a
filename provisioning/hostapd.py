"""The classic backend: hostapd runs the radio, dnsmasq (dnsmasq.py) DHCP and DNS, and
systemd-networkd gives wlan0 its address. For a system without NetworkManager, or by choice."""

from __future__ import annotations

from pathlib import PurePosixPath

from provisioning.files import MARKER, ConfigFile
from provisioning.wifi import BOX_ADDRESS, INTERFACE, PREFIX, Hotspot

HOSTAPD_CONF = PurePosixPath("/etc/hostapd/hostapd.conf")  # where Debian's hostapd.service looks
NETWORK_FILE = PurePosixPath(f"/etc/systemd/network/10-sanduq-{INTERFACE}.network")
UNMANAGED_CONF = PurePosixPath(f"/etc/NetworkManager/conf.d/sanduq-unmanaged-{INTERFACE}.conf")
# The built-in radio serves 7-10 phones on stock firmware (FIELD_NOTES.md); turning the 11th
# away is better than the firmware failing them all.
MAX_STATIONS = 10


def hostapd_conf(h: Hotspot) -> ConfigFile:
    """hostapd.conf; mode 0600, as it holds the passphrase."""
    lines = [
        f"{MARKER} hotspot; run it again to change this hotspot.",
        f"interface={INTERFACE}",
        "driver=nl80211",
        "ctrl_interface=/run/hostapd",  # lets `hostapd_cli all_sta` list the phones
        *_ssid_lines(h.ssid),
        f"country_code={h.country}",
        "ieee80211d=1",  # announce the country so phones use the same channel rules
        "hw_mode=g",  # 2.4 GHz: the old phones the schools have see nothing else
        f"channel={h.channel}",
        "ieee80211n=1",
        "wmm_enabled=1",  # 802.11n rates need WMM
        "auth_algs=1",
        f"max_num_sta={MAX_STATIONS}",
    ]
    if h.passphrase is not None:
        lines += [
            "wpa=2",  # WPA2 only: WPA1/TKIP is broken and slows every phone to 54 Mbps
            "wpa_key_mgmt=WPA-PSK",
            "rsn_pairwise=CCMP",
            f"wpa_psk={h.passphrase}" if h.psk_is_hex else f"wpa_passphrase={h.passphrase}",
        ]
    return ConfigFile(HOSTAPD_CONF, "\n".join(lines) + "\n", 0o600)


def _ssid_lines(ssid: str) -> list[str]:
    # hostapd takes the rest of the line as the name, so plain ASCII goes as it is; other
    # names go in its P"..." form, whose only escapes needed here are \\ and \".
    if all(" " <= c <= "~" for c in ssid) and ssid == ssid.strip(" "):
        return [f"ssid={ssid}"]
    escaped = ssid.replace("\\", "\\\\").replace('"', '\\"')
    return [f'ssid2=P"{escaped}"', "utf8_ssid=1"]


def network_file() -> ConfigFile:
    """wlan0's fixed address, for systemd-networkd (the service must be enabled)."""
    return ConfigFile(NETWORK_FILE, "\n".join([
        f"{MARKER} hotspot: the hotspot's address, for systemd-networkd.",
        "[Match]",
        f"Name={INTERFACE}",
        "",
        "[Network]",
        f"Address={BOX_ADDRESS}/{PREFIX}",
        "ConfigureWithoutCarrier=yes",  # the address is there before hostapd brings the radio up
        "LinkLocalAddressing=no",
        "IPv6AcceptRA=no",
        "",
    ]))


def unmanaged_conf() -> ConfigFile:
    """Tells NetworkManager, where it is installed, to leave wlan0 to hostapd."""
    return ConfigFile(UNMANAGED_CONF, "\n".join([
        f"{MARKER} hotspot: hostapd runs {INTERFACE}, so NetworkManager must not.",
        "[keyfile]",
        f"unmanaged-devices=interface-name:{INTERFACE}",
        "",
    ]))
