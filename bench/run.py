"""Sanduq against reference servers, measured in one run on this machine.

    python3 bench/run.py [--items 10000] [--seconds 10] [--quick]

Starts sanduq-server on a synthetic library (bench/make_library.py), kiwix-serve on a ZIM
of the same items (bench/zim.py) and nginx on the same video file, all on 127.0.0.1, loads
each with wrk (bench/load.py), and prints a table of Sanduq's figures, the reference's and
their ratio, with the goals. The same goes to bench/results.md and bench/results.json
(results-quick.* for --quick). Progress goes to stderr; every server started is stopped
at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)
import load
import zim
from make_library import ensure_library
from servers import (BenchError, Processes, Server, ensure_tools, free_port, kiwix_command,
                     nginx_command, sanduq_command, sanduq_env)

HERE = Path(__file__).resolve().parent
MB = 2**20
CACHE_FILL_PAGES = 512


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark Sanduq against kiwix-serve and nginx on this machine.")
    p.add_argument("--items", type=int, help="items in the synthetic library (default 10000; --quick 1000)")
    p.add_argument("--seconds", type=float, help="seconds of load per measurement (default 10; --quick 3)")
    p.add_argument("--video-mb", type=int, help="size of the streamed video in MB (default 200; --quick 50)")
    p.add_argument("--rounds", type=int, help="rounds of each comparison, servers taking turns; the median "
                                              "round is reported (default 3; --quick 1)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 1,000 items, 3 s per test, 50 MB video")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2: this machine has 2 cores)")
    p.add_argument("--connections", type=int, default=50, help="wrk connections for pages and search (default 50)")
    p.add_argument("--streams", type=int, default=20, help="concurrent video streams (default 20)")
    p.add_argument("--cache-dir", type=Path, default=Path("/var/tmp/sanduq-bench"),
                   help="where the library and the ZIM are kept between runs (default /var/tmp/sanduq-bench)")
    args = p.parse_args(argv)
    quick = args.quick
    args.items = args.items or (1_000 if quick else 10_000)
    args.seconds = args.seconds or (3 if quick else 10)
    args.video_mb = args.video_mb or (50 if quick else 200)
    args.rounds = args.rounds or (1 if quick else 3)
    return args


class Report:
    """The table's rows and the raw figures behind them."""

    def __init__(self):
        self.rows: list[tuple[str, ...]] = []
        self.data: dict = {"memory": {}}
        self.notes: list[str] = []

    def row(self, test: str, sanduq: str, reference: str, ratio: float | None, goal: str, met: bool | None,
            at: int | None = None) -> None:
        verdict = "–" if met is None else ("yes" if met else "**NO**")
        row = (test, sanduq, reference, "–" if ratio is None else f"{ratio:.2f}", goal, verdict)
        self.rows.insert(len(self.rows) if at is None else at, row)

    def markdown(self, header: list[str]) -> str:
        lines = header + ["", "| Benchmark | Sanduq | Reference | Sanduq/ref | Goal | Met |",
                          "|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _load_text(result: load.Load) -> str:
    return f"{result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms, {result.error_count} errors"


class Bench:
    def __init__(self, args: argparse.Namespace, procs: Processes, report: Report):
        self.args, self.procs, self.report = args, procs, report
        self.data_dir = args.cache_dir / f"library-{args.items}-{args.video_mb}mb"

    def compare(self, label: str, runs: dict[str, tuple[Server, str, dict]],
                speed: Callable[[load.Load], float] = lambda r: r.rps) -> dict[str, load.Load]:
        """Load each server in turn, ROUNDS times: the median round's speed, median p99, all errors.

        RUNS maps a name to (server, path, wrk options). The first round starts with a 1 s warm-up.
        """
        rounds: dict[str, list[load.Load]] = {name: [] for name in runs}
        for n in range(self.args.rounds):
            for name, (server, path, options) in runs.items():
                log(f"{label}: {name}" + (f" (round {n + 1})" if self.args.rounds > 1 else ""))
                options = dict(dict(connections=self.args.connections, threads=self.args.threads), **options)
                warmup = options.pop("warmup", True)
                if n == 0 and warmup:
                    load.wrk(server.url(path), seconds=1, **options)
                rounds[name].append(load.wrk(server.url(path), seconds=self.args.seconds, **options))
        chosen = {}
        for name, results in rounds.items():
            median = sorted(results, key=speed)[len(results) // 2]
            errors = {k: sum(r.errors[k] for r in results) for k in median.errors}
            chosen[name] = replace(median, errors=errors, p99_ms=statistics.median(r.p99_ms for r in results))
        self.report.data[label] = {name: {"reported": chosen[name].as_dict(),
                                          "rounds": [r.as_dict() for r in results]}
                                   for name, results in rounds.items()}
        return chosen

    def phase_memory(self, sanduq: Server, phase: str) -> None:
        self.report.data["memory"].setdefault("sanduq_by_phase", {})[phase] = sanduq.memory()

    def run(self) -> None:
        args, report = self.args, self.report
        log(f"library of {args.items} items in {self.data_dir}")
        self.info = ensure_library(self.data_dir, args.items, args.video_mb, log=log)
        sanduq = self.start_sanduq()
        kiwix = self.start_kiwix(sanduq)
        self.pages(sanduq, kiwix)
        self.site(sanduq, kiwix)
        self.phase_memory(sanduq, "after pages")
        self.search(sanduq, kiwix)
        self.phase_memory(sanduq, "after search")
        self.cache_fill(sanduq)
        self.phase_memory(sanduq, "after answer-cache fill")
        self.video(sanduq)
        self.phase_memory(sanduq, "after video")
        peak, kiwix_peak = sanduq.memory()["VmHWM"], kiwix.memory()["VmHWM"]
        report.data["memory"].update(sanduq_peak_mb=peak, kiwix_peak_mb=kiwix_peak)
        phases = report.data["memory"]["sanduq_by_phase"]
        steps = " → ".join(f"{m['VmHWM']:.0f}" for m in phases.values())
        report.row("Peak RSS under load (VmHWM)", f"{peak:.0f} MB", f"kiwix-serve {kiwix_peak:.0f} MB",
                   None, "≤ 90 MB", peak <= 90, at=2)  # beside the idle figure
        report.notes.append(f"Sanduq's VmHWM after each phase ({', '.join(phases)}): {steps} MB.")

    def start_sanduq(self) -> Server:
        starts = []
        for attempt in range(3):
            port = free_port()
            # wrk's connections all come from 127.0.0.1, where a classroom's come from one address
            # each: lift the per-phone cap so it measures serving, not the cap (bench/classroom.py
            # measures the cap).
            server = self.procs.start("sanduq", sanduq_command(self.data_dir, port), port, "/healthz",
                                      env=dict(sanduq_env(), SANDUQ_CLIENT_CONNECTIONS="1000"))
            starts.append(server.startup)
            if attempt < 2:
                self.procs.stop(server)
        items = json.loads(server.get("/healthz")[2])["items"]
        self.list_path = "/api/items?limit=50"
        self.item_path = f"/api/items/{self.info['item_id']}"
        for path in ("/healthz", self.list_path, self.item_path, "/api/facets",
                     "/api/search?q=" + quote(self.info["queries"][0])):
            status = server.get(path)[0]
            if status != 200:
                raise BenchError(f"Sanduq answered {status} to {path}")
        time.sleep(1)
        self.sanduq_idle = server.memory()["VmRSS"]
        self.sanduq_starts = starts
        self.report.data["startup_s"] = {"sanduq": starts, "items": items}
        self.report.data["memory"]["sanduq_idle_mb"] = self.sanduq_idle
        return server

    def start_kiwix(self, sanduq: Server) -> Server:
        probe = self.probe_kiwix()
        self.report.data["kiwix_probe"] = probe
        list_body, item_body = sanduq.get(self.list_path)[2], sanduq.get(self.item_path)[2]
        delta = probe["injected_bytes"]  # what kiwix-serve adds to every HTML article it serves
        pages = {"list.html": (len(list_body) - delta, list_body.decode()),
                 "item.html": (len(item_body) - delta, item_body.decode())}
        # The phone site's pages, the very same HTML bytes (kiwix-serve adds its DELTA bytes).
        self.site_pages = {"home.html": "/", "browse.html": "/browse?audience=children"}
        for name, path in self.site_pages.items():
            pages[name] = sanduq.get(path)[2]
        zim_file = zim.build_zim(self.data_dir / "catalog.db", self.args.cache_dir, pages,
                                 json.dumps(self.info, sort_keys=True), log)
        port = free_port()
        kiwix = self.procs.start("kiwix", kiwix_command(zim_file, port), port, "/")
        self.kiwix_pages = {name: probe["article"].format(name=name) for name in self.site_pages}
        self.kiwix_list = probe["article"].format(name="list.html")
        self.kiwix_item = probe["article"].format(name="item.html")
        self.kiwix_search = probe["search"]
        sizes = {}
        for path in (self.kiwix_list, self.kiwix_item, self.kiwix_search.format(q="cat")):
            status, _, body = kiwix.get(path)
            if status != 200:
                raise BenchError(f"kiwix-serve answered {status} to {path}")
            sizes[path] = len(body)
        time.sleep(1)
        idle = kiwix.memory()["VmRSS"]
        self.report.data["memory"]["kiwix_idle_mb"] = idle
        self.report.data["sizes"] = {"sanduq_list": len(list_body), "sanduq_item": len(item_body),
                                     "kiwix_list": sizes[self.kiwix_list], "kiwix_item": sizes[self.kiwix_item]}
        self.report.data["startup_s"]["kiwix"] = kiwix.startup
        starts, items = self.sanduq_starts, self.report.data["startup_s"]["items"]
        median = statistics.median(starts)
        self.report.row(f"Start to first 200 from /healthz, {items:,} items",
                        f"{median:.2f} s (median of 3, max {max(starts):.2f})",
                        f"kiwix-serve {kiwix.startup:.2f} s", None, "< 1.5 s", median < 1.5)
        self.report.row("Idle RSS (after start + a few requests)", f"{self.sanduq_idle:.0f} MB",
                        f"kiwix-serve {idle:.0f} MB", None, "≤ 50 MB", self.sanduq_idle <= 50)
        return kiwix

    def probe_kiwix(self) -> dict:
        """Learn kiwix-serve's URL forms and how many bytes it adds to an HTML article."""
        source = self.procs.workdir / "probe"
        source.mkdir()
        (source / "illustration.png").write_bytes(zim.png_48())
        (source / "index.html").write_bytes(zim.padded_page("probe", "benchprobe", 400))
        (source / "page.html").write_bytes(zim.padded_page("probe page", "benchprobe zebra", 500))
        zim_file = self.procs.workdir / f"{zim.NAME}.zim"
        subprocess.run(["zimwriterfs", "-w", "index.html", "-I", "illustration.png", "-l", "eng", "-t", "probe",
                        "-d", "probe", "-c", "bench", "-p", "bench", "-n", zim.NAME, str(source), str(zim_file)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        port = free_port()
        kiwix = self.procs.start("kiwix-probe", kiwix_command(zim_file, port), port, "/")
        found: dict = {}
        try:
            for form in ("/content/{zim}/{{name}}", "/{zim}/{{name}}", "/{zim}/A/{{name}}"):
                article = form.format(zim=zim.NAME)
                status, _, body = kiwix.get(article.format(name="page.html"))
                if status == 200:
                    found.update(article=article, injected_bytes=len(body) - 500)
                    break
            for form in ("/search?content={zim}&pattern={{q}}&pageLength=30",
                         "/search?books.name={zim}&pattern={{q}}&pageLength=30"):
                search = form.format(zim=zim.NAME)
                status, _, body = kiwix.get(search.format(q="zebra"))
                if status == 200 and b"page.html" in body:
                    found["search"] = search
                    break
        finally:
            self.procs.stop(kiwix)
        if set(found) != {"article", "injected_bytes", "search"}:
            raise BenchError(f"could not find kiwix-serve's article or search URL form (found {found})")
        return found

    def pages(self, sanduq: Server, kiwix: Server) -> None:
        sizes = self.report.data["sizes"]
        for label, mine, theirs, size in (
                ("GET /api/items?limit=50", self.list_path, self.kiwix_list, sizes["sanduq_list"]),
                ("GET /api/items/ID", self.item_path, self.kiwix_item, sizes["sanduq_item"])):
            got = self.compare(label, {"sanduq": (sanduq, mine, {}), "kiwix": (kiwix, theirs, {})})
            a, b = got["sanduq"], got["kiwix"]
            ratio = a.rps / b.rps if b.rps else 0
            self.report.row(f"{label} ({size:,} B body), c{self.args.connections}", _load_text(a),
                            f"kiwix-serve, same-size article: {_load_text(b)}", ratio,
                            "≥ 0.25, p99 < 100 ms, 0 errors",
                            ratio >= 0.25 and a.p99_ms < 100 and a.error_count == 0)

    def site(self, sanduq: Server, kiwix: Server) -> None:
        """The phone site's home and browse pages against kiwix-serve serving the same HTML."""
        for name, path in self.site_pages.items():
            size = len(sanduq.get(path)[2])
            got = self.compare(f"GET {path}", {"sanduq": (sanduq, path, {}),
                                               "kiwix": (kiwix, self.kiwix_pages[name], {})})
            a, b = got["sanduq"], got["kiwix"]
            ratio = a.rps / b.rps if b.rps else 0
            self.report.row(f"Page GET {path} ({size:,} B of HTML), c{self.args.connections}", _load_text(a),
                            f"kiwix-serve, the same HTML from a ZIM: {_load_text(b)}", ratio,
                            "≥ 0.25, p99 < 100 ms, 0 errors", ratio >= 0.25 and a.p99_ms < 100 and a.error_count == 0)

    def search(self, sanduq: Server, kiwix: Server) -> None:
        words = [quote(w) for w in self.info["queries"]]
        missed: dict[str, list[str]] = {"sanduq": [], "kiwix": []}
        for word, encoded in zip(self.info["queries"], words):
            if not json.loads(sanduq.get(f"/api/search?q={encoded}")[2])["items"]:
                missed["sanduq"].append(word)
            if b"No results were found" in kiwix.get(self.kiwix_search.format(q=encoded))[2]:
                missed["kiwix"].append(word)
        self.report.data["search_words"] = {"count": len(words), "missed": missed}
        label = f"Search, {len(words)} words in turn"
        got = self.compare(label, {
            "sanduq": (sanduq, "/", {"script": load.rotate([f"/api/search?q={w}" for w in words])}),
            "kiwix": (kiwix, "/", {"script": load.rotate([self.kiwix_search.format(q=w) for w in words])})})
        a, b = got["sanduq"], got["kiwix"]
        ratio = a.rps / b.rps if b.rps else 0
        self.report.row(f"{label}, c{self.args.connections}", _load_text(a), f"kiwix-serve full text: {_load_text(b)}",
                        ratio, "≥ 0.7, 0 errors", ratio >= 0.7 and a.error_count == 0)
        # Every request a pair never asked before: no answer cache can help, on either side.
        label = "Search, a new word pair each time (no answer cache)"
        prefix, _, suffix = self.kiwix_search.partition("{q}")
        got = self.compare(label, {
            "sanduq": (sanduq, "/", {"script": load.word_pairs("/api/search?q=", words), "warmup": False}),
            "kiwix": (kiwix, "/", {"script": load.word_pairs(prefix, words, suffix), "warmup": False})})
        a, b = got["sanduq"], got["kiwix"]
        ratio = a.rps / b.rps if b.rps else 0
        self.report.row(f"{label}, c{self.args.connections}", _load_text(a), f"kiwix-serve full text: {_load_text(b)}",
                        ratio, "(extra: not a goal)", None)

    def cache_fill(self, sanduq: Server) -> None:
        """Ask for the API's largest answers, all different, as a crawler paging through would."""
        label = f"RSS growth over {CACHE_FILL_PAGES} distinct /api/items?limit=200&offset=N"
        log(label)
        before = sanduq.memory()["VmRSS"]
        started = time.monotonic()
        deadline = started + max(60, 6 * self.args.seconds)
        sizes: list[int] = []

        def fetch(offset: int) -> None:
            if time.monotonic() < deadline:
                sizes.append(len(sanduq.get(f"/api/items?limit=200&offset={offset}")[2]))

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fetch, range(CACHE_FILL_PAGES)))
        after, body_mb = sanduq.memory()["VmRSS"], sum(sizes) / MB
        self.report.data["cache_fill"] = {"pages": len(sizes), "seconds": time.monotonic() - started,
                                          "body_mb": body_mb, "rss_before_mb": before, "rss_after_mb": after}
        self.report.row(label, f"RSS {before:.0f} → {after:.0f} MB ({len(sizes)} answers, {body_mb:.0f} MB of JSON)",
                        "–", None, "(extra: not a goal)", None)

    def video(self, sanduq: Server) -> None:
        sha, size = self.info["video_sha"], self.info["video_size"]
        video = self.data_dir / "store" / sha[:2] / sha
        with video.open("rb") as f:  # into the page cache, for both servers alike
            while f.read(8 * MB):
                pass
        port = free_port()
        nginx = self.procs.start("nginx", nginx_command(self.procs.workdir, video, port), port, "/")
        mine, theirs = f"/files/{sha}.mp4", "/video.mp4"
        try:
            for server, path in ((sanduq, mine), (nginx, theirs)):
                status, _, body = server.get(path, {"Range": "bytes=0-9"})
                if status != 206 or len(body) != 10:
                    raise BenchError(f"{server.name} answered {status} ({len(body)} bytes) to a Range for {path}")
            streams, mb = self.args.streams, size // MB
            common = {"connections": streams, "timeout_s": 120}
            full = dict(common, headers={"Range": "bytes=0-"})
            tests = [(f"Video {mb} MB, {streams} streams of Range: bytes=0-", full, full),
                     (f"Video {mb} MB, {streams} streams of random 1-4 MB ranges",
                      dict(common, script=load.random_ranges(mine, size, 1 * MB, 4 * MB)),
                      dict(common, script=load.random_ranges(theirs, size, 1 * MB, 4 * MB)))]
            for label, mine_options, their_options in tests:
                got = self.compare(label, {"sanduq": (sanduq, mine, mine_options),
                                           "nginx": (nginx, theirs, their_options)},
                                   speed=lambda r: r.mb_per_s)
                a, b = got["sanduq"], got["nginx"]
                ratio = a.mb_per_s / b.mb_per_s if b.mb_per_s else 0
                self.report.row(label, f"{a.mb_per_s:,.0f} MB/s, {a.error_count} errors",
                                f"nginx sendfile: {b.mb_per_s:,.0f} MB/s, {b.error_count} errors", ratio,
                                "≥ 0.85, 0 errors", ratio >= 0.85 and a.error_count == 0)
        finally:
            self.procs.stop(nginx)


def code_version() -> str:
    """The commit measured, with '-dirty' when the work tree has changes."""
    done = subprocess.run(["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return done.stdout.strip() or "unknown"


def machine() -> str:
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}"


def _few(words: list[str]) -> str:
    shown = ", ".join(words[:8]) + (", …" if len(words) > 8 else "")
    return f"{len(words)} ({shown})" if words else "0"


def notes(args: argparse.Namespace, report: Report, command: str, seconds: float) -> list[str]:
    words = report.data["search_words"]
    return [
        f"Machine: {machine()}. All servers on 127.0.0.1; wrk -t{args.threads} runs on the same 2 cores.",
        "Sanduq: sanduq-server (waitress, default settings but client_connections=1000, since all of wrk's "
        "connections come from one address). kiwix-serve (default 4 threads, --nosearchbar) on a ZIM "
        "of the same items with a full-text index. nginx (worker_processes auto, sendfile on) on the same video file.",
        f"Each comparison: {args.rounds} round(s) of {args.seconds:g} s per server, taking turns after a 1 s warm-up; "
        "the table shows each server's median round, errors summed over all rounds.",
        f"Pages: kiwix's articles are padded to the byte size of Sanduq's bodies ({report.data['sizes']}). "
        "No Accept-Encoding is sent, so neither side compresses.",
        f"Search: {words['count']} words in Tajik, Russian and English. Sanduq answers up to 30 full items as JSON, "
        "kiwix-serve 30 results as an HTML page with snippets. Words in turn are answered from Sanduq's answer "
        "cache only while all of them fit in it; the word-pair row asks pairs never asked before, so no cache helps.",
        f"Words without a hit: Sanduq {_few(words['missed']['sanduq'])}; kiwix-serve {_few(words['missed']['kiwix'])} "
        "(an empty answer is cheaper to make).",
        "Errors: wrk's socket errors (connect, read, write, timeout) plus responses with status >= 400.",
        f"Code: {code_version()}. Whole run: {seconds:.0f} s. Command: `{command}`.",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report()
    started = time.monotonic()
    ensure_tools(log)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="sanduq-bench-"))
    workdir.chmod(0o755)  # nginx's workers may run as nobody and must reach its root inside
    procs = Processes(workdir)
    try:
        Bench(args, procs, report).run()
    except BenchError as e:
        log(f"failed: {e}")
        return 1
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    command = "python3 bench/run.py" + (" --quick" if args.quick else "") + \
              f" --items {args.items} --seconds {args.seconds:g}"
    report.notes = notes(args, report, command, time.monotonic() - started) + report.notes
    header = [f"# Sanduq benchmark results{' (quick)' if args.quick else ''}", "",
              f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; ratios are Sanduq over the reference "
              "measured in the same run on the same machine."]
    text = report.markdown(header)
    print(text)
    stem = "results-quick" if args.quick else "results"
    (HERE / f"{stem}.md").write_text(text, encoding="utf-8")
    raw = dict(report.data, command=command, machine=machine(), code=code_version(),
               settings={k: str(v) for k, v in vars(args).items()},
               table=[dict(zip(("benchmark", "sanduq", "reference", "ratio", "goal", "met"), r)) for r in report.rows])
    (HERE / f"{stem}.json").write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
