"""Every generated file read by the program that will read it on the box, and each check
shown to fail on a broken file, so a pass means something."""

import pytest

from tests.provisioning.hotspots import HOTSPOTS, dnsmasq_test, hostapd_errors, hotspot_of, nm_read, written

pytestmark = pytest.mark.system  # hostapd's and dnsmasq's own parsers, hostapd in a network namespace

HOSTAPD = "/etc/hostapd/hostapd.conf"
DNSMASQ = "/etc/dnsmasq.d/sanduq.conf"
NM_DROPIN = "/etc/NetworkManager/dnsmasq-shared.d/sanduq.conf"
NM_KEYFILE = "/etc/NetworkManager/system-connections/sanduq-hotspot.nmconnection"


@pytest.mark.parametrize("name", HOTSPOTS)
def test_hostapd_accepts_every_hostapd_conf(tmp_path, name):
    files = written(tmp_path, name, "hostapd")
    assert hostapd_errors(files[HOSTAPD]) == []


def test_the_hostapd_check_catches_a_broken_file(tmp_path):
    conf = written(tmp_path, "plain", "hostapd")[HOSTAPD]
    conf.write_text(conf.read_text().replace("wpa_passphrase=kitob2024", "wpa_passphrase=short")
                    + "no_such_setting=1\n")
    errors = hostapd_errors(conf)
    assert any("invalid WPA passphrase length" in e for e in errors)
    assert any("unknown configuration item 'no_such_setting'" in e for e in errors)
    assert any("errors found in configuration file" in e for e in errors)


@pytest.mark.parametrize("name", HOTSPOTS)
@pytest.mark.parametrize("backend, path", [("hostapd", DNSMASQ), ("networkmanager", NM_DROPIN)])
def test_dnsmasq_accepts_every_dnsmasq_file(tmp_path, name, backend, path):
    result = dnsmasq_test(written(tmp_path, name, backend)[path])
    assert result.returncode == 0 and "syntax check OK" in result.stderr, result.stderr


def test_the_dnsmasq_check_catches_a_broken_file(tmp_path):
    conf = written(tmp_path, "plain", "hostapd")[DNSMASQ]
    conf.write_text(conf.read_text().replace("dhcp-range=10.42.0.10", "dhcp-range=10.42.0.999"))
    result = dnsmasq_test(conf)
    assert result.returncode != 0 and "bad dhcp-range" in result.stderr


@pytest.mark.parametrize("name", HOTSPOTS)
def test_networkmanager_reads_back_exactly_what_was_asked(tmp_path, name):
    h = hotspot_of(name)
    got = nm_read(written(tmp_path, name, "networkmanager")[NM_KEYFILE])
    assert bytes(got.pop("ssid")) == h.ssid.encode()
    security = got.pop("security")
    if h.passphrase is None:
        assert security is None
    else:
        assert security == {"key_mgmt": "wpa-psk", "psk": h.passphrase, "proto": ["rsn"],
                            "pairwise": ["ccmp"], "group": ["ccmp"]}
    assert got == {"id": "sanduq-hotspot", "uuid": "d1ee490a-2029-5241-afa5-b1f1041e4994",
                   "type": "802-11-wireless", "interface": "wlan0", "autoconnect": True, "mode": "ap",
                   "band": "bg", "channel": h.channel, "ipv4": ["shared", "10.42.0.1/24"],
                   "ipv6": "disabled"}


def test_the_networkmanager_check_catches_a_misread_name(tmp_path):
    """Unescaped, "1;2;" is NetworkManager's old list-of-bytes form: the reader must show it."""
    keyfile = written(tmp_path, "plain", "networkmanager")[NM_KEYFILE]
    keyfile.write_text(keyfile.read_text().replace("ssid=Sanduq", "ssid=1;2;"))
    assert bytes(nm_read(keyfile)["ssid"]) == b"\x01\x02"


def test_the_networkmanager_check_catches_an_invalid_connection(tmp_path):
    keyfile = written(tmp_path, "plain", "networkmanager")[NM_KEYFILE]
    keyfile.write_text(keyfile.read_text().replace("mode=ap", "mode=banana"))
    with pytest.raises(AssertionError, match="banana"):
        nm_read(keyfile)
