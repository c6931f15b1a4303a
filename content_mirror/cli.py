"""sanduq-mirror: content for boxes (see INTERFACES.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from content_mirror.manifest import AUDIENCES
from server.errors import BadRequest, Refused, SanduqError, run_cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sanduq-mirror", description="Make and check content for Sanduq boxes.")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo-source", help="write the demo library's authoring folder to DIR",
                               description="Write the demo library's authoring folder (the one "
                                           "sanduq-server --demo installs) to DIR, to start from.")
    demo.add_argument("dir", type=Path, metavar="DIR")
    keygen = commands.add_parser("keygen", help="write a minisign key pair DIR/sanduq.pub and DIR/sanduq.key",
                                 description="Write a new minisign key pair: DIR/sanduq.pub (give it to the "
                                             "boxes) and DIR/sanduq.key (unencrypted, mode 0600: keep it safe).")
    keygen.add_argument("dir", type=Path, metavar="DIR")
    build = commands.add_parser("build", help="build a signed bundle from an authoring folder onto a stick",
                                description="Build a signed bundle from the authoring folder SOURCE into "
                                            "STICK/sanduq/bundles/ (any folder can stand for a stick).")
    build.add_argument("source", type=Path, metavar="SOURCE")
    build.add_argument("stick", type=Path, metavar="STICK")
    build.add_argument("--key", type=Path, required=True, metavar="SECRET_KEY", help="the minisign secret key")
    build.add_argument("--sequence", type=int, help="this update's number in its channel (default: library.toml)")
    build.add_argument("--since", type=Path, metavar="OLD_MANIFEST",
                       help="build a delta: only what changed since this earlier manifest.json")
    build.add_argument("--name", help="the bundle's folder name (default: CHANNEL-SEQUENCE)")
    build.add_argument("--video-height", type=int, default=480, metavar="LINES",
                       help="encode videos taller than this (default 480)")
    build.add_argument("--video-kbps", type=int, default=1000, metavar="KBPS",
                       help="encode videos of a higher bit rate than this (default 1000)")
    build.add_argument("--keep-videos", action="store_true",
                       help="ship videos as they are, without making them fit for phones (needs no ffmpeg)")
    build.add_argument("--no-takehome", action="store_true",
                       help="do not make books into videos and activities and tips into cards for phones to "
                            "keep (needs neither ffmpeg nor rsvg-convert)")
    verify = commands.add_parser("verify", help="check every bundle on a stick without importing",
                                 description="Check every bundle on STICK as a box would: signature, "
                                             "manifest, and every payload file's size and hash.")
    verify.add_argument("stick", type=Path, metavar="STICK")
    verify.add_argument("--pubkey", type=Path, required=True, action="append", metavar="PUB",
                        help="a trusted minisign public key (repeat for several)")
    check = commands.add_parser("check", help="check an authoring folder and list every fault",
                                description="Read an authoring folder the way a build would and "
                                            "list every fault with its sheet, row and column.")
    check.add_argument("source", type=Path, metavar="SOURCE")
    pdf = commands.add_parser("import-pdf", help="add a PDF storybook to an authoring folder as a picture book",
                              description="Add the storybook PDF (one page per spread) to the authoring folder "
                                          "SOURCE, made if new, as a picture book: each page drawn for phones, "
                                          "its words taken out so the book is searched, narration from a folder "
                                          "of MP3s named by page, the PDF kept for printing (docs/pdf-books.md). "
                                          "Needs poppler-utils.")
    pdf.add_argument("pdf", type=Path, metavar="PDF")
    pdf.add_argument("source", type=Path, metavar="SOURCE")
    pdf.add_argument("--id", required=True, dest="book_id", help="the book's id: lowercase letters, digits and -")
    pdf.add_argument("--lang", required=True, help="the language of the book's words: tg, ru, en ...")
    pdf.add_argument("--title", help="the title (default: the PDF's own title, else its file name)")
    pdf.add_argument("--narration", type=Path, metavar="DIR",
                     help="a folder of MP3 recordings named by page: 1.mp3, 02.mp3, page-3.mp3 ...")
    pdf.add_argument("--audience", action="append", choices=AUDIENCES,
                     help="who the book is for (default: children); repeat for several")
    pdf.add_argument("--age-min", type=int, metavar="YEARS", help="the youngest age the book suits")
    pdf.add_argument("--age-max", type=int, metavar="YEARS", help="the oldest age the book suits")
    kolibri = commands.add_parser("import-kolibri", help="add a Kolibri channel exported to a drive to an authoring folder",
                                  description="Add the Kolibri channel CHANNEL_ID found in KOLIBRI_DATA (a drive "
                                              "export: content/databases/<id>.sqlite3 and content/storage/) to the "
                                              "authoring folder SOURCE, made if new: its videos, audio, PDF "
                                              "documents, HTML5 apps and H5P activities with their titles, "
                                              "languages, credits and topic tree (as courses), as draft rows to "
                                              "finish in a spreadsheet (docs/kolibri.md). What Sanduq cannot play "
                                              "is counted, with why, and skipped.")
    kolibri.add_argument("kolibri_data", type=Path, metavar="KOLIBRI_DATA")
    kolibri.add_argument("source", type=Path, metavar="SOURCE")
    kolibri.add_argument("--channel", metavar="CHANNEL_ID",
                         help="the channel's id (default: the only channel in KOLIBRI_DATA)")
    scan = commands.add_parser("scan", help="draft a new authoring folder from a folder of media",
                               description="Draft the new authoring folder OUT (one that does not exist yet, or "
                                           "an empty one) from the videos, audio, Markdown documents, Bloom books, "
                                           "H5P activities and HTML5 game zips found in FOLDER: a row of items.csv "
                                           "for each, to finish in a spreadsheet, and its files in OUT/media/ "
                                           "(hard links to FOLDER's where they can be). A PDF gets no row: "
                                           "OUT/TODO.txt gives the import-pdf command for each, and every file "
                                           "skipped, with why. Then run check.")
    scan.add_argument("folder", type=Path, metavar="FOLDER")
    scan.add_argument("out", type=Path, metavar="OUT")
    preview = commands.add_parser("preview", help="serve an authoring folder as the phone site, rebuilt on change",
                                  description="Serve the authoring folder SOURCE as a box would show it, and "
                                              "show it again each time a sheet or file changes; the faults "
                                              "check finds are shown on the page.")
    preview.add_argument("source", type=Path, metavar="SOURCE")
    preview.add_argument("--port", type=int, default=8081, help="the port to serve on (default 8081)")
    preview.add_argument("--host", default="127.0.0.1",
                         help="the address to serve on (default 127.0.0.1: this computer only)")
    return p


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    if args.command == "demo-source":
        from content_mirror.demo import write_source

        write_source(args.dir)
        print(f"Wrote the demo library's authoring folder to {args.dir}")
    elif args.command == "keygen":
        from content_mirror.minisign import keygen

        key = keygen(args.dir)
        print(f"Wrote {args.dir / 'sanduq.pub'} and {args.dir / 'sanduq.key'} (key {key.name}). "
              "Copy sanduq.pub to each box's trusted-keys folder; keep sanduq.key secret.")
    elif args.command == "build":
        from content_mirror.bundle import build, progress_bar
        from content_mirror.video import Limits

        if not (120 <= args.video_height <= 2160 and 100 <= args.video_kbps <= 20_000):
            raise BadRequest("--video-height must be 120 to 2160 and --video-kbps 100 to 20000.")
        videos = None if args.keep_videos else Limits(args.video_height, args.video_kbps)
        result = build(args.source, args.stick, args.key, sequence=args.sequence, since=args.since,
                       name=args.name, progress=progress_bar("Copying"), videos=videos,
                       takehome=not args.no_takehome)
        m = result.manifest
        kind = f"delta since {m['since']}" if m.get("since") else "full"
        print(f"Built {result.folder} ({kind}): {m['channel']} update {m['sequence']}, "
              f"{len(m['items'])} items, {len(m.get('remove', []))} to remove, "
              f"{result.files_written} files written ({result.bytes_written / 1e6:.1f} MB).")
    elif args.command == "verify":
        from content_mirror.bundle import verify_stick
        from content_mirror.minisign import read_public_key

        results = verify_stick(args.stick, [read_public_key(p) for p in args.pubkey])
        if not results:
            raise SanduqError(f"There are no bundles in {args.stick}/sanduq/bundles.")
        for r in results:
            if r.problem:
                print(f"{r.name}: REFUSED: {r.problem}.")
            else:
                print(f"{r.name}: ok ({r.manifest['channel']} update {r.manifest['sequence']}, "
                      f"{len(r.manifest['items'])} items).")
        bad = [r for r in results if r.problem]
        if bad:
            raise Refused(f"{len(bad)} of {len(results)} bundles would be refused.")
    elif args.command == "check":
        from content_mirror.authoring import read_source

        source = read_source(args.source)
        for warning in source.warnings:
            print(f"Warning: {warning}")
        manifest = source.manifest
        size = sum(f["size"] for f in manifest["files"].values())
        print(f"{args.source}: {len(manifest['items'])} items, {len(manifest['files'])} files, "
              f"{size / 1e6:.1f} MB; no problems found.")
    elif args.command == "import-pdf":
        from content_mirror.pdfbook import import_pdf

        book = import_pdf(args.pdf, args.source, book_id=args.book_id, lang=args.lang, title=args.title,
                          narration=args.narration, audiences=tuple(args.audience or ("children",)),
                          age_min=args.age_min, age_max=args.age_max)
        print(f"Added the book {book.book_id!r}, {book.title!r}, to {args.source}: {book.pages} pages, "
              f"{book.narrated} with narration; its pictures, recordings and the PDF for printing are in "
              f"{book.folder}. Check the folder with: sanduq-mirror check {args.source}")
    elif args.command == "import-kolibri":
        from content_mirror.kolibri import command

        return command(args)
    elif args.command == "scan":
        from content_mirror.scan import command

        return command(args)
    elif args.command == "preview":
        from content_mirror.preview import command

        return command(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
