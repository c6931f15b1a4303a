"""mDNS with real zeroconf on loopback: announced, browsed back, updated, re-announced."""

import time

import pytest
from zeroconf import Zeroconf

from server.mdns import Announcer, txt_records
from tests.helpers import wait_for


@pytest.fixture
def listener():
    zc = Zeroconf(interfaces=["127.0.0.1"])
    yield zc
    zc.close()


def lookup(zc, service, name):
    info = zc.get_service_info(service, f"{name}.{service}", timeout=1500)
    return info


def test_txt_records_are_checked():
    assert txt_records("sanduq-1a2b3c4d", "0.1.0", {"demo": 3, "Min Edu!": 7}) == {
        "id": "sanduq-1a2b3c4d", "v": "0.1.0", "path": "/", "seq.demo": "3", "seq.minedu": "7"}
    with pytest.raises(ValueError):
        txt_records("x" * 300, "0.1.0", {})


@pytest.mark.slow  # zeroconf announces and browses on its own clock: seconds
def test_announced_browsed_updated_and_reannounced(listener):
    sequences = {"demo": 1}
    addresses = [set()]  # the hotspot is not up yet
    announcer = Announcer("Мактаби 5", 8080, "sanduq-test0001", "0.1.0", lambda: dict(sequences),
                          addresses=lambda: addresses[0], every=0.2)
    announcer.start()
    try:
        time.sleep(0.5)
        assert lookup(listener, "_sanduq._tcp.local.", "Мактаби 5") is None
        addresses[0] = {"127.0.0.1"}  # the interface comes up
        info = wait_for(lambda: lookup(listener, "_sanduq._tcp.local.", "Мактаби 5"), "announced")
        assert info.port == 8080 and info.parsed_addresses() == ["127.0.0.1"]
        assert info.properties[b"id"] == b"sanduq-test0001" and info.properties[b"seq.demo"] == b"1"
        wait_for(lambda: lookup(listener, "_http._tcp.local.", "Мактаби 5"), "announced as a web site")
        sequences["demo"] = 2  # an update was installed
        wait_for(lambda: (i := lookup(listener, "_sanduq._tcp.local.", "Мактаби 5")) and i.properties.get(b"seq.demo") == b"2",
                 "the new sequence announced")
    finally:
        announcer.stop()
    wait_for(lambda: lookup(listener, "_sanduq._tcp.local.", "Мактаби 5") is None, "withdrawn after stop()")
