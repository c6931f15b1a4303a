"""The import path the demo and bundles share: order, space, resume, no half state."""

import copy
import io
from contextlib import contextmanager

import pytest

from content_mirror.authoring import read_source
from content_mirror.manifest import digest
from server.errors import NotEnoughSpace, Refused
from server.importer import install


@pytest.fixture
def src(source):
    return read_source(source)


def test_install_then_same_again_is_a_no_op(library, src):
    first = install(library, src.manifest, src.open)
    assert first.status == "installed" and first.items == 7
    assert first.files_copied == len(src.manifest["files"])
    again = install(library, src.manifest, src.open)
    assert again.status == "already installed" and again.files_copied == 0


def test_every_installed_file_is_in_the_store_with_its_hash(filled, src):
    import hashlib

    for sha in src.manifest["files"]:
        assert hashlib.sha256(filled.store.path(sha).read_bytes()).hexdigest() == sha
    # the cover used twice is stored once
    assert len(list(filled.store)) == len(src.manifest["files"]) == 8


def test_older_sequence_is_refused_as_downgrade(library, src):
    newer = dict(src.manifest, sequence=5)
    install(library, newer, src.open)
    with pytest.raises(Refused, match="older than the installed 5"):
        install(library, dict(src.manifest, sequence=4), src.open)


def test_not_enough_space_says_how_much(library, src):
    with pytest.raises(NotEnoughSpace, match=r"needs \d+ MB free on the box .* only \d+ MB is free"):
        install(library, src.manifest, src.open, reserve_bytes=10**18)
    assert library.catalog.count() == 0 and list(library.store) == []


def test_tampered_payload_leaves_library_as_it_was(filled, src):
    manifest = copy.deepcopy(src.manifest)
    manifest["sequence"] = 2
    manifest["items"][0]["title"]["en"] = "changed"
    new_sha = "ab" * 32  # a file whose bytes will not hash to its name
    manifest["files"][new_sha] = {"size": 5, "mime": "video/mp4"}
    manifest["items"][0]["files"].append({"role": "main", "lang": "en", "sha256": new_sha})

    @contextmanager
    def opener(sha):
        yield io.BytesIO(b"evil!") if sha == new_sha else src.open(sha)

    with pytest.raises(Refused, match="does not match its SHA-256"):
        install(filled, manifest, opener)
    assert filled.catalog.get("video-count")["title"]["en"] == "Counting to five"
    assert filled.catalog.sequences() == {"test": 1}
    assert not filled.store.has(new_sha)


class PulledStick(Exception):
    pass


