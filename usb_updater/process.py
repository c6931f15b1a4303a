"""One insert, handled once: import every bundle, export usage, write a receipt, sync.

The order protects what matters most. Bundles are checked and installed one by one (each one
all or nothing, server/importer.py); usage is exported even when a bundle was refused; the
receipt says what happened to each; nothing is written to a stick that has no `sanduq/`
folder. A stick pulled at any moment leaves the library as it was, and the next insert
resumes where the copy stopped.
"""

from __future__ import annotations

import errno
import logging
import json
import os
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from content_mirror.bundle import bundle_dirs, open_payload, read_signed
from content_mirror.minisign import trusted_keys
from server import __version__, health
from server.clock import Clock
from server.errors import SanduqError
from server.fsutil import utc_now, write_atomically
from server.importer import install
from server.library import Library
from usb_updater import export
from usb_updater.status import UsbStatus

Progress = Callable[[int, int], None]

log = logging.getLogger(__name__)


@dataclass
class BundleReport:
    name: str
    status: str  # "installed", "already installed", "refused", "interrupted"
    channel: str | None = None
    sequence: int | None = None
    reason: str | None = None  # in English, for a terminal and the log
    code: str | None = None  # the same for a page to translate (server/pages.py), with VALUES
    values: dict = field(default_factory=dict)
    items: int = 0
    files_copied: int = 0
    bytes_copied: int = 0


@dataclass
class Receipt:
    device_id: str
    stick: str
    started: str
    finished: str = ""
    bundles: list[BundleReport] = field(default_factory=list)
    exports: list[dict] = field(default_factory=list)
    export_problem: str | None = None
    export_code: str | None = None
    usage_months_left: list[str] = field(default_factory=list)  # not on the stick yet: it filled up
    clock: dict = field(default_factory=dict)  # the box's clock: its state, the newest bundle's build time
    receipt_problem: str | None = None
    box_problem: str | None = None
    problems: list[dict] = field(default_factory=list)  # what the box needs (server/health.py codes)
    free_mb_on_box: int = 0
    school: str = ""  # the setting school_name: how sanduq-report names the box
    version: str = ""

    @property
    def ok(self) -> bool:
        return all(b.status in ("installed", "already installed") for b in self.bundles)

    def sentence(self) -> str:
        """What a field officer reads: what happened, and what to do."""
        installed = [b for b in self.bundles if b.status == "installed"]
        parts = []
        if installed:
            parts.append(f"{len(installed)} update(s) installed ({sum(b.items for b in installed)} items)")
        elif self.bundles and self.ok:
            parts.append("the updates on the stick were already installed")
        elif not self.bundles:
            parts.append("no updates on the stick")
        for b in self.bundles:
            if b.status == "refused":
                parts.append(f"{b.name} refused: {b.reason}")
            if b.status == "interrupted":
                parts.append(f"{b.name} stopped: {b.reason}")
        restored = sum(b.files_copied for b in self.bundles if b.status == "already installed")
        if restored:
            parts.append(f"{restored} damaged or lost file(s) restored")
        if self.usage_months_left:
            parts.append(f"usage saved up to the newest months that fit; still on the box: "
                         f"{', '.join(sorted(self.usage_months_left))}: {self.export_problem}")
        else:
            parts.append(f"usage not saved: {self.export_problem}" if self.export_problem else "usage saved on the stick")
        if self.problems:
            parts.append(f"the box needs attention ({', '.join(p['code'] for p in self.problems)}): see its status page")
        return "; ".join(parts) + "."


def is_sanduq_stick(stick: Path) -> bool:
    """A stick with a real `sanduq/` folder (not a link to one) is ours to read and write."""
    try:
        return stat.S_ISDIR((Path(stick) / "sanduq").lstat().st_mode)
    except OSError:
        return False


