"""Every bench script still runs: `python3 bench/NAME.py --quick` from the repo root, as the
README says, exits 0 and prints its table. Only that: a benchmark's figures are never asserted
in the test suite (STYLE.md rule 7), and --quick writes none of the committed results files."""

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # each script builds its own library or store and measures it


@pytest.mark.parametrize("name", [
    "export",
    "kolibri",
    "pdfbook",
    "report",
    "scrub",
    "search",
    "takehome",
    "video",
    # These start server processes under hundreds of connections, or mount a stick image.
    pytest.param("classroom", marks=pytest.mark.system),
    pytest.param("run", marks=pytest.mark.system),
    pytest.param("usb_import", marks=pytest.mark.system),
])
def test_a_quick_run_prints_its_table(name):
    # The system's python3, as the README says: the script re-runs itself under .venv.
    result = subprocess.run(["python3", f"bench/{name}.py", "--quick"], cwd=REPO, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert any(line.startswith("| ") for line in result.stdout.splitlines()), result.stdout[-3000:]
