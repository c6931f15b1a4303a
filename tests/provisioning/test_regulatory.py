"""Country codes and channels: the table's facts that the hotspot relies on."""

import pytest

from provisioning.regulatory import CHANNEL_13, COUNTRIES, channels, check_channel, check_country
from server.errors import BadRequest


def test_the_table_holds_every_iso_code_and_nothing_else():
    assert len(COUNTRIES) == 249
    assert all(len(c) == 2 and c.isalpha() and c.isupper() for c in COUNTRIES)
    assert {"TJ", "RU", "UZ", "KG", "KZ", "AF", "US", "JP", "ME", "RS"} <= COUNTRIES
    assert not {"AN", "XK", "UK", "EU", "00"} & COUNTRIES  # withdrawn, user-assigned, not ISO
    assert CHANNEL_13 <= COUNTRIES


@pytest.mark.parametrize("country, last", [
    ("RU", 13), ("UZ", 13), ("KZ", 13), ("DE", 13), ("JP", 13), ("CA", 13),
    ("US", 11), ("PR", 11),  # FCC rules
    ("TJ", 11), ("KG", 11),  # not in the regulatory database: the kernel's world rules
    ("RS", 13), ("ME", 13),  # the programme's five countries: TJ, KG, UZ, RS, ME
])
def test_channels_by_country(country, last):
    assert channels(country) == range(1, last + 1)


def test_channel_14_is_never_offered():
    assert all(14 not in channels(c) for c in COUNTRIES)
    with pytest.raises(BadRequest):
        check_channel("JP", 14)


def test_codes_are_read_kindly_and_refused_plainly():
    assert check_country(" tj ") == "TJ"
    with pytest.raises(BadRequest, match="not a country code"):
        check_country("Tajikistan")
    assert check_channel("TJ", None) == 6
