"""sanduq-mirror: content for boxes (see INTERFACES.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.errors import run_cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sanduq-mirror", description="Make and check content for Sanduq boxes.")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo-source", help="write the demo library's authoring folder to DIR",
                               description="Write the demo library's authoring folder (the one "
                                           "sanduq-server --demo installs) to DIR, to start from.")
    demo.add_argument("dir", type=Path, metavar="DIR")
    check = commands.add_parser("check", help="check an authoring folder and list every fault",
                                description="Read an authoring folder the way a build would and "
                                            "list every fault with its sheet, row and column.")
    check.add_argument("source", type=Path, metavar="SOURCE")
    return p


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    if args.command == "demo-source":
        from content_mirror.demo import write_source

        write_source(args.dir)
        print(f"Wrote the demo library's authoring folder to {args.dir}")
    elif args.command == "check":
        from content_mirror.authoring import read_source

        manifest = read_source(args.source).manifest
        size = sum(f["size"] for f in manifest["files"].values())
        print(f"{args.source}: {len(manifest['items'])} items, {len(manifest['files'])} files, "
              f"{size / 1e6:.1f} MB; no problems found.")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
