"""The reference ZIM for kiwix-serve: Sanduq's items as HTML articles, with a full-text index.

Every item becomes one article holding the text Sanduq indexes (titles, descriptions, texts,
steps, materials, page texts, module titles), so both servers search the same words. Two
more articles are padded to exactly the byte size of Sanduq's answers, so the page
benchmarks compare servers sending the same number of bytes. A built ZIM is kept in the
cache folder and reused while its inputs are the same.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
import sqlite3
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Callable, Iterable

from servers import BenchError

from server.catalog import body_texts

ZIM_VERSION = 1  # bump when the articles made here change
NAME = "sanduq-bench"
PAGE_HEAD = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body><pre>'
PAGE_TAIL = "</pre></body></html>"


def png_48() -> bytes:
    """A plain 48x48 RGB PNG, the illustration every ZIM must have."""
    raw = b"".join(b"\x00" + bytes((46, 125, 50)) * 48 for _ in range(48))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 48, 48, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def padded_page(title: str, text: str, size: int) -> bytes:
    """An HTML page of exactly SIZE bytes showing as much of TEXT as fits."""
    head = PAGE_HEAD.format(title=html.escape(title)).encode()
    tail = PAGE_TAIL.encode()
    room = size - len(head) - len(tail)
    if room < 0:
        raise ValueError(f"a page cannot be as small as {size} bytes")
    body = html.escape(text).encode()[:room].decode("utf-8", "ignore").encode()
    return head + body + b" " * (room - len(body)) + tail


def _texts(item: dict) -> Iterable[str]:
    """The same words Sanduq's search index holds: titles, then the rest."""
    yield from item.get("title", {}).values()
    yield from body_texts(item)


def item_article(item: dict) -> bytes:
    titles = item["title"]
    title = next((titles[lang] for lang in ("tg", "ru", "en") if titles.get(lang)), next(iter(titles.values())))
    paragraphs = "".join(f"<p>{html.escape(text)}</p>" for text in _texts(item))
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f"<body><h1>{html.escape(title)}</h1>{paragraphs}</body></html>").encode()


def build_zim(catalog_db: Path, cache_dir: Path, pages: dict[str, tuple[int, str] | bytes], library_key: str,
              log: Callable[[str], None]) -> Path:
    """The ZIM of the catalog's items plus PAGES ({file name: (size, text)}); built once per inputs."""
    shapes = {k: hashlib.sha256(v).hexdigest() if isinstance(v, bytes) else v[0] for k, v in sorted(pages.items())}
    key = hashlib.sha256(json.dumps([ZIM_VERSION, library_key, shapes]).encode()).hexdigest()[:16]
    zim = cache_dir / f"zim-{key}" / f"{NAME}.zim"
    if zim.is_file():
        log(f"reusing {zim}")
        return zim
    folder = zim.parent
    shutil.rmtree(folder, ignore_errors=True)
    source = folder / "html"
    source.mkdir(parents=True)
    (source / "illustration.png").write_bytes(png_48())
    (source / "index.html").write_bytes(padded_page("Sanduq benchmark", "Items of the Sanduq benchmark.", 300))
    for name, page in pages.items():
        # bytes: a page served as it is (Sanduq's own HTML); (size, text): padded to SIZE
        (source / name).write_bytes(page if isinstance(page, bytes) else padded_page(name, page[1], page[0]))
    db = sqlite3.connect(f"file:{catalog_db}?mode=ro", uri=True)
    try:
        count = 0
        for (data,) in db.execute("SELECT data FROM items"):
            item = json.loads(data)
            (source / f"{item['id']}.html").write_bytes(item_article(item))
            count += 1
    finally:
        db.close()
    log(f"building a ZIM of {count} articles with zimwriterfs (full-text index included)")
    tmp = zim.with_suffix(".tmp")
    cmd = ["zimwriterfs", "--welcome=index.html", "--illustration=illustration.png", "--language=tgk",
           "--title=Sanduq benchmark", "--description=Sanduq benchmark items", "--creator=Sanduq",
           "--publisher=Sanduq", f"--name={NAME}", "--threads=2", str(source), str(tmp)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    if done.returncode != 0 or not tmp.is_file():
        raise BenchError(f"zimwriterfs failed ({done.returncode}):\n{done.stdout[-2000:]}")
    tmp.rename(zim)
    shutil.rmtree(source)
    return zim
