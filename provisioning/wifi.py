"""What a hotspot is (name, secret, country, channel, the box's address), checked before use."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from provisioning.regulatory import check_channel, check_country
from server.errors import BadRequest
from server.languages import N_

INTERFACE = "wlan0"  # the Pi's built-in radio
# NetworkManager's shared-mode default, used by both backends so a box is the same either way.
BOX_ADDRESS = "10.42.0.1"
PREFIX = 24
PORTAL_URL = f"http://{BOX_ADDRESS}/"

_HEX64 = re.compile(r"[0-9A-Fa-f]{64}")


@dataclass(frozen=True)
class Hotspot:
    """A checked hotspot; build it with `make_hotspot()`, never directly."""

    ssid: str
    passphrase: str | None  # None: an open network
    country: str
    channel: int

    @property
    def psk_is_hex(self) -> bool:
        """True when the passphrase is the 64 hex digits of a ready key, not a pass phrase."""
        return self.passphrase is not None and bool(_HEX64.fullmatch(self.passphrase))


def make_hotspot(ssid: str, passphrase: str | None, country: str, channel: int | None = None) -> Hotspot:
    """Check every value, then return the Hotspot; a bad value raises one BadRequest sentence."""
    code = check_country(country)
    return Hotspot(check_ssid(ssid), None if passphrase is None else check_passphrase(passphrase),
                   code, check_channel(code, channel))


def check_ssid(ssid: str) -> str:
    """SSID if it is 1-32 bytes of UTF-8 without control characters, else a BadRequest."""
    try:
        size = len(ssid.encode("utf-8"))
    except UnicodeEncodeError:  # bytes on the command line that are not UTF-8
        size = 0
        valid = False
    else:
        # Control characters break every config format and no phone can show them.
        valid = not any(unicodedata.category(c) == "Cc" for c in ssid)
    if not valid or not 1 <= size <= 32:
        raise BadRequest.said(N_("The network name (SSID) must be 1 to 32 bytes of UTF-8 text: letters, "
                                 "digits, spaces and punctuation (a Cyrillic letter takes 2 bytes)."))
    return ssid


def check_passphrase(passphrase: str) -> str:
    """PASSPHRASE if WPA2 accepts it (8-63 printable ASCII, or 64 hex digits), else a BadRequest."""
    printable = all(" " <= c <= "~" for c in passphrase)
    if (printable and 8 <= len(passphrase) <= 63) or _HEX64.fullmatch(passphrase):
        return passphrase
    raise BadRequest.said(N_("The passphrase must be 8 to 63 characters of plain ASCII (Latin letters, "
                             "digits, spaces, punctuation) or exactly 64 hex digits; or use --open for a "
                             "network without one."))
