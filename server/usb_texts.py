"""What the USB flow and the box's health say, in the reader's language, for /status.

The USB process and the health checks carry codes and values (usb_updater/process.py,
server/errors.py, server/health.py, server/usage.py), never sentences meant for a page; this
module is the one place they become words. A code it does not know still gives a sentence
in the reader's language, never English from the code.
"""

from __future__ import annotations

from server.i18n import gettext_, ngettext_

STEPS = {
    "checking": lambda v: gettext_("Checking the stick"),
    "installing": lambda v: gettext_("Installing %(bundle)s", bundle=v.get("bundle", "")),
    "copying": lambda v: gettext_("Copying %(bundle)s", bundle=v.get("bundle", "")),
    "saving-usage": lambda v: gettext_("Saving usage on the stick"),
}

# Why an update was refused or stopped, and what to do about it.
REASONS = {
    "downgrade": lambda v: gettext_(
        "This update (%(sequence)s) is older than the one the box has (%(installed)s); bring a newer stick.",
        sequence=v.get("sequence", "?"), installed=v.get("installed", "?")),
    "wrong-base": lambda v: gettext_(
        "This update was made for another library; bring the full update of %(channel)s.",
        channel=v.get("channel", "")),
    "lost-file": lambda v: gettext_(
        "The box has lost a file this update does not carry; bring the full update of %(channel)s.",
        channel=v.get("channel", "")),
    "no-space": lambda v: gettext_(
        "The box needs %(needed)s MB free but has %(free)s MB; remove old content or use a larger card.",
        needed=v.get("needed_mb", "?"), free=v.get("free_mb", "?")),
    "untrusted": lambda v: gettext_(
        "Its signature is missing, wrong or not trusted by this box; bring a stick made by the programme."),
    "no-keys": lambda v: gettext_(
        "This box has no key to check updates with; ask the technician to install the programme's key."),
    "damaged": lambda v: gettext_(
        "The update on the stick is damaged or incomplete; copy it onto the stick again."),
    "invalid": lambda v: gettext_(
        "The update does not follow Sanduq's format; tell the content team."),
    "bad-game": lambda v: gettext_(
        "A game in it is not safe to play (%(game)s); tell the content team.", game=v.get("game", "")),
    "bad-book": lambda v: gettext_(
        "A book in it is not safe to open (%(game)s); tell the content team.", game=v.get("game", "")),
    "box-full": lambda v: gettext_(
        "The box's card is full; remove old content or use a larger card, then insert the stick again."),
    "box-read-only": lambda v: gettext_(
        "The box's card has become read-only and may be failing; restart the box, and replace the card if it stays so."),
    "usage-unreadable": lambda v: gettext_(
        "The box's usage store could not be read; the technician should run “sanduq-server check --repair”."),
    "stick-read-only": lambda v: gettext_(
        "The stick is write-protected (check its lock switch); usage will be saved next time."),
    "stick-full": lambda v: gettext_("The stick is full; free some space on it and insert it again."),
    "stick-gone": lambda v: gettext_(
        "The stick could not be read (was it pulled out?); insert it again to continue where it stopped."),
    "stick-unusable": lambda v: gettext_("The stick could not be used; try another stick."),
}


def step_text(now: dict) -> str:
    """What the box is doing with the stick now."""
    step = STEPS.get(now.get("step", ""))
    return step(now) if step else gettext_("Working")


def reason_text(code: str | None, values: dict | None = None) -> str:
    """Why an update was refused or stopped, or why usage was not saved; what to do."""
    reason = REASONS.get(code or "")
    return reason(values or {}) if reason else gettext_("The receipt on the stick says why.")


def problem_text(problem: dict) -> str:
    """A problem of the box (server/health.py, server/usage.py codes) in the reader's language."""
    code, n = problem.get("code"), problem.get("count", problem.get("dropped", problem.get("items", 0)))
    if code == "catalog-rebuilt":
        return ngettext_("The library's catalog was damaged; the box rebuilt it from its updates (%(num)s item).",
                         "The library's catalog was damaged; the box rebuilt it from its updates (%(num)s items).", n)
    if code == "files-quarantined":
        return ngettext_("%(num)s damaged file was set aside; a stick that carries it brings it back.",
                         "%(num)s damaged files were set aside; a stick that carries them brings them back.", n)
    if code == "files-missing":
        return ngettext_("%(num)s file is missing on the box; bring the full update to restore it.",
                         "%(num)s files are missing on the box; bring the full update to restore them.", n)
    if code == "usage-set-aside":
        return gettext_("The usage store was damaged; it was set aside (%(file)s) and a new one was started.",
                        file=problem.get("file", ""))
    if code == "usage-full":
        return ngettext_("The usage store is full: %(num)s event was not recorded. Tell the programme team.",
                         "The usage store is full: %(num)s events were not recorded. Tell the programme team.", n)
    if code == "events-dropped":
        return ngettext_("%(num)s usage event was refused (not valid, or too many from one phone).",
                         "%(num)s usage events were refused (not valid, or too many from one phone).", n)
    return gettext_("The box needs a technician's attention.")
