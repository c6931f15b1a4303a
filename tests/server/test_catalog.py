import copy
import sqlite3

import pytest

from content_mirror.authoring import read_source
from server.catalog import MIGRATIONS, Catalog, Filters
from server.importer import install


def ids(page):
    return [item["id"] for item in page.items]


def test_migrated_once_with_wal(tmp_path):
    catalog = Catalog(tmp_path / "c.db")
    Catalog(tmp_path / "c.db")  # reopening runs no migration twice
    conn = sqlite3.connect(tmp_path / "c.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert catalog.count() == 0 and catalog.generation() == 0


def test_a_catalog_with_the_old_search_index_gets_the_new_one(filled):
    path = filled.catalog.path
    filled.catalog.close()
    # The index as migrations 1-2 left it: titles and bodies, no column for kinds.
    conn = sqlite3.connect(path)
    with conn:
        rows = conn.execute("SELECT rowid, title, body FROM items_fts").fetchall()
        conn.execute("DROP TABLE items_fts")
        conn.execute("CREATE VIRTUAL TABLE items_fts USING fts5(title, body, "
                     "tokenize = 'unicode61 remove_diacritics 2')")
        conn.executemany("INSERT INTO items_fts (rowid, title, body) VALUES (?, ?, ?)", rows)
        conn.execute("PRAGMA user_version = 2")
    catalog = Catalog(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert [r[1] for r in conn.execute("PRAGMA table_info(items_fts)")] == ["title", "kind", "body"]
    assert conn.execute("SELECT count(*) FROM items_fts WHERE kind != ''").fetchone()[0] == len(rows) == 7
    conn.close()
    assert ids(catalog.search("китоб", Filters(), limit=5)) == ["book-cat"]  # the kind's names
    assert ids(catalog.search("ҳуруфот", Filters(), limit=5)) == ["doc-plan"]  # a document's words, kept


@pytest.mark.parametrize("query,expected", [
    ("ҳисоб", "video-count"),             # Tajik as written
    ("ХИСОБ", "video-count"),             # Russian keyboard, capitals
    ("хис", "video-count"),               # prefix
    ("счет", "video-count"),              # ё typed as е
    ("СЧЁТ ПЯТИ", "video-count"),         # every word
    ("counting", "video-count"),
    ("себ", "video-count"),               # words of the subtitles
    ("омузгор", "doc-plan"),              # ӯ typed as у
    ("ҳуруфот", "doc-plan"),              # words inside the document
    ("ХУРУФОТ", "doc-plan"),
    ("буквами", "doc-plan"),
    ("sleep", "tip-sleep"),
    ("укладывайте", "tip-sleep"),
    ("шаклхоро", "act-shapes"),           # steps, ҳ typed as х
    ("проснулся", "book-cat"),            # page text
    ("первый урок", "course-start"),      # module titles
    ("kitten zebra", "book-cat"),         # no item has both words: any word will do
])
def test_search_forgives_case_keyboard_and_prefix(filled, query, expected):
    assert ids(filled.catalog.search(query, Filters(), limit=5))[0] == expected


@pytest.mark.parametrize("query", ['"', "*", "NEAR(a b)", "a OR", "-x", "^", "(((", "ҳ" * 500, "", "  "])
def test_search_syntax_characters_are_only_text(filled, query):
    filled.catalog.search(query, Filters(), limit=5)  # no sqlite3.OperationalError
    # Beside a real word they change nothing: the word still finds its item.
    assert ids(filled.catalog.search(f"{query} kitten", Filters(), limit=5))[0] == "book-cat"


def test_title_match_ranks_first(filled):
    # "урок" is in doc-plan's title and in course-start's module title (body)
    assert ids(filled.catalog.search("урока", Filters(), limit=5))[0] == "doc-plan"


def test_filters(filled):
    cat = filled.catalog
    assert set(ids(cat.items(Filters(audience="parents"), limit=50))) == {"tip-sleep", "act-shapes"}
    assert ids(cat.items(Filters(kind="video"), limit=50)) == ["video-count"]
    assert set(ids(cat.items(Filters(subject="numeracy"), limit=50))) == {"video-count", "act-shapes", "game-count"}
    assert set(ids(cat.items(Filters(lang="ru"), limit=50))) == {"doc-plan", "tip-sleep", "book-cat", "course-start", "game-count"}
    assert set(ids(cat.items(Filters(age=3), limit=50))) == {"video-count", "tip-sleep", "book-cat", "doc-plan", "course-start", "game-count"}
    assert ids(cat.search("хороший", Filters(audience="children"), limit=5)) == []
    page = cat.items(Filters(), limit=2, offset=1)
    assert len(page.items) == 2 and page.total == 7
    assert cat.facets()["audience"] == ["children", "educators", "parents"]


def test_full_update_replaces_channel_in_one_step(filled, source):
    manifest = copy.deepcopy(read_source(source).manifest)
    before = filled.catalog.generation()
    manifest["sequence"] = 2
    manifest["items"] = [i for i in manifest["items"] if i["id"] != "tip-sleep"]
    manifest["items"][0]["title"]["en"] = "Counting to five again"
    install(filled, manifest, read_source(source).open)
    assert filled.catalog.get("tip-sleep") is None
    assert filled.catalog.get("video-count")["title"]["en"] == "Counting to five again"
    assert filled.catalog.search("укладывайте", Filters(), limit=5).items == []
    assert filled.catalog.generation() == before + 1
    assert filled.catalog.sequences() == {"test": 2}


def test_failed_apply_changes_nothing(filled, source):
    manifest = copy.deepcopy(read_source(source).manifest)
    manifest["sequence"] = 2
    manifest["items"][0]["title"]["en"] = "changed"
    # The last item names a file the manifest lacks: apply fails after changing the others.
    manifest["items"][-1].setdefault("files", []).append({"role": "main", "sha256": "0" * 64})
    with pytest.raises(KeyError):
        filled.catalog.apply(manifest, now="2030-01-01T00:00:00Z", digest="0" * 64)
    assert filled.catalog.get("video-count")["title"]["en"] == "Counting to five"
    assert filled.catalog.count() == 7 and filled.catalog.sequences() == {"test": 1}
