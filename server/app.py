"""The web application: create_app() builds it from the settings table."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from server import __version__, settings as settings_table
from server.errors import SanduqError
from server.library import Library
from server.usage import UsageLog

log = logging.getLogger(__name__)
LANGUAGES = ("tg", "ru", "en")  # interface languages; content may be in any
MESSAGES = {404: "There is nothing at this address.",
            405: "This address does not take that kind of request.",
            413: "The request is too large."}


@dataclass
class State:
    """What every request may need, made once per app."""

    settings: dict[str, Any]
    library: Library
    usage: UsageLog


def state() -> State:
    return current_app.extensions["sanduq"]


def create_app(overrides: dict[str, Any] | None = None, *, library: Library | None = None) -> Flask:
    """Build the app. OVERRIDES are settings that win over file and environment."""
    settings = settings_table.load(overrides)
    library = library or Library(settings["data_dir"])
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # the only bodies we take are small JSON
    app.json.ensure_ascii = False  # Cyrillic as UTF-8: a third of the bytes of \\u escapes
    app.json.sort_keys = False
    app.extensions["sanduq"] = State(settings, library,
                                     UsageLog(library.data_dir / "usage.db", settings["usage_flush_seconds"]))

    from server import api, files

    app.register_blueprint(api.bp)
    app.register_blueprint(files.bp)
    app.register_error_handler(Exception, _handle_error)

    @app.get("/healthz")
    def healthz():
        lib = state().library
        return jsonify(status="ok", version=__version__, device_id=lib.device_id,
                       items=lib.catalog.count(), school=settings["school_name"],
                       channels=lib.catalog.sequences())

    return app


def close_app(app: Flask) -> None:
    """Flush usage and close the catalog of an app that stops serving."""
    app.extensions["sanduq"].usage.close()


def _handle_error(error: Exception):
    """The one place an exception becomes an answer: JSON for the API and files."""
    if isinstance(error, SanduqError):
        status, message = error.status, error.message
    elif isinstance(error, HTTPException):
        status = error.code or 500
        message = MESSAGES.get(status, error.description or error.name)
    else:
        log.exception("unexpected error on %s", request.path)
        status, message = 500, "Something went wrong on the box; try again, and if it keeps happening restart the box."
    response = jsonify(error=message, status=status)
    response.status_code = status
    if isinstance(error, HTTPException):  # keep Content-Range of a 416, Allow of a 405
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


def language() -> str:
    """The language of this request: ?lang=, then the phone's Accept-Language, then the default."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES) or state().settings["default_language"]
