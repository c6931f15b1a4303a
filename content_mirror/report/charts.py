"""Charts as inline SVG: drawn here, so the report opens offline with no script at all.

Two shapes serve every chart: columns over time (weeks) and labelled bars (schools, items,
searches). Every label is escaped; every chart carries a <title> a screen reader reads, and a
data-chart name the tests look for.
"""

from __future__ import annotations

from html import escape

WIDTH = 720
INK, BAR, GRID = "#1f2d3d", "#2e7d6b", "#d8dee4"


def number(value: float, lang: str = "en") -> str:
    """A whole number as the reader writes it: 12,345 in English, 12 345 in Russian."""
    return f"{value:,.0f}".replace(",", "\u202f" if lang == "ru" else ",")


def columns(name: str, title: str, points: list[tuple[str, float]], lang: str = "en") -> str:
    """Vertical columns, one per point (label, value), left to right, with the first and last labels."""
    height, top, bottom, left = 240, 16, 40, 48
    peak = max((v for _, v in points), default=0) or 1
    step = (WIDTH - left - 8) / max(len(points), 1)
    parts = [_open(name, title, height),
             *(_gridline(left, top + (height - top - bottom) * (1 - f), number(peak * f, lang)) for f in (0, 0.5, 1))]
    for n, (label, value) in enumerate(points):
        h = (height - top - bottom) * value / peak
        x = left + n * step
        parts.append(f'<rect x="{x + step * 0.1:.1f}" y="{height - bottom - h:.1f}" width="{max(step * 0.8, 1):.1f}" '
                     f'height="{h:.1f}" fill="{BAR}"><title>{escape(label)}: {number(value, lang)}</title></rect>')
    if points:
        parts.append(f'<text x="{left}" y="{height - bottom + 16}" font-size="12" fill="{INK}">'
                     f'{escape(points[0][0])}</text>')
        parts.append(f'<text x="{WIDTH - 8}" y="{height - bottom + 16}" font-size="12" fill="{INK}" '
                     f'text-anchor="end">{escape(points[-1][0])}</text>')
    return "".join(parts) + "</svg>"


def bars(name: str, title: str, points: list[tuple[str, float]], lang: str = "en") -> str:
    """Horizontal bars, one per point (label, value), top to bottom, the value at each bar's end."""
    row, label_width = 26, 260
    height = row * len(points) + 8
    peak = max((v for _, v in points), default=0) or 1
    parts = [_open(name, title, height)]
    for n, (label, value) in enumerate(points):
        y = 4 + n * row
        w = (WIDTH - label_width - 70) * value / peak
        short = label if len(label) <= 40 else label[:39] + "…"
        parts.append(f'<text x="{label_width - 8}" y="{y + 17}" font-size="13" fill="{INK}" text-anchor="end">'
                     f'{escape(short)}</text>'
                     f'<rect x="{label_width}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 8}" fill="{BAR}">'
                     f'<title>{escape(label)}: {number(value, lang)}</title></rect>'
                     f'<text x="{label_width + w + 6:.1f}" y="{y + 17}" font-size="13" fill="{INK}">{number(value, lang)}</text>')
    return "".join(parts) + "</svg>"


def _open(name: str, title: str, height: int) -> str:
    return (f'<svg data-chart="{escape(name)}" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif"><title>{escape(title)}</title>')


def _gridline(left: int, y: float, label: str) -> str:
    return (f'<line x1="{left}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" fill="{INK}" text-anchor="end">{label}</text>')
