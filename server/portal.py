"""The captive portal: phones that join the box's Wi-Fi open the library by themselves.

Every name resolves to the box (dnsmasq `address=/#/`), so a phone's connectivity probe
arrives here. A phone not yet welcomed gets the portal (a redirect to /welcome), and its
system opens the sign-in window on the library. Once the person taps "Open the library",
that phone's address is welcomed and its probes get the "online" answers each system
expects, so it keeps the network instead of dropping it for having no internet (iOS's
sign-in window disconnects when dismissed without success; Android may leave a network that
never validates). This is Internet-in-a-Box's behaviour. Any other host name a person types
reaches the library.

A small WSGI layer in front of everything, so probes cost no Flask and are never cached.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

WELCOMED_FOR = 24 * 3600  # a phone welcomed today is not asked again today

# Path of a probe -> the body of the "online" answer (None: 204 No Content).
ONLINE = {
    "/generate_204": None, "/gen_204": None,  # Android, Chrome; Xiaomi's connect.rom.miui.com too
    "/hotspot-detect.html": b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
    "/library/test/success.html": b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
    "/connecttest.txt": b"Microsoft Connect Test",
    "/ncsi.txt": b"Microsoft NCSI",
    "/canonical.html": b'<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
    "/success.txt": b"success\n",
}


class Portal:
    """Which phones (by address) have been welcomed, and the WSGI layer that answers probes."""

    def __init__(self, app, public_host: str, own_names: set[str] | None = None):
        self.app = app
        self.public_host = public_host
        self.own_names = {n.lower() for n in (own_names or set())} | {
            public_host.lower(), "localhost", socket.gethostname().lower()}
        self._welcomed: dict[str, float] = {}
        self._own: dict[str, bool] = {}  # Host header -> is_own: the same few names all day
        self._lock = threading.Lock()

    def welcome(self, address: str) -> None:
        with self._lock:
            self._welcomed[address] = time.monotonic()
            if len(self._welcomed) > 10_000:  # a day's phones on a school hotspot are far fewer
                cutoff = time.monotonic() - WELCOMED_FOR
                self._welcomed = {a: t for a, t in self._welcomed.items() if t > cutoff}

    def welcomed(self, address: str) -> bool:
        with self._lock:
            at = self._welcomed.get(address)
        return at is not None and time.monotonic() - at < WELCOMED_FOR

    def is_own(self, host: str) -> bool:
        """The box itself: its address, its names, any IP literal, any .local name."""
        known = self._own.get(host)
        if known is None:
            known = self._is_own(host)
            if len(self._own) < 1000:  # a flood of invented names must not grow it
                self._own[host] = known
        return known

    def _is_own(self, host: str) -> bool:
        if host.startswith("["):
            name = host[1:host.find("]")]
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        name = name.lower().rstrip(".")
        if not name or name in self.own_names or name.endswith(".local"):
            return True
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return False

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        host = environ.get("HTTP_HOST", "")
        own = self.is_own(host)
        if not own and path in ONLINE and environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            if self.welcomed(environ.get("REMOTE_ADDR", "")):
                body = ONLINE[path]
                if body is None:
                    start_response("204 No Content", [("Cache-Control", "no-store"), ("Content-Length", "0")])
                    return []
                start_response("200 OK", [("Content-Type", "text/html" if path.endswith(".html") else "text/plain"),
                                          ("Cache-Control", "no-store"), ("Content-Length", str(len(body)))])
                return [body]
            return self._redirect(start_response, "/welcome")
        if not own:
            return self._redirect(start_response, "/welcome" if path == "/redirect" else "/")
        return self.app(environ, start_response)

    def _redirect(self, start_response, path: str):
        # 302 with a body: some probes need "any 200-399 but 204", some need a Location.
        body = f'<a href="http://{self.public_host}{path}">Sanduq</a>'.encode()
        start_response("302 Found", [("Location", f"http://{self.public_host}{path}"),
                                     ("Content-Type", "text/html"), ("Cache-Control", "no-store"),
                                     ("Content-Length", str(len(body)))])
        return [body]
