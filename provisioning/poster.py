"""`sanduq-provision poster`: the A4 sheet for the classroom wall, as SVG.

Two QR codes (join the Wi-Fi; open the library) and three steps in the box's languages
(Tajik, Russian and English unless told: Kyrgyz, Russian and Uzbek in Osh). Black on white only, big type, codes 64 mm wide with their quiet zone: it must
survive a tired office printer and be read from a step away.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape

import segno

from content_mirror.svgtext import FONT, MONO, fit, text, wrap
from provisioning.files import ConfigFile, install
from provisioning.wifi import PORTAL_URL, check_passphrase, check_ssid
from server.errors import BadRequest
from server.languages import BY_CODE, N_, to_latin

WIDTH, HEIGHT, MARGIN = 210, 297, 12  # A4, in millimetres (the viewBox's unit)
CODE = 64  # each QR code's side, quiet zone included
# Each language's words and steps ({ssid} and {url} are filled in): a native speaker's wording,
# short enough to read aloud. Android has no Tajik, Kyrgyz or Uzbek: those phones ask in Russian
# or English, so the steps quote those buttons. Serbian Latin is the Cyrillic, letter for letter.
Words = tuple[str, str, str, list[str]]  # library, password, no password, the three steps
WORDS: dict[str, Words] = {
    "tg": ("Китобхона", "Парол", "Бе парол", [
        "Ба шабакаи Wi-Fi «{ssid}» пайваст шавед (QR-коди чапро скан кунед).",
        "Дар Android: агар телефон нависад, ки интернет нест, тугмаи «Оставаться на связи» ё «Да»-ро (Stay connected, Yes) пахш кунед.",
        "Китобхонаро кушоед: QR-коди ростро скан кунед ё {url}-ро дар браузер кушоед.",
    ]),
    "ru": ("Библиотека", "Пароль", "Без пароля", [
        "Подключитесь к Wi-Fi «{ssid}» (отсканируйте левый QR-код).",
        "На Android: если телефон пишет, что нет доступа к интернету, нажмите «Оставаться на связи» или «Да».",
        "Откройте библиотеку: отсканируйте правый QR-код или откройте в браузере {url}",
    ]),
    "en": ("Library", "Password", "No password", [
        "Connect to the Wi-Fi “{ssid}” (scan the left code).",
        "On Android, when the phone says the network has no internet, tap “Stay connected” (or “Yes”).",
        "Open the library: scan the right code, or open {url} in the browser.",
    ]),
    "ky": ("Китепкана", "Сырсөз", "Сырсөзсүз", [
        "«{ssid}» Wi-Fi тармагына туташыңыз (сол жактагы QR-кодду скандаңыз).",
        "Android телефондо: эгер телефон интернетке кирүү жок деп жазса, «Оставаться на связи» же «Да» (Stay connected, Yes) баскычын басыңыз.",
        "Китепкананы ачыңыз: оң жактагы QR-кодду скандаңыз же бул даректи браузерде ачыңыз: {url}",
    ]),
    "uz": ("Kutubxona", "Parol", "Parolsiz", [
        "«{ssid}» Wi-Fi tarmogʻiga ulaning (chapdagi QR-kodni skanerlang).",
        "Android telefonda: agar telefon internetga ulanish yoʻqligini yozsa, «Оставаться на связи» yoki «Да» (Stay connected, Yes) tugmasini bosing.",
        "Kutubxonani oching: oʻngdagi QR-kodni skanerlang yoki brauzerda ushbu manzilni oching: {url}",
    ]),
    "sr": ("Библиотека", "Лозинка", "Без лозинке", [
        "Повежите се на Wi-Fi мрежу „{ssid}“ (скенирајте леви QR код).",
        "На Android телефону: ако телефон пише да нема приступа интернету, додирните „Остани повезан“ или „Да“.",
        "Отворите библиотеку: скенирајте десни QR код или у прегледачу отворите {url}",
    ]),
    "cnr": ("Biblioteka", "Lozinka", "Bez lozinke", [
        "Povežite se na Wi-Fi mrežu „{ssid}“ (skenirajte lijevi QR kod).",
        "Na Android telefonu: ako telefon piše da nema pristupa internetu, dodirnite „Ostani povezan“ ili „Da“.",
        "Otvorite biblioteku: skenirajte desni QR kod ili u pretraživaču otvorite {url}",
    ]),
}
WORDS["sr-Latn"] = (to_latin(WORDS["sr"][0]), to_latin(WORDS["sr"][1]), to_latin(WORDS["sr"][2]),
                    [to_latin(step) for step in WORDS["sr"][3]])
LANGUAGES = ("tg", "ru", "en")  # the default: a box in Tajikistan
MAX_LANGUAGES = 4  # more would not fit the steps in type a parent can read from a step away


def wifi_uri(ssid: str, passphrase: str | None) -> str:
    """The Wi-Fi QR code's text phones' cameras understand (WIFI:T:WPA;S:...;P:...;;)."""
    def esc(value: str) -> str:
        return "".join("\\" + c if c in '\\;,:"' else c for c in value)

    if passphrase is None:
        return f"WIFI:T:nopass;S:{esc(ssid)};;"
    return f"WIFI:T:WPA;S:{esc(ssid)};P:{esc(passphrase)};;"


def check_languages(text: str) -> tuple[str, ...]:
    """The poster's language codes in TEXT (space-separated), or a BadRequest saying which exist."""
    codes = tuple(text.split())
    if not codes or len(codes) > MAX_LANGUAGES or len(set(codes)) != len(codes) or set(codes) - set(WORDS):
        raise BadRequest.said(N_("%(text)s: give one to %(most)s of the languages %(known)s, separated by "
                                 "spaces, e.g. “ky ru uz” for a box in Osh."),
                              text=repr(text), most=MAX_LANGUAGES, known=" ".join(WORDS))
    return codes


