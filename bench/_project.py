"""Run a bench script with the project's own Python, whichever python3 started it.

The README says `python3 bench/NAME.py`; the project is installed in ./.venv (install.sh), so a
script started by the system's python3 starts again under .venv/bin/python before it imports
anything of Sanduq's. Import this module first in every bench script.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def use_project_python() -> None:
    """Re-run this script under .venv/bin/python unless it already runs there."""
    if Path(sys.prefix).resolve() == (REPO / ".venv").resolve():
        return
    if not VENV_PYTHON.exists():
        sys.exit("Sanduq is not installed in ./.venv yet: run ./install.sh --dev (or .ci/run) first.")
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])


def run_python(code: str, *args: str) -> tuple[list, float]:
    """Run CODE in a fresh Python with the repository on its path: (the JSON list it printed
    last, its peak RSS in MB, its children's included, from wait4). Exits if it fails."""
    import json
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    printed = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("a measured side failed")
    return json.loads(printed.splitlines()[-1]), usage.ru_maxrss / 1024


use_project_python()
sys.path.insert(0, str(REPO))
