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
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import load
import zim
from make_library import ensure_library
from servers import (BenchError, Processes, Server, ensure_tools, free_port, kiwix_command,
                     nginx_command, sanduq_command)

HERE = Path(__file__).resolve().parent
MB = 2**20
CACHE_FILL_PAGES = 512  # the API's answer cache holds this many answers


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark Sanduq against kiwix-serve and nginx on this machine.")
    p.add_argument("--items", type=int, help="items in the synthetic library (default 10000; --quick 1000)")
    p.add_argument("--seconds", type=float, help="seconds of load per measurement (default 10; --quick 3)")
    p.add_argument("--video-mb", type=int, help="size of the streamed video in MB (default 200; --quick 50)")
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
    return args


class Report:
    """The table's rows and the raw figures behind them."""

    def __init__(self):
        self.rows: list[tuple[str, ...]] = []
        self.data: dict = {}
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


def _load_text(result: load.Load, unit: str = "req/s") -> str:
    speed = f"{result.rps:,.0f} req/s" if unit == "req/s" else f"{result.mb_per_s:,.0f} MB/s"
    return f"{speed}, p99 {result.p99_ms:.1f} ms, {result.error_count} errors"


class Bench:
    def __init__(self, args: argparse.Namespace, procs: Processes, report: Report):
        self.args, self.procs, self.report = args, procs, report
        self.data_dir = args.cache_dir / f"library-{args.items}-{args.video_mb}mb"

    def wrk(self, server: Server, path: str = "/", *, script: str = "", warmup: bool = True,
            connections: int | None = None, headers: dict | None = None, timeout_s: int = 5) -> load.Load:
        kwargs = dict(connections=connections or self.args.connections, threads=self.args.threads,
                      script=script, headers=headers, timeout_s=timeout_s)
        if warmup:
            load.wrk(server.url(path), seconds=1, **kwargs)
        return load.wrk(server.url(path), seconds=self.args.seconds, **kwargs)

    def run(self) -> None:
        args, report = self.args, self.report
        log(f"library of {args.items} items in {self.data_dir}")
        self.info = ensure_library(self.data_dir, args.items, args.video_mb, log=log)
        sanduq = self.start_sanduq()
        kiwix = self.start_kiwix(sanduq)
        self.pages(sanduq, kiwix)
        self.search(sanduq, kiwix)
        self.video(sanduq)
        peak = sanduq.memory()["VmHWM"]
        kiwix_peak = kiwix.memory()["VmHWM"]
        report.data["memory"].update(sanduq_peak_mb=peak, kiwix_peak_mb=kiwix_peak)
        report.row("Peak RSS under load (VmHWM)", f"{peak:.0f} MB", f"kiwix-serve {kiwix_peak:.0f} MB",
                   None, "≤ 90 MB", peak <= 90, at=2)  # beside the idle figure
        self.cache_fill(sanduq)

    def start_sanduq(self) -> Server:
        starts = []
        for attempt in range(3):
            port = free_port()
            server = self.procs.start("sanduq", sanduq_command(self.data_dir, port), port, "/healthz")
            starts.append(server.startup)
            if attempt < 2:
                self.procs.stop(server)
        status, _, body = server.get("/healthz")
        items = json.loads(body)["items"]
        self.list_path = "/api/items?limit=50"
        self.item_path = f"/api/items/{self.info['item_id']}"
        words = self.info["queries"]
        for path in ("/healthz", self.list_path, self.item_path, "/api/facets",
                     "/api/search?q=" + quote(words[0])):
            status, _, _ = server.get(path)
            if status != 200:
                raise BenchError(f"Sanduq answered {status} to {path}")
        time.sleep(1)
        idle = server.memory()["VmRSS"]
        median = statistics.median(starts)
        self.report.data["startup_s"] = {"sanduq": starts, "sanduq_median": median, "items": items}
        self.report.data["memory"] = {"sanduq_idle_mb": idle}
        self.sanduq_start_row = (median, max(starts), items)
        self.sanduq_idle = idle
        return server

    def start_kiwix(self, sanduq: Server) -> Server:
        probe = self.probe_kiwix()
        self.report.data["kiwix_probe"] = probe
        self.list_body = sanduq.get(self.list_path)[2]
        self.item_body = sanduq.get(self.item_path)[2]
        delta = probe["injected_bytes"]
        pages = {"list.html": (len(self.list_body) - delta, self.list_body.decode()),
                 "item.html": (len(self.item_body) - delta, self.item_body.decode())}
        zim_file = zim.build_zim(self.data_dir / "catalog.db", self.args.cache_dir, pages,
                                 json.dumps(self.info, sort_keys=True), log)
        port = free_port()
        kiwix = self.procs.start("kiwix", kiwix_command(zim_file, port), port, "/")
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
        self.report.data["sizes"] = {"sanduq_list": len(self.list_body), "sanduq_item": len(self.item_body),
                                     "kiwix_list": sizes[self.kiwix_list], "kiwix_item": sizes[self.kiwix_item]}
        median, worst, items = self.sanduq_start_row
        self.report.data["startup_s"]["kiwix"] = kiwix.startup
        self.report.row(f"Start to first 200 from /healthz, {items:,} items", f"{median:.2f} s (median of 3, max {worst:.2f})",
                        f"kiwix-serve {kiwix.startup:.2f} s", None, "< 1.5 s", median < 1.5)
        self.report.row("Idle RSS (after start + a few requests)", f"{self.sanduq_idle:.0f} MB",
                        f"kiwix-serve {idle:.0f} MB", None, "≤ 50 MB", self.sanduq_idle <= 50)
        return kiwix

    def probe_kiwix(self) -> dict:
        """Learn kiwix-serve's URL forms and how many bytes it adds to an HTML article."""
        folder = self.procs.workdir / "probe"
        source = folder / "html"
        source.mkdir(parents=True)
        (source / "illustration.png").write_bytes(zim.png_48())
        (source / "index.html").write_bytes(zim.padded_page("probe", "benchprobe", 400))
        (source / "page.html").write_bytes(zim.padded_page("probe page", "benchprobe zebra", 500))
        zim_file = folder / f"{zim.NAME}.zim"
        subprocess.run(["zimwriterfs", "-w", "index.html", "-I", "illustration.png", "-l", "eng", "-t", "probe",
                        "-d", "probe", "-c", "bench", "-p", "bench", "-n", zim.NAME, str(source), str(zim_file)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        port = free_port()
        kiwix = self.procs.start("kiwix-probe", kiwix_command(zim_file, port), port, "/")
        try:
            found = {}
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
            log(f"{label}: Sanduq")
            a = self.wrk(sanduq, mine)
            log(f"{label}: kiwix-serve")
            b = self.wrk(kiwix, theirs)
            ratio = a.rps / b.rps if b.rps else 0
            self.report.data[label] = {"sanduq": a.as_dict(), "kiwix": b.as_dict(), "ratio": ratio, "bytes": size}
            self.report.row(f"{label} ({size:,} B body), c{self.args.connections}", _load_text(a),
                            f"kiwix-serve, same-size article: {_load_text(b)}", ratio,
                            "≥ 0.25, p99 < 100 ms, 0 errors",
                            ratio >= 0.25 and a.p99_ms < 100 and a.error_count == 0)

    def search(self, sanduq: Server, kiwix: Server) -> None:
        words = self.info["queries"]
        encoded = [quote(w) for w in words]
        hits = {"sanduq": 0, "kiwix": 0}
        for word in encoded:
            hits["sanduq"] += bool(json.loads(sanduq.get(f"/api/search?q={word}")[2])["items"])
            hits["kiwix"] += b"No results were found" not in kiwix.get(self.kiwix_search.format(q=word))[2]
        self.report.data["search_words"] = {"count": len(words), "with_hits": hits}
        label = f"Search, {len(words)} words in turn"
        log(f"{label}: Sanduq")
        a = self.wrk(sanduq, script=load.rotate([f"/api/search?q={w}" for w in encoded]))
        log(f"{label}: kiwix-serve")
        b = self.wrk(kiwix, script=load.rotate([self.kiwix_search.format(q=w) for w in encoded]))
        ratio = a.rps / b.rps if b.rps else 0
        self.report.data[label] = {"sanduq": a.as_dict(), "kiwix": b.as_dict(), "ratio": ratio}
        self.report.row(f"{label}, c{self.args.connections}", _load_text(a), f"kiwix-serve full text: {_load_text(b)}",
                        ratio, "≥ 0.7, 0 errors", ratio >= 0.7 and a.error_count == 0)
        label = "Search, a new word pair each time (no answer cache)"
        log(f"{label}: Sanduq")
        a = self.wrk(sanduq, script=load.word_pairs("/api/search?q=", encoded), warmup=False)
        log(f"{label}: kiwix-serve")
        prefix, _, suffix = self.kiwix_search.partition("{q}")
        b = self.wrk(kiwix, script=load.word_pairs(prefix, encoded, suffix), warmup=False)
        ratio = a.rps / b.rps if b.rps else 0
        self.report.data[label] = {"sanduq": a.as_dict(), "kiwix": b.as_dict(), "ratio": ratio}
        self.report.row(f"{label}, c{self.args.connections}", _load_text(a), f"kiwix-serve full text: {_load_text(b)}",
                        ratio, "(extra: not a goal)", None)

    def video(self, sanduq: Server) -> None:
        sha, size = self.info["video_sha"], self.info["video_size"]
        video = self.data_dir / "store" / sha[:2] / sha
        with video.open("rb") as f:  # into the page cache, for both servers alike
            while f.read(8 * MB):
                pass
        port = free_port()
        nginx = self.procs.start("nginx", nginx_command(self.procs.workdir, video, port), port, "/")
        mine, theirs = f"/files/{sha}.mp4", "/video.mp4"
        for server, path in ((sanduq, mine), (nginx, theirs)):
            status, headers, body = server.get(path, {"Range": "bytes=0-9"})
            if status != 206 or len(body) != 10:
                raise BenchError(f"{server.name} answered {status} ({len(body)} bytes) to a Range request for {path}")
        streams, mb = self.args.streams, size // MB
        tests = [(f"Video {mb} MB, {streams} streams of Range: bytes=0-", {"Range": "bytes=0-"}, ""),
                 (f"Video {mb} MB, {streams} streams of random 1-4 MB ranges", None,
                  load.random_ranges("{path}", size, 1 * MB, 4 * MB))]
        try:
            for label, headers, script in tests:
                results = {}
                for server, path in ((sanduq, mine), (nginx, theirs)):
                    log(f"{label}: {server.name}")
                    results[server.name] = self.wrk(server, path, script=script.replace("{path}", path),
                                                    headers=headers, connections=streams, timeout_s=120)
                a, b = results["sanduq"], results["nginx"]
                ratio = a.mb_per_s / b.mb_per_s if b.mb_per_s else 0
                self.report.data[label] = {"sanduq": a.as_dict(), "nginx": b.as_dict(), "ratio": ratio}
                self.report.row(label, f"{a.mb_per_s:,.0f} MB/s, {a.error_count} errors",
                                f"nginx sendfile: {b.mb_per_s:,.0f} MB/s, {b.error_count} errors", ratio,
                                "≥ 0.85, 0 errors", ratio >= 0.85 and a.error_count == 0)
        finally:
            self.procs.stop(nginx)

    def cache_fill(self, sanduq: Server) -> None:
        """Fill the API's answer cache with its largest answers, as a crawler paging through would."""
        label = f"RSS after {CACHE_FILL_PAGES} distinct /api/items?limit=200&offset=N"
        log(label)
        paths = [f"/api/items?limit=200&offset={n}" for n in range(CACHE_FILL_PAGES)]
        started = time.monotonic()
        deadline = started + max(60, 6 * self.args.seconds)
        sizes = []

        def fetch(path: str) -> None:
            if time.monotonic() < deadline:
                sizes.append(len(sanduq.get(path)[2]))

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fetch, paths))
        elapsed = time.monotonic() - started
        memory = sanduq.memory()
        self.report.data["cache_fill"] = {"pages": len(sizes), "seconds": elapsed,
                                          "body_mb": sum(sizes) / MB, **memory}
        self.report.row(label, f"{memory['VmRSS']:.0f} MB ({len(sizes)} answers, {sum(sizes) / MB:.0f} MB of JSON)",
                        "–", None, "≤ 90 MB", memory["VmRSS"] <= 90)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}"


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
    report.notes += [
        f"Machine: {machine()}. All servers on 127.0.0.1; wrk -t{args.threads} shares the 2 cores with the server.",
        f"Sanduq: sanduq-server (waitress, 8 threads). kiwix-serve 3.x (4 threads, --nosearchbar) on a ZIM of the "
        f"same items with a full-text index. nginx (worker_processes auto, sendfile on) on the same video file.",
        f"Pages: wrk -c{args.connections} for {args.seconds:g} s after a 1 s warm-up; kiwix's articles have the same "
        f"size as Sanduq's bodies ({report.data['sizes']}).",
        f"Search: {report.data['search_words']['count']} words in Tajik, Russian and English; words with hits: "
        f"Sanduq {report.data['search_words']['with_hits']['sanduq']}, kiwix-serve "
        f"{report.data['search_words']['with_hits']['kiwix']}. Sanduq answers up to 30 full items as JSON, "
        "kiwix-serve 30 results as an HTML page with snippets.",
        "Errors: wrk's socket errors (connect, read, write, timeout) plus responses with status >= 400.",
        f"Whole run: {time.monotonic() - started:.0f} s. Command: `{command}`.",
    ]
    header = [f"# Sanduq benchmark results{' (quick)' if args.quick else ''}", "",
              f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on this machine; ratios are Sanduq over the "
              "reference measured in the same run."]
    text = report.markdown(header)
    print(text)
    stem = "results-quick" if args.quick else "results"
    (HERE / f"{stem}.md").write_text(text, encoding="utf-8")
    raw = dict(report.data, command=command, machine=machine(),
               settings={k: str(v) for k, v in vars(args).items()},
               table=[dict(zip(("benchmark", "sanduq", "reference", "ratio", "goal", "met"), r)) for r in report.rows])
    (HERE / f"{stem}.json").write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
