"""A classroom of phones beside idle and slow connections, against the server before and now.

    python3 bench/classroom.py [--quick]

Opens 300 idle connections and 250 slowloris connections (a header byte every 3 s) from
attacker addresses (127.0.1.x, 20 each), then 60 phones (127.0.0.x) each open 6 keep-alive
connections and fetch /, /browse and an item page on every one. Measured in the same run:
  - Sanduq: sanduq-server as configured (server/http_server.py);
  - the reference: the server as it was configured before (waitress, connection_limit=200,
    channel_timeout=60, select()), started by this script with `--serve-before`;
  - both once more with no attackers.
Prints phones answered within 1 s, p50/p99 latency, errors and the server's peak memory, and
writes bench/results-classroom.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)

from servers import Processes, free_port, sanduq_command, sanduq_env  # noqa: E402

HERE = Path(__file__).resolve().parent
GOAL_S = 1.0


@dataclass
class Load:
    phones: int
    idle: int
    slow: int
    timeout: float  # seconds a phone waits for one page


FULL = Load(phones=60, idle=300, slow=250, timeout=10)
QUICK = Load(phones=10, idle=50, slow=40, timeout=3)


def serve_before(data_dir: str, port: int) -> None:
    """The server as cli.serve() configured it before the change, for the reference."""
    import waitress

    from server import settings as settings_table
    from server.app import create_app
    from server.library import Library

    settings = settings_table.load({"data_dir": data_dir, "host": "127.0.0.1", "port": port, "mdns": False})
    app = create_app(settings, library=Library(data_dir))
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=settings["threads"],
                                    ident="sanduq", channel_timeout=60, connection_limit=200)
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    server.run()


def open_attackers(port: int, load: Load, stop: threading.Event) -> list[socket.socket]:
    """Idle and slow-header connections, 20 per attacker address; the slow ones drip until STOP."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(f"127.0.1.{1 + n // 20}", 0))
               for n in range(load.idle + load.slow)]
    slow = sockets[load.idle:]

    def drip() -> None:
        while not stop.wait(3):
            for sock in slow:
                try:
                    sock.send(b"X")
                except OSError:
                    pass  # dropped by the server
    for sock in slow:
        sock.sendall(b"GET / HTTP/1.1\r\n")
    threading.Thread(target=drip, daemon=True).start()
    return sockets


def one_phone(port: int, number: int, paths: list[str], timeout: float) -> list[float | None]:
    """Seconds for each page on each of a phone's 6 connections; None for an error."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(f"127.0.0.{2 + number}", 0))
             for _ in range(6)]
    seconds: list[float | None] = []
    for path in paths:
        for conn in conns:
            started = time.monotonic()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                seconds.append(time.monotonic() - started if response.status == 200 else None)
            except (OSError, http.client.HTTPException):
                seconds.append(None)
                conn.close()
    for conn in conns:
        conn.close()
    return seconds


def run_classroom(port: int, load: Load, attackers: bool) -> dict:
    paths = ["/", "/browse", "/item/" + json.loads(get(port, "/api/items?limit=1"))["items"][0]["id"]]
    stop = threading.Event()
    sockets = open_attackers(port, load, stop) if attackers else []
    try:
        with ThreadPoolExecutor(max_workers=load.phones) as pool:
            phones = list(pool.map(lambda n: one_phone(port, n, paths, load.timeout), range(load.phones)))
    finally:
        stop.set()
        for sock in sockets:
            sock.close()
    answered = [s for phone in phones for s in phone if s is not None]
    cuts = statistics.quantiles(answered, n=100) if len(answered) > 1 else [None] * 99
    return {"within": sum(all(s is not None and s <= GOAL_S for s in phone) for phone in phones),
            "phones": load.phones, "p50": cuts[49] and cuts[49] * 1000, "p99": cuts[98] and cuts[98] * 1000,
            "errors": sum(s is None for phone in phones for s in phone)}


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="a few seconds' smoke run")
    args.add_argument("--serve-before", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    opts = args.parse_args()
    if opts.serve_before:
        serve_before(opts.serve_before[0], int(opts.serve_before[1]))
        return 0
    load = QUICK if opts.quick else FULL
    with tempfile.TemporaryDirectory(prefix="sanduq-classroom-") as tmp:
        work = Path(tmp)
        data = work / "data"
        from content_mirror.demo import install_demo
        from server.library import Library

        install_demo(Library(data))
        processes = Processes(work)
        commands = {
            "Sanduq": lambda port: sanduq_command(data, port) + ["--no-mdns"],
            "before": lambda port: [sys.executable, str(Path(__file__)), "--serve-before", str(data), str(port)],
        }
        rows = []
        try:
            for attackers in (True, False):
                for name, command in commands.items():
                    port = free_port()
                    server = processes.start(name, command(port), port, "/healthz", env=sanduq_env())
                    result = run_classroom(port, load, attackers)
                    result["hwm"] = server.memory()["VmHWM"]
                    processes.stop(server)
                    rows.append((name, attackers, result))
                    print(f"  {name}, {'classroom' if attackers else 'no attackers'}: {result}", flush=True)
        finally:
            processes.stop_all()
    table = render(rows, load)
    print(table)
    if not opts.quick:
        (HERE / "results-classroom.md").write_text(table)
    return 0


def render(rows: list[tuple[str, bool, dict]], load: Load) -> str:
    lines = [f"{load.phones} phones x 6 keep-alive connections x 3 pages; attackers: {load.idle} idle + "
             f"{load.slow} slow-header connections; a page waits at most {load.timeout:.0f} s", "",
             "| server | load | phones all within 1 s | p50 ms | p99 ms | errors | VmHWM MB |",
             "|---|---|---|---|---|---|---|"]
    for name, attackers, r in rows:
        lines.append(f"| {name} | {'classroom + attackers' if attackers else 'classroom alone'} | "
                     f"{r['within']}/{r['phones']} | {_ms(r['p50'])} | {_ms(r['p99'])} | {r['errors']} | {r['hwm']:.0f} |")
    by = {(name, attackers): r for name, attackers, r in rows}
    ours, ref = by[("Sanduq", True)], by[("before", True)]
    ratio = f"{ref['p99'] / ours['p99']:.1f}x" if ref["errors"] == 0 and ours["p99"] else "n/a (before left pages unanswered)"
    lines += ["", f"With attackers: phones all within 1 s, Sanduq {ours['within']} vs before {ref['within']}; "
                  f"p99 before / Sanduq = {ratio}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
