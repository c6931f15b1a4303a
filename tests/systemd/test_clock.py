"""systemd/sanduq-clock, root's side of setting the clock forward (sanduq-clock.path starts it).

The test machine's clock must not move, so `date -s` and fake-hwclock are stand-ins that
record their call; reading the time and parsing the stamp are the real `date`'s."""

import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "systemd" / "sanduq-clock"


@pytest.fixture
def run(tmp_path):
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    (bin_dir / "date").write_text('#!/bin/bash\nif [ "${2:-}" = "-s" ] || [ "${1:-}" = "-s" ]; then '
                                  f'echo "date $*" >> {calls}; exit 0; fi\nexec /bin/date "$@"\n')
    (bin_dir / "fake-hwclock").write_text(f'#!/bin/bash\necho "fake-hwclock $*" >> {calls}\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    request = tmp_path / "forward"

    def go(wanted: str | None):
        if wanted is not None:
            request.write_text(wanted)
        result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30,
                                env=dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}",
                                         SANDUQ_CLOCK_REQUEST=str(request)))
        done = calls.read_text().splitlines() if calls.exists() else []
        calls.unlink(missing_ok=True)
        return result, done, request.exists()

    return go


def stamp(seconds_from_now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_from_now))


def test_the_clock_goes_forward_to_the_build_time_and_is_saved_for_the_next_boot(run):
    wanted = stamp(86_400)
    result, calls, left = run(wanted)
    target = int(time.mktime(time.strptime(wanted, "%Y-%m-%dT%H:%M:%SZ"))) - time.timezone
    assert result.returncode == 0 and calls == [f"date -u -s @{target}", "fake-hwclock save force"]
    assert "set the clock forward 14" in result.stderr and not left  # 1440 minutes; the request is used up


@pytest.mark.parametrize("wanted, said", [
    (stamp(-86_400), ""),                                        # the clock reads later: never back
    ("2026-11-23 10:00:00", "not a UTC time"),
    ("2026-13-25T10:00:00Z", "not a date"),
    ("2126-01-01T00:00:00Z", "not a UTC time"),                   # beyond 2099: not a build time
    ("$(touch /tmp/pwned)2026-11-23T10:00:00Z", "not a UTC time"),
])
def test_anything_else_leaves_the_clock_alone(run, wanted, said):
    result, calls, left = run(wanted)
    assert result.returncode == 0 and calls == [] and not left and said in result.stderr


def test_no_request_is_nothing_to_do(run):
    result, calls, _ = run(None)
    assert result.returncode == 0 and calls == []
