"""sanduq-provision as a person runs it: a real process, help everywhere, one sentence on failure."""

import subprocess
import sys
from pathlib import Path

import pytest

from provisioning.cli import parser

COMMANDS = sorted(parser()._subparsers._group_actions[0].choices)


def run(*args):
    return subprocess.run([sys.executable, "-m", "provisioning", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0 and "usage: sanduq-provision" in result.stdout
    if not command:
        assert all(c in result.stdout for c in COMMANDS)


def test_the_console_script_is_installed():
    assert (Path(sys.executable).parent / "sanduq-provision").exists(), "is it in pyproject.toml?"


def test_a_real_run(tmp_path):
    result = run("hotspot", "--ssid", "Китобхона", "--passphrase", "kitob2024", "--country", "TJ",
                 "--root", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "nmcli connection up sanduq-hotspot" in result.stdout.splitlines()[-1]
    result = run("hotspot", "--ssid", "Китобхона", "--passphrase", "kitob2024", "--country", "ZZ",
                 "--root", str(tmp_path / "new"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "new").exists()


def test_a_kyrgyz_box_gets_its_countrys_channels(tmp_path):
    """Kyrgyzstan is not in the kernel's regulatory database: channels 1 to 11, never 13."""
    refused = run("hotspot", "--ssid", "Китепкана", "--passphrase", "kitep2026", "--country", "kg",
                  "--channel", "13", "--root", str(tmp_path / "refused"))
    assert refused.returncode == 2 and "choose 1 to 11" in refused.stderr and not (tmp_path / "refused").exists()
    made = run("hotspot", "--ssid", "Китепкана", "--passphrase", "kitep2026", "--country", "KG",
               "--channel", "11", "--backend", "hostapd", "--root", str(tmp_path))
    assert made.returncode == 0, made.stderr
    written = "\n".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file())
    assert "country_code=KG" in written and "channel=11" in written


def test_a_technician_reads_refusals_and_the_next_step_in_their_language(tmp_path):
    refused = run("--lang", "ru", "hotspot", "--ssid", "Китепкана", "--passphrase", "kitep2026", "--country", "KG",
                  "--channel", "13", "--root", str(tmp_path / "no"))
    assert refused.returncode == 2 and refused.stderr.startswith("Канал 13") and "KG" in refused.stderr
    assert refused.stderr.count("\n") == 1
    made = run("--lang", "ky", "hotspot", "--ssid", "Китепкана", "--passphrase", "kitep2026", "--country", "KG",
               "--root", str(tmp_path))
    assert made.returncode == 0, made.stderr
    last = made.stdout.splitlines()[-1]
    assert "nmcli connection up sanduq-hotspot" in last and not last.startswith("Start it with")
    short = run("--lang", "uz", "poster", "--ssid", "Kutubxona", "--passphrase", "short", "--out", str(tmp_path / "p.svg"))
    assert short.returncode == 2 and "8" in short.stderr and "passphrase" not in short.stderr


def test_every_refusal_provisioning_makes_can_be_translated():
    """A sentence raised as a plain f-string would reach a Kyrgyz technician in English."""
    import ast

    root = Path(__file__).resolve().parents[2] / "provisioning"
    plain = []
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name) \
                    and node.exc.func.id in ("BadRequest", "SanduqError", "NotFound"):
                plain.append(f"{path.name}:{node.lineno}")
    assert plain == [], "raise BadRequest.said(N_(...), ...) so the sentence can be translated"
