"""Take-home files, made at build time on the content team's machine (issue 12; the box's side
is server/takehome.py, which says why these formats).

A phone keeps what its own apps open, so:

    a picture book   one MP4 per language: each page's picture with its words under it (a
                     parent can read along with the sound off) for as long as its narration
                     lasts, or a reading time where it has none;
    an activity, a tip   one JPEG card per language, 1080 px wide, for the gallery and the
                     family chat: title, text, what you need, the steps, the credit;
    a document       one A4 PDF per language from its Markdown (content_mirror/pdfdoc.py),
                     unless it has a PDF of its own to print.

All are drawn as SVG in DejaVu Sans (Debian's default font: it has every Tajik letter) and
rasterised by rsvg-convert (librsvg2-bin), which also writes the PDF; ffmpeg joins a book's
pages and narration (H.264 + AAC, index first, like every video a box serves) and writes the
card's JPEG.

Results live in the authoring folder's .sanduq-cache/takehome/ as ITEM.LANG.KEY.EXT, KEY a hash
of all that goes into the file (words, pictures, narration, VERSION), so an unchanged item is
never drawn again and an edited one always is. `add_takehome` adds them to a read source:
making what is missing (`sanduq-mirror build`), or only taking what is made (the demo
installed on a box, which has no ffmpeg: the demo's are committed beside it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import quoteattr

from content_mirror.authoring import Source
from content_mirror.manifest import MIME_TYPES
from content_mirror.svgtext import FONT, advance, text, wrap
from content_mirror.video import LOCAL_ONLY, probe
from server.errors import SanduqError
from server.fsutil import program, sha256_file
from server.i18n import CATALOGS

VERSION = 3  # raise it when a drawing changes: every cached file is then made again
CACHE = Path(".sanduq-cache") / "takehome"
FRAME_W, FRAME_H, BAND = 854, 480, 132  # 480p, 16:9; BAND: the words under the picture
FPS = 25  # a page lasts its narration to 1/25 s; repeated frames cost x264 next to nothing
READING = (3.0, 0.5)  # a page without narration: 3 s, and half a second a word
CARD_W, MARGIN = 1080, 72
INK, PAPER, SOFT = "#3e2723", "#fffdf7", "#8d6e63"
BOOK_DRAWING = 2  # a book video's own version (VERSION's, for books only): each page's sound made first
SECONDS_PER_PAGE_LIMIT = 60  # ffmpeg is stopped if a book takes longer than this per page


@dataclass(frozen=True)
class Wanted:
    item: str
    lang: str
    ext: str
    key: str
    draw: Callable[[Path, Path], None]  # (out, scratch folder)

    @property
    def name(self) -> str:
        return f"{self.item}.{self.lang}.{self.key}{self.ext}"


def add_takehome(source: Source, folder: Path, *, make: bool = True, cache: Path | None = None,
                 report=print, hashed: dict | None = None) -> Source:
    """SOURCE with each book's, activity's, tip's and document's take-home file per language (role
    takehome).

    MAKE: draw what the cache (FOLDER's own, or CACHE) lacks; otherwise leave those items without.
    A file that cannot be made (a narration ffmpeg cannot read) is reported and left out: the
    item itself still ships. HASHED: (path, size, modified) -> SHA-256 kept by a caller that
    reads the folder again and again (the preview, as read_source's)."""
    manifest = json.loads(json.dumps(source.manifest))  # the caller's stays as read
    paths, cache = dict(source.paths), Path(cache) if cache else Path(folder) / CACHE
    for item in manifest["items"]:
        for wanted in _wanted(item, manifest["files"], paths):
            path = cache / wanted.name
            if not path.is_file():
                if not make:
                    continue
                try:
                    _make(wanted, path)
                except SanduqError as e:  # the item still ships; phones just cannot take it home
                    report(f"{item['id']}: no take-home file in {wanted.lang}: {e.message}")
                    continue
                report(f"{item['id']}: take-home {wanted.ext[1:].upper()} in {wanted.lang} made")
                _forget_older(cache, wanted)
            found = path.stat()
            key = (path, found.st_size, found.st_mtime_ns)
            sha = hashed[key] if hashed is not None and key in hashed else sha256_file(path)
            if hashed is not None:
                hashed[key] = sha
            manifest["files"][sha] = {"size": found.st_size, "mime": MIMES[wanted.ext]}
            paths[sha] = path
            item.setdefault("files", []).append({"role": "takehome", "lang": wanted.lang, "sha256": sha})
    return replace(source, manifest=manifest, paths=paths)


MIMES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".pdf": "application/pdf"}


def _wanted(item: dict, files: dict, paths: dict) -> list[Wanted]:
    if item["kind"] == "book" and item.get("pages"):
        return [_book(item, lang, files, paths) for lang in item.get("languages", [])
                if any(page.get("text", {}).get(lang) for page in item["pages"])]
    bloom = next((r["sha256"] for r in item.get("files", []) if r["role"] == "main"
                  and files[r["sha256"]]["mime"] == "application/zip" and item["kind"] == "book"), None)
    if bloom:
        return _bloom(item, paths[bloom], bloom)
    if item["kind"] in ("activity", "tip"):
        return [_card(item, lang) for lang in item.get("languages", []) if item["title"].get(lang)]
    if item["kind"] == "document" and not any(r["role"] == "print" for r in item.get("files", [])):
        return [_document(item, ref["lang"], paths[ref["sha256"]], ref["sha256"]) for ref in item.get("files", [])
                if ref["role"] == "main" and ref.get("lang") and files[ref["sha256"]]["mime"] == "text/markdown"]
    return []


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps([VERSION, *parts], ensure_ascii=False).encode()).hexdigest()[:16]


