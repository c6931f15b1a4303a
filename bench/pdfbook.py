"""A PDF storybook made into a picture book (`sanduq-mirror import-pdf`) against poppler's own
tools alone on the same PDF, in the same run, and the peak memory of each.

    python3 bench/pdfbook.py [--quick] [--rounds N]

Makes storybook PDFs with rsvg-convert (a spread a page, 842 x 595 pt, two lines of Tajik and
Russian under a picture): "photographs" carry a 1,800 x 1,275 photo-like picture on every page
(5 MB a page: cairo stores it losslessly, as many exported PDFs do) and "drawings" 150 shapes
with gradients (vector art, slow to draw, small to store). Then, taking turns, the whole
command in a fresh Python (startup, pdfinfo, pdftotext, pdftoppm watched page by page, the PDF
copied, every file fsynced, the sheets written) against `pdftotext` then `pdftoppm` over the
same pages with the same options, the fastest way those tools make the same pictures and
words. Wall time and CPU time (user + system, the process and all it ran) both: this shared
machine's neighbours move wall times by a tenth from one run to the next, CPU times much less.
The issue's goals: at most 10% over the tools, and under 150 MB of memory whatever the PDF's
size. Last, `sanduq-mirror build` of the largest result onto a folder, and its memory.
"""

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from content_mirror.pdfbook import JPEG_OPTIONS, LONG_SIDE

RESULTS = Path(__file__).parent / "results-pdfbook.md"
TOOLS = ("rsvg-convert", "pdfinfo", "pdftotext", "pdftoppm")
# The import as the content team runs it, in a fresh Python; it prints its own peak and its tools'.
IMPORT = """
import json, resource, sys
from content_mirror.cli import main
code = main(["import-pdf", sys.argv[1], sys.argv[2], "--id", "story", "--lang", "ru"])
peak = lambda who: resource.getrusage(who).ru_maxrss / 1024
print(json.dumps([code, peak(resource.RUSAGE_SELF), peak(resource.RUSAGE_CHILDREN)]))
"""
FLOOR = ('pdftotext -enc UTF-8 -cropbox "$1" "$2/text.txt" && '
         f'pdftoppm -cropbox -jpeg -jpegopt {JPEG_OPTIONS} -scale-to {LONG_SIDE} "$1" "$2/page"')
TEXT = ('<text x="40" y="530" font-family="DejaVu Sans" font-size="24">Саҳифаи {n}. Гурбача дар боғ бозӣ мекунад.</text>'
        '<text x="40" y="565" font-family="DejaVu Sans" font-size="24">Страница {n}. Котёнок играет в саду.</text>')


def photo(folder: Path, width: int) -> Path:
    """A photo-like picture (turbulence under a gradient), drawn once by rsvg-convert."""
    height = width * 17 // 24
    svg = folder / "photo.svg"
    svg.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"><defs>'
                   '<radialGradient id="g"><stop offset="0" stop-color="#fef08a"/><stop offset="1" stop-color="#1e3a8a"/>'
                   '</radialGradient><filter id="n"><feTurbulence baseFrequency="0.02" numOctaves="4" seed="3"/>'
                   '<feColorMatrix type="saturate" values="2"/></filter></defs>'
                   f'<rect width="{width}" height="{height}" fill="url(#g)"/>'
                   f'<rect width="{width}" height="{height}" filter="url(#n)" opacity="0.6"/></svg>')
    subprocess.run(["rsvg-convert", "-f", "png", "-o", str(folder / "photo.png"), str(svg)], check=True)
    return folder / "photo.png"


def storybook(folder: Path, kind: str, pages: int, picture: Path) -> Path:
    """A PDF of PAGES spreads of KIND ("photographs" or "drawings"), each page different."""
    svgs = []
    for n in range(1, pages + 1):
        rng = random.Random(n)
        if kind == "photographs":
            art = (f'<image width="842" height="470" href="{picture.name}" preserveAspectRatio="xMidYMid slice"/>'
                   f'<circle cx="{rng.uniform(100, 740):.0f}" cy="235" r="80" fill="#dc2626" opacity="0.8"/>')
        else:
            gradients = "".join(f'<radialGradient id="g{g}"><stop offset="0" stop-color="#{rng.getrandbits(24):06x}"/>'
                                f'<stop offset="1" stop-color="#{rng.getrandbits(24):06x}"/></radialGradient>'
                                for g in range(4))
            shapes = []
            for k in range(150):
                x, y, r = rng.uniform(0, 842), rng.uniform(0, 470), rng.uniform(8, 90)
                if k % 2:
                    points = " ".join(f"{x + rng.uniform(-r, r):.1f},{y + rng.uniform(-r, r):.1f}" for _ in range(6))
                    shapes.append(f'<polygon points="{points}" fill="#{rng.getrandbits(24):06x}" stroke="#222"/>')
                else:
                    shapes.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="url(#g{k % 4})" opacity="0.8"/>')
            art = f"<defs>{gradients}</defs>" + "".join(shapes)
        svg = folder / f"{kind}-{n:03d}.svg"
        svg.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="842" height="595">'
                       f'<rect width="842" height="595" fill="#fffbea"/>{art}{TEXT.format(n=n)}</svg>', encoding="utf-8")
        svgs.append(str(svg))
    pdf = folder / f"{kind}-{pages}.pdf"
    subprocess.run(["rsvg-convert", "-f", "pdf", "-o", str(pdf), *svgs], check=True, cwd=folder)
    for svg in svgs:
        os.unlink(svg)
    return pdf


