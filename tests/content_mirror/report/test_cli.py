"""sanduq-report as a command on an officer's laptop: no Linux-only module on its way, nothing
of the box's code imported, wheels for Windows and macOS for everything pip installs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from content_mirror.report.cli import main
from tests.content_mirror.report.test_intake import row, write_usage

REPO = Path(__file__).resolve().parents[3]
# What Windows lacks (and macOS has, but a Windows laptop would fail on): blocked before any import.
UNIX_ONLY = ("fcntl", "termios", "pwd", "grp", "resource", "posix_ipc", "crypt", "spwd", "pty", "tty", "syslog")

RUN_WITHOUT_UNIX = """
import sys
for name in %r:
    sys.modules[name] = None  # `import fcntl` now fails, as it does on Windows
from content_mirror.report.cli import main
codes = [main(["--db", sys.argv[1], "add", sys.argv[2]]), main(["--db", sys.argv[1], "build", sys.argv[3]]),
         main(["--db", sys.argv[1], "export", sys.argv[4]])]
box = sorted(m for m in sys.modules if m.split(".")[0] in ("server", "usb_updater", "provisioning"))
print(codes, box)
""" % (UNIX_ONLY,)


def test_add_build_and_export_run_without_any_unix_only_module_and_none_of_the_box_s_code(tmp_path):
    write_usage(tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa" / "usage-2026-11.csv", [row(1)])
    result = subprocess.run([sys.executable, "-c", RUN_WITHOUT_UNIX, str(tmp_path / "r.duckdb"),
                             str(tmp_path / "stick"), str(tmp_path / "out"), str(tmp_path / "parquet")],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[0, 0, 0] []"
    assert (tmp_path / "out" / "sanduq-report.xlsx").stat().st_size > 0


def test_help_and_a_wrong_command_line(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    assert "add" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit:
        main(["build"])
    assert exit.value.code == 2


def test_build_without_a_database_says_what_to_do(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "none.duckdb"), "build", str(tmp_path / "out")]) == 1
    assert "add sticks first with 'sanduq-report add STICK'" in capsys.readouterr().err
    assert not (tmp_path / "none.duckdb").exists()


@pytest.mark.slow
@pytest.mark.parametrize("platform", ["win_amd64", "macosx_11_0_arm64", "macosx_10_12_x86_64"])
def test_pip_finds_a_wheel_of_everything_sanduq_report_needs_on_windows_and_macos(tmp_path, platform):
    # pip resolves the install for that platform (a dry run: nothing is installed), refusing
    # anything that would have to be compiled there.
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(REPO)], check=True,
                   capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("sanduq-*.whl"))
    result = subprocess.run([*pip, "install", "-q", "--dry-run", "--ignore-installed", "--only-binary=:all:",
                             "--platform", platform, "--python-version", "3.11", "--target", str(tmp_path / "t"),
                             "--report", str(tmp_path / "report.json"), f"{wheel}[report]"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    names = {i["metadata"]["name"].lower() for i in json.loads((tmp_path / "report.json").read_text())["install"]}
    assert {"duckdb", "rustpy-xlsxwriter", "psycopg-binary", "tqdm", "jinja2"} <= names


def test_the_database_may_be_named_before_or_after_the_command(tmp_path):
    write_usage(tmp_path / "stick" / "sanduq" / "exports" / "sanduq-0000aaaa" / "usage-2026-11.csv", [row(1)])
    assert main(["add", "--db", str(tmp_path / "after.duckdb"), str(tmp_path / "stick")]) == 0
    assert main(["--db", str(tmp_path / "before.duckdb"), "add", str(tmp_path / "stick")]) == 0
    assert (tmp_path / "after.duckdb").is_file() and (tmp_path / "before.duckdb").is_file()
