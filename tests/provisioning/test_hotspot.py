"""`sanduq-provision hotspot`: checked before anything is written, idempotent, both backends."""

import stat
from pathlib import Path

import pytest

from provisioning.cli import main
from tests.provisioning.hotspots import written

NM_KEYFILE = "etc/NetworkManager/system-connections/sanduq-hotspot.nmconnection"
NM_DROPIN = "etc/NetworkManager/dnsmasq-shared.d/sanduq.conf"
HOSTAPD = "etc/hostapd/hostapd.conf"
DNSMASQ = "etc/dnsmasq.d/sanduq.conf"
NETWORKD = "etc/systemd/network/10-sanduq-wlan0.network"
UNMANAGED = "etc/NetworkManager/conf.d/sanduq-unmanaged-wlan0.conf"
COUNTRY = "etc/modprobe.d/sanduq-wifi-country.conf"
FILES = {"networkmanager": [NM_KEYFILE, NM_DROPIN, COUNTRY],
         "hostapd": [HOSTAPD, DNSMASQ, NETWORKD, UNMANAGED, COUNTRY]}
SSID_RULE = ("The network name (SSID) must be 1 to 32 bytes of UTF-8 text: letters, digits, spaces "
             "and punctuation (a Cyrillic letter takes 2 bytes).")
PASS_RULE = ("The passphrase must be 8 to 63 characters of plain ASCII (Latin letters, digits, spaces, "
             "punctuation) or exactly 64 hex digits; or use --open for a network without one.")


def run(capsys, root, *args):
    code = main(["hotspot", *args, "--root", str(root)])
    out, err = capsys.readouterr()
    return code, out, err


def good(ssid="Sanduq", passphrase="kitob2024", country="TJ", *extra):
    return ["--ssid", ssid, "--passphrase", passphrase, "--country", country, *extra]


@pytest.mark.parametrize("args, sentence", [
    (good(ssid=""), SSID_RULE),
    (good(ssid="x" * 33), SSID_RULE),
    (good(ssid="ғ" * 17), SSID_RULE),  # 17 letters, 34 bytes
    (good(ssid="two\nlines"), SSID_RULE),
    (good(ssid="bad\udcffbyte"), SSID_RULE),  # a byte that is not UTF-8, as Python passes it on
    (good(passphrase="short77"), PASS_RULE),
    (good(passphrase="x" * 64), PASS_RULE),  # 64 characters must be hex
    (good(passphrase="a" * 65), PASS_RULE),
    (good(passphrase="парол-китобхона"), PASS_RULE),
    (good(passphrase="tab\tinside"), PASS_RULE),
    (good(country="XX"), "'XX' is not a country code: give the two letters ISO 3166-1 uses for the "
                         "country the box is in, e.g. TJ for Tajikistan."),
    (good(country="Tajikistan"), None),
    (good(country=""), None),
    (good("Sanduq", "kitob2024", "TJ", "--channel", "13"),
     "Channel 13 cannot be used for a hotspot in TJ: choose 1 to 11 (1, 6 and 11 do not overlap, "
     "6 is the default)."),
    (good("Sanduq", "kitob2024", "US", "--channel", "12"), None),
    (good("Sanduq", "kitob2024", "JP", "--channel", "14"), None),
    (good("Sanduq", "kitob2024", "RU", "--channel", "0"), None),
])
def test_a_bad_value_is_one_sentence_and_nothing_is_written(capsys, tmp_path, args, sentence):
    root = tmp_path / "root"
    for backend in ("networkmanager", "hostapd"):
        code, out, err = run(capsys, root, *args, "--backend", backend)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and err.strip().endswith(".")
        if sentence:
            assert err.strip() == sentence
        assert not root.exists()


