"""The one settings table: every setting once, with its default and help.

Values are read in this order, later wins: the defaults below, the TOML config file
(/etc/sanduq/sanduq.toml, or SANDUQ_CONFIG), SANDUQ_<NAME> environment variables, and
command-line flags. The same table drives --help and the README's settings list.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from server.errors import SanduqError
from server.languages import CODES

CONFIG_FILE = Path("/etc/sanduq/sanduq.toml")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


def _bool(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _languages(text: str) -> str:
    """Language codes separated by spaces, each one the box knows (server/languages.py)."""
    codes = text.split()
    if not codes or any(code not in CODES for code in codes) or len(set(codes)) != len(codes):
        raise ValueError(text)
    return " ".join(codes)


SETTINGS = [
    Setting("data_dir", "/var/lib/sanduq", "folder holding the catalog, the content store and usage logs", str),
    Setting("host", "0.0.0.0", "address the web server listens on", str),
    Setting("port", 8080, "port the web server listens on", int),
    Setting("threads", 8, "web server worker threads (each serves one request at a time)", int),
    Setting("public_host", "10.42.0.1", "the box's address on its own Wi-Fi: where the captive portal sends phones", str),
    Setting("school_name", "Sanduq", "name of this library, shown on pages and announced on the network", str),
    Setting("default_language", "tg", "interface and content language when the phone asks for none we have", str),
    Setting("languages", "tg ru en", f"the interface languages this box offers, in the switcher's order (space-separated; known: {' '.join(CODES)})", _languages),
    Setting("trusted_keys_dir", "", "folder of trusted minisign public keys (*.pub); empty: DATA_DIR/trusted-keys", str),
    Setting("mount_roots", "/media /mnt /run/media /run/sanduq/sticks",
            "folders under which a mounted stick is looked at (space-separated)", str),
    Setting("own_mount_root", "/run/sanduq/sticks",
            "where the box's own mount service mounts sticks; the USB daemon unmounts those when done", str),
    Setting("disk_reserve_mb", 200, "space an import always leaves free on the data disk, in MB", int),
    # Off unless a box's config turns it on (install.sh does), so a laptop demo, the tests and
    # the benchmarks never announce themselves on a network that is not theirs.
    Setting("mdns", False, "announce the library on the network (mDNS: _http._tcp and _sanduq._tcp)", _bool),
    # Bloom books are written in SIL's Andika; bloom-player asks its page's host for it and
    # otherwise the internet. Debian's fonts-sil-andika (install.sh installs it) has it.
    Setting("book_fonts_dir", "/usr/share/fonts-sil-andika/woff2",
            "folder of Andika-Regular.woff2 and its Bold, Italic, BoldItalic, for Bloom books", str),
    Setting("answer_cache_mb", 16, "memory for ready answers (pages, lists, searches), in MB", int),
    Setting("usage_flush_seconds", 1.0, "how often recorded usage events are written to disk, in seconds", float),
    # A classroom of phones: Chrome keeps up to 6 connections to the box, most of them idle.
    Setting("connection_limit", 1000, "most connections the web server keeps open at once", int),
    Setting("client_connections", 24, "most connections one phone (one address) may keep open at once", int),
    Setting("header_timeout", 10.0, "seconds a request may take to send its headers before it is dropped", float),
    Setting("idle_timeout", 60.0, "seconds an idle connection is kept open for the phone's next request", float),
    # Usage a phone can send: counted, never trusted.
    Setting("events_per_minute", 120, "usage events one phone may send in a minute; the rest are dropped and counted", int),
    # The usage's clock (server/clock.py): the file systemd-timesyncd makes once it has set the
    # clock from a time server ("" when the box has no such service).
    Setting("clock_synced_flag", "/run/systemd/timesync/synchronized", "the file that exists once the clock has been set from a time server", str),
    Setting("clock_request", "/run/sanduq/clock/forward", "where the USB daemon asks root's sanduq-clock to set the clock forward to a signed bundle's build time (empty: never)", str),
    # Usage as xAPI statements on the stick (usb_updater/xapi.py): the actor's account home page
    # (an IRL: any LRS checks it), and whether search texts (maybe a child's name) go in them.
    Setting("xapi_home_page", "http://10.42.0.1/", "the xAPI actor's account home page: a URL naming the system the box's account is on", str),
    Setting("xapi_search_text", False, "put the words of searches that found nothing into the xAPI statements (they may be personal; the CSV has them)", _bool),
    Setting("usage_max_mb", 256, "largest size of the usage store (usage.db), in MB; beyond it new events are dropped and counted", int),
    # The store's files are checked against their hashes in the background, at low priority.
    Setting("scrub_mb_per_second", 8.0, "how fast the background check of stored files reads, in MB/s (0: never)", float),
    Setting("scrub_every_hours", 24.0, "hours between two full checks of the stored files", float),
    Setting("status_dir", "/run/sanduq/status",
            "folder (in RAM) for the USB status the site shows; DATA_DIR when it cannot be written", str),
    Setting("debug", False, "show tracebacks in the log (never to users)", _bool),
]
BY_NAME = {s.name: s for s in SETTINGS}


def load(overrides: dict[str, Any] | None = None, *, env: dict[str, str] | None = None,
         config_file: Path | None = None) -> dict[str, Any]:
    """Return every setting's value: defaults -> config file -> environment -> overrides."""
    env = os.environ if env is None else env
    values = {s.name: s.default for s in SETTINGS}
    path = Path(env.get("SANDUQ_CONFIG", config_file or CONFIG_FILE))
    if path.is_file():
        try:
            with path.open("rb") as f:
                from_file = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SanduqError(f"The config file {path} cannot be read ({e}); fix or remove it.") from e
        for name, value in from_file.items():
            if name not in BY_NAME:
                raise SanduqError(f"The config file {path} names an unknown setting {name!r}; "
                                  f"known settings: {', '.join(BY_NAME)}.")
            values[name] = _coerce(BY_NAME[name], value, str(path))
    for s in SETTINGS:
        key = "SANDUQ_" + s.name.upper()
        if key in env:
            values[s.name] = _coerce(s, env[key], key)
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(BY_NAME[name], value, "--" + name.replace("_", "-"))
    return values


def _coerce(setting: Setting, value: Any, where: str) -> Any:
    if isinstance(value, str) and setting.parse is not str:
        try:
            return setting.parse(value)
        except ValueError:
            raise SanduqError(f"{where}: {value!r} is not a valid {setting.name} ({setting.help}).") from None
    if setting.parse is _bool and isinstance(value, bool):
        return value
    if setting.parse in (int, float) and isinstance(value, bool):
        raise SanduqError(f"{where}: {setting.name} must be a number.")
    return value
