"""The interface catalogs: complete, compiled, in step with the code, and easy to add to."""

import io
import subprocess
import sys
from pathlib import Path

import pytest

babel = pytest.importorskip("babel")
from babel.messages.mofile import read_mo, write_mo  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

from server import i18n  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = sorted(i18n.FOLDER.glob("*/LC_MESSAGES/messages.po"))


def ids(catalog):
    return {m.id for m in catalog if m.id}


def test_the_template_lists_every_string_in_the_code(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
                    "-k", "N_", "-k", "gettext_", "-k", "ngettext_:1,2", "-k", "_", "--no-location",
                    "-o", str(fresh), "."], cwd=ROOT, check=True, capture_output=True)
    with fresh.open("rb") as f, (i18n.FOLDER / "messages.pot").open("rb") as g:
        assert ids(read_po(f)) == ids(read_po(g)), "run the extract command in the README"


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parts[-3])
def test_every_catalog_is_complete_and_compiled(po):
    with po.open("rb") as f:
        catalog = read_po(f)
    with (i18n.FOLDER / "messages.pot").open("rb") as f:
        template = read_po(f)
    assert ids(template) <= ids(catalog)
    untranslated = [m.id for m in catalog if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    assert untranslated == []
    assert not [m for m in catalog if m.fuzzy and m.id]
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    with po.with_suffix(".mo").open("rb") as f:
        on_disk = read_mo(f)
    def strings(mo):
        def hashable(x):
            return tuple(x) if isinstance(x, list) else x

        return {hashable(m.id): hashable(m.string) for m in mo if m.id}

    assert strings(read_mo(io.BytesIO(compiled.getvalue()))) == strings(on_disk), \
        "run the compile command in the README"


def test_placeholders_survive_translation():
    import re

    for po in CATALOGS:
        with po.open("rb") as f:
            for m in read_po(f):
                if not m.id:
                    continue
                source = m.id if isinstance(m.id, str) else m.id[0]
                targets = [m.string] if isinstance(m.string, str) else list(m.string)
                for target in targets:
                    assert set(re.findall(r"%\(\w+\)s", source)) == set(re.findall(r"%\(\w+\)s", target)), (po, source)


def test_a_new_language_is_only_a_catalog(tmp_path, monkeypatch):
    from babel.messages.catalog import Catalog

    uz = Catalog(locale="uz")
    uz.add(i18n.NAME_KEY, "Oʻzbekcha")
    uz.add("Children", "Bolalar")
    folder = tmp_path / "uz" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    for existing in CATALOGS:  # keep the others
        target = tmp_path / existing.parts[-3] / "LC_MESSAGES"
        target.mkdir(parents=True, exist_ok=True)
        (target / "messages.mo").write_bytes(existing.with_suffix(".mo").read_bytes())
    with (folder / "messages.mo").open("wb") as f:
        write_mo(f, uz)
    monkeypatch.setattr(i18n, "FOLDER", tmp_path)
    catalogs = i18n._load()
    assert set(catalogs) == {"tg", "ru", "en", "uz"}
    assert catalogs["uz"].gettext("Children") == "Bolalar"


def test_one_fallback_rule_for_texts_and_lists(tmp_path):
    """An English reader of an item written in Tajik and Russian reads Russian, the nearest, in
    its title and in its steps alike (once the steps took the first language listed)."""
    from flask import render_template_string

    from server.app import close_app, create_app
    from server.library import Library

    app = create_app({"data_dir": str(tmp_path / "data")}, library=Library(tmp_path / "data"))
    try:
        texts, steps = {"tg": "Шаклҳо", "ru": "Фигуры"}, {"tg": ["Коғаз гиред"], "ru": ["Возьмите бумагу"]}
        with app.test_request_context("/?lang=en"):
            shown = render_template_string("{{ t(texts) }}|{{ tl(steps)|join(',') }}", texts=texts, steps=steps)
        assert shown == "Фигуры|Возьмите бумагу"
    finally:
        close_app(app)
