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


def test_a_language_is_a_row_in_the_table_and_a_catalog(tmp_path, monkeypatch):
    """A catalog of a language the table knows is loaded; a folder the table does not know is not."""
    from babel.messages.catalog import Catalog

    for code, words in (("uz", "Bolalar"), ("xx", "Xx")):
        catalog = Catalog(locale="uz")
        catalog.add("Children", words)
        folder = tmp_path / code / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with (folder / "messages.mo").open("wb") as f:
            write_mo(f, catalog)
    monkeypatch.setattr(i18n, "FOLDER", tmp_path)
    catalogs = i18n._load()
    assert set(catalogs) == {"en", "uz"}
    assert catalogs["uz"].gettext("Children") == "Bolalar"


def test_every_catalog_has_the_plural_forms_cldr_gives_its_language():
    """gettext's plural expression must sort whole numbers into the same groups as CLDR's rules:
    three for Russian, Serbian and Montenegrin, two for Tajik, Uzbek and Kyrgyz."""
    import gettext

    from babel import Locale

    from server.languages import BY_CODE, catalog_folder

    for code, language in BY_CODE.items():
        if code == "en":
            continue
        with (i18n.FOLDER / catalog_folder(code) / "LC_MESSAGES" / "messages.mo").open("rb") as f:
            catalog = gettext.GNUTranslations(f)
        rule = Locale.parse(catalog_folder(code)).plural_form
        groups = {}
        for n in range(0, 1000):
            groups.setdefault(rule(n), set()).add(catalog.plural(n))
        assert len(groups) == language.plurals, code
        assert all(len(forms) == 1 for forms in groups.values()), code  # one gettext form per CLDR group
        assert len({next(iter(forms)) for forms in groups.values()}) == language.plurals, code


def test_serbian_latin_is_the_cyrillic_catalog_letter_for_letter():
    from server.languages import to_latin

    with (i18n.FOLDER / "sr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        cyrillic = {m.id: m.string for m in read_po(f) if m.id}
    with (i18n.FOLDER / "sr_Latn" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        latin = {m.id: m.string for m in read_po(f) if m.id}
    assert latin == {k: (tuple(map(to_latin, v)) if isinstance(v, tuple) else to_latin(v)) for k, v in cyrillic.items()}


def test_uzbek_writes_o_and_g_with_the_modifier_letter():
    import re

    with (i18n.FOLDER / "uz" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        texts = [s for m in read_po(f) if m.id for s in ([m.string] if isinstance(m.string, str) else m.string)]
    assert [t for t in texts if re.search("[oOgG]['’‘`]", t)] == []
    assert any("oʻ" in t or "gʻ" in t for t in texts)


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
