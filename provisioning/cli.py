"""sanduq-provision: make a Raspberry Pi a Sanduq box (see INTERFACES.md).

What a technician reads (a refusal, the next step) is in the language of `--lang` (or
SANDUQ_LANG), from the box's own catalogs; English when neither says. Commands stay as typed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from provisioning import hotspot
from provisioning.wifi import PORTAL_URL, make_hotspot
from server.errors import SanduqError, run_cli
from server.i18n import CATALOGS
from server.languages import N_


def _wifi_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ssid", required=True, help="the network name phones see (1-32 bytes)")
    secret = p.add_mutually_exclusive_group(required=True)
    secret.add_argument("--passphrase", metavar="P",
                        help="the WPA2 password: 8-63 ASCII characters, or 64 hex digits")
    secret.add_argument("--open", action="store_true", help="a network without a password")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sanduq-provision", description="Make a Raspberry Pi a Sanduq box.")
    p.add_argument("--lang", choices=sorted(CATALOGS), default=os.environ.get("SANDUQ_LANG", "en"),
                   help="the language of what this command says (default: SANDUQ_LANG, else English)")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    hotspot_cmd = commands.add_parser(
        "hotspot", help="write the hotspot and captive DNS configuration",
        description="Write the configuration that makes wlan0 a hotspot at 10.42.0.1 whose DNS "
                    "sends every name to the library. Every value is checked before anything "
                    "is written; running it again with the same values changes nothing.")
    _wifi_arguments(hotspot_cmd)
    hotspot_cmd.add_argument("--country", required=True, metavar="CC",
                             help="ISO 3166-1 code of the country the box is in, e.g. TJ")
    hotspot_cmd.add_argument("--channel", type=int, metavar="N",
                             help="2.4 GHz channel allowed in that country (default 6)")
    hotspot_cmd.add_argument("--backend", choices=hotspot.BACKENDS, default="networkmanager",
                             help="networkmanager (Raspberry Pi OS Bookworm, the default) or hostapd "
                                  "with dnsmasq and systemd-networkd")
    hotspot_cmd.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                             help="write under DIR instead of / (tests, image builders)")
    poster_cmd = commands.add_parser(
        "poster", help="write the A4 classroom poster (SVG) with the two QR codes",
        description="Write a printable A4 poster: a QR code that joins the Wi-Fi, one that "
                    "opens the library, and three steps in the box's languages.")
    _wifi_arguments(poster_cmd)
    poster_cmd.add_argument("--url", default=PORTAL_URL, help="the library's address")
    poster_cmd.add_argument("--school", metavar="NAME", help="the school's name, printed at the top")
    poster_cmd.add_argument("--languages", default="tg ru en", metavar="CODES",
                            help="the poster's languages, up to four, space-separated (default: \"tg ru en\"; "
                                 "known: tg ru en ky uz sr sr-Latn cnr)")
    poster_cmd.add_argument("--out", type=Path, required=True, metavar="FILE.svg", help="where to write it")
    return p


PRINT_IT = N_("open it in a browser and print it on A4")


def say(lang: str, template: str, **values) -> str:
    """TEMPLATE (an English msgid) in LANG, filled with VALUES."""
    catalog = CATALOGS.get(lang, CATALOGS["en"])
    return catalog.gettext(template) % values if values else catalog.gettext(template)


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    try:
        return _run(args)
    except SanduqError as e:  # one place turns a refusal into the technician's language
        if e.template:
            e.message = say(args.lang, e.template, **e.values)
        raise


def _run(args) -> int:
    passphrase = None if args.open else args.passphrase
    if args.command == "hotspot":
        h = make_hotspot(args.ssid, passphrase, args.country, args.channel)
        for path, what in hotspot.write(h, args.backend, args.root):
            print(f"{what:9} {path}")
        template, command = hotspot.NEXT_STEP[args.backend]
        print(say(args.lang, template, command=command))
    elif args.command == "poster":
        from provisioning import poster

        path, what = poster.write(args.out, args.ssid, passphrase, url=args.url, school=args.school,
                                  languages=tuple(args.languages.split()))
        print(f"{what:9} {path} ({say(args.lang, PRINT_IT)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
