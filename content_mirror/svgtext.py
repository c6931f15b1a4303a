"""Text in SVG, which can neither measure nor wrap it: width estimates, fitting and wrapping
(for the Wi-Fi poster, provisioning/poster.py, the take-home cards and book videos,
content_mirror/takehome.py, and documents' PDF pages, content_mirror/pdfdoc.py).

Widths are estimated per character from DejaVu Sans (Debian's default font, which has
every Tajik letter), rounded up a little, so a line set by these rules stays inside its
box in the common sans fonts a school's computer prints with.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

FONT = "DejaVu Sans, Noto Sans, Arial, sans-serif"  # all have Tajik's ғ ӣ қ ӯ ҳ ҷ
MONO = "DejaVu Sans Mono, Noto Sans Mono, Consolas, monospace"  # tells 0 from O and l from 1

# Advance widths in em, by kind of character: DejaVu Sans's widest of each kind, measured
# from its font files (bold is up to 1.2 times as wide).
_NARROW = set(" .,:;'!|()[]/-ilIjtfrії")
_WIDE = set("MWmwШЩЖЮМЫФшщжюмыф@%—№")


def advance(text: str, size: float, *, bold: bool = False, mono: bool = False) -> float:
    """The estimated width of TEXT set at SIZE (in the same unit as SIZE)."""
    if mono:
        return len(text) * size * 0.61
    em = 0.0
    for c in text:
        if c in _NARROW:
            em += 0.41
        elif c in _WIDE:
            em += 1.1
        elif c.isupper() or c.isdigit():
            em += 0.78
        else:
            em += 0.66
    return em * size * (1.2 if bold else 1.0)


def fit(text: str, size: float, width: float, *, bold: bool = False, mono: bool = False) -> float:
    """SIZE, or the smaller size at which TEXT fits in WIDTH."""
    return min(size, size * width / max(advance(text, size, bold=bold, mono=mono), 1e-9))


def wrap(text: str, size: float, width: float) -> list[str]:
    """TEXT broken into lines no wider than WIDTH, at spaces (inside a word only if it must)."""
    lines, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if advance(candidate, size) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while advance(line, size) > width and len(line) > 1:  # a name longer than the line
            cut = max((i for i in range(1, len(line)) if advance(line[:i], size) <= width), default=1)
            lines.append(line[:cut])
            line = line[cut:]
    return lines + [line]


def text(x: float, y: float, content: str, size: float, *, bold: bool = False, mono: bool = False,
         anchor: str = "middle") -> str:
    """One line of text as an SVG element; x is its middle (or start, with anchor="start")."""
    attrs = ' font-weight="bold"' if bold else ""
    attrs += f' font-family="{MONO}"' if mono else ""
    content = CONTROL.sub("", content)  # XML allows none of them: rsvg would refuse the whole drawing
    return (f'<text x="{x:.2f}" y="{y:.2f}" font-size="{size:.2f}" text-anchor="{anchor}"{attrs}>'
            f"{escape(content)}</text>")
