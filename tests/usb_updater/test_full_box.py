"""A box whose own card is full: the stick still gets the usage and a receipt, the officer
still reads what happened, and the update is refused with how much space it needs.

The box's data folder is a real, small ext4 image filled to the last block, mounted inside a
private mount namespace; the status folder is a tmpfs there, as /run is on a box.
"""

import json
import sys
from shlex import quote

import pytest

from server.usage import UsageLog
from tests.helpers import folder_files
from tests.usb_updater.sticks import make_image, need_namespace, run_in_namespace

pytestmark = pytest.mark.system  # a full ext4 card and stick images mounted in a namespace

PROCESS = f"{quote(sys.executable)} -m usb_updater process"


def test_a_full_box_still_writes_usage_and_a_receipt_onto_the_stick(tmp_path, box, stick):
    need_namespace("ext4")
    usage = UsageLog(box.data_dir / "usage.db", flush_seconds=0.01)
    for n in range(25):
        usage.record("search-empty", text=f"сказка {n}", lang="tg")
    usage.close()
    box.catalog.close()
    folders = {f"{d.relative_to(box.data_dir)}/": b"" for d in box.data_dir.rglob("*") if d.is_dir()}
    image = make_image(tmp_path / "box.img", "ext4", 16, {**folders, **folder_files(box.data_dir)}, label="BOX")
    data, run = tmp_path / "data", tmp_path / "ram"
    result = run_in_namespace(f"""
mkdir -p {data} {run}
mount -o loop {quote(str(image))} {data}
mount -t tmpfs -o size=1m tmpfs {run}
# Fill the card to the last byte (root may use ext4's reserved blocks too).
for bs in 64k 4k 1; do dd if=/dev/zero of={data}/filler-$bs bs=$bs 2>/dev/null || true; done
df -k {data} | tail -1 >&2
SANDUQ_STATUS_DIR={run} SANDUQ_DISK_RESERVE_MB=0 {PROCESS} {quote(str(stick))} --data-dir {data} && echo "exit 0" || echo "exit $?"
echo "STATUS $(cat {run}/usb-status-*.json)"
""", timeout=120)
    out = result.stdout
    assert "STATUS {" in out, result.stderr
    # The update cannot fit: refused with how much it needs, never an ENOSPC traceback.
    assert "exit 0" not in out and "Traceback" not in result.stderr
    assert "test-000001: refused" in out and "MB free on the box" in out
    status = json.loads(out.split("STATUS ", 1)[1])
    assert status["state"] == "failed" and "MB free on the box" in status["message"]
    # The stick got the usage and the receipt all the same.
    exports = next((stick / "sanduq" / "exports").iterdir())
    (month,) = exports.glob("usage-*.csv")  # this month's: the export is split by month
    rows = month.read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 26 and "сказка 24" in "\n".join(rows)
    receipt = json.loads(next((stick / "sanduq" / "receipts").iterdir()).read_text())
    assert receipt["bundles"][0]["status"] == "refused" and receipt["export_problem"] is None
    assert status["receipt"]["started"] == receipt["started"]  # the status page can show it