def _make(wanted: Wanted, path: Path) -> None:
    """Draw WANTED into PATH whole, or leave nothing there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="takehome-", dir=path.parent) as scratch:
        out = Path(scratch) / f"out{wanted.ext}"
        wanted.draw(out, Path(scratch))
        os.replace(out, path)


def _forget_older(cache: Path, wanted: Wanted) -> None:
    """Remove the earlier drawings of the same item and language: the cache does not grow."""
    for old in cache.glob(f"{wanted.item}.{wanted.lang}.*{wanted.ext}"):
        if old.name != wanted.name:
            old.unlink(missing_ok=True)


def _run(command: list[str], what: str, timeout: float) -> None:
    try:
        # stdin closed: ffmpeg otherwise reads keys from a terminal, and a build in one could stall
        subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=timeout)
    except subprocess.CalledProcessError as e:
        tail = e.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise SanduqError(f"Could not make {what}: {tail[0][:300]}") from None
    except subprocess.TimeoutExpired:
        raise SanduqError(f"Could not make {what}: it took over {timeout:.0f} seconds.") from None


def _rasterise(svg: str, scratch: Path, name: str, width: int, height: int) -> Path:
    source, png = scratch / f"{name}.svg", scratch / f"{name}.png"
    source.write_text(svg, encoding="utf-8")
    _run([program("rsvg-convert", "librsvg2-bin", "to draw take-home files"), "-w", str(width),
          "-h", str(height), "-b", PAPER, "-o", str(png), str(source)], f"the picture {name}", 60)
    return png


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


# -- a picture book as a video ----------------------------------------------------------------

def _book(item: dict, lang: str, files: dict, paths: dict) -> Wanted:
    pages = []
    for number, page in enumerate(item["pages"], 1):
        refs = [r for r in item["files"] if r.get("page") == number]
        picture = next((r["sha256"] for r in refs if r["role"] == "picture"), None)
        voice = next((r["sha256"] for r in refs if r["role"] == "narration" and r.get("lang") == lang), None)
        pages.append((picture, page.get("text", {}).get(lang, ""), voice))
    plan = [(paths[p] if p else None, files[p]["mime"] if p else None, words, [paths[v]] if v else [])
            for p, words, v in pages]
    key = _key("book", lang, pages, BOOK_DRAWING)
    return Wanted(item["id"], lang, ".mp4", key, lambda out, scratch: book_video(plan, out, scratch))


def _bloom(item: dict, path: Path, sha: str) -> list[Wanted]:
    """A Bloom book's story pages as a video per language they are written in: the first
    picture of each page, its words, and its sentences' recordings (audio/ID.mp3) in order.
    Quizzes and activities are left out: they need the player."""
    from content_mirror.bloom import page_files, story_pages

    with zipfile.ZipFile(path) as archive:  # checked when the folder was read (check_bloompub)
        pages = story_pages(archive.read(page_files(archive.namelist())[0]).decode("utf-8", "replace"))

    def draw(lang: str, out: Path, scratch: Path) -> None:
        plan = []
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())

            def take(name: str | None, to: str) -> Path | None:
                if name not in names:
                    return None
                with archive.open(name) as src, open(scratch / to, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                return scratch / to

            for n, page in enumerate(pages):
                ext = posixpath.splitext(page.picture or "")[1].lower()
                picture = take(page.picture, f"picture{n}{ext}") if ext in (".svg", ".png", ".jpg", ".jpeg") else None
                voices = [take(f"audio/{sid}.mp3", f"voice{n}-{k}.mp3") for k, sid in enumerate(page.sentences.get(lang, []))]
                plan.append((picture, MIME_TYPES.get(ext), page.words.get(lang, ""), [v for v in voices if v]))
        book_video(plan, out, scratch)

    return [Wanted(item["id"], lang, ".mp4", _key("bloom", lang, sha, BOOK_DRAWING),
                   lambda out, scratch, lang=lang: draw(lang, out, scratch))
            for lang in item.get("languages", []) if any(page.words.get(lang) for page in pages)]


# A recording is read only as the format its name says: ffmpeg otherwise goes by its bytes, and
# a "recording" that is a playlist would have it read other files into the video.
AUDIO_FORMATS = {".mp3": "mp3", ".m4a": "mov", ".ogg": "ogg", ".opus": "ogg"}
PICTURE_BYTES = 1_500_000  # a larger photograph is made frame-sized before it goes into the SVG


def page_seconds(words: str, voices: list[Path]) -> float:
    """How long a page is shown: its narration (one recording, or one a sentence), or a
    reading time for its words."""
    voices = [v for v in voices if v.suffix.lower() in AUDIO_FORMATS]
    if voices:
        return round(sum(probe(v, AUDIO_FORMATS[v.suffix.lower()]).seconds for v in voices), 3)
    return READING[0] + READING[1] * len(words.split())


def page_svg(picture: Path | None, mime: str | None, words: str) -> str:
    """A page as one frame: the picture above, its words centred in the band below."""
    size, lines = 30.0, wrap(" ".join(words.split()), 30.0, FRAME_W - 48)
    while len(lines) > 3 and size > 16:  # a long page gets smaller type, never a cut sentence
        size -= 2
        lines = wrap(" ".join(words.split()), size, FRAME_W - 48)
    top = FRAME_H - BAND + (BAND - size * 1.25 * len(lines)) / 2 + size
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{FRAME_W}" height="{FRAME_H}" '
             f'font-family={quoteattr(FONT)} fill="{INK}">',
             f'<rect width="{FRAME_W}" height="{FRAME_H}" fill="{PAPER}"/>']
    if picture is not None:
        parts.append(f'<image x="16" y="12" width="{FRAME_W - 32}" height="{FRAME_H - BAND - 16}" '
                     f'preserveAspectRatio="xMidYMid meet" href="{_data_uri(picture, mime)}"/>')
    parts += [text(FRAME_W / 2, top + n * size * 1.25, line, size) for n, line in enumerate(lines)]
    return "\n".join(parts + ["</svg>"])


def book_video(plan: list, out: Path, scratch: Path) -> None:
    """The book's pages (picture path, its type, words, narration paths) as one MP4 at OUT.

    Each page's sound is made first, alone: its recordings one after another, exactly as long
    as its picture (or silence). Then the pictures and the sounds go to ffmpeg as two lists
    (its concat demuxer), so however long the book, ffmpeg holds one page at a time and has two
    inputs, never one a sentence."""
    ffmpeg = program("ffmpeg", "ffmpeg", "to make a book into a video")
    seconds = [page_seconds(words, voices) for _, _, words, voices in plan]
    pictures, sounds = ["ffconcat version 1.0"], ["ffconcat version 1.0"]
    for n, ((picture, mime, words, voices), length) in enumerate(zip(plan, seconds)):
        if picture is not None and mime != "image/svg+xml" and picture.stat().st_size > PICTURE_BYTES:
            picture, mime = _smaller(ffmpeg, picture, scratch / f"small{n}.jpg"), "image/jpeg"
        _rasterise(page_svg(picture, mime, words), scratch, f"page{n}", FRAME_W, FRAME_H)
        pictures += [f"file page{n}.png", f"duration {length:.3f}"]
        _page_sound(ffmpeg, voices, length, scratch / f"sound{n}.wav")
        sounds.append(f"file sound{n}.wav")
    pictures.append(f"file page{len(plan) - 1}.png")  # the demuxer shows the last entry for no time
    (scratch / "pages.txt").write_text("\n".join(pictures) + "\n", encoding="utf-8")
    (scratch / "sounds.txt").write_text("\n".join(sounds) + "\n", encoding="utf-8")
    _run([ffmpeg, "-y", "-v", "error", *LOCAL_ONLY, "-f", "concat", "-i", str(scratch / "pages.txt"),
          *LOCAL_ONLY, "-f", "concat", "-i", str(scratch / "sounds.txt"), "-map", "0:v", "-map", "1:a",
          "-vf", f"fps={FPS},format=yuv420p", "-t", f"{sum(seconds):.3f}",
          "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", "26",
          "-c:a", "aac", "-b:a", "40k", "-movflags", "+faststart", str(out)],
         "the book's video", SECONDS_PER_PAGE_LIMIT * len(plan))


def _page_sound(ffmpeg: str, voices: list[Path], length: float, out: Path) -> None:
    """A page's sound as a WAV of exactly LENGTH seconds: its recordings in turn, or silence."""
    voices = [v for v in voices if v.suffix.lower() in AUDIO_FORMATS]
    inputs = [arg for v in voices for arg in (*LOCAL_ONLY, "-f", AUDIO_FORMATS[v.suffix.lower()], "-i", str(v))]
    if voices:
        graph = "".join(f"[{k}:a]aresample=22050,aformat=channel_layouts=mono[v{k}];" for k in range(len(voices)))
        graph += "".join(f"[v{k}]" for k in range(len(voices))) + f"concat=n={len(voices)}:v=0:a=1,"
    else:
        graph = "anullsrc=r=22050:cl=mono,"
    graph += f"apad,atrim=duration={length:.3f}[a]"
    _run([ffmpeg, "-y", "-v", "error", *inputs, "-filter_complex", graph, "-map", "[a]",
          "-c:a", "pcm_s16le", str(out)], "a page's sound", 60)


