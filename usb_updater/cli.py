"""sanduq-usb: bring content in and usage out with a USB stick (see INTERFACES.md)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from server import settings as settings_table
from server.errors import Refused, SanduqError, run_cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sanduq-usb", description="Bring content in and usage out with a USB stick.")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    process = commands.add_parser("process", help="handle one mounted stick once",
                                  description="Import every bundle on the stick mounted at MOUNTPOINT, save "
                                              "usage on it and write a receipt. Exits 0 when every bundle is "
                                              "installed or was already, non-zero when any was refused.")
    process.add_argument("mountpoint", type=Path, metavar="MOUNTPOINT")
    watch = commands.add_parser("watch", help="the daemon: handle sticks as they are mounted",
                                description="Notice sticks as they are mounted (and those already mounted) "
                                            "and handle each as 'process' does.")
    watch.add_argument("--mount-root", action="extend", nargs="+", type=Path, metavar="DIR",
                       help="folders under which sticks are mounted (one or more, or repeat the flag; "
                            "default: the mount_roots setting)")
    for sub in (process, watch):
        sub.add_argument("--data-dir", metavar="DIR", help="the library's data folder (default: SANDUQ_DATA_DIR or the config)")
    return p


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    settings = settings_table.load({"data_dir": args.data_dir})
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from server.library import Library

    library = Library(settings["data_dir"])
    if args.command == "process":
        return _process(library, args.mountpoint, settings)
    from usb_updater.daemon import run

    roots = args.mount_root or [Path(p) for p in settings["mount_roots"].split()]
    run(library, settings, roots)
    return 0


def _process(library, mountpoint: Path, settings: dict) -> int:
    from content_mirror.bundle import progress_bar
    from usb_updater.process import process_stick

    if not mountpoint.is_dir():
        raise SanduqError(f"{mountpoint} is not a folder; give the folder where the stick is mounted.")
    receipt = process_stick(library, mountpoint, settings, progress=progress_bar("Copying"))
    if receipt is None:
        print(f"{mountpoint} has no sanduq folder: not a Sanduq stick, left untouched.")
        return 0
    for b in receipt.bundles:
        detail = f": {b.reason}" if b.reason else f" ({b.items} items, {b.files_copied} files copied)"
        print(f"{b.name}: {b.status}{detail}")
    sentence = receipt.sentence()
    print(sentence[0].upper() + sentence[1:])
    if not receipt.ok:
        raise Refused("Some updates were not installed; the receipt on the stick says why.")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