def write(out: Path, ssid: str, passphrase: str | None, *, url: str = PORTAL_URL,
          school: str | None = None, languages: tuple[str, ...] = LANGUAGES) -> tuple[Path, str]:
    """Check the values, then write the poster to OUT; return (path, "wrote" or "unchanged")."""
    ssid = check_ssid(ssid)
    passphrase = None if passphrase is None else check_passphrase(passphrase)
    languages = check_languages(" ".join(languages))
    svg = render(ssid, passphrase, url=url, school=school, languages=languages)
    out = Path(out).absolute()
    return install([ConfigFile(PurePosixPath("/", out.name), svg)], out.parent)[0]


def render(ssid: str, passphrase: str | None, *, url: str = PORTAL_URL, school: str | None = None,
           languages: tuple[str, ...] = LANGUAGES) -> str:
    """The poster as SVG text."""
    full = WIDTH - 2 * MARGIN
    libraries = list(dict.fromkeys(WORDS[code][0] for code in languages))  # Russian and Serbian say it alike
    library = " · ".join(libraries)
    password = " · ".join(dict.fromkeys(WORDS[code][1] for code in languages)) + ":"
    no_password = " · ".join(dict.fromkeys(WORDS[code][2] for code in languages))
    title = school or library
    out = [text(WIDTH / 2, MARGIN + 10, title, fit(title, 10, full, bold=True), bold=True)]
    y = MARGIN + 10
    if school:
        y += 9
        out.append(text(WIDTH / 2, y, library, fit(library, 6.5, full)))
    y += 6
    left, right = MARGIN + 3, WIDTH - MARGIN - 3 - CODE
    # Each code is marked with the number of its step; the library's in every language.
    out += [_step_mark(left + 8, y + 6, 1), text(left + 17, y + 8.4, "Wi-Fi", 7, bold=True, anchor="start")]
    out.append(_step_mark(right + 8, y + 6, 3))
    for i, word in enumerate(libraries):
        out.append(text(right + 17, y + 2.6 + 4.2 * i * 3 / max(len(libraries), 3), word,
                        3.8 * min(1, 3 / len(libraries)), bold=True, anchor="start"))
    y += 14
    out += [_qr(wifi_uri(ssid, passphrase), left, y), _qr(url, right, y)]
    y += CODE + 8
    out.append(text(left + CODE / 2, y, ssid, fit(ssid, 7, CODE + 6, bold=True), bold=True))
    out.append(text(right + CODE / 2, y, url, fit(url, 6, CODE + 6, mono=True), mono=True))
    y += 10
    if passphrase is None:
        out.append(text(WIDTH / 2, y, no_password, fit(no_password, 5.5, full)))
    elif fit(password + " " + passphrase, 6, full, mono=True) >= 5:
        size = fit(password + " " + passphrase, 6, full, mono=True)
        out.append(f'<text x="{WIDTH / 2}" y="{y}" font-size="{size:.2f}" text-anchor="middle">'
                   f'{escape(password)} <tspan font-family="{MONO}" font-weight="bold">'
                   f'{escape(passphrase)}</tspan></text>')
    else:  # a long key gets a line of its own, as large as it can be
        out.append(text(WIDTH / 2, y, password, fit(password, 5, full)))
        y += 7
        out.append(text(WIDTH / 2, y, passphrase, fit(passphrase, 6, full, mono=True), bold=True, mono=True))
    y += 5
    out.append(f'<line x1="{MARGIN}" y1="{y}" x2="{WIDTH - MARGIN}" y2="{y}" stroke="#000" stroke-width="0.5"/>')
    out += _steps(y + 3, ssid, url, languages)
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}mm" height="{HEIGHT}mm" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}" fill="#000">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        *out,
        "</svg>",
        "",
    ])


