"""The classroom poster: A4, black on white, three languages, and two QR codes a scanner reads."""

import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from provisioning.cli import main
from provisioning.poster import HEIGHT, MARGIN, WIDTH, render, wifi_uri
from content_mirror.svgtext import advance
from tests.helpers import need_tool
from tests.provisioning.hotspots import HOTSPOTS

SVG = "{http://www.w3.org/2000/svg}"


def test_the_wifi_text_escapes_what_the_format_reserves():
    assert wifi_uri("Sanduq", "kitob2024") == "WIFI:T:WPA;S:Sanduq;P:kitob2024;;"
    assert wifi_uri('a;b,c:d"e\\f', 'p;a,s:s"\\') == 'WIFI:T:WPA;S:a\\;b\\,c\\:d\\"e\\\\f;P:p\\;a\\,s\\:s\\"\\\\;;'
    assert wifi_uri("Китобхона", None) == "WIFI:T:nopass;S:Китобхона;;"


def test_a4_black_on_white_with_every_step():
    svg = render("Китобхона №5", "kitob 2024!", school="Мактаби томактабии №12")
    root = ET.fromstring(svg)
    assert root.get("viewBox") == "0 0 210 297" and root.get("width") == "210mm"
    colours = set(re.findall(r'(?:fill|stroke)="([^"]+)"', svg))
    assert colours <= {"#000", "#fff"}  # prints the same on any printer
    words = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    for expected in ("Мактаби томактабии №12", "Тоҷикӣ", "Русский", "English", "kitob 2024!",
                     "«Китобхона №5»", "Оставаться на связи", "Stay connected", "http://10.42.0.1/",
                     "QR-коди чапро скан кунед", "отсканируйте левый QR-код", "scan the left code"):
        assert expected in words, expected
    for t in root.iter(f"{SVG}text"):
        assert MARGIN - 1 <= float(t.get("y")) <= HEIGHT - MARGIN + 1
        assert float(t.get("font-size")) >= 3.2  # legible at arm's length


def test_the_longest_names_stay_on_the_page():
    svg = render("Щ" * 16, "W" * 63, school="Муассисаи давлатии таҳсилоти томактабии №123 ноҳияи Рӯдакӣ")
    for t in ET.fromstring(svg).iter(f"{SVG}text"):
        content, x, size = "".join(t.itertext()), float(t.get("x")), float(t.get("font-size"))
        width = advance(content, size, bold=t.get("font-weight") == "bold", mono="Mono" in (t.get("font-family") or ""))
        start = {"start": x, "middle": x - width / 2, "end": x - width}[t.get("text-anchor")]
        assert MARGIN - 1 <= start and start + width <= WIDTH - MARGIN + 1, content
        assert float(t.get("y")) <= HEIGHT - MARGIN + 1


@pytest.mark.parametrize("name", ["tajik", "quotes", "edges", "hex", "open"])
def test_both_codes_scan(tmp_path, name):
    """Printed at 150 dpi and read back by zbar, as a phone's camera would read the wall."""
    rsvg, zbarimg = need_tool("rsvg-convert"), need_tool("zbarimg")
    ssid, passphrase, _, _ = HOTSPOTS[name]
    (tmp_path / "poster.svg").write_text(render(ssid, passphrase))
    subprocess.run([rsvg, "--width", "1240", "-o", tmp_path / "poster.png", tmp_path / "poster.svg"], check=True)
    result = subprocess.run([zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", tmp_path / "poster.png"],
                            capture_output=True, timeout=60)
    found = result.stdout.decode("utf-8").splitlines()
    assert sorted(found) == sorted([wifi_uri(ssid, passphrase), "http://10.42.0.1/"])


def test_the_command_writes_once_and_checks_first(capsys, tmp_path):
    out = tmp_path / "poster.svg"
    args = ["poster", "--ssid", "Китобхона", "--passphrase", "kitob2024", "--school", "Мактаб №5", "--out", str(out)]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(f"wrote     {out}")
    first = out.read_bytes()
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(f"unchanged {out}")
    assert out.read_bytes() == first

    assert main(["poster", "--ssid", "Китобхона", "--passphrase", "short", "--out", str(tmp_path / "bad.svg")]) == 2
    assert capsys.readouterr().err.startswith("The passphrase must be")
    assert not (tmp_path / "bad.svg").exists()


def test_control_characters_never_reach_the_svg():
    from content_mirror.svgtext import text

    assert text(0, 0, "Як\x07 ду\x1b", 10).endswith(">Як ду</text>")


@pytest.mark.parametrize("languages,expected", [
    (("ky", "ru", "uz"), ("Кыргызча", "Oʻzbekcha", "сол жактагы QR-кодду", "chapdagi QR-kodni", "Китепкана",
                          "Kutubxona", "Сырсөз · Пароль · Parol:")),
    (("sr", "sr-Latn", "cnr", "en"), ("Српски", "Srpski", "Crnogorski", "леви QR код", "levi QR kod", "lijevi QR kod",
                                      "Biblioteka", "Лозинка · Lozinka · Password:")),
])
def test_a_poster_in_the_boxs_own_languages_fits_and_scans(tmp_path, languages, expected):
    rsvg, zbarimg = need_tool("rsvg-convert"), need_tool("zbarimg")
    svg = render("Китепкана", "kitep 2026", school="Бала бакча №7, Ош", languages=languages)
    root = ET.fromstring(svg)
    words = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    for text in expected:
        assert text in words, text
    assert "Тоҷикӣ" not in words
    for t in root.iter(f"{SVG}text"):
        content, x, size = "".join(t.itertext()), float(t.get("x")), float(t.get("font-size"))
        width = advance(content, size, bold=t.get("font-weight") == "bold", mono="Mono" in (t.get("font-family") or ""))
        start = {"start": x, "middle": x - width / 2, "end": x - width}[t.get("text-anchor")]
        assert MARGIN - 1 <= start and start + width <= WIDTH - MARGIN + 1, content
        assert MARGIN - 1 <= float(t.get("y")) <= HEIGHT - MARGIN + 1 and size >= 3.0, content
    (tmp_path / "poster.svg").write_text(svg)
    subprocess.run([rsvg, "--width", "1240", "-o", tmp_path / "poster.png", tmp_path / "poster.svg"], check=True)
    result = subprocess.run([zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", tmp_path / "poster.png"],
                            capture_output=True, timeout=60)
    assert sorted(result.stdout.decode("utf-8").splitlines()) == sorted([wifi_uri("Китепкана", "kitep 2026"),
                                                                        "http://10.42.0.1/"])


def test_a_poster_refuses_languages_it_does_not_have(capsys, tmp_path):
    for languages in ("ky xx", "tg ru en ky uz", "ru ru", ""):
        assert main(["poster", "--ssid", "Китепкана", "--open", "--languages", languages,
                     "--out", str(tmp_path / "p.svg")]) == 2
        assert "give one to 4 of the languages" in capsys.readouterr().err
    assert not (tmp_path / "p.svg").exists()
