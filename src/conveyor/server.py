"""Serving the App: a listening socket, HTTP/1.1 connections (gateway.http11), start-up and shutdown.

Shutdown order matters: worker pools stop first (their workers are clients of this server, and their
open long polls would hold up the drain), then the listener closes, idle connections close, requests in
progress get GRACE_SECONDS to finish (parked long polls are cut short), and the services flush last.
A shutdown always ends: a watchdog thread (and a second Ctrl-C or SIGTERM) stops the workers and the
process once the pools' drain time plus a margin has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator

from conveyor.app import App
from conveyor.gateway.connections import ConnectionLimits, Connections
from conveyor.gateway.http11 import Connection
from conveyor.gateway.tls import server_context

log = logging.getLogger("conveyor.server")

GRACE_SECONDS = 5.0
SHUTDOWN_MARGIN = 10.0  # beyond the pools' drain time and the grace for requests


class Watchdog:
    """Ends a shutdown that overruns its deadline, or at once on a second Ctrl-C/SIGTERM: every worker's
    process group gets SIGKILL and the process exits with status 0. A thread, so it fires even if the
    event loop is stuck. Nothing acknowledged is lost by it (every acknowledged write is already on disk);
    it only makes sure that stopping Conveyor always stops, with no worker left behind."""

    def __init__(self, app: App, seconds: float) -> None:
        self.app = app
        self.seconds = seconds
        self._timer = threading.Timer(seconds, self.fire, kwargs={"why": f"did not finish within {seconds:.0f} s"})
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def fire(self, why: str = "was interrupted") -> None:
        for pid in self.app.pools.worker_pids():
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        print(f"conveyor: the shutdown {why}: workers killed, exiting.", file=sys.stderr, flush=True)
        os._exit(0)


def shutdown_deadline(app: App) -> float:
    """How long a shutdown may take: the longest drain of a pool, the grace for requests, a margin."""
    drains = [pool.spec.drain_timeout for pool in list(app.pools.pools.values())]
    return max(drains, default=0.0) + GRACE_SECONDS + SHUTDOWN_MARGIN


class HttpServer:
    def __init__(self, app: App) -> None:
        self.app = app
        config = app.config
        self.connections = Connections(ConnectionLimits(
            read_timeout=config.read_timeout, idle_timeout=config.idle_timeout,
            max_connections=config.max_connections))
        self.listener: asyncio.Server | None = None
        self.stopped = asyncio.Event()

    async def start(self, sock: socket.socket | None = None) -> None:
        await self.app.start()
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.run_in_executor(None, server_context, self.app.config.tls_dir) if self.app.config.tls else None

            def protocol() -> Connection:
                return Connection(self.app.gateway, self.connections, tls)

            if sock is not None:  # a socket the caller bound already (tests, serve_in_thread)
                self.listener = await loop.create_server(protocol, sock=sock, reuse_address=True, backlog=1024)
            else:
                self.listener = await loop.create_server(protocol, host=self.app.config.host,
                                                         port=self.app.config.port, reuse_address=True,
                                                         backlog=1024)
        except BaseException:
            await self.app.stop()
            raise

    def stop(self) -> None:
        self.stopped.set()

    async def shutdown(self) -> None:
        await self.app.pools.stop()
        self.app.dashboard.close()  # its event streams end, so their connections can close
        if self.listener is not None:
            self.listener.close()
        for connection in list(self.connections):
            connection.shutdown()
        answering = [c.active for c in self.connections if c.active is not None]
        if answering:
            await asyncio.wait(answering, timeout=GRACE_SECONDS)
        for connection in list(self.connections):
            if connection.active is not None:
                connection.active.cancel()
            connection.close()
        await self.app.stop()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def serve(app: App, on_ready: Callable[[], None] | None = None,
          on_stopping: Callable[[float], None] | None = None) -> None:
    """Serve in the foreground until Ctrl-C/SIGTERM, then stop within the pools' drain time plus a margin
    (`on_stopping` is told that deadline). Start-up failures raise (OSError: the address; RuntimeError:
    the data directory is in use)."""
    box: dict[str, Watchdog] = {}

    async def main() -> None:
        server = HttpServer(app)
        await server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.stop)
        if on_ready is not None:
            on_ready()
        await server.stopped.wait()
        watchdog = box["watchdog"] = Watchdog(app, shutdown_deadline(app))
        watchdog.start()
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second one stops at once
            loop.add_signal_handler(sig, watchdog.fire)
        if on_stopping is not None:
            on_stopping(watchdog.seconds)
        await server.shutdown()

    try:
        with asyncio.Runner(loop_factory=_new_loop) as runner:
            runner.run(main())
    finally:
        if "watchdog" in box:  # armed until the loop is closed: closing it must not hang either
            box["watchdog"].cancel()


@contextlib.contextmanager
def serve_in_thread(app: App) -> Iterator[str]:
    """Run a server on a free loopback port in a background thread; yields its endpoint URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ready = threading.Event()
    box: dict[str, object] = {}

    async def main() -> None:
        server = HttpServer(app)
        box["loop"], box["server"] = asyncio.get_running_loop(), server
        try:
            await server.start(sock)
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            return
        ready.set()
        await server.stopped.wait()
        await server.shutdown()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        raise RuntimeError(f"the server failed to start: {box['error']}")
    app.env.endpoint[0] = f"http://127.0.0.1:{port}"
    try:
        yield app.env.endpoint[0]
    finally:
        loop = box["loop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        server = box["server"]
        assert isinstance(server, HttpServer)
        loop.call_soon_threadsafe(server.stop)
        thread.join(timeout=15)
        sock.close()
