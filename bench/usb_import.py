"""Importing from a stick against a plain copy, measured in one run on this machine.

    python3 bench/usb_import.py [--mb 2048] [--files 200] [--rounds 3] [--quick]

Builds a signed bundle of FILES files (MB in all) on an ext4 stick image, then, inside a
private mount namespace (the image is mounted read-only through the loop device), times in
turn, with the page cache dropped before each:
  - the reference: `cp -r` of the payload folder, then `sha256sum -c` of the copies;
  - Sanduq: `sanduq-usb process` into an empty library (hashing while copying, fsync, the
    catalog switch), and its peak memory.
Prints the medians and the ratio, and writes bench/results-usb.md. Needs root (mount).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

from content_mirror import minisign  # noqa: E402
from content_mirror.bundle import build  # noqa: E402

INNER = r"""
set -euo pipefail
img=$1 mnt=$2 work=$3 py=$4 rounds=$5
mkdir -p "$mnt"; mount -o loop,ro "$img" "$mnt"
files=$(echo "$mnt"/sanduq/bundles/*/files)
(cd "$files" && for f in *; do echo "$f  $f"; done) > "$work/sums"
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
for r in $(seq "$rounds"); do
  rm -rf "$work/copy" "$work/box"; mkdir -p "$work/box/trusted-keys"; cp "$work/sanduq.pub" "$work/box/trusted-keys/"
  drop; s=$(date +%s.%N)
  cp -r "$files" "$work/copy" && (cd "$work/copy" && sha256sum --quiet -c "$work/sums")
  e=$(date +%s.%N); echo "reference $(echo "$e - $s" | bc)"
  drop; s=$(date +%s.%N)
  "$py" -c "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); print('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)" \
      "$py" -m usb_updater process "$mnt" --data-dir "$work/box" > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
  e=$(date +%s.%N); echo "sanduq $(echo "$e - $s" | bc) $(grep peak_kb "$work/out")"
done
umount "$mnt"
"""


def make_stick(work: Path, mb: int, files: int) -> Path:
    """A signed bundle of FILES random files of MB/FILES each, on an ext4 image."""
    source = work / "source"
    (source / "media").mkdir(parents=True)
    size = mb * 1024 * 1024 // files
    rows = ["id,kind,audiences,title_en,file"]
    for n in range(files):
        with (source / "media" / f"v{n:03d}.mp4").open("wb") as f:
            f.write(os.urandom(size))
        rows.append(f"video-{n:03d},video,children,Video {n},media/v{n:03d}.mp4")
    (source / "items.csv").write_text("\n".join(rows) + "\n")
    (source / "library.toml").write_text('channel = "bench"\n')
    minisign.keygen(work / "keys")
    shutil.copy(work / "keys" / "sanduq.pub", work / "sanduq.pub")
    stick = work / "stick"
    build(source, stick, work / "keys" / "sanduq.key")
    shutil.rmtree(source)
    image = work / "stick.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(stick), str(image), f"{mb + mb // 8 + 64}M"], check=True)
    shutil.rmtree(stick)
    return image


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=2048)
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true",
                   help="a smoke run of a few seconds (64 MB in 8 files, 1 round); writes no results file")
    args = p.parse_args()
    if args.quick:
        args.mb, args.files, args.rounds = 64, 8, 1
    for tool in ("mkfs.ext4", "unshare", "sha256sum", "bc"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install e2fsprogs util-linux coreutils bc")
    work = Path(tempfile.mkdtemp(prefix="sanduq-usb-bench-", dir="/var/tmp"))
    try:
        started = time.monotonic()
        image = make_stick(work, args.mb, args.files)
        print(f"[bench] stick of {args.mb} MB in {args.files} files made in {time.monotonic() - started:.0f} s",
              file=sys.stderr)
        out = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", INNER, "inner",
                              str(image), str(work / "mnt"), str(work), sys.executable, str(args.rounds)],
                             capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO),
                                                                      SANDUQ_DISK_RESERVE_MB="0"))
        if out.returncode:
            sys.exit(f"the measurement failed:\n{out.stdout}\n{out.stderr}")
        reference = [float(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("reference")]
        sanduq = [float(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("sanduq")]
        peak = max(int(line.split()[-1]) for line in out.stdout.splitlines() if line.startswith("sanduq"))
        ref, ours = statistics.median(reference), statistics.median(sanduq)
        rows = [
            ("Import of {mb} MB in {files} files from an ext4 stick".format(mb=args.mb, files=args.files),
             f"{ours:.1f} s ({args.mb / ours:.0f} MB/s)", f"cp -r + sha256sum -c: {ref:.1f} s",
             f"{ours / ref:.2f}", "≤ 1.0", "yes" if ours <= ref else "**NO**"),
            ("Peak memory of sanduq-usb process", f"{peak / 1024:.0f} MB", "–", "–", "≤ 60 MB",
             "yes" if peak / 1024 <= 60 else "**NO**"),
        ]
        table = ["| Benchmark | Sanduq | Reference | Sanduq/ref | Goal | Met |", "|---|---|---|---|---|---|"]
        table += ["| " + " | ".join(r) + " |" for r in rows]
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        text = (f"# USB import benchmark\n\nRun {stamp}; medians of {args.rounds} rounds, page cache dropped "
                f"before each; rounds: reference {reference}, Sanduq {sanduq}.\n\n" + "\n".join(table) +
                f"\n\nCommand: `python3 bench/usb_import.py --mb {args.mb} --files {args.files} --rounds {args.rounds}`\n")
        if not args.quick:
            (HERE / "results-usb.md").write_text(text)
            (HERE / "results-usb.json").write_text(json.dumps({"reference_s": reference, "sanduq_s": sanduq,
                                                               "peak_kb": peak, "mb": args.mb, "files": args.files}))
        print(text)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
