"""Take-home files made at build time (content_mirror/takehome.py) against the bare commands
they come down to, in the same run: a picture book made into a video, a tip made into a card.

    python3 bench/takehome.py [--quick] [--rounds N]

Makes an authoring folder beside this script: a 10-page book in Russian (a drawing and two
seconds of narration a page) and a tip. First, untimed, the real take-home build runs once
with every command it gives rsvg-convert and ffmpeg recorded, with their inputs; those
commands, and the ffprobe that reads each narration's length, run one after another by a
plain loop, are the floor: the tools' own time. Then,
taking turns, each in a fresh Python and timed inside it: the floor, and add_takehome into an
empty cache (reading the folder, probing the narration, drawing the SVG, the same commands,
hashing the results). The median of the rounds. The issue's goal: at most 10% over the tools.
Also the size of the video per page and of a card, and the build's peak memory.
"""

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results-takehome.md"
PAGES = 10
# Each child prints [seconds of the work, files made]; the bench reads its peak RSS from wait4.
OURS = """
import json, sys, time
from pathlib import Path
from content_mirror.authoring import read_source
from content_mirror.takehome import add_takehome
source = read_source(sys.argv[1])
started = time.perf_counter()
made = []
add_takehome(source, sys.argv[1], cache=Path(sys.argv[2]), report=made.append)
print(json.dumps([time.perf_counter() - started, len(made)]))
"""
FLOOR = """
import json, subprocess, sys, time
commands = json.load(open(sys.argv[1]))
started = time.perf_counter()
for command in commands:
    subprocess.run(command, capture_output=True, check=True)
print(json.dumps([time.perf_counter() - started, len(commands)]))
"""
RECORD = """
import json, shutil, sys
from pathlib import Path
from content_mirror import takehome
from content_mirror.authoring import read_source
source, cache, floor = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
commands, real = [], takehome._run

def run(command, what, timeout):
    real(command, what, timeout)
    mapped = []
    for arg in command:  # the build's scratch folder, kept whole for the floor (the page list names its files)
        if arg.startswith(str(cache)):
            scratch = Path(arg).parent
            shutil.copytree(scratch, floor / scratch.name, dirs_exist_ok=True)
            arg = str(floor / scratch.name / Path(arg).name)
        mapped.append(arg)
    commands.append(mapped)

real_probe = takehome.probe

def probe(path, fmt=None):  # ffprobe is a tool the floor runs too: a page lasts as long as its narration
    commands.append(["ffprobe", "-v", "error", "-protocol_whitelist", "file", *(["-f", fmt] if fmt else []),
                     "-print_format", "json", "-show_format", "-show_streams", str(path)])
    return real_probe(path, fmt)

takehome._run, takehome.probe = run, probe
takehome.add_takehome(read_source(source), source, cache=cache, report=lambda _: None)
json.dump(commands, open(floor / "commands.json", "w"))
"""


def make_source(folder: Path, pages: int) -> None:
    (folder / "media").mkdir(parents=True)
    rows = []
    for n in range(1, pages + 1):
        (folder / "media" / f"p{n}.svg").write_text(
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300"><rect width="400" height="300" '
            f'fill="hsl({n * 36},60%,80%)"/><circle cx="{40 * n}" cy="150" r="60" fill="hsl({n * 36},70%,40%)"/>'
            f'<text x="200" y="280" font-size="40" text-anchor="middle">{n}</text></svg>')
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={300 + 40 * n}:duration=2",
                        "-ac", "1", "-ar", "22050", "-b:a", "32k", str(folder / "media" / f"p{n}.mp3")], check=True)
        rows.append(f"book-bench,{n},media/p{n}.svg,Страница {n}: Рустам считает яблоки в саду у бабушки.,"
                    f"media/p{n}.mp3")
    (folder / "pages.csv").write_text("book,page,picture,text_ru,narration_ru\n" + "\n".join(rows) + "\n",
                                      encoding="utf-8")
    steps = "\n".join(f"Шаг {n}: вместе с ребёнком назовите цвета вещей, которые видите." for n in range(1, 7))
    (folder / "items.csv").write_text(
        "id,kind,languages,audiences,title_ru,text_ru,steps_ru\n"
        "book-bench,book,ru,children,Яблоки,,\n"
        f'tip-bench,tip,ru,parents,Цвета вокруг нас,Говорите с ребёнком о цветах каждый день.,"{steps}"\n',
        encoding="utf-8")


def run(code: str, *args: str) -> tuple[float, float]:
    """(seconds of the work as the child timed it, its peak RSS in MB)."""
    printed, peak = _project.run_python(code, *args)
    return printed[0], peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: a 3-page book, one round")
    parser.add_argument("--rounds", type=int, default=5, help="turns each side takes (default 5; the median counts)")
    args = parser.parse_args()
    rounds, pages = (1, 3) if args.quick else (args.rounds, PAGES)
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        tmp = Path(tmp)
        source, floor = tmp / "source", tmp / "floor"
        make_source(source, pages)
        floor.mkdir()
        run(RECORD + "\nprint('[0, 0]')", str(source), str(tmp / "recorded"), str(floor))
        made = sorted((tmp / "recorded").iterdir())
        video = next(p for p in made if p.suffix == ".mp4").stat().st_size
        card = next(p for p in made if p.suffix == ".jpg").stat().st_size
        times: dict[str, list[float]] = {"floor": [], "ours": []}
        peak = 0.0
        for n in range(rounds):
            print(f"round {n + 1} of {rounds}", file=sys.stderr)
            for side in (("floor", "ours") if n % 2 == 0 else ("ours", "floor")):
                if side == "floor":
                    seconds, _ = run(FLOOR, str(floor / "commands.json"))
                else:
                    seconds, rss = run(OURS, str(source), str(tmp / f"cache-{n}"))
                    peak = max(peak, rss)
                times[side].append(seconds)
    floor_s, ours_s = statistics.median(times["floor"]), statistics.median(times["ours"])
    lines = [
        f"Take-home files: a {pages}-page book (2 s of narration a page, 854x480) and a tip card "
        f"(1080 px wide), one language; median of {rounds} rounds.",
        "",
        "| what | seconds | ratio to the tools alone |",
        "|---|---|---|",
        f"| rsvg-convert, ffprobe and ffmpeg alone (the same commands) | {floor_s:.2f} | 1.00 |",
        f"| add_takehome (read, probe, draw, the commands, hash) | {ours_s:.2f} | {ours_s / floor_s:.2f} |",
        "",
        "| file | size |",
        "|---|---|",
        f"| book video, per page | {video / pages / 1000:.0f} KB |",
        f"| book video, 10 pages at this rate | {video / pages * 10 / 1e6:.2f} MB |",
        f"| tip card (JPEG) | {card / 1000:.0f} KB |",
        f"| peak memory of the build (ffmpeg's, the largest process) | {peak:.0f} MB |",
    ]
    print("\n".join(lines))
    if not args.quick:
        RESULTS.write_text("\n".join(lines) + "\n\nMade by `python3 bench/takehome.py`.\n", encoding="utf-8")


if __name__ == "__main__":
    main()
