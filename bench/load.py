"""Load with wrk: one function runs it, small Lua scripts say what each connection asks for.

Every script ends with the same `done` hook, which prints wrk's own totals as one JSON line
(requests, bytes, latency percentiles, each kind of error), so nothing is scraped from
wrk's human-readable report.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from servers import BenchError, tool

DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"duration_us": %.0f, "requests": %.0f, "bytes": %.0f, ' ..
    '"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, "timeout": %.0f, ' ..
    '"p50_us": %.0f, "p99_us": %.0f, "max_us": %.0f}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""
# Each wrk thread gets its own number, so threads start at different places in a rotation.
THREADS = r"""
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
"""


@dataclass
class Load:
    """What one wrk run measured."""

    seconds: float
    requests: int
    bytes: int
    errors: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 2**20 if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict:
        return dict(asdict(self), rps=round(self.rps, 1), mb_per_s=round(self.mb_per_s, 1),
                    error_count=self.error_count)


def _lua_string(text: str) -> str:
    return json.dumps(text)  # ASCII with \" and \\ only: valid Lua too


def rotate(paths: list[str]) -> str:
    """A script asking for PATHS in turn (each thread starting elsewhere)."""
    table = ",\n".join(_lua_string(p) for p in paths)
    return THREADS + f"""
local paths = {{
{table}
}}
local i = 0
function init(args) i = (tid or 0) * 7919 end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""


def word_pairs(prefix: str, words: list[str], suffix: str = "") -> str:
    """A script asking PREFIX + 'w1 w2' + SUFFIX with a different pair of WORDS every time.

    WORDS must already be percent-encoded. n words give n*n pairs; the threads split them.
    """
    table = ",\n".join(_lua_string(w) for w in words)
    return THREADS + f"""
local words = {{
{table}
}}
local n = #words
local i = 0
function init(args) i = (tid or 0) * math.floor(n * n / 2) end
function request()
  local a = i % n
  local b = (math.floor(i / n) + a + 1) % n
  i = i + 1
  return wrk.format("GET", {_lua_string(prefix)} .. words[a + 1] .. "%20" .. words[b + 1] .. {_lua_string(suffix)})
end
"""


def random_ranges(path: str, size: int, low: int, high: int) -> str:
    """A script asking for PATH with a Range of LOW to HIGH bytes at a random place in SIZE."""
    return THREADS + f"""
function init(args) math.randomseed(12345 + (tid or 0)) end
function request()
  local length = {low} + math.floor(math.random() * ({high} - {low}))
  local start = math.floor(math.random() * ({size} - length))
  return wrk.format("GET", {_lua_string(path)}, {{Range = "bytes=" .. start .. "-" .. (start + length - 1)}})
end
"""


def wrk(url: str, *, seconds: float, connections: int, threads: int, script: str = "",
        headers: dict[str, str] | None = None, timeout_s: int = 5) -> Load:
    """Run wrk against URL for SECONDS and return its totals."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + DONE)
        script_path = Path(f.name)
    cmd = [tool("wrk"), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
           f"--timeout={timeout_s}s", "--latency", "-s", str(script_path)]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    try:
        done = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=seconds + timeout_s + 60)
    finally:
        script_path.unlink(missing_ok=True)
    found = re.search(r"^WRKJSON (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not found:
        raise BenchError(f"wrk failed on {url} ({done.returncode}):\n{done.stdout[-1500:]}")
    raw = json.loads(found.group(1))
    errors = {k: int(raw[k]) for k in ("connect", "read", "write", "status", "timeout")}
    return Load(seconds=raw["duration_us"] / 1e6, requests=int(raw["requests"]), bytes=int(raw["bytes"]),
                errors=errors, p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000)
