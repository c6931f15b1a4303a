"""A document (Markdown) drawn as a print-ready PDF for phones to keep (content_mirror/takehome.py).

A4 pages are laid out as SVG (content_mirror/svgtext.py measures and wraps the words) and made
one PDF by rsvg-convert, whose cairo embeds the font it draws with (DejaVu Sans, which has every
Tajik letter): the words stay words, so a reader can search and copy them. The Markdown is read
by markdown-it-py, the reader the site shows documents with: headings, paragraphs, lists, quotes
and code come out; emphasis and links become plain words, a picture its description; a table
(CommonMark has none) comes out as the paragraph of its text, bars and all (a lesson plan has few). A first heading that repeats the
title is left out, as the site leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from markdown_it import MarkdownIt

from content_mirror.svgtext import FONT, advance, text, wrap

PAGE_W, PAGE_H, MARGIN = 595, 842, 56  # A4 in points
SIZES = {1: 19.0, 2: 15.5, 3: 13.0}  # headings by level (4 to 6 as 3); the body is BODY
BODY, LEADING = 11.0, 1.45
INK, SOFT = "#212121", "#6d6d6d"


@dataclass
class Block:
    kind: str  # "heading", "para", "code"
    words: str
    level: int = 0  # a heading's level
    indent: float = 0.0  # points from the left margin (lists, quotes)
    mark: str = ""  # a list item's bullet or number, on its first line


def blocks(markdown: str) -> list[Block]:
    """The Markdown's blocks in order, their inline formatting reduced to words."""
    tokens = MarkdownIt("commonmark", {"html": False}).parse(markdown)
    found: list[Block] = []
    lists: list[list] = []  # per open list: [ordered, next number]
    quote, mark, heading = 0, "", 0
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists.append([token.type == "ordered_list_open", int(token.attrGet("start") or 1)])
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            ordered, number = lists[-1]
            mark = f"{number}." if ordered else "•"
            lists[-1][1] += 1
        elif token.type == "blockquote_open":
            quote += 1
        elif token.type == "blockquote_close":
            quote -= 1
        elif token.type == "heading_open":
            heading = int(token.tag[1])
        elif token.type == "inline":
            indent = 22.0 * len(lists) + 16.0 * quote
            if heading:
                found.append(Block("heading", _words(token), level=min(heading, 3), indent=indent))
            else:
                found.append(Block("para", _words(token), indent=indent, mark=mark))
            heading, mark = 0, ""
        elif token.type in ("fence", "code_block"):
            indent = 22.0 * len(lists) + 16.0 * quote
            if mark:  # a list item that starts with code: its bullet on a line of its own, above it
                found.append(Block("para", "", indent=indent, mark=mark))
                mark = ""
            found += [Block("code", line, indent=indent) for line in token.content.rstrip("\n").split("\n")]
    return found


def _words(inline) -> str:
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":  # a line the author ended on purpose stays a line
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)  # its description
    return "\n".join(" ".join(line.split()) for line in "".join(parts).split("\n"))


def pages(title: str, markdown: str, credit: str = "") -> list[str]:
    """The document as A4 pages of SVG: TITLE first, then its blocks, CREDIT at the end."""
    found = blocks(markdown)
    if found and found[0].kind == "heading" and found[0].level == 1:
        found = found[1:]  # the document's own title: TITLE is printed instead
    drawn: list[list[str]] = [[]]
    y = MARGIN
    width = PAGE_W - 2 * MARGIN

    def line(words: str, size: float, x: float, *, bold=False, mono=False, colour=INK, gap_before=0.0) -> None:
        nonlocal y
        if y + gap_before + size * LEADING > PAGE_H - MARGIN - 20:  # 20: the page number's room
            drawn.append([])
            y, gap_before = MARGIN, 0.0
        y += gap_before + size * LEADING
        drawn[-1].append(text(x, y, words, size, bold=bold, mono=mono, anchor="start")
                         .replace("<text ", f'<text fill="{colour}" ', 1))

    def paragraph(words: str, size: float, indent: float, *, bold=False, mark="", gap=0.0, colour=INK) -> None:
        hang = max(advance("00.", size), 16.0) if mark else 0.0
        lines = [one for part in words.split("\n") if part
                 for one in wrap(part, size * (1.2 if bold else 1), width - indent - hang)]
        if not lines and mark:
            line(mark, size, MARGIN + indent, bold=bold, gap_before=gap)
        for n, one in enumerate(lines):
            if n == 0 and mark:
                line(mark, size, MARGIN + indent, bold=bold, gap_before=gap)  # the mark, then its line beside it
                drawn[-1].append(text(MARGIN + indent + hang, y, one, size, bold=bold, anchor="start")
                                 .replace("<text ", f'<text fill="{colour}" ', 1))
                continue
            line(one, size, MARGIN + indent + hang, bold=bold, colour=colour, gap_before=gap if n == 0 else 0.0)

    paragraph(title, 22.0, 0, bold=True)
    for block in found:
        if block.kind == "heading":
            paragraph(block.words, SIZES[block.level], block.indent, bold=True, gap=BODY)
        elif block.kind == "code":  # monospace: cut by characters, so a long line stays on the page
            per_line = max(int((width - block.indent) / (BODY * 0.9 * 0.61)), 8)
            for start in range(0, max(len(block.words), 1), per_line):
                line(block.words[start:start + per_line], BODY * 0.9, MARGIN + block.indent, mono=True)
        else:
            paragraph(block.words, BODY, block.indent, mark=block.mark, gap=BODY * 0.5)
    if credit:
        paragraph(credit, BODY * 0.85, 0, gap=BODY * 2, colour=SOFT)
    out = []
    for number, body in enumerate(drawn, 1):
        foot = text(PAGE_W / 2, PAGE_H - MARGIN / 2, f"{number} / {len(drawn)}", 9).replace("<text ", f'<text fill="{SOFT}" ', 1)
        out.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 {PAGE_W} {PAGE_H}" '
                   f'font-family={quoteattr(FONT)}>' + "\n".join(body) + foot + "</svg>")
    return out


def write_svgs(svgs: list[str], folder: Path) -> list[Path]:
    """Each page into FOLDER as pageNNNN.svg, in order, for rsvg-convert to join."""
    paths = []
    for n, svg in enumerate(svgs, 1):
        path = folder / f"page{n:04d}.svg"
        path.write_text(svg, encoding="utf-8")
        paths.append(path)
    return paths

