"""What every request may need, made once per app: the leaf the views import (as flaskr's
views import `db.get_db`), so that no view imports the application factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app

from server.library import Library
from server.scrub import Scrubber
from server.usage import UsageLog


@dataclass
class State:
    """The settings, the library, the usage log, the store's check and the portal of one app."""

    settings: dict[str, Any]
    library: Library
    usage: UsageLog
    scrubber: Scrubber
    portal: Any = None


def state() -> State:
    return current_app.extensions["sanduq"]


def search_recorder(query: str, found: bool, lang: str) -> Callable[[dict], bool]:
    """An answer's on_hit for a search: "searched" (no words kept) when it FOUND something,
    else "search-empty" with its words, for the content team."""
    return recorder("searched", lang=lang) if found else recorder("search-empty", text=query, lang=lang)


def recorder(type: str, **fields) -> Callable[[dict], bool]:
    """An answer's on_hit: record an event of TYPE for the phone that made the request."""
    usage = state().usage  # on_hit runs outside Flask, in the answer front
    return lambda environ: usage.record(type, client=environ.get("REMOTE_ADDR"), **fields)
