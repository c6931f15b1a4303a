"""The web application: create_app() builds it from the settings table."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from server import __version__, api, assets, games, i18n, pages, players, settings as settings_table, takehome
from server.answers import AnswerFront
from server.errors import SanduqError
from server.files import FileApp
from server.i18n import gettext_
from server.languages import N_
from server.portal import Portal
from server.library import Library
from server.scrub import Scrubber
from server.state import State, state
from server.clock import Clock
from server.usage import UsageLog
from usb_updater.status import UsbStatus

log = logging.getLogger(__name__)
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data:; media-src 'self'; frame-src 'self'; object-src 'none'; "
               "base-uri 'none'; form-action 'self'")
MESSAGES = {404: "There is nothing at this address.",
            405: "This address does not take that kind of request.",
            413: "The request is too large.",
            503: "The library is being repaired; try again in a minute."}


def create_app(overrides: dict[str, Any] | None = None, *, library: Library | None = None) -> Flask:
    """Build the app. OVERRIDES are settings that win over file and environment."""
    settings = settings_table.load(overrides)
    library = library or Library(settings["data_dir"])
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # the only bodies we take are small JSON
    app.json.ensure_ascii = False  # Cyrillic as UTF-8: a third of the bytes of \\u escapes
    app.json.sort_keys = False
    usage = UsageLog(library.data_dir / "usage.db", settings["usage_flush_seconds"],
                     events_per_minute=settings["events_per_minute"], max_mb=settings["usage_max_mb"],
                     clock=Clock(library.data_dir, settings["clock_synced_flag"]))
    scrubber = Scrubber(library.store, mb_per_second=settings["scrub_mb_per_second"],
                        every_hours=settings["scrub_every_hours"])
    app.extensions["sanduq"] = State(settings, library, usage, scrubber)

    for module in (api, assets, games, pages, players, takehome):
        app.register_blueprint(module.bp)
    app.register_error_handler(Exception, _handle_error)
    app.after_request(i18n.remember_choice)
    app.after_request(_page_headers)
    app.jinja_env.autoescape = True
    front_state = app.extensions["sanduq"]
    usb = UsbStatus.of(library, settings)
    answers = AnswerFront(app.wsgi_app, max_bytes=settings["answer_cache_mb"] * 1024 * 1024,
                          key=lambda: (_generation(front_state.library), front_state.usage.popular(),
                                       usb.version()))
    # Probes and foreign host names meet the portal first; content files skip Flask entirely
    # (files.py); everything else meets the answer cache first.
    portal = Portal(DispatcherMiddleware(answers, {"/files": FileApp(library)}), settings["public_host"])
    app.extensions["sanduq"].portal = portal
    app.wsgi_app = portal
    scrubber.start()

    @app.get("/healthz")
    def healthz():
        lib = state().library
        return jsonify(status="ok", version=__version__, device_id=lib.device_id,
                       items=lib.catalog.count(), school=settings["school_name"],
                       channels=lib.catalog.sequences())

    return app


def close_app(app: Flask) -> None:
    """Stop the store's check and flush usage of an app that stops serving."""
    app.extensions["sanduq"].scrubber.stop()
    app.extensions["sanduq"].usage.close()


def _generation(library: Library) -> object:
    """The catalog's generation for the answer cache; a key that matches nothing while it is damaged.

    This runs before Flask: an error here would be waitress's bare 500. The request goes on
    to its view, whose failing query gets the "being repaired" answer from _handle_error.
    """
    try:
        return library.catalog.generation()
    except sqlite3.DatabaseError as e:
        library.catalog_failed(e)
        return object()


def _page_headers(response):
    """Pages may load only the site's own scripts, pictures, media and frames."""
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _handle_error(error: Exception):
    """The one place an exception becomes an answer: JSON for the API and files, else a page."""
    if isinstance(error, SanduqError):
        status, message = error.status, error.message
    elif isinstance(error, sqlite3.DatabaseError):  # the catalog is damaged, locked, or on a full card
        state().library.catalog_failed(error)
        status, message = 503, MESSAGES[503]
    elif isinstance(error, HTTPException):
        status = error.code or 500
        message = MESSAGES.get(status, error.description or error.name)
    else:
        log.exception("unexpected error on %s", request.path)
        status, message = 500, "Something went wrong on the box; try again, and if it keeps happening restart the box."
    # (/files/ never reaches Flask: files.py answers it, errors included.)
    if request.path.startswith(("/api/", "/play/", "/static/", "/healthz")):
        response = jsonify(error=message, status=status)
    else:
        response = _error_page(status, message, getattr(error, "code", None))
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "60"
    if isinstance(error, HTTPException):  # keep Content-Range of a 416, Allow of a 405
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


# Domain errors whose code says more to the reader than the status's own words.
READER_TEXTS = {"cannot-go-home": N_("This one cannot go home: it needs the box. Open it here at school.")}


def _error_page(status: int, message: str, code: str | None = None):
    """An error as a page in the reader's language."""
    headings = {404: gettext_("We could not find this page"),
                500: gettext_("Something went wrong on the box"),
                503: gettext_("The library is being repaired")}
    texts = {404: gettext_("It may have been removed in an update. Look for it from the front page."),
             500: gettext_("Please try again. If it keeps happening, restart the box."),
             503: gettext_("The library is being repaired, try again in a minute.")}
    try:
        html = render_template("error.html", heading=headings.get(status, gettext_("This did not work")),
                               message=gettext_(READER_TEXTS[code]) if code in READER_TEXTS
                               else texts.get(status, message))
    except Exception:  # the page itself failed: plain words, never a traceback
        log.exception("error page failed")
        html = "<!doctype html><title>Sanduq</title><p>Something went wrong. <a href='/'>Sanduq</a></p>"
    return make_response(html)
