"""sanduq-server: serve the library (flags come from the settings table); `check` verifies it."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
import time
import urllib.request

from server import settings as settings_table
from server.errors import run_cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sanduq-server",
        description="Serve the Sanduq library. Settings come from /etc/sanduq/sanduq.toml, "
                    "then SANDUQ_* environment variables, then these flags.")
    for s in settings_table.SETTINGS:
        flag = "--" + s.name.replace("_", "-")
        if s.parse is settings_table._bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, help=f"{s.help} (default: {s.default})")
        else:
            p.add_argument(flag, metavar=s.name.upper(), help=f"{s.help} (default: {s.default})")
    p.add_argument("--demo", action="store_true",
                   help="first fill an empty library with the built-in demo library")
    p.epilog = "sanduq-server check [--data-dir DIR] [--repair] verifies the library (see its --help)."
    return p


def check_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sanduq-server check",
        description="Verify the catalog, every stored file's hash and the usage store; one sentence "
                    "per fault. Exits 0 when all is well, 1 when anything was found.")
    p.add_argument("--data-dir", metavar="DIR", help="the library's data folder (default: SANDUQ_DATA_DIR or the config)")
    p.add_argument("--repair", action="store_true",
                   help="set aside what is damaged and rebuild what can be rebuilt (the catalog from the "
                        "updates the box keeps; files come back with the next stick)")
    return p


def _check(argv: list[str]) -> int:
    args = check_parser().parse_args(argv)
    settings = settings_table.load({"data_dir": args.data_dir})
    from server import health
    from server.library import Library

    library = Library(settings["data_dir"], heal=False)  # report the damage before mending it
    said = health.check(library, repair=args.repair)
    for sentence in said:
        print(sentence)
    if not said:
        print(f"The library in {library.data_dir} is sound: catalog, stored files and usage.")
    return 1 if said else 0


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        return _check(argv[1:])
    args = parser().parse_args(argv)
    overrides = {s.name: getattr(args, s.name) for s in settings_table.SETTINGS}
    settings = settings_table.load(overrides)
    logging.basicConfig(level=logging.DEBUG if settings["debug"] else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")

    from server.library import Library

    library = Library(settings["data_dir"])
    if args.demo and settings["languages"] == settings_table.BY_NAME["languages"].default:
        from server.languages import CODES

        settings["languages"] = " ".join(CODES)  # the demo shows every language it speaks, unless told otherwise
    if args.demo and library.catalog.count() == 0:
        from content_mirror.demo import install_demo

        result = install_demo(library, reserve_bytes=settings["disk_reserve_mb"] * 1024 * 1024)
        print(f"Installed the demo library: {result.items} items.", flush=True)
    serve(settings, library)
    return 0


def serve(settings: dict, library) -> None:
    """Run waitress until SIGTERM or Ctrl-C; print the URL once the server answers."""
    from server.app import close_app, create_app
    from server.http_server import create_server

    _fewer_malloc_arenas()

    app = create_app({k: v for k, v in settings.items()}, library=library)
    server = create_server(app, settings)
    port = int(server.effective_port)  # waitress reports it as text
    threading.Thread(target=_announce, args=(settings["host"], port), daemon=True).start()
    announcer = None
    if settings["mdns"]:
        from server import __version__
        from server.mdns import Announcer

        announcer = Announcer(settings["school_name"], port, library.device_id, __version__,
                              library.catalog.sequences)
        announcer.start()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if announcer:
            announcer.stop()
        server.close()
        close_app(app)


def _fewer_malloc_arenas() -> None:
    """Ask glibc for 2 malloc arenas instead of one per thread, before the threads start.

    Each waitress thread would otherwise get an arena of its own, and memory freed in one is
    not reused by another, so a long-running threaded server keeps growing (glibc's own advice
    for such servers). The systemd unit sets MALLOC_ARENA_MAX=2 too; this covers every other
    way of starting the server.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def _announce(host: str, port: int) -> None:
    local = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://{local}:{port}/healthz", timeout=2):
                break
        except OSError:
            time.sleep(0.05)
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    print(f"Sanduq is serving at http://{local}:{port}/ (on the network: http://{shown}:{port}/)",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
