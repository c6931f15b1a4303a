"""Making videos fit for phones (content_mirror/video.py) against the same ffmpeg alone.

    python3 bench/video.py [--quick]

Makes a test video that needs encoding (640x480 MPEG-4 Part 2 with MP3 sound, 60 s; 6 s with
--quick) and one that only needs its index moved (H.264 + AAC, index at the end), then times
video.fit (ffprobe, the plan, ffmpeg, hashing) against the bare ffmpeg command it runs, in the
same run, alternating, and prints the ratios and this process's peak memory (ffmpeg's own is
the tool's, as it would be without us). The issue's goal: at most 10% over the bare tool.
"""

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from content_mirror import video

RESULTS = Path(__file__).parent / "results-video.md"


def make(path: Path, seconds: int, *options: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds), *options, str(path)],
                   check=True, capture_output=True)
    return path


def timed(run) -> float:
    began = time.monotonic()
    run()
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    quick = parser.parse_args().quick
    if not shutil.which("ffmpeg"):
        sys.exit("ffmpeg is not installed: apt-get install ffmpeg")
    seconds, rounds, limits = (6, 1, video.Limits()) if quick else (60, 7, video.Limits())
    rows = []
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        tmp = Path(tmp)
        cases = {
            "encode": (make(tmp / "old.mp4", seconds, "-c:v", "mpeg4", "-q:v", "4", "-c:a", "libmp3lame"),
                       video.encode_args(limits)),
            "remux": (make(tmp / "tail.mp4", seconds, "-c:v", "libx264", "-preset", "veryfast", "-b:v", "800k",
                           "-c:a", "aac"), ["-c", "copy", "-movflags", "+faststart"]),
        }
        for name, (source, args) in cases.items():
            ours, bare = [], []
            for n in range(rounds):
                cache = tmp / f"cache-{name}-{n}"
                ours.append(timed(lambda: video.fit(source, cache, limits)))
                out = tmp / f"bare-{name}-{n}.mp4"
                bare.append(timed(lambda: subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source),
                                                          *args, str(out)], check=True)))
            best_ours, best_bare = min(ours), min(bare)
            rows.append((name, seconds, best_ours, best_bare, best_ours / best_bare))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = ["| case (video of N s) | video.fit | same ffmpeg alone | ratio | goal |", "|---|---|---|---|---|"]
    lines += [f"| {name} ({length} s, 640x480) | {ours:.2f} s | {bare:.2f} s | {ratio:.2f} | ≤ 1.10 |"
              for name, length, ours, bare, ratio in rows]
    lines.append(f"\nPeak memory of the building process: {peak:.0f} MB (goal: under 150 MB).")
    text = "\n".join(lines)
    print(text)
    if not quick:
        RESULTS.write_text(f"Made by `python3 bench/video.py`, best of {rounds} rounds.\n\n{text}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