def _smaller(ffmpeg: str, picture: Path, out: Path) -> Path:
    """A large photograph made the size of a frame's picture area (an SVG holds its data whole)."""
    _run([ffmpeg, "-y", "-v", "error", *LOCAL_ONLY, "-i", str(picture), "-frames:v", "1", "-vf",
          f"scale={2 * (FRAME_W - 32)}:{2 * (FRAME_H - BAND - 16)}:force_original_aspect_ratio=decrease",
          "-q:v", "3", str(out)], "a page's picture", 60)
    return out


# -- a document as a PDF ------------------------------------------------------------------------

def _document(item: dict, lang: str, markdown: Path, sha: str) -> Wanted:
    from content_mirror.pdfdoc import pages, write_svgs

    title = item["title"].get(lang) or next(iter(item["title"].values()))
    credit = _credit(item)
    key = _key("document", lang, title, sha, credit)

    def draw(out: Path, scratch: Path) -> None:
        svgs = pages(title, markdown.read_text(encoding="utf-8", errors="replace"), credit)
        names = [str(path) for path in write_svgs(svgs, scratch)]
        _run([program("rsvg-convert", "librsvg2-bin", "to draw take-home files"), "-f", "pdf", "-o", str(out),
              *names], "the document's PDF", 30 + 5 * len(names))

    return Wanted(item["id"], lang, ".pdf", key, draw)


