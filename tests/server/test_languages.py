"""The languages table (server/languages.py): chains as the issue wrote them, Serbian in the
reader's alphabet, and a box offering only its own languages."""

import pytest

from server import settings as settings_table
from server.errors import SanduqError
from server.languages import BY_CODE, chain, in_script


def test_the_fallback_chains_are_data_and_as_written():
    assert chain("ky") == ("ky", "ru", "en") and chain("uz") == ("uz", "ru", "en")
    assert chain("sr") == ("sr", "cnr", "en") and chain("sr-Latn") == ("sr", "cnr", "en")
    assert chain("cnr") == ("cnr", "sr", "en") and chain("tg") == ("tg", "ru", "en")
    assert {language.plurals for code, language in BY_CODE.items() if code in ("ru", "sr", "sr-Latn", "cnr")} == {3}
    assert {language.plurals for code, language in BY_CODE.items() if code in ("tg", "uz", "ky")} == {2}


@pytest.mark.parametrize("content,reader,shown", [
    ("sr", "sr", "Кућа и ђак"), ("sr", "sr-Latn", "Kuća i đak"), ("sr", "cnr", "Kuća i đak"),
    ("cnr", "sr", "Кућа и ђак"), ("tg", "sr-Latn", "Кућа и ђак"), ("sr", "ru", "Кућа и ђак"),
])
def test_serbian_content_is_written_once_and_read_in_either_alphabet(content, reader, shown):
    assert in_script("Кућа и ђак", content, reader) == shown
    if content in ("sr", "cnr") and reader in ("sr", "sr-Latn", "cnr"):
        assert in_script("Kuća i đak", content, reader) == shown  # written in Latin, the same


def test_a_box_offers_only_the_languages_it_is_set_to(tmp_path):
    from server.app import close_app, create_app
    from server.library import Library

    app = create_app({"data_dir": str(tmp_path), "languages": "ky ru uz", "default_language": "ky"},
                     library=Library(tmp_path))
    try:
        client = app.test_client()
        page = client.get("/").get_data(as_text=True)
        assert '<html lang="ky">' in page  # the default follows the setting
        assert [code for code in ("tg", "ru", "en", "ky", "uz") if f'hreflang="{code}"' in page] == ["ru", "ky", "uz"]
        assert page.index('hreflang="ky"') < page.index('hreflang="ru"') < page.index('hreflang="uz"')
        assert '<html lang="ky">' in client.get("/?lang=tg").get_data(as_text=True)  # not offered: ignored
        asked = client.get("/", headers={"Accept-Language": "uz-UZ,uz;q=0.9"}).get_data(as_text=True)
        assert '<html lang="uz">' in asked
    finally:
        close_app(app)


@pytest.mark.parametrize("value", ["ky xx", "", "ru ru", "sr_Latn"])
def test_an_unknown_language_in_the_setting_is_one_sentence(value):
    with pytest.raises(SanduqError, match="is not a valid languages"):
        settings_table.load({"languages": value}, env={})
