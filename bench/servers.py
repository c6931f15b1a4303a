"""The servers under test and their tools: each started on 127.0.0.1 and a free port, and stopped.

Every process a run starts goes through one `Processes`, whose `stop_all` (called from a
`finally`) ends each of them by its own id, whatever happened in between.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

# tool -> Debian package that brings it
TOOLS = {"nginx": "nginx-light", "wrk": "wrk", "kiwix-serve": "kiwix-tools", "zimwriterfs": "zim-tools"}
REPO = Path(__file__).resolve().parent.parent
APT_LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=900"]  # a background apt may hold the dpkg lock


class BenchError(Exception):
    """A benchmark could not run; the message says why."""


def tool(name: str) -> str | None:
    """The path of command NAME (also looked for in /usr/sbin, where nginx lives)."""
    found = shutil.which(name)
    if found:
        return found
    path = Path("/usr/sbin") / name
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def ensure_tools(log: Callable[[str], None]) -> None:
    """Install nginx, wrk, kiwix-serve and zimwriterfs from Debian when any is missing."""
    missing = [name for name in TOOLS if not tool(name)]
    if not missing:
        return
    packages = sorted(set(TOOLS.values()))
    if os.geteuid() != 0:
        raise BenchError(f"{', '.join(missing)} missing; run as root or: apt-get install -y {' '.join(packages)}")
    log(f"installing {' '.join(packages)} (missing: {', '.join(missing)})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", *APT_LOCK_WAIT, "install", "-y", "-q", *packages]
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(["apt-get", *APT_LOCK_WAIT, "update", "-q"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    still = [name for name in TOOLS if not tool(name)]
    if still:
        raise BenchError(f"{', '.join(still)} still missing after apt-get install")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak since start) of process PID, in MB (2^20 bytes)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


class Server:
    """One running server: its process, port and the seconds it took to answer first."""

    def __init__(self, name: str, proc: subprocess.Popen, port: int, log_path: Path):
        self.name, self.proc, self.port, self.log_path = name, proc, port, log_path
        self.startup = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def memory(self) -> dict[str, float]:
        return memory_mb(self.pid)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Processes:
    """The processes of one run; stop_all ends every one still running."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.servers: list[Server] = []

    def start(self, name: str, cmd: list[str], port: int, ready_path: str, *, timeout: float = 30,
              env: dict[str, str] | None = None) -> Server:
        """Run CMD and wait until GET READY_PATH answers 200; Server.startup is the wait."""
        log_path = self.workdir / f"{name}.log"
        with log_path.open("ab") as log:
            started = time.monotonic()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=env)
        server = Server(name, proc, port, log_path)
        self.servers.append(server)
        deadline = started + timeout
        while True:
            if proc.poll() is not None:
                raise BenchError(f"{name} exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                if server.get(ready_path)[0] == 200:
                    server.startup = time.monotonic() - started
                    return server
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop(server)
                raise BenchError(f"{name} did not answer {ready_path} within {timeout:.0f} s:\n{server.log_tail()}")
            time.sleep(0.005)

    def stop(self, server: Server) -> None:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGTERM)
            try:
                server.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(timeout=15)
        if server in self.servers:
            self.servers.remove(server)

    def stop_all(self) -> None:
        for server in list(self.servers):
            self.stop(server)


def sanduq_env() -> dict[str, str]:
    """The environment for sanduq-server: this checkout's packages first, so the run measures
    the code beside it even when the installed copy lags (a package added since `pip install -e`)."""
    root = str(REPO)
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=root + (os.pathsep + path if path else ""))


def sanduq_command(data_dir: Path, port: int) -> list[str]:
    """The installed sanduq-server, as a school's box runs it (or the module if not on PATH)."""
    exe = shutil.which("sanduq-server")
    base = [exe] if exe else [sys.executable, "-m", "server"]
    return base + ["--data-dir", str(data_dir), "--port", str(port), "--host", "127.0.0.1"]


def kiwix_command(zim: Path, port: int) -> list[str]:
    # --nosearchbar: serve articles without the top bar, so their bytes stay as built
    return [tool("kiwix-serve"), "--address", "127.0.0.1", "--port", str(port), "--nosearchbar", str(zim)]


NGINX_CONF = """daemon off;
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    types {{ video/mp4 mp4; text/html html; }}
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
    }}
}}
"""


def nginx_command(workdir: Path, video: Path, port: int) -> list[str]:
    """A minimal nginx (sendfile on) serving VIDEO as /video.mp4 from a temporary root."""
    root = workdir / "nginx"
    www = root / "www"
    www.mkdir(parents=True, exist_ok=True)
    for folder in (root, www):
        folder.chmod(0o755)  # nginx's workers may run as nobody
    (www / "index.html").write_text("<!DOCTYPE html><title>nginx</title>\n")
    target = www / "video.mp4"
    try:
        os.link(video, target)  # the same bytes on disk, and in the page cache
    except OSError:
        os.symlink(video, target)
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=root, port=port))
    return [tool("nginx"), "-c", str(conf), "-p", str(root), "-e", str(root / "error.log")]