@pytest.mark.parametrize("args", [
    ["--ssid", "Sanduq", "--passphrase", "kitob2024", "--open", "--country", "TJ"],
    ["--ssid", "Sanduq", "--country", "TJ"],
    ["--ssid", "Sanduq", "--open"],
    ["--ssid", "Sanduq", "--open", "--country", "TJ", "--backend", "wpa"],
    ["--ssid", "Sanduq", "--open", "--country", "TJ", "--channel", "six"],
])
def test_a_bad_command_line_writes_nothing(tmp_path, args):
    root = tmp_path / "root"
    with pytest.raises(SystemExit) as stop:
        main(["hotspot", *args, "--root", str(root)])
    assert stop.value.code == 2 and not root.exists()


@pytest.mark.parametrize("backend", FILES)
def test_running_again_changes_nothing(capsys, tmp_path, backend):
    args = good("Китобхона", "kitob 2024", "tj", "--channel", "11", "--backend", backend)
    code, out, _ = run(capsys, tmp_path, *args)
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()[:-1]] == \
        [["wrote", str(tmp_path / f)] for f in FILES[backend]]
    before = {f: ((tmp_path / f).read_bytes(), (tmp_path / f).stat().st_mtime_ns) for f in FILES[backend]}

    code, out, _ = run(capsys, tmp_path, *args)
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()[:-1]] == \
        [["unchanged", str(tmp_path / f)] for f in FILES[backend]]
    assert {f: ((tmp_path / f).read_bytes(), (tmp_path / f).stat().st_mtime_ns) for f in FILES[backend]} == before
    assert not [p for p in tmp_path.rglob("*.tmp")]  # no temporary file left behind


def test_a_change_rewrites_only_the_files_it_touches(capsys, tmp_path):
    run(capsys, tmp_path, *good("Sanduq", "kitob2024", "TJ", "--backend", "hostapd"))
    code, out, _ = run(capsys, tmp_path, *good("Sanduq", "kitob2024", "TJ", "--channel", "1", "--backend", "hostapd"))
    assert code == 0
    said = {line.split()[1]: line.split()[0] for line in out.splitlines()[:-1]}
    assert said[str(tmp_path / HOSTAPD)] == "wrote"
    assert {said[str(tmp_path / f)] for f in (DNSMASQ, NETWORKD, UNMANAGED, COUNTRY)} == {"unchanged"}
    assert "channel=1\n" in (tmp_path / HOSTAPD).read_text()


@pytest.mark.parametrize("backend", FILES)
def test_secrets_are_readable_by_root_only(tmp_path, backend):
    written(tmp_path, "plain", backend)
    for f in FILES[backend]:
        mode = stat.S_IMODE((tmp_path / f).stat().st_mode)
        assert mode == (0o600 if f in (NM_KEYFILE, HOSTAPD) else 0o644), f


def test_switching_backend_removes_only_our_files(capsys, tmp_path):
    run(capsys, tmp_path, *good("Sanduq", "kitob2024", "TJ", "--backend", "hostapd"))
    code, out, _ = run(capsys, tmp_path, *good("Sanduq", "kitob2024", "TJ", "--backend", "networkmanager"))
    assert code == 0
    for f in (HOSTAPD, DNSMASQ, NETWORKD, UNMANAGED):
        assert f"removed   {tmp_path / f}" in out and not (tmp_path / f).exists()
    assert all((tmp_path / f).exists() for f in FILES["networkmanager"])

    (tmp_path / HOSTAPD).write_text("interface=wlan0\n# the school's own hostapd\n")
    run(capsys, tmp_path, *good("Sanduq", "kitob2024", "TJ", "--backend", "hostapd"))
    run(capsys, tmp_path, *good("Sanduq", "kitob2024", "TJ", "--backend", "networkmanager"))
    assert not (tmp_path / HOSTAPD).exists()  # it was ours by then: overwritten, then removed
    (tmp_path / HOSTAPD).write_text("interface=wlan0\n# the school's own hostapd\n")
    run(capsys, tmp_path, *good("Sanduq", "kitob2024", "TJ", "--backend", "networkmanager"))
    assert (tmp_path / HOSTAPD).exists()  # never ours: left alone


