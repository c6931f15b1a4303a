"""The one-insert flow on folders standing for sticks: imports, exports, receipts, refusals.

Real filesystem images (read-only, full, pulled out, FAT32) are in test_sticks.py.
"""

import csv
import hashlib
import io
import json
import os
import time
import subprocess
import sys

import pytest

from content_mirror.bundle import build
from server import health
from usb_updater.status import UsbStatus
from usb_updater.process import process_stick


def tree(root):
    """Every path under ROOT with its bytes, to prove nothing changed."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def test_not_a_sanduq_stick_is_left_untouched(box, settings, tmp_path):
    photos = tmp_path / "photos"
    (photos / "DCIM").mkdir(parents=True)
    (photos / "DCIM" / "cat.jpg").write_bytes(b"jpeg")
    before = tree(photos)
    assert process_stick(box, photos, settings) is None
    assert tree(photos) == before


def test_empty_sanduq_folder_just_collects_usage(box, settings, tmp_path):
    (tmp_path / "empty" / "sanduq").mkdir(parents=True)
    receipt = process_stick(box, tmp_path / "empty", settings)
    assert receipt.bundles == [] and receipt.ok
    assert (tmp_path / "empty" / "sanduq" / "exports" / box.device_id / "summary.csv").is_file()
    assert len(list((tmp_path / "empty" / "sanduq" / "receipts").iterdir())) == 1


def test_import_export_receipt_then_reinsert_is_a_no_op(box, settings, stick):
    receipt = process_stick(box, stick, settings)
    assert [(b.name, b.status, b.items) for b in receipt.bundles] == [("test-000001", "installed", 7)]
    assert box.catalog.count() == 7
    for sha, in box.catalog.db.execute("SELECT sha256 FROM files"):
        assert hashlib.sha256(box.store.path(sha).read_bytes()).hexdigest() == sha
    saved = json.loads(next((stick / "sanduq" / "receipts").iterdir()).read_text())
    assert saved["device_id"] == box.device_id and saved["bundles"][0]["status"] == "installed"
    assert saved["school"] == settings["school_name"]  # how sanduq-report names the box
    # The receipt says how far the box's clock could be trusted, against the bundle's signed build time.
    assert saved["clock"]["state"] in ("unconfirmed", "synced") and saved["clock"]["built"].endswith("Z")
    assert json.loads((box.data_dir / "clock.json").read_text()) == {"floor": saved["clock"]["built"]}
    assert UsbStatus.of(box, settings).read()["state"] == "done"
    again = process_stick(box, stick, settings)
    assert [b.status for b in again.bundles] == ["already installed"] and again.ok


def test_usage_goes_out_once_per_event_with_stable_ids(box, settings, stick):
    from server.usage import UsageLog

    log = UsageLog(box.data_dir / "usage.db", flush_seconds=0.01)
    log.record("opened", item="video-count", lang="tg")
    log.record("finished", item="video-count")
    log.record("search-empty", text="динозавр", lang="tg")
    log.record("saved", item="video-count", lang="tg")  # taken home on a phone
    log.close()
    process_stick(box, stick, settings)
    folder = stick / "sanduq" / "exports" / box.device_id
    (month_csv,) = folder.glob("usage-*.csv")  # this month's (usb_updater/export.py splits by month)
    first = month_csv.read_bytes()
    assert first.startswith(b"\xef\xbb\xbf")  # Excel reads the BOM as UTF-8
    rows = list(csv.DictReader(io.StringIO(first.decode("utf-8-sig"))))
    assert [r["type"] for r in rows] == ["opened", "finished", "search-empty", "saved"]
    assert rows[0]["title"] == "Counting to five" and rows[2]["search_text"] == "динозавр"
    statements = [json.loads(line) for line in month_csv.with_suffix(".jsonl").read_text().splitlines()]
    # A video: initialized and completed, as the xAPI Video Profile says (usb_updater/xapi.py).
    assert [s["verb"]["display"]["en-US"] for s in statements] == ["initialized", "completed", "searched", "downloaded"]
    assert statements[0]["id"].replace("-", "") == rows[0]["event_id"]
    assert statements[0]["actor"]["account"]["name"] == box.device_id  # the box, never a person
    assert statements[0]["object"]["id"] == "urn:sanduq:item:video-count"
    summary = list(csv.DictReader(io.StringIO((folder / "summary.csv").read_bytes().decode("utf-8-sig"))))
    assert summary == [{"device": box.device_id, "item": "video-count", "title_tg": "Ҳисоб то панҷ",
                        "title_ru": "Счёт до пяти", "title_en": "Counting to five", "kind": "video",
                        "opened": "1", "finished": "1", "last_opened": rows[0]["time"],
                        "saved": "1", "title_ky": "", "title_uz": "", "title_sr": "", "title_cnr": ""}]
    written = process_stick(box, stick, settings).exports  # the same stick again: nothing new to write
    assert [w["file"].rsplit("/", 1)[1] for w in written] == ["summary.csv"] and month_csv.read_bytes() == first


def bundle_dir(stick):
    return stick / "sanduq" / "bundles" / "test-000001"


def rewrite_manifest(stick, keys, change):
    """Change the manifest and sign it again with the trusted key: a hostile but signed bundle."""
    from content_mirror import minisign

    folder = bundle_dir(stick)
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest, folder)
    data = json.dumps(manifest).encode()
    (folder / "manifest.json").write_bytes(data)
    (folder / "manifest.json.minisig").write_text(
        minisign.sign(data, minisign.read_secret_key(keys / "sanduq.key")))


def first_payload(stick):
    return sorted((bundle_dir(stick) / "files").iterdir())[0]


HOSTILE = {
    "no signature": (lambda s, k: (bundle_dir(s) / "manifest.json.minisig").unlink(), "has no signature"),
    "manifest changed after signing": (
        lambda s, k: (bundle_dir(s) / "manifest.json").write_bytes((bundle_dir(s) / "manifest.json").read_bytes()[:-2] + b" }"),
        "does not match its contents"),
    "untrusted key": (lambda s, k: _sign_with_other_key(s, k), "which this box does not trust"),
    "payload changed": (lambda s, k: first_payload(s).write_bytes(first_payload(s).read_bytes() + b"x"),
                        "is not .* bytes long|does not match its SHA-256"),
    "payload missing": (lambda s, k: first_payload(s).unlink(), "is missing from the bundle"),
    "payload is a symlink": (lambda s, k: _replace(first_payload(s), lambda p: p.symlink_to("/etc/passwd")),
                             "is a link, not a file"),
    "payload is a FIFO": (lambda s, k: _replace(first_payload(s), lambda p: os.mkfifo(p)), "not a regular file"),
    "payload is a device": (lambda s, k: _replace(first_payload(s), lambda p: os.mknod(p, 0o600 | 0o020000, os.makedev(1, 3))),
                            "not a regular file"),
    "manifest is a symlink": (lambda s, k: _replace(bundle_dir(s) / "manifest.json", lambda p: p.symlink_to("/etc/passwd")),
                              "cannot be opened"),
    "huge manifest": (lambda s, k: (bundle_dir(s) / "manifest.json").write_bytes(b" " * (33 * 1024 * 1024)),
                      "larger than"),
    "signed nonsense": (lambda s, k: _sign_bytes(s, k, b"{not json"), "not valid JSON"),
    "signed deep nesting": (lambda s, k: _sign_bytes(s, k, b"[" * 100_000 + b"]" * 100_000), "not valid JSON|is not a JSON object"),
    "name not a hash": (lambda s, k: rewrite_manifest(s, k, _rename_file("../../../../tmp/evil")), "not a lowercase hex"),
    "uppercase hash": (lambda s, k: rewrite_manifest(s, k, _rename_file(None)), "not a lowercase hex"),
    "size lies": (lambda s, k: rewrite_manifest(s, k, _lie_about_size), "is not .* bytes long"),
    "html mime": (lambda s, k: rewrite_manifest(s, k, _html_mime), "not a type Sanduq serves"),
}


def _replace(path, make):
    path.unlink()
    make(path)


def _sign_with_other_key(stick, keys):
    from content_mirror import minisign

    minisign.keygen(keys.parent / "intruder")
    data = (bundle_dir(stick) / "manifest.json").read_bytes()
    (bundle_dir(stick) / "manifest.json.minisig").write_text(
        minisign.sign(data, minisign.read_secret_key(keys.parent / "intruder" / "sanduq.key")))


def _sign_bytes(stick, keys, data):
    from content_mirror import minisign

    (bundle_dir(stick) / "manifest.json").write_bytes(data)
    (bundle_dir(stick) / "manifest.json.minisig").write_text(minisign.sign(data, minisign.read_secret_key(keys / "sanduq.key")))


def _rename_file(new_name):
    def change(manifest, folder):
        sha = sorted(manifest["files"])[0]
        name = new_name or sha.upper()
        manifest["files"][name] = manifest["files"].pop(sha)
        for item in manifest["items"]:
            for ref in item.get("files", []):
                if ref["sha256"] == sha:
                    ref["sha256"] = name
    return change


def _lie_about_size(manifest, folder):
    sha = sorted(manifest["files"])[0]
    manifest["files"][sha]["size"] -= 1


def _html_mime(manifest, folder):
    manifest["files"][sorted(manifest["files"])[0]]["mime"] = "text/html"


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_bundles_are_refused_and_change_nothing(box, settings, stick, keys, tmp_path, attack):
    spoil, reason = HOSTILE[attack]
    spoil(stick, keys)
    before_store = sorted(p.name for p in box.store.root.rglob("*") if p.is_file())
    receipt = process_stick(box, stick, settings)
    [report] = receipt.bundles
    assert report.status == "refused", report
    import re

    assert re.search(reason, report.reason), report.reason
    assert box.catalog.count() == 0 and box.catalog.sequences() == {}
    assert sorted(p.name for p in box.store.root.rglob("*") if p.is_file()) == before_store
    assert not (tmp_path / "evil").exists() and not (box.data_dir.parent / "tmp" / "evil").exists()
    # The usage still goes out, and the receipt names the bundle and the reason.
    assert receipt.exports and "test-000001 refused: " in receipt.sentence()


def test_several_bundles_go_in_order_and_a_downgrade_is_refused(box, settings, source, keys, tmp_path):
    stick = tmp_path / "two"
    build(source, stick, keys / "sanduq.key", sequence=3, name="b-newer")
    build(source, stick, keys / "sanduq.key", sequence=2, name="a-older")
    receipt = process_stick(box, stick, settings)
    assert [(b.name, b.status) for b in receipt.bundles] == [("a-older", "installed"), ("b-newer", "installed")]
    old = tmp_path / "old"
    build(source, old, keys / "sanduq.key", sequence=1)
    receipt = process_stick(box, old, settings)
    assert receipt.bundles[0].status == "refused" and "older than the installed 3" in receipt.bundles[0].reason


def test_full_disk_is_refused_with_how_much(box, stick, keys):
    from server import settings as settings_table

    greedy = settings_table.load({"data_dir": str(box.data_dir), "disk_reserve_mb": 10**9}, env={})
    receipt = process_stick(box, stick, greedy)
    assert receipt.bundles[0].status == "refused"
    assert "MB free on the box" in receipt.bundles[0].reason and box.catalog.count() == 0


@pytest.mark.slow  # five runs of the command as a process
def test_command_exit_codes(box, stick, keys, tmp_path):
    def run(path):
        return subprocess.run([sys.executable, "-m", "usb_updater", "process", str(path), "--data-dir", str(box.data_dir)],
                              capture_output=True, text=True, timeout=120, env=dict(os.environ, SANDUQ_DISK_RESERVE_MB="0"))

    ok = run(stick)
    assert ok.returncode == 0 and "test-000001: installed" in ok.stdout
    first_payload(stick).unlink()
    build_again = tmp_path / "other"
    (build_again / "sanduq").mkdir(parents=True)
    assert run(build_again).returncode == 0
    (bundle_dir(stick) / "manifest.json.minisig").unlink()
    refused = run(stick)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "refused" in refused.stdout
    assert run(tmp_path / "no-such-folder").returncode != 0
    for command in ("process", "watch"):
        assert subprocess.run([sys.executable, "-m", "usb_updater", command, "--help"], capture_output=True).returncode == 0


def test_the_receipt_tells_what_the_box_needs_and_what_a_stick_restored(box, settings, stick):
    process_stick(box, stick, settings)
    sha = next(sha for sha, in box.catalog.db.execute("SELECT sha256 FROM files WHERE mime = 'video/mp4'"))
    path = box.store.path(sha)
    path.write_bytes(path.read_bytes()[:-1])  # a short file: found at the next look
    assert not box.store.intact(sha, box.catalog.file(sha)[0])
    assert {"code": "files-quarantined", "count": 1} in health.problems(box.data_dir)
    again = process_stick(box, stick, settings)  # the same stick carries the file: restored
    assert again.ok and again.bundles[0].status == "already installed" and again.bundles[0].files_copied == 1
    assert "1 damaged or lost file(s) restored" in again.sentence()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    saved = json.loads(max((stick / "sanduq" / "receipts").iterdir()).read_text())
    assert saved["problems"] == [] and health.problems(box.data_dir) == []  # restored: nothing to tell


def test_a_bundle_built_after_the_clocks_time_marks_the_usage_and_asks_for_the_clock_forward(box, settings, stick,
                                                                                             keys, tmp_path):
    """The box's clock is behind (a Pi restarted at the time it last saved): the bundle's signed
    build time is later than it reads. This boot's events are marked, the receipt says so, and
    root's sanduq-clock is asked (through a file: the daemon may not set the clock itself)."""
    from content_mirror import minisign
    from server.clock import Clock
    from server.usage import UsageLog

    log = UsageLog(box.data_dir / "usage.db", flush_seconds=0.01, clock=Clock(box.data_dir, ""))
    log.record("opened", item="video-count", lang="tg")
    log.close()
    folder = bundle_dir(stick)  # the same manifest, signed as built a day from now
    data = (folder / "manifest.json").read_bytes()
    built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86_400))
    (folder / "manifest.json.minisig").write_text(minisign.sign(
        data, minisign.read_secret_key(keys / "sanduq.key"), trusted_comment=f"sanduq channel:test sequence:1 built:{built}"))
    (tmp_path / "clock").mkdir()
    receipt = process_stick(box, stick, dict(settings, clock_request=str(tmp_path / "clock" / "forward")))
    assert receipt.clock == {"state": "behind", "built": built, "marked": 1, "asked_forward": True}
    assert (tmp_path / "clock" / "forward").read_text() == built
    (month,) = (stick / "sanduq" / "exports" / box.device_id).glob("usage-*.csv")
    assert month.read_text(encoding="utf-8-sig").splitlines()[1].endswith(",behind")
    # Where the box has no sanduq-clock (its folder is missing), nothing is made: the receipt says so.
    again = process_stick(box, stick, dict(settings, clock_request=str(tmp_path / "none" / "forward")))
    assert again.clock["asked_forward"] is False and not (tmp_path / "none").exists()
