"""The store's background check at full speed against sha256sum over the same files.

    python3 bench/scrub.py [--quick]

Writes a store of random files (3 GB; 200 MB with --quick), drops the page cache before each
run (root only: `echo 3 > /proc/sys/vm/drop_caches`), hashes the store with the scrubber's
own code (rate limit off), then with coreutils' sha256sum, and prints MB/s and the ratio, plus
how long a 30 GB store takes at the default rate (scrub_mb_per_second).
"""

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from server.scrub import scrub_pass
from server.settings import BY_NAME
from server.store import ContentStore

RESULTS = Path(__file__).parent / "results-scrub.md"


def make_store(root: Path, total_mb: int, file_mb: int) -> ContentStore:
    store = ContentStore(root)
    for _ in range(total_mb // file_mb):
        data = os.urandom(file_mb * 1024 * 1024)
        sha = hashlib.sha256(data).hexdigest()
        store.path(sha).parent.mkdir(exist_ok=True)
        store.path(sha).write_bytes(data)
    return store


def drop_caches() -> str:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return "cold"
    except OSError:
        return "warm (not root: page cache not dropped)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    quick = parser.parse_args().quick
    total_mb = 200 if quick else 3072
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        store = make_store(Path(tmp) / "store", total_mb, 20 if quick else 64)
        files = [str(store.path(sha)) for sha in store]
        cache = drop_caches()
        began = time.monotonic()
        failed = scrub_pass(store, mb_per_second=None, stop=threading.Event())
        ours = total_mb / (time.monotonic() - began)
        assert not failed, "the scrubber quarantined sound files"
        drop_caches()
        began = time.monotonic()
        subprocess.run(["sha256sum", *files], check=True, stdout=subprocess.DEVNULL)
        theirs = total_mb / (time.monotonic() - began)
    rate = BY_NAME["scrub_mb_per_second"].default
    hours = 30 * 1024 / rate / 3600
    table = "\n".join([
        f"Store check, {total_mb} MB of random files, page cache {cache}, {os.cpu_count()} cores",
        "",
        "| measure | Sanduq scrubber | sha256sum | ratio |",
        "|---|---|---|---|",
        f"| full-speed hashing, MB/s | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f} |",
        f"| 30 GB store at the default {rate:g} MB/s | {hours:.1f} h | | |",
    ])
    print(table)
    if not quick:
        RESULTS.write_text(table + "\n")


if __name__ == "__main__":
    sys.exit(main())
