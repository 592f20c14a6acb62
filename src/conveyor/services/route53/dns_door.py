"""Route 53's DNS port, held from the server's start until Route 53 itself starts.

The DNS server listens from the start (the console prints where), but Route 53 starts on first use
(conveyor.service_set): its engine and the DNS library are not imported by a server nobody asks. The door
binds the UDP and TCP sockets at start; the first datagram or connection that arrives starts Route 53, whose
DNS server takes the sockets over and reads what waits in them (the datagram stays in the socket's buffer,
the connection in its backlog). Route 53 started for any other reason takes them over the same way.

Light on purpose: sockets and the event loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from conveyor.background import spawn
from conveyor.services.base import Environment

log = logging.getLogger("conveyor.route53")

HOST = "127.0.0.1"  # loopback only, whatever address the API is served on
FREE_PORT_ATTEMPTS = 20  # port 0: a free UDP port whose TCP twin is taken is given up for another


class DnsDoor:
    def __init__(self, port: int, wake: Callable[[], Coroutine[Any, Any, object]]) -> None:
        self.host = HOST
        self.port = port
        self.wake = wake
        self.sockets: tuple[socket.socket, socket.socket] | None = None
        self.error: str | None = None
        self._woken = False

    def open(self) -> None:
        """Bind UDP, then TCP on the same port; on failure the error is kept for Route 53 to report."""
        attempts = FREE_PORT_ATTEMPTS if self.port == 0 else 1
        for attempt in range(attempts):
            try:
                self.sockets = self._bind()
                break
            except OSError as exc:
                if attempt == attempts - 1:
                    self.error = f"could not listen on {self.host}:{self.port}: {exc.strerror or exc}"
                    log.warning("Route 53's DNS server %s", self.error)
                    return
        loop = asyncio.get_running_loop()
        for sock in self.sockets or ():
            loop.add_reader(sock.fileno(), self._knock)

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((self.host, self.port))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self.host, port))
                tcp.listen(100)
            except OSError:
                tcp.close()
                raise
        except OSError:
            udp.close()
            raise
        udp.setblocking(False)
        tcp.setblocking(False)
        self.port = port
        return udp, tcp

    def _knock(self) -> None:
        """A query arrived: Route 53 starts and takes the sockets (readers off first: it is read once)."""
        self._unwatch()
        if not self._woken:
            self._woken = True
            spawn(self.wake())

    def _unwatch(self) -> None:
        if self.sockets is not None:
            loop = asyncio.get_running_loop()
            for sock in self.sockets:
                loop.remove_reader(sock.fileno())

    def take(self) -> tuple[socket.socket, socket.socket] | None:
        """The bound sockets, handed to the DNS server (None when the port could not be bound)."""
        self._unwatch()
        sockets, self.sockets = self.sockets, None
        return sockets

    def status(self) -> dict[str, Any]:
        """Where DNS is answered, as Route 53's health says it."""
        if self.sockets is not None:
            return {"dns_port": self.port, "dns_host": self.host}
        return {"dns_port": None, "dns_error": self.error or "disabled"}

    def close(self) -> None:
        for sock in self.take() or ():
            with contextlib.suppress(OSError):
                sock.close()


def open_door(env: Environment, wake: Callable[[], Coroutine[Any, Any, object]]) -> DnsDoor | None:
    """The DNS port held for Route 53 (None with `--dns-port -1`)."""
    if env.config.dns_port < 0:
        return None
    door = DnsDoor(env.config.dns_port, wake)
    door.open()
    return door