def process_stick(library: Library, stick: Path, settings: dict, progress: Progress | None = None) -> Receipt | None:
    """Handle one mounted stick. None when it is not a Sanduq stick (it is then left untouched)."""
    stick = Path(stick)
    if not is_sanduq_stick(stick):
        return None
    receipt = Receipt(library.device_id, str(stick), utc_now(), school=settings["school_name"], version=__version__)
    keys = trusted_keys(Path(settings["trusted_keys_dir"] or library.data_dir / "trusted-keys"))
    reserve = settings["disk_reserve_mb"] * 1024 * 1024
    status = UsbStatus.of(library, settings)
    say = _status_writer(status, stick, progress)
    say("checking")
    ready, newest = [], None
    for folder in bundle_dirs(stick):
        try:
            manifest, built = read_signed(folder, keys)
            ready.append((manifest, folder))
            newest = max(filter(None, (newest, built)), default=None)
        except SanduqError as e:
            receipt.bundles.append(BundleReport(folder.name, "refused", reason=e.message, code=e.code,
                                                values=e.values))
        except OSError as e:
            code, reason = _io_problem(e)
            receipt.bundles.append(BundleReport(folder.name, "interrupted", reason=reason, code=code))
    for manifest, folder in sorted(ready, key=lambda r: (r[0]["channel"], r[0]["sequence"])):
        report = BundleReport(folder.name, "installed", manifest["channel"], manifest["sequence"])
        receipt.bundles.append(report)
        try:
            say("installing", folder.name)
            result = install(library, manifest, lambda sha, f=folder: open_payload(f, sha), reserve_bytes=reserve,
                             progress=lambda d, t, n=folder.name: say("copying", n, d, t))
            report.status, report.items = result.status, result.items
            report.files_copied, report.bytes_copied = result.files_copied, result.bytes_copied
        except SanduqError as e:
            report.status, report.reason, report.code, report.values = "refused", e.message, e.code, e.values
        except OSError as e:
            report.status = "interrupted"
            report.code, report.reason = _install_io_problem(e)
            if e.errno not in BOX_SIDE:
                break  # the stick is most likely gone: the next insert resumes
    # A signed bundle's build time has passed: a clock that reads earlier is behind, and the
    # events of this boot say so before they go onto the stick (server/clock.py).
    receipt.clock = Clock(library.data_dir, settings["clock_synced_flag"]).learn(newest, library.data_dir / "usage.db")
    if receipt.clock["state"] == "behind" and settings["clock_request"]:
        receipt.clock["asked_forward"] = _ask_clock_forward(Path(settings["clock_request"]), receipt.clock["built"])
    say("saving-usage")
    try:
        receipt.exports = export.export_usage(library, stick, settings)
    except OSError as e:
        receipt.export_code, receipt.export_problem = _io_problem(e)
        receipt.usage_months_left = getattr(e, "months_left", [])
    receipt.free_mb_on_box = library.store.free_bytes() // (1024 * 1024)
    receipt.problems = health.problems(library.data_dir)
    receipt.finished = utc_now()
    _write_receipt(library, status, stick, receipt)
    os.sync()  # only now is it safe to say "safe to remove"
    status.write(state="done" if receipt.ok and not receipt.export_problem else "failed",
                 stick=str(stick), message=receipt.sentence(), receipt=asdict(receipt))
    return receipt


def _ask_clock_forward(request: Path, built: str) -> bool:
    """Ask root's sanduq-clock (systemd/sanduq-clock.path) to set the clock forward to BUILT:
    this service may not set it. False where the box has no such service or it cannot be asked."""
    if not request.parent.is_dir():  # made by the box's tmpfiles.d for its sanduq-clock; never made here
        return False
    try:
        write_atomically(request, built.encode())
        return True
    except OSError as e:
        log.info("could not ask for the clock to be set forward (%s)", e)
        return False


def _write_receipt(library: Library, status: UsbStatus, stick: Path, receipt: Receipt) -> None:
    """The receipt onto the stick, and a copy on the box; a full box keeps it in the status only."""
    name = f"{library.device_id}-{receipt.started.replace(':', '').replace('-', '')}.json"
    data = asdict(receipt)
    try:
        status.keep_receipt(name, data)
    except OSError as e:
        receipt.box_problem = f"the box could not keep a copy of this receipt ({e.strerror})"
    try:
        folder = stick / "sanduq" / "receipts"
        folder.mkdir(exist_ok=True)
        write_atomically(folder / name, json.dumps(data, ensure_ascii=False, indent=1).encode())
    except OSError as e:
        receipt.receipt_problem = _io_problem(e)[1]


# While installing, the stick is only read: these errors come from the box's own card.
BOX_SIDE = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def _install_io_problem(error: OSError) -> tuple[str, str]:
    """(code, English sentence) from an I/O error while copying from the stick onto the box."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "box-full", "the box's card is full; remove old content or use a larger card, then insert the stick again"
    if error.errno == errno.EROFS:
        return "box-read-only", ("the box's card has become read-only (it may be failing); restart the box, "
                                 "and replace the card if it stays so")
    return _io_problem(error)


def _io_problem(error: OSError) -> tuple[str, str]:
    """(code, English sentence) for a field officer from an I/O error on the stick."""
    if isinstance(error, export.UsageUnreadable):
        return "usage-unreadable", ("the box's usage store could not be read; run 'sanduq-server check --repair' "
                                    "on the box, then insert the stick again")
    if error.errno == errno.EROFS:
        return "stick-read-only", "the stick is write-protected (check its lock switch); usage will be saved next time"
    if error.errno == errno.ENOSPC:
        return "stick-full", "the stick is full; free some space on it and insert it again"
    if error.errno in (errno.EIO, errno.ENODEV, errno.ENXIO, errno.ENOENT, errno.ESTALE, errno.ENOTCONN):
        return "stick-gone", "the stick could not be read (was it pulled out?); insert it again to continue where it stopped"
    return "stick-unusable", f"the stick could not be used ({error.strerror}); try another stick"


def _status_writer(status: UsbStatus, stick: Path, progress: Progress | None):
    """Report a step (and bytes done of total) to the status file and the terminal, throttled."""
    last = [0.0]

    def say(step: str, bundle: str = "", done: int = 0, total: int = 0) -> None:
        now = time.monotonic()
        if progress and total:
            progress(done, total)
        if done < total and now - last[0] < 0.5:
            return
        last[0] = now
        status.write(state="busy", stick=str(stick), step=step, bundle=bundle, done=done, total=total)

    return say