def _steps(top: float, ssid: str, url: str, languages: tuple[str, ...]) -> list[str]:
    """Each language's steps, in the largest type that fits the rest of the page."""
    width = WIDTH - 2 * MARGIN - 9
    for size in (x / 10 for x in range(60, 29, -1)):
        out, y = [], top
        for language, steps in ((BY_CODE[code].name, WORDS[code][3]) for code in languages):
            y += size * 1.8
            out.append(text(MARGIN, y, language, size * 1.1, bold=True, anchor="start"))
            for number, step in enumerate(steps, 1):
                y += size * 1.45
                out.append(text(MARGIN + 2, y, f"{number}.", size, bold=True, anchor="start"))
                for i, line in enumerate(wrap(step.format(ssid=ssid, url=url), size, width)):
                    y += size * 1.3 if i else 0
                    out.append(text(MARGIN + 9, y, line, size, anchor="start"))
        if y <= HEIGHT - MARGIN:
            break
    return out


def _qr(data: str, x: float, y: float) -> str:
    """A QR code CODE mm wide at (x, y), drawn as one path of module runs, quiet zone included."""
    # UTF-8, declared by an ECI header when there is more than ASCII: without it a scanner
    # guesses, and zbar reads a Cyrillic name as Shift JIS.
    qr = segno.make(data, error="m", encoding="utf-8", eci=not data.isascii(), micro=False)
    rows = [list(row) for row in qr.matrix]
    modules = len(rows) + 8  # the standard's 4-module quiet zone on each side
    runs = []
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if row[c] & 1:
                start = c
                while c < len(row) and row[c] & 1:
                    c += 1
                runs.append(f"M{start + 4} {r + 4}h{c - start}v1h-{c - start}z")
            else:
                c += 1
    return (f'<g transform="translate({x:.2f} {y:.2f}) scale({CODE / modules:.5f})">'
            f'<rect width="{modules}" height="{modules}" fill="#fff"/>'
            f'<path d="{"".join(runs)}" shape-rendering="crispEdges"/></g>')


def _step_mark(cx: float, cy: float, number: int) -> str:
    """A step's number, white in a black disc: it stands out even on a faint printout."""
    return (f'<circle cx="{cx}" cy="{cy}" r="6"/>'
            f'<text x="{cx}" y="{cy + 2.6}" font-size="7.5" font-weight="bold" fill="#fff" '
            f'text-anchor="middle">{number}</text>')
