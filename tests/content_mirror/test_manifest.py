import copy

import pytest

from content_mirror.authoring import read_source
from content_mirror.manifest import validate
from server.errors import InvalidSource


@pytest.fixture
def manifest(source):
    return read_source(source).manifest


def break_(manifest, how):
    broken = copy.deepcopy(manifest)
    how(broken)
    return broken


@pytest.mark.parametrize("how,words", [
    (lambda m: m.update(format="zip"), "format"),
    (lambda m: m.update(sequence="7"), "sequence"),
    (lambda m: m.update(channel="../x"), "channel"),
    (lambda m: m["files"].update({"../../etc/passwd": {"size": 1, "mime": "video/mp4"}}), "not a lowercase hex"),
    (lambda m: m["files"].update({"A" * 64: {"size": 1, "mime": "video/mp4"}}), "not a lowercase hex"),
    (lambda m: next(iter(m["files"].values())).update(mime="text/html"), "not a type Sanduq serves"),
    (lambda m: next(iter(m["files"].values())).update(size=-1), "size"),
    (lambda m: m["items"][0].update(id="<script>"), "id"),
    (lambda m: m["items"][0].update(kind="exe"), "kind"),
    (lambda m: m["items"][0]["files"].append({"role": "main", "sha256": "0" * 64}), "files list does not hold"),
    (lambda m: m["items"][0].update(title={"tg": 5}), "title"),
    (lambda m: m["items"][0].update(age_min=9, age_max=3), "larger than age_max"),
    (lambda m: m["items"][0].update(extra=1), "unknown fields"),
    (lambda m: m["items"].append(copy.deepcopy(m["items"][0])), "appears twice"),
    (lambda m: m["items"][0].update(description={"tg": "x" * 30_000}), "at most"),
    (lambda m: m["items"][0].update(licence=["CC-BY-4.0"]), "licence: must be text"),
    (lambda m: m["items"][0].update(author={"tg": "Каримова"}), "author: must be text"),
    (lambda m: m["items"][0].update(licence="CC-BY-" + "4" * 200), "licence: .*at most 100"),
    (lambda m: m["items"][0].update(copyright=""), "copyright: must not be empty"),
    (lambda m: m["items"][0].update(copyright="© 2021\nPratham Books"), "copyright: must be one line"),
    (lambda m: m["items"][0].update(author="Pratham\x00Books"), "author: must be one line"),
    (lambda m: m["items"][0].update(author="\u202eskoob mahtarP"), "author: .*direction"),
    (lambda m: m["items"][0].update(source="javascript:alert(1)"), "source: 'javascript:' .*http"),
    (lambda m: m["items"][0].update(source="Bloom Library, JavaScript:alert(1)"), "source: 'JavaScript:'"),
    (lambda m: m["items"][0].update(source="data:text/html,<script>alert(1)</script>"), "source: 'data:'"),
    (lambda m: m["items"][0].update(source="file:///etc/passwd"), "source: 'file:'"),
    # A player is an npm tarball and only a player is one: the box serves players differently.
    (lambda m: m["items"][0]["files"][0].update(role="player"), "a player is an npm tarball"),
    (lambda m: next(iter(m["files"].values())).update(mime="application/gzip"), "a player is an npm tarball"),
])
def test_hostile_manifests_are_refused(manifest, how, words):
    with pytest.raises(InvalidSource, match=words):
        validate(break_(manifest, how))


def test_titles_with_markup_are_kept_as_text(manifest):
    manifest["items"][0]["title"]["en"] = "<script>alert(1)</script>"
    assert validate(manifest)["items"][0]["title"]["en"].startswith("<script>")


def test_credits_are_kept_as_given(manifest):
    item = manifest["items"][0]
    item.update(licence="CC-BY-4.0", author="Рухшона Каримова", copyright="© 2021 Pratham Books",
                source="Bloom Library, https://bloomlibrary.org/book/abc?lang=tg (page 2)")
    assert validate(manifest)["items"][0]["source"].endswith("(page 2)")
    item.update(source="Шӯъбаи маориф: дафтари 3", licence="Used with permission")  # text, no address
    validate(manifest)


def test_manifests_made_before_credits_stay_valid(manifest):
    """A box must still take the bundles built before items carried credits."""
    for item in manifest["items"]:
        for field in ("licence", "author", "copyright", "source"):
            item.pop(field, None)
    assert validate(manifest) is manifest
