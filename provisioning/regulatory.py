"""Where a hotspot may run: the ISO 3166-1 country codes, and the 2.4 GHz channels each allows."""

from __future__ import annotations

from server.errors import BadRequest
from server.languages import N_

# All 249 officially assigned ISO 3166-1 alpha-2 codes, copied from Debian's iso-codes 4.15
# (/usr/share/iso-codes/json/iso_3166-1.json). A table, not a package: it changes once in
# years, and the box needs only the codes, not the names in 100 languages.
COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())

# The countries where an access point may use channels 12 and 13: those whose entry in the
# kernel's wireless regulatory database (regulatory.db of Debian's wireless-regdb 2026.05.30)
# has a 2.4 GHz rule holding the whole 20 MHz channel without NO-IR. Everywhere else allows
# 1-11: the US and the FCC-style domains, and every country the database does not list
# (TJ and KG among them), for which the kernel falls back to the world domain, where 12 and
# 13 may only be listened on. Channel 14 is never offered: Japan allows it for 802.11b only
# and most phones cannot see it.
CHANNEL_13 = frozenset("""
AD AE AF AI AL AM AR AT AU AW AZ BA BB BD BE BF BG BH BL BN BO BR BS BT BW BY BZ CA CF CH CI CL
CN CO CR CU CX CY CZ DE DK DZ EC EE EG ES ET FI FO FR GB GE GF GH GI GL GP GR GT GY HK HN HR HU
ID IE IL IM IN IR IS IT JM JO JP KE KH KN KP KR KW KY KZ LB LC LI LK LS LT LU LV MA MC MD ME MF
MK MN MO MQ MR MT MU MV MW MX MY NA NG NL NO NP NZ OM PA PE PF PG PH PK PL PM PT PY QA RE RO RS
RU RW SA SE SG SI SK SM SN SR SV SX SY TC TD TG TH TN TR TT TW TZ UA UG UY UZ VA VC VE VN VU WF
WS YE YT ZA ZW
""".split())

DEFAULT_CHANNEL = 6  # allowed everywhere, and one of the three channels that do not overlap


def check_country(text: str) -> str:
    """The upper-case ISO 3166-1 alpha-2 code in TEXT, or a BadRequest saying what is allowed."""
    code = text.strip().upper()
    if code not in COUNTRIES:
        raise BadRequest.said(N_("%(text)s is not a country code: give the two letters ISO 3166-1 uses "
                                 "for the country the box is in, e.g. TJ for Tajikistan."), text=repr(text))
    return code


def channels(country: str) -> range:
    """The 2.4 GHz channels an access point may use in COUNTRY (an ISO 3166-1 code)."""
    return range(1, 14) if country in CHANNEL_13 else range(1, 12)


def check_channel(country: str, channel: int | None) -> int:
    """CHANNEL if COUNTRY allows it (the default when None), or a BadRequest saying which do."""
    if channel is None:
        return DEFAULT_CHANNEL
    allowed = channels(country)
    if channel not in allowed:
        raise BadRequest.said(N_("Channel %(channel)s cannot be used for a hotspot in %(country)s: choose "
                                 "1 to %(last)s (1, 6 and 11 do not overlap, 6 is the default)."),
                              channel=channel, country=country, last=allowed[-1])
    return channel
