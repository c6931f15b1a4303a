"""The USB status and the receipts kept on the box: in RAM first, ordered by arrival, never by a clock."""

import json

from usb_updater.status import KEEP_RECEIPTS, UsbStatus


def receipt(stamp: str) -> dict:
    return {"started": stamp, "stick": "/run/sanduq/sticks/sda1", "bundles": []}


def test_a_receipt_made_while_the_clock_is_behind_is_kept_and_shown_first(tmp_path):
    status = UsbStatus(tmp_path / "run", tmp_path / "data", "sanduq-1")
    (tmp_path / "data").mkdir()
    for day in range(1, KEEP_RECEIPTS + 1):
        status.keep_receipt(f"sanduq-1-202611{day:02d}T100000Z.json", receipt(f"2026-11-{day:02d}T10:00:00Z"))
    # A power cut sets the clock back to 2020: the visit after it is still the newest.
    status.keep_receipt("sanduq-1-20200101T000000Z.json", receipt("2020-01-01T00:00:00Z"))
    shown = status.receipts(limit=3)
    assert [r["started"] for r in shown] == ["2020-01-01T00:00:00Z", "2026-11-20T10:00:00Z", "2026-11-19T10:00:00Z"]
    kept = sorted(p.name for p in (tmp_path / "data" / "receipts").iterdir())
    assert len(kept) == KEEP_RECEIPTS and not any("20261101" in name for name in kept)


def test_receipts_of_an_older_version_count_as_the_oldest(tmp_path):
    data = tmp_path / "data"
    (data / "receipts").mkdir(parents=True)
    (data / "receipts" / "sanduq-1-20991231T000000Z.json").write_text(json.dumps(receipt("old")))
    status = UsbStatus(tmp_path / "run", data, "sanduq-1")
    status.keep_receipt("sanduq-1-20200101T000000Z.json", receipt("new"))
    assert [r["started"] for r in status.receipts()] == ["new", "old"]


def test_the_status_lives_in_ram_and_falls_back_to_the_data_folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    status = UsbStatus(tmp_path / "run", data, "sanduq-1")
    status.write(state="busy", step="copying")
    assert (tmp_path / "run" / "usb-status-sanduq-1.json").is_file()
    assert not any(data.iterdir())  # nothing on the box's card
    # A folder that cannot be made (a file stands in its way): the data folder stands in.
    (tmp_path / "blocked").write_text("")
    blocked = UsbStatus(tmp_path / "blocked" / "run", data, "sanduq-1")
    blocked.write(state="done", message="finished")
    assert blocked.read()["state"] == "done" and (data / "usb-status-sanduq-1.json").is_file()


def test_a_receipt_the_full_box_could_not_keep_is_shown_from_the_status(tmp_path):
    status = UsbStatus(tmp_path / "run", tmp_path / "data", "sanduq-1")
    (tmp_path / "data").mkdir()
    status.keep_receipt("sanduq-1-a.json", receipt("2026-11-01T10:00:00Z"))
    status.write(state="failed", receipt=receipt("2026-11-02T10:00:00Z"))
    assert [r["started"] for r in status.receipts()] == ["2026-11-02T10:00:00Z", "2026-11-01T10:00:00Z"]


def visible_text(html: str) -> str:
    """The words a person reads in the page's <main>: no tags, no scripts."""
    import re

    main = html.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    return re.sub(r"<[^>]+>", " ", main)


def test_a_tajik_status_page_with_refused_updates_holds_no_english_sentence(box, settings, source, keys,
                                                                             tmp_path, serve):
    import re

    from content_mirror.bundle import build
    from usb_updater.process import process_stick

    first = tmp_path / "first"
    build(source, first, keys / "sanduq.key", sequence=3)
    assert process_stick(box, first, settings).ok
    second = tmp_path / "second"
    build(source, second, keys / "sanduq.key", sequence=2, name="older")  # a downgrade
    build(source, second, keys / "sanduq.key", sequence=4, name="unsigned")
    (second / "sanduq" / "bundles" / "unsigned" / "manifest.json.minisig").unlink()
    receipt = process_stick(box, second, settings)
    assert {b.code for b in receipt.bundles} == {"downgrade", "untrusted"}
    live = serve(box, status_dir=settings["status_dir"])
    text = visible_text(live.get("/status?lang=tg")[2].decode())
    english = re.findall(r"[A-Za-z]{2,}(?:[ ,.;:'’]+[A-Za-z]{2,}){2,}", text)
    assert english == [], english
    assert "рад карда шуд" in text and "(2)" in text and "(3)" in text  # the downgrade, with its numbers
    ru = visible_text(live.get("/status?lang=ru")[2].decode())
    assert "отклонено" in ru or "отклонён" in ru, ru
