"""Usage events as xAPI statements (usb_updater/xapi.py), checked by an independent validator:
the xAPI models of ralph-malph (France Université Numérique's learning-analytics toolbox), a
test-only dependency."""

import json
import re

import pytest

from usb_updater.xapi import statement, timestamp

ralph = pytest.importorskip("ralph.models.xapi")
from ralph.models.selector import ModelSelector  # noqa: E402
from ralph.models.validator import Validator  # noqa: E402
from ralph.models.xapi.base.statements import BaseXapiStatement  # noqa: E402

HOME = "http://10.42.0.1/"
VIDEO = {"title": {"tg": "Ҳисоб то панҷ", "ru": "Счёт до пяти"}, "kind": "video", "duration": 19}
BOOK = {"title": {"tg": "Гурбача", "en": "The kitten"}, "kind": "book"}
TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")  # RFC 5646, as the content's languages are written


def event(type, item="video-count", value=None, time="2026-03-01T10:00:00.123456Z", text=None, n=1):
    return {"id": f"{n:032x}", "time": time, "type": type, "item": item, "value": value, "lang": "tg", "text": text}


CASES = [
    (event("opened"), VIDEO, "VideoInitialized"),
    (event("progress", value=0.5), VIDEO, None),  # quarters: no verb in the profile, ADL's progressed
    (event("finished"), VIDEO, "VideoCompleted"),
    (event("opened"), dict(VIDEO, duration=None), None),  # a video of unknown length: the plain shape
    (event("opened", item="book-cat"), BOOK, None),
    (event("finished", item="book-cat"), BOOK, None),
    (event("saved", item="book-cat"), BOOK, None),
    (event("opened", item="gone"), None, None),  # an item no longer in the catalog
    (event("search-empty", item=None, text="Мадина"), None, None),
    (event("searched", item=None), None, None),
    (event("opened", time="17"), VIDEO, "VideoInitialized"),  # no date recorded: no timestamp
]


@pytest.mark.parametrize("event, item, model", CASES)
def test_every_kind_of_statement_is_valid_xapi(event, item, model):
    made = json.loads(json.dumps(statement(event, "sanduq-1", item, home_page=HOME)))
    BaseXapiStatement(**made)  # raises when not valid xAPI 1.0.3
    if model:  # the Video Profile's own statement template
        found = Validator(ModelSelector(module="ralph.models.xapi")).get_first_valid_model(made)
        assert type(found).__name__ == model
    assert made["actor"]["account"] == {"homePage": HOME, "name": "sanduq-1"}  # an IRL, the box
    name = made["object"].get("definition", {}).get("name", {})
    assert all(TAG.fullmatch(tag) for tag in [*name, *made["verb"]["display"], made["context"]["language"]])
    if event["time"] == "17":
        assert "timestamp" not in made
    else:
        assert made["timestamp"] == "2026-03-01T10:00:00.123Z"


def test_a_video_says_its_length_progress_and_time_and_names_the_profile():
    done = statement(event("finished"), "sanduq-1", VIDEO, home_page=HOME)
    assert done["context"]["contextActivities"]["category"][0]["id"] == "https://w3id.org/xapi/video"
    assert done["context"]["extensions"]["https://w3id.org/xapi/video/extensions/length"] == 19.0
    assert done["result"] == {"extensions": {"https://w3id.org/xapi/video/extensions/progress": 1.0,
                                             "https://w3id.org/xapi/video/extensions/time": 19.0}, "completion": True}
    half = statement(event("progress", value=0.5), "sanduq-1", VIDEO, home_page=HOME)
    assert half["result"]["extensions"]["https://w3id.org/xapi/video/extensions/time"] == 9.5


def test_a_search_text_goes_into_xapi_only_when_the_setting_allows():
    searched = event("search-empty", item=None, text="Мадина Каримова")
    assert "response" not in statement(searched, "sanduq-1", None, home_page=HOME)["result"]
    allowed = statement(searched, "sanduq-1", None, home_page=HOME, search_text=True)
    assert allowed["result"]["response"] == "Мадина Каримова"


@pytest.mark.parametrize("recorded, written", [
    ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00.000Z"),
    ("2026-03-01T10:00:00.999999Z", "2026-03-01T10:00:00.999Z"),
    ("2026-03-01T15:00:00+05:00", "2026-03-01T10:00:00.000Z"),  # always UTC
    ("2026-03-01", "2026-03-01T00:00:00.000Z"),
    ("yesterday", None), ("", None),
    ("0001-01-01T00:00:00+01:00", None), ("9999-12-31T23:59:59-01:00", None),  # beyond what a date holds
    ("0999-06-01T10:00:00Z", None),  # not four digits: an LRS would refuse the batch
])
def test_timestamps_are_written_one_way(recorded, written):
    assert timestamp(recorded) == written


def test_an_export_is_the_same_bytes_twice_and_every_line_valid(filled, tmp_path):
    import sqlite3

    from server.usage import SCHEMA
    from usb_updater.export import export_usage

    conn = sqlite3.connect(filled.data_dir / "usage.db")
    with conn:
        for s in SCHEMA:
            conn.execute(s)
        conn.executemany("INSERT INTO events (id, time, type, item, value, lang, text) VALUES (?, ?, ?, ?, ?, ?, ?)", [
            (f"{n:032x}", f"2026-03-0{n % 9 + 1}T10:00:00.{n:06d}Z", t, i, v, "tg", x)
            for n, (t, i, v, x) in enumerate([("opened", "video-count", None, None), ("progress", "video-count", 0.25, None),
                                              ("finished", "video-count", None, None), ("opened", "book-cat", None, None),
                                              ("saved", "tip-sleep", None, None), ("search-empty", None, None, "динозавр")])])
    conn.close()
    lines = []
    for stick in ("a", "b"):
        export_usage(filled, tmp_path / stick)
        lines.append((tmp_path / stick / "sanduq" / "exports" / filled.device_id / "usage-2026-03.jsonl").read_bytes())
    assert lines[0] == lines[1]  # an LRS sees the same event twice as a duplicate, never a conflict
    for line in lines[0].decode().splitlines():
        BaseXapiStatement(**json.loads(line))