def test_networkmanager_files(tmp_path):
    written(tmp_path, "tajik", "networkmanager")
    keyfile = (tmp_path / NM_KEYFILE).read_text()
    for line in ("[connection]", "id=sanduq-hotspot", "type=wifi", "interface-name=wlan0", "autoconnect=true",
                 "[wifi]", "mode=ap", "ssid=Китобхона №5", "band=bg", "channel=11",
                 "[wifi-security]", "key-mgmt=wpa-psk", "psk=kitob 2024!", "proto=rsn", "pairwise=ccmp",
                 "group=ccmp", "[ipv4]", "method=shared", "address1=10.42.0.1/24", "[ipv6]", "method=disabled"):
        assert line in keyfile.splitlines(), line
    dropin = (tmp_path / NM_DROPIN).read_text().splitlines()
    assert {"address=/#/10.42.0.1", 'dhcp-option=114,"http://10.42.0.1/"', "no-resolv"} <= set(dropin)
    assert not any(line.startswith(("log-queries", "server=", "dhcp-range", "interface")) for line in dropin)
    assert (tmp_path / COUNTRY).read_text().splitlines()[1] == "options cfg80211 ieee80211_regdom=TJ"


def test_an_open_network_has_no_security(tmp_path):
    written(tmp_path, "open", "networkmanager")
    written(tmp_path / "h", "open", "hostapd")
    assert "[wifi-security]" not in (tmp_path / NM_KEYFILE).read_text()
    assert "wpa" not in (tmp_path / "h" / HOSTAPD).read_text()


def test_hostapd_files(tmp_path):
    written(tmp_path, "tajik", "hostapd")
    conf = (tmp_path / HOSTAPD).read_text().splitlines()
    for line in ("interface=wlan0", "driver=nl80211", 'ssid2=P"Китобхона №5"', "utf8_ssid=1", "hw_mode=g",
                 "channel=11", "country_code=TJ", "ieee80211d=1", "wpa=2", "wpa_key_mgmt=WPA-PSK",
                 "rsn_pairwise=CCMP", "wpa_passphrase=kitob 2024!", "ieee80211n=1", "wmm_enabled=1",
                 "max_num_sta=10"):
        assert line in conf, line
    dnsmasq = (tmp_path / DNSMASQ).read_text().splitlines()
    for line in ("interface=wlan0", "dhcp-range=10.42.0.10,10.42.0.250,255.255.255.0,1h",
                 "address=/#/10.42.0.1", 'dhcp-option=114,"http://10.42.0.1/"', "no-resolv"):
        assert line in dnsmasq, line
    assert "Address=10.42.0.1/24" in (tmp_path / NETWORKD).read_text().splitlines()

    written(tmp_path / "ascii", "plain", "hostapd")
    assert "ssid=Sanduq" in (tmp_path / "ascii" / HOSTAPD).read_text().splitlines()
    written(tmp_path / "hex", "hex", "hostapd")
    conf = (tmp_path / "hex" / HOSTAPD).read_text()
    assert "wpa_psk=0123456789abcdefABCDEF" in conf and "wpa_passphrase" not in conf


def test_an_unwritable_root_is_one_sentence(capsys, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    code, _, err = run(capsys, tmp_path / "file", *good())
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"Cannot write {tmp_path / 'file'}/etc/")


@pytest.mark.system
def test_without_root_it_writes_the_systems_own_files(tmp_path):
    """No --root: the system's /etc, here a copy bind-mounted over /etc in a private mount
    namespace, so the machine's own /etc is never touched."""
    import os
    import subprocess
    import sys
    from shlex import quote

    from tests.helpers import need_tool

    need_tool("unshare")
    copy = tmp_path / "etc"
    script = (f"cp -a /etc {quote(str(copy))} && mount --bind {quote(str(copy))} /etc && "
              f"{quote(sys.executable)} -m provisioning hotspot {' '.join(good())}")
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
                            capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])))
    assert result.returncode == 0, result.stderr
    assert (copy / "NetworkManager/system-connections/sanduq-hotspot.nmconnection").is_file()
    assert "wrote     /etc/NetworkManager/system-connections/sanduq-hotspot.nmconnection" in result.stdout
