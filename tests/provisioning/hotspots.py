"""Hotspots that stress each file format, and the programs that will read the generated
files, run on them here: hostapd, dnsmasq, NetworkManager's keyfile reader. Each check is
proved able to fail in test_parsers.py."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from provisioning import hotspot
from provisioning.wifi import make_hotspot
from tests.helpers import need_tool

# Hotspots chosen to stress each file format: Cyrillic, quotes, backslashes, ';' and '#',
# edge spaces, the 32-byte and 63-character limits, a raw 64-hex key, an open network.
HOTSPOTS = {
    "plain": ("Sanduq", "kitob2024", "TJ", None),
    "tajik": ("Китобхона №5", "kitob 2024!", "TJ", 11),
    "quotes": ('say "hi" \\ #1;2;', 'p"a\\ss;#wo=rd', "RU", 13),
    "edges": (" edge ", " pass  phrase ", "US", 1),
    "spaces": ("   ", "        ", "TJ", None),
    "longest": ("ғ" * 16, "~" * 63, "KG", 6),
    "hex": ("x" * 32, "0123456789abcdefABCDEF" * 2 + "0123456789abcdefABCD", "DE", 6),
    "open": ("Китобхона", None, "TJ", 6),
}


def hotspot_of(name: str):
    ssid, passphrase, country, channel = HOTSPOTS[name]
    return make_hotspot(ssid, passphrase, country, channel)


def written(root: Path, name: str, backend: str) -> dict[str, Path]:
    """Write hotspot NAME's files for BACKEND under ROOT; their paths by path on the box."""
    h = hotspot_of(name)
    hotspot.write(h, backend, root)
    return {str(f.path): root / str(f.path).lstrip("/") for f in hotspot.files(h, backend)}


def hostapd_errors(conf: Path) -> list[str]:
    """What hostapd's own parser says is wrong with CONF; [] when it accepts the file.

    Run in a new network namespace, which has no radio: hostapd reads and checks the whole
    file, then stops at the driver. A file with errors stops it earlier, printing each bad
    line and "N errors found in configuration file".
    """
    unshare, hostapd = need_tool("unshare"), need_tool("hostapd")
    result = subprocess.run([unshare, "--net", hostapd, "-dd", str(conf)], capture_output=True,
                            text=True, timeout=30)
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines()
              if re.match(r"Line \d+:", line) or "errors found in configuration file" in line]
    if not errors:
        # Accepting the file means reaching the driver; anything else is a check that saw nothing.
        assert "nl80211" in output and result.returncode != 0, output
    return errors


def dnsmasq_test(conf: Path) -> subprocess.CompletedProcess:
    """dnsmasq's own syntax check of CONF alone; it binds nothing."""
    return subprocess.run([need_tool("dnsmasq"), "--test", f"--conf-file={conf}"],
                          capture_output=True, text=True, timeout=30)


NM_READER = Path(__file__).with_name("nm_keyfile_read.py")


def nm_read(keyfile: Path) -> dict:
    """The connection NetworkManager's library (libnm, through Debian's python3-gi) reads."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import gi; gi.require_version('NM', '1.0')"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("libnm for Python is not installed (Debian: python3-gi gir1.2-nm-1.0)")
    result = subprocess.run(["/usr/bin/python3", str(NM_READER), str(keyfile)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
