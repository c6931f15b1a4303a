"""The daemon end to end, in a private mount namespace, with the web server running:
a stick is mounted -> imported -> usage exported -> receipt -> unmounted, the site shows the
new items, and a teacher's photo stick mounted beside it is left alone."""

import json
import socket
import sys
from shlex import quote

import pytest

from content_mirror.bundle import build
from tests.helpers import folder_files, write_source
from tests.usb_updater.sticks import make_image, need_namespace, run_in_namespace

pytestmark = pytest.mark.system  # real stick images mounted in a namespace

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_daemon_mount_import_export_receipt_unmount(tmp_path, box, keys):
    need_namespace("ext4", "fat32")
    staging = tmp_path / "staging"
    build(write_source(tmp_path / "source"), staging, keys / "sanduq.key")
    content = make_image(tmp_path / "content.img", "fat32", 40, folder_files(staging))
    photos = make_image(tmp_path / "photos.img", "ext4", 8, {"DCIM/cat.jpg": b"jpeg"})
    root, port, py = tmp_path / "sticks", free_port(), quote(sys.executable)
    data = quote(str(box.data_dir))
    result = run_in_namespace(f"""
root={quote(str(root))}; mkdir -p $root/photos $root/content
export SANDUQ_DATA_DIR={data} SANDUQ_OWN_MOUNT_ROOT=$root SANDUQ_DISK_RESERVE_MB=0 SANDUQ_MDNS=false
{py} -m server --host 127.0.0.1 --port {port} > {quote(str(tmp_path / 'server.log'))} 2>&1 &
server=$!
{py} -m usb_updater watch --mount-root $root > {quote(str(tmp_path / 'daemon.log'))} 2>&1 &
daemon=$!
wait_for_line {quote(str(tmp_path / 'server.log'))} 'serving at' 20
wait_for_line {quote(str(tmp_path / 'daemon.log'))} 'watching for sticks' 20
mount_stick {quote(str(photos))} $root/photos
mount_stick {quote(str(content))} $root/content
# The daemon unmounts what it is done with; fusefat then exits.
wait_until 60 sh -c '! mountpoint -q '$root/content
unset "FUSE_PIDS[$root/content]"
{py} -c "import urllib.request, json; print('ITEMS', json.load(urllib.request.urlopen('http://127.0.0.1:{port}/api/items'))['total'])"
{py} -c "import urllib.request; print('BANNER', 'safe to remove' in urllib.request.urlopen('http://127.0.0.1:{port}/?lang=en').read().decode())"
mountpoint -q $root/photos && echo PHOTOS-STILL-MOUNTED
ls $root/photos/DCIM
mount_stick {quote(str(content))} $root/content
echo RECEIPTS $(ls $root/content/sanduq/receipts | wc -l)
echo EXPORT $(ls $root/content/sanduq/exports/*/summary.csv | wc -l)
unmount_stick $root/content
unmount_stick $root/photos
kill -TERM $daemon $server
wait $daemon || true
wait $server || true
""", timeout=180)
    logs = (tmp_path / "daemon.log").read_text()
    assert result.returncode == 0, result.stdout + result.stderr + logs
    out = result.stdout
    assert "ITEMS 7" in out and "BANNER True" in out
    assert "PHOTOS-STILL-MOUNTED" in out and "cat.jpg" in out  # the photo stick: untouched, left mounted
    assert "RECEIPTS 1" in out and "EXPORT 1" in out
    assert "has no sanduq folder: left alone" in logs
    receipts = json.loads(next((box.data_dir / "receipts").iterdir()).read_text())
    assert receipts["bundles"][0]["status"] == "installed"
