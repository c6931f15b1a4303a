"""Domain errors. Each carries one plain sentence a person can act on.

The command line turns them into a message and an exit code (cli.py, `run_cli`), the web into
a JSON or HTML answer (app.py, `_handle_error`): one place each, never a traceback.
"""

from __future__ import annotations


class SanduqError(Exception):
    """Something the user can fix; the message says how.

    MESSAGE is an English sentence for a terminal and the logs. CODE and VALUES say the same
    for a page to put in the reader's own language (server/pages.py translates the codes a
    field officer meets on /status); a class gives the code its errors have by default.
    """

    status = 500  # HTTP status when it reaches the web
    exit_code = 1  # process exit code when it reaches a command
    code = "error"

    template: str | None = None  # the message with %(name)s for VALUES: an msgid, for said()

    def __init__(self, message: str, code: str | None = None, **values: object):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.values = values

    @classmethod
    def said(cls, template: str, **values: object) -> "SanduqError":
        """An error whose sentence is TEMPLATE (English, marked for the catalogs) filled with
        VALUES; a command translates the template into its reader's language (provisioning/cli.py)."""
        error = cls(template % values, **values)
        error.template = template
        return error


class NotFound(SanduqError):
    status = 404
    exit_code = 2


class BadRequest(SanduqError):
    status = 400
    exit_code = 2


class Forbidden(SanduqError):
    """A request from where it may not come (a game's sandbox changing usage)."""

    status = 403
    exit_code = 2


class InvalidSource(SanduqError):
    """An authoring folder or a manifest that does not follow the format."""

    status = 422
    exit_code = 3
    code = "invalid"


class NotEnoughSpace(SanduqError):
    status = 507
    exit_code = 4
    code = "no-space"


class Refused(SanduqError):
    """A bundle refused for what it is (downgrade, untrusted, tampered)."""

    status = 409
    exit_code = 5
    code = "refused"


def run_cli(main_body, *args, **kwargs) -> int:
    """Run a command body; turn domain errors into one sentence on stderr and an exit code."""
    import os
    import sys
    import traceback

    try:
        return main_body(*args, **kwargs) or 0
    except SanduqError as e:
        print(e.message, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: still one sentence; the traceback only when debugging
        if os.environ.get("SANDUQ_DEBUG"):
            traceback.print_exc()
        print(f"Sanduq stopped on an unexpected error ({e.__class__.__name__}: {e}); "
              "run again with SANDUQ_DEBUG=1 and report what it prints.", file=sys.stderr)
        return 70
