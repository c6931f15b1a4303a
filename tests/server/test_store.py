import hashlib
import io

import pytest

from server.errors import Refused
from server.store import ContentStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_add_stores_by_hash_once(tmp_path):
    store = ContentStore(tmp_path)
    data = b"picture" * 1000
    store.add(io.BytesIO(data), sha(data), len(data))
    store.add(io.BytesIO(b"never read"), sha(data), len(data))
    assert store.path(sha(data)).read_bytes() == data
    assert list(store) == [sha(data)]


@pytest.mark.parametrize("data,size,words", [
    (b"tampered", 8, "does not match"),
    (b"short", 9, "not 9 bytes"),
    (b"longer than said", 4, "not 4 bytes"),
])
def test_bad_bytes_are_refused_and_leave_nothing(tmp_path, data, size, words):
    store = ContentStore(tmp_path)
    name = sha(b"the real bytes")
    with pytest.raises(Refused, match=words):
        store.add(io.BytesIO(data), name, size)
    assert not store.has(name)
    assert list(store.partial.iterdir()) == []


def test_interrupted_copy_resumes_from_partial(tmp_path):
    store = ContentStore(tmp_path)
    data = bytes(range(256)) * 8000
    name = sha(data)
    (store.partial / name).write_bytes(data[:300_000])  # what a pulled stick leaves
    source = io.BytesIO(data)
    store.add(source, name, len(data))
    assert store.path(name).read_bytes() == data


def test_names_that_are_not_hashes_are_rejected(tmp_path):
    store = ContentStore(tmp_path)
    for bad in ("../../etc/passwd", "A" * 64, "/abs", ""):
        with pytest.raises(ValueError):
            store.path(bad)