def _credit(item: dict) -> str:
    return " · ".join(x for x in (item.get("author"), item.get("copyright"), item.get("licence")) if x)


# -- an activity or a tip as a picture card -----------------------------------------------------

def _card(item: dict, lang: str) -> Wanted:
    def lines(field: str) -> list[str]:
        found = item.get(field, {}).get(lang) or []
        return [found] if isinstance(found, str) else list(found)

    labels = CATALOGS.get(lang)
    said = (lambda words: labels.gettext(words)) if labels else (lambda words: words)
    content = {"title": item["title"][lang], "text": lines("text"), "materials": lines("materials"),
               "steps": lines("steps"), "need": said("You need"), "how": said("Steps"), "credit": _credit(item)}
    key = _key("card", lang, content)
    return Wanted(item["id"], lang, ".jpg", key, lambda out, scratch: card_jpeg(content, out, scratch))


def card_svg(content: dict) -> tuple[str, int]:
    """The card as SVG, and its height: it grows with its words, its width is fixed."""
    width, parts, y = CARD_W - 2 * MARGIN, [], MARGIN

    def block(words: str, size: float, *, bold=False, indent=0.0, mark="", colour=INK) -> None:
        nonlocal y
        # Bold is up to 1.2 times as wide: wrap as if larger, so a bold line stays inside.
        for n, line in enumerate(wrap(" ".join(words.split()), size * (1.2 if bold else 1), width - indent)):
            y += size * 1.3
            if n == 0 and mark:
                parts.append(text(MARGIN, y, mark, size, bold=True, anchor="start"))
            parts.append(text(MARGIN + indent, y, line, size, bold=bold, anchor="start")
                         .replace("<text ", f'<text fill="{colour}" ', 1))

    block(content["title"], 64, bold=True)
    y += 24
    for paragraph in content["text"]:
        block(paragraph, 40)
        y += 12
    for heading, rows, numbered in ((content["need"], content["materials"], False),
                                    (content["how"], content["steps"], True)):
        if rows:
            y += 24
            block(heading, 46, bold=True)
            y += 8
            for n, row in enumerate(rows, 1):
                mark = f"{n}." if numbered else "•"
                block(row, 40, indent=max(advance("00.", 40), 52), mark=mark)
                y += 10
    if content["credit"]:
        y += 32
        block(content["credit"], 28, colour=SOFT)
    height = int(y + MARGIN)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{CARD_W}" height="{height}" '
            f'font-family={quoteattr(FONT)} fill="{INK}"><rect width="{CARD_W}" height="{height}" fill="{PAPER}"/>'
            f'<rect width="{CARD_W}" height="16" fill="#1b6b5a"/>')
    return head + "\n".join(parts) + "</svg>", height


def card_jpeg(content: dict, out: Path, scratch: Path) -> None:
    svg, height = card_svg(content)
    png = _rasterise(svg, scratch, "card", CARD_W, height)
    _run([program("ffmpeg", "ffmpeg", "to make take-home cards"), "-y", "-v", "error", *LOCAL_ONLY,
          "-i", str(png), "-q:v", "5", str(out)], "the card's picture", 60)

