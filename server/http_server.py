"""The web server: waitress, set up so that a classroom of phones can never block it.

Idle keep-alive connections cost no thread (waitress's event loop holds them), so the limits
are on connections: many of them (poll(), not select(), and enough open files), at most a
few per phone, none that dawdles over its headers, and no body larger than the app takes.
"""

from __future__ import annotations

import logging
import resource
import socket
import time
from collections import Counter
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

log = logging.getLogger(__name__)

# waitress reads a file in pieces as large as a connection's send buffer; left to the
# kernel's autotuning that is megabytes, times every video stream. 256 KB (the kernel makes it
# 512) keeps twenty streams under 10 MB and still fills a Wi-Fi link.
SEND_BUFFER = 256 * 1024
# How often the deadlines below are checked, in seconds.
MAINTENANCE_INTERVAL = 1


class Channel(HTTPChannel):
    """One connection, counted against its address and timed while it sends its headers."""

    # When the first byte of a request whose headers are not complete yet arrived.
    request_started: float | None = None
    counted = False  # in server.per_client

    def __init__(self, server: Server, sock: socket.socket, addr: Any, adj: Any, map: dict | None = None):
        super().__init__(server, sock, addr, adj, map)
        server.per_client[addr[0]] += 1
        self.counted = True
        if server.per_client[addr[0]] > server.client_connections:
            self.will_close = True  # closed on the loop's next turn, before a byte is read

    def received(self, data: bytes) -> bool:
        if self.request is None:
            self.request_started = time.time()  # waitress's clock, as maintenance() gets it
        done = super().received(data)
        if self.request is None or self.request.headers_finished:
            self.request_started = None
        return done

    def del_channel(self, map: dict | None = None) -> None:
        super().del_channel(map)
        if self.counted:  # close() may run more than once
            self.counted = False
            self.server.per_client[self.addr[0]] -= 1
            if not self.server.per_client[self.addr[0]]:
                del self.server.per_client[self.addr[0]]


class Server(TcpWSGIServer):
    """waitress's server with a per-address connection cap and a header deadline."""

    channel_class = Channel

    def __init__(self, app: Any, *, client_connections: int, header_timeout: float, **adjustments: Any):
        self.client_connections = client_connections
        self.header_timeout = header_timeout
        self.per_client: Counter[str] = Counter()
        super().__init__(app, **adjustments)

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle connections past channel_timeout
        cutoff = now - self.header_timeout
        for channel in self.active_channels.values():
            if channel.request_started is not None and channel.request_started < cutoff:
                channel.will_close = True  # a slowloris: one byte now and then keeps it "active"


def create_server(app: Any, settings: dict[str, Any]) -> Server:
    """The waitress server for APP on settings' host and port, not yet running."""
    raise_open_files_limit(settings["connection_limit"])
    server = Server(
        app, host=settings["host"], port=settings["port"], threads=settings["threads"], ident="sanduq",
        client_connections=settings["client_connections"], header_timeout=settings["header_timeout"],
        asyncore_use_poll=True,  # select() cannot watch a descriptor numbered 1024 or more
        connection_limit=settings["connection_limit"],
        channel_timeout=settings["idle_timeout"],  # phones on a weak hotspot are slow readers
        cleanup_interval=MAINTENANCE_INTERVAL,
        # waitress refuses a larger body from its Content-Length (or, chunked, as it passes the
        # limit) before buffering it; below 512 KB it buffers in memory, never on the card.
        # waitress refuses at the limit itself, Flask only beyond it: hence the + 1.
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 1)
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)  # accepted sockets inherit it
    return server


def raise_open_files_limit(connections: int) -> int:
    """Raise this process's open-files limit to its hard limit; return the limit now in force.

    Each connection is a descriptor, and so is each file it streams. The systemd unit sets
    LimitNOFILE= (its seccomp filter forbids setrlimit); this covers every other way of starting.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (OSError, ValueError):
            pass  # not allowed here: keep what we have, and say so below if it is too low
    if soft != resource.RLIM_INFINITY and soft < 2 * connections + 64:
        log.warning("only %d files may be open at once, too few for %d connections and the files "
                    "they stream; raise LimitNOFILE= or lower connection_limit", soft, connections)
    return soft
