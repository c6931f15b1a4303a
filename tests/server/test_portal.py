"""The captive portal: every probe URL against the real server with the right Host header."""

import http.client
from urllib.parse import urlsplit

import pytest

PROBES = [  # (host, path, the "online" status, the "online" body or None)
    ("connectivitycheck.gstatic.com", "/generate_204", 204, b""),
    ("www.google.com", "/gen_204", 204, b""),
    ("play.googleapis.com", "/generate_204", 204, b""),
    ("connect.rom.miui.com", "/generate_204", 204, b""),
    ("captive.apple.com", "/hotspot-detect.html", 200,
     b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"),
    ("www.apple.com", "/library/test/success.html", 200,
     b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"),
    ("www.msftconnecttest.com", "/connecttest.txt", 200, b"Microsoft Connect Test"),
    ("www.msftncsi.com", "/ncsi.txt", 200, b"Microsoft NCSI"),
    ("detectportal.firefox.com", "/canonical.html", 200,
     b'<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'),
    ("detectportal.firefox.com", "/success.txt", 200, b"success\n"),
]


@pytest.fixture
def live(filled, serve):
    return serve(filled, public_host="10.42.0.1")


def ask(live, host, path):
    """(status, headers, body) without following redirects, as a phone's probe does."""
    where = urlsplit(live.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    conn.request("GET", path, headers={"Host": host})
    r = conn.getresponse()
    result = r.status, dict(r.getheaders()), r.read()
    conn.close()
    return result


@pytest.mark.parametrize("host,path,status,body", PROBES)
def test_probe_shows_the_portal_then_online_once_welcomed(live, host, path, status, body):
    got, headers, _ = ask(live, host, path)
    assert got == 302 and headers["Location"] == "http://10.42.0.1/welcome"  # the sign-in window opens
    assert "no-store" in headers["Cache-Control"]
    assert ask(live, "10.42.0.1", "/welcome/enter")[0] == 303  # "Open the library"
    got, _, answer = ask(live, host, path)
    assert (got, answer) == (status, body)  # online: the phone keeps the network


def test_welcome_page_in_the_phones_language(live):
    status, _, body = ask(live, "10.42.0.1", "/welcome?lang=ru")
    html = body.decode()
    assert status == 200 and "Открыть библиотеку" in html and 'href="/welcome/enter"' in html
    assert "Оставаться на связи" in html


def test_windows_redirect_and_any_other_name_reach_the_library(live):
    status, headers, _ = ask(live, "www.msftconnecttest.com", "/redirect")
    assert status == 302 and headers["Location"] == "http://10.42.0.1/welcome"
    for host, path in (("example.org", "/"), ("wikipedia.org", "/wiki/Tajikistan"), ("a.b", "/x?y=1")):
        status, headers, _ = ask(live, host, path)
        assert status == 302 and headers["Location"] == "http://10.42.0.1/"


@pytest.mark.parametrize("host", ["10.42.0.1", "127.0.0.1", "127.0.0.1:8080", "[::1]:80", "sanduq.local",
                                  "localhost", "10.42.0.1."])
def test_the_box_own_names_get_the_library(live, host):
    status, _, body = ask(live, host, "/")
    assert status == 200 and b"<html" in body
    assert ask(live, host, "/generate_204")[0] == 404  # on the box's own name it is no probe


def test_a_game_cannot_welcome_the_phone(live):
    # A game's frame has an opaque origin: Chromium marks its requests cross-site.
    portal = live.app.extensions["sanduq"].portal
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        live.get("/welcome/enter", headers)
    assert not portal.welcomed("127.0.0.1")
    live.get("/welcome/enter", {"Sec-Fetch-Site": "same-origin"})
    assert portal.welcomed("127.0.0.1")