def test_pulled_stick_mid_copy_resumes_next_time(library, src):
    shas = sorted(src.manifest["files"])
    copied = []

    @contextmanager
    def failing(sha):
        if len(copied) == 3:
            # the stick goes away halfway through the fourth file
            data = src.paths[sha].read_bytes()

            class Half(io.BytesIO):
                def read(self, n=-1):
                    if self.tell() >= len(data) // 2:
                        raise PulledStick()
                    return super().read(min(n, len(data) // 2 - self.tell()) if n > 0 else len(data) // 2)

            yield Half(data)
        else:
            copied.append(sha)
            with src.open(sha) as f:
                yield f

    with pytest.raises(PulledStick):
        install(library, src.manifest, failing)
    assert library.catalog.count() == 0  # nothing visible yet
    assert len(list(library.store)) == 3  # three whole files kept
    result = install(library, src.manifest, src.open)
    assert result.files_copied == len(shas) - 3
    assert library.catalog.count() == 7


def test_removed_items_files_are_retired_then_deleted_at_the_next_import(filled, src):
    manifest = copy.deepcopy(src.manifest)
    manifest["sequence"] = 2
    manifest["items"] = [i for i in manifest["items"] if i["id"] != "doc-plan"]
    result = install(filled, manifest, src.open)
    assert result.files_deleted == 0  # still served to a phone halfway through them
    assert len(filled.catalog.retired()) == 2 and len(list(filled.store)) == 8
    result = install(filled, dict(manifest, sequence=3), src.open)
    assert result.files_deleted == 2  # the two Markdown files only doc-plan used
    assert filled.catalog.retired() == {} and len(list(filled.store)) == 6


def test_delta_removes_listed_items_only(filled, src):
    delta = {"format": "sanduq-bundle/1", "channel": "test", "sequence": 2, "full": False, "since": 1,
             "base": digest(src.manifest), "items": [], "files": {}, "remove": ["tip-sleep"]}
    install(filled, delta, src.open)
    assert filled.catalog.count() == 6 and filled.catalog.get("tip-sleep") is None


def _tarball(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return out.getvalue()


def _with_file(src, data: bytes, mime: str, kind: str, role: str):
    """SRC's manifest with DATA added to its first item of KIND as ROLE, and an opener for it."""
    import hashlib

    manifest = copy.deepcopy(src.manifest)
    sha = hashlib.sha256(data).hexdigest()
    manifest["files"][sha] = {"size": len(data), "mime": mime}
    item = next(item for item in manifest["items"] if item["kind"] == kind)
    item["files"].append({"role": role, "lang": None, "sha256": sha})

    def open_file(name):
        return io.BytesIO(data) if name == sha else src.open(name)

    return manifest, open_file, item


@pytest.mark.parametrize("tarball, words", [
    (_tarball({"package/package.json": b'{"name": "left-pad"}'}), "not one this box runs"),
    (_tarball({"package/package.json": b'{"name": "bloom-player"}'}, link="package/dist/x.js"), "no player needs"),
    (_tarball({"package/../../x": b"", "package/package.json": b'{"name": "bloom-player"}'}), "no player needs"),
    (b"\x1f\x8b not really gzip", "not a valid npm tarball"),
])
def test_a_player_that_is_not_one_the_box_runs_is_refused_and_nothing_changes(library, src, tarball, words):
    manifest, open_file, _ = _with_file(src, tarball, "application/gzip", "game", "player")
    with pytest.raises(Refused, match=words):
        install(library, manifest, open_file)
    assert library.catalog.count() == 0


def test_an_unsafe_book_zip_is_refused_as_a_book_in_the_readers_language(library, src):
    """A Bloom book is a zip too: its refusal names a book, not a game, on the receipt."""
    import zipfile

    from flask import Flask

    from server.usb_texts import reason_text

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("index.html", "<p>book</p>")  # (no player named here: so the box asks for one)
        z.writestr("../../evil.htm", "x")
    manifest, open_file, book = _with_file(src, out.getvalue(), "application/zip", "book", "main")
    with pytest.raises(Refused, match="leaves the book") as refused:
        install(library, manifest, open_file)
    assert refused.value.code == "bad-book" and refused.value.values["game"] == book["id"]
    assert library.catalog.count() == 0
    with Flask(__name__).test_request_context("/?lang=tg"):  # the receipt page, read in Tajik
        assert reason_text(refused.value.code, refused.value.values).startswith("Як китоб дар он бехатар нест")


def test_a_zip_of_more_files_than_any_game_holds_is_refused(tmp_path):
    import zipfile

    from server.gamezip import MAX_MEMBERS, check_game_zip

    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("index.html", "<p>game</p>")
        for n in range(MAX_MEMBERS):
            z.writestr(f"f/{n}", b"")
    with pytest.raises(Refused, match="more than 20,000 files"):
        check_game_zip(path, "many")


def test_a_zip_whose_names_claim_utf8_and_are_not_is_refused_not_a_crash(tmp_path):
    from content_mirror.bloom import check_bloompub
    from server.errors import InvalidSource
    from server.gamezip import check_game_zip

    path = tmp_path / "names.zip"
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("index.html", "<p>game</p>")
        z.writestr("caf\u00e9.htm", "x")  # stored as UTF-8 with the flag that says so
    data = path.read_bytes().replace("caf\u00e9".encode(), b"caf\xff\xfe")  # now it is not UTF-8
    path.write_bytes(data)
    with pytest.raises(Refused, match="not a valid zip file"):
        check_game_zip(path, "names")
    with pytest.raises(InvalidSource, match="damaged or encrypted|not a valid BloomPub"):
        check_bloompub(path, "names.bloompub")