def measure(command: list[str], output: Path) -> tuple[float, float, float, str]:
    """(seconds, CPU seconds, peak RSS in MB of the command and all it ran, what it printed)."""
    with output.open("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, env=dict(os.environ, PYTHONPATH=str(_project.REPO)))
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        printed = out.read()
    if proc.returncode != 0:
        sys.exit(f"{command[:3]} failed: {printed[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, printed


def compare(pdf: Path, pages: int, rounds: int, work: Path) -> dict:
    ours, floor, ours_cpu, floor_cpu, own_peak, tools_peak, floor_peak = [], [], [], [], 0.0, 0.0, 0.0
    for n in range(rounds):
        source, out = work / f"source-{n}", work / f"floor-{n}"
        out.mkdir()
        seconds, cpu, _, printed = measure([sys.executable, "-c", IMPORT, str(pdf), str(source)], work / "out.txt")
        code, own, tools = json.loads(printed.splitlines()[-1])
        drawn = len(list((source / "media" / "books" / "story").glob("page-*.jpg")))
        assert code == 0 and drawn == pages, (code, drawn)
        ours.append(seconds)
        ours_cpu.append(cpu)
        own_peak, tools_peak = max(own_peak, own), max(tools_peak, tools)
        seconds, cpu, peak, _ = measure(["sh", "-c", FLOOR, "sh", str(pdf), str(out)], work / "out.txt")
        floor.append(seconds)
        floor_cpu.append(cpu)
        floor_peak = max(floor_peak, peak)
        assert len(list(out.glob("page-*.jpg"))) == pages
        if n < rounds - 1:
            shutil.rmtree(source)
        shutil.rmtree(out)
    return {"ours": statistics.median(ours), "floor": statistics.median(floor),
            "ours_cpu": statistics.median(ours_cpu), "floor_cpu": statistics.median(floor_cpu), "own_peak": own_peak,
            "tools_peak": tools_peak, "floor_peak": floor_peak, "source": work / f"source-{rounds - 1}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of seconds: 3 pages, one round")
    parser.add_argument("--rounds", type=int, default=5, help="turns each side takes (default 5; the median counts)")
    args = parser.parse_args()
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        sys.exit(f"{', '.join(missing)} missing: ./install.sh --dev installs poppler-utils and librsvg2-bin.")
    rounds = 1 if args.quick else args.rounds
    books = [("photographs", 3), ("drawings", 3)] if args.quick else [
        ("photographs", 10), ("photographs", 40), ("drawings", 20)]
    table = [f"PDF storybook to picture book: the import against pdftotext + pdftoppm alone, same options "
             f"({LONG_SIDE} px, JPEG {JPEG_OPTIONS}), median of {rounds}, page cache warm, {os.cpu_count()} cores", "",
             "| book | pages | PDF | Sanduq import, s (CPU s) | pdftotext + pdftoppm, s (CPU s) | ratio (CPU) | "
             "peak RSS: the import's Python | its tools | the tools alone |",
             "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        tmp = Path(tmp)
        picture = photo(tmp, 600 if args.quick else 1800)
        largest = None
        for kind, pages in books:
            print(f"making and importing {pages} pages of {kind}", file=sys.stderr)
            work = tmp / f"{kind}-{pages}"
            work.mkdir()
            pdf = storybook(tmp, kind, pages, picture)
            r = compare(pdf, pages, rounds, work)
            table.append(f"| {kind} | {pages} | {pdf.stat().st_size / 1e6:,.1f} MB | {r['ours']:.2f} ({r['ours_cpu']:.2f}) | "
                         f"{r['floor']:.2f} ({r['floor_cpu']:.2f}) | {r['ours'] / r['floor']:.3f} "
                         f"({r['ours_cpu'] / r['floor_cpu']:.3f}) | {r['own_peak']:.0f} MB | "
                         f"{r['tools_peak']:.0f} MB | {r['floor_peak']:.0f} MB |")
            if largest is None or pdf.stat().st_size > largest[0]:
                largest = (pdf.stat().st_size, r["source"], pages, kind)
        _, source, pages, kind = largest
        subprocess.run([sys.executable, "-m", "content_mirror", "keygen", str(tmp / "keys")], check=True,
                       stdout=subprocess.DEVNULL)
        seconds, _, peak, _ = measure([sys.executable, "-m", "content_mirror", "build", str(source), str(tmp / "stick"),
                                    "--key", str(tmp / "keys" / "sanduq.key")], tmp / "out.txt")
        table += ["", f"Then `sanduq-mirror build` of the {pages} pages of {kind} onto a folder: "
                      f"{seconds:.2f} s, peak RSS {peak:.0f} MB.", "",
                  "A process's peak RSS as Linux counts it starts from its parent's size when it was started, "
                  "so the tools' figures are at most that: the bench's Python started the tools alone, the "
                  "import's Python its own."]
    text = "\n".join(table)
    print(text)
    if not args.quick:
        RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
