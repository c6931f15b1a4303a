"""Search in every language: the time of a search with today's folding against the folding
before the five countries (issue 14), in the same run on the same library, and the hit rate
of words typed as people type them, per language.

    python3 bench/search.py [--quick] [--items N]

Speed: the synthetic library of bench/make_library.py (Tajik, Russian and English, as the
field's libraries are), indexed once by each version of server/search.py (the old one is read
from git, at BEFORE), then the same 200 real words and 200 new word pairs asked of each,
straight from the catalog (no answer cache, no HTTP): the search itself.

Hit rate: the demo library (its children's items have titles in Kyrgyz, Uzbek and Serbian).
Each title word of four letters or more is typed the way a parent types it: Kyrgyz and Tajik on
a Russian keyboard (ң ө ү as н о у; ҳ қ ғ ҷ ӯ ӣ as х к г ч у и), Uzbek with an ASCII
apostrophe (o'rganamiz) and in Cyrillic on a Russian keyboard (урганамиз), Serbian in Latin
without diacritics (kuca) and in Cyrillic; a hit is its item among the answers.
"""

import _project  # noqa: F401  (re-runs under .venv, puts the repo on sys.path)

import argparse
import importlib.util
import io
import json
import re
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

from make_library import build_manifest, query_words

from server import catalog as catalog_module
from server import search as search_now
from server.catalog import Catalog, Filters
from server.languages import to_latin

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results-search.md")
BEFORE = "be5da74"  # the last commit before issue 14's search


def old_search() -> types.ModuleType:
    """server/search.py as it was at BEFORE, with the one function today's catalog also calls."""
    source = subprocess.run(["git", "show", f"{BEFORE}:server/search.py"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("search_before", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, "search_before.py", "exec"), module.__dict__)
    module.index_texts = lambda texts: module.index_text(" ".join(t for t in texts.values() if t))
    return module


def timed(catalog: Catalog, module, queries: list[str]) -> float:
    catalog_module.search = module
    start = time.perf_counter()
    for query in queries:
        catalog.search(query, Filters(), limit=30)
    return (time.perf_counter() - start) / len(queries) * 1000


def typed(word: str, lang: str) -> list[str]:
    """WORD of a title in LANG, as parents type it (see the module)."""
    russian_keys = str.maketrans("ңөүҳқғҷӯӣў", "ноухкгчуиу")
    if lang in ("tg", "ky"):
        return [word.translate(russian_keys)]
    if lang == "uz":
        return [word.replace("ʻ", "'"), search_now.uz_cyrillic(word).translate(russian_keys)]
    if lang == "sr":  # in Latin without diacritics (đ as dj), and in Cyrillic
        return [to_latin(word).replace("đ", "dj").translate(str.maketrans("čćžš", "cczs")), word]
    return [word]


def hit_rates(module) -> dict[str, tuple[int, int]]:
    """Per language: (hits, words) of typed title words in the demo library, searched with MODULE."""
    from content_mirror.demo import install_demo
    from server.library import Library

    catalog_module.search = module
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(Path(tmp))
        install_demo(library)
        rates = {}
        for lang in ("tg", "ru", "ky", "uz", "sr"):
            hits = total = 0
            for (data,) in library.catalog.db.execute("SELECT data FROM items"):
                item = json.loads(data)
                for word in re.findall(r"[^\W\d_]+", item["title"].get(lang, "")):
                    if len(word) < 4:
                        continue
                    for query in typed(word.casefold(), lang):
                        total += 1
                        found = [i["id"] for i in library.catalog.search(query, Filters(), limit=30).items]
                        hits += item["id"] in found
            rates[lang] = (hits, total)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 items; writes no results file")
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    items = 1_000 if args.quick else args.items
    before = old_search()
    words = query_words(200)
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:] + words[:1])]
    lines = [f"Search, in process, on {items:,} synthetic items (Tajik, Russian, English): ms per search, "
             f"today's folding against the folding before issue 14 ({BEFORE}), each indexing the library itself.", "",
             "| queries | before, ms | today, ms | today / before | goal | met |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="sanduq-search-bench-") as tmp:
        speeds = {}
        for name, module in (("today", search_now), ("before", before)):
            catalog = rebuild(Path(tmp) / name, module, items)
            speeds[name] = [min(timed(catalog, module, q) for _ in range(7)) for q in (words, pairs)]
            catalog.close()
    for n, label in enumerate(("200 real words", "200 word pairs")):
        ratio = speeds["today"][n] / speeds["before"][n]
        lines.append(f"| {label} | {speeds['before'][n]:.2f} | {speeds['today'][n]:.2f} | {ratio:.2f} | ≤ 1.10 | "
                     f"{'yes' if ratio <= 1.10 else '**no**'} |")
    lines += ["", "Hit rate on the demo library: every title word of four letters or more, typed as parents type "
              "it (the module says how), found among its item's answers.", "",
              "| language | before | today |", "|---|---|---|"]
    old_rates, new_rates = hit_rates(before), hit_rates(search_now)
    for lang in new_rates:
        (oh, ot), (nh, nt) = old_rates[lang], new_rates[lang]
        lines.append(f"| {lang} | {oh}/{ot} ({oh / max(ot, 1):.0%}) | {nh}/{nt} ({nh / max(nt, 1):.0%}) |")
    catalog_module.search = search_now
    print("\n".join(lines))
    if not args.quick:
        RESULTS.write_text("\n".join(lines) + "\n\nMade by `python3 bench/search.py`.\n", encoding="utf-8")


def rebuild(folder: Path, module, items: int) -> Catalog:
    """The synthetic library installed into FOLDER with MODULE doing the indexing."""
    from server.importer import install
    from server.library import Library

    catalog_module.search = module
    manifest, payloads = build_manifest(items)
    library = Library(folder)
    install(library, manifest, lambda sha: io.BytesIO(payloads[sha]))
    return library.catalog


if __name__ == "__main__":
    sys.exit(main())
