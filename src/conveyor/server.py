"""Serving the App with uvicorn (httptools parser, uvloop when available)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from conveyor.app import App


class _HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with TCP_NODELAY on every connection.

    asyncio and uvloop disable Nagle only on sockets created with proto IPPROTO_TCP; uvicorn's (and our
    test) listening sockets have proto 0, so their connections kept Nagle on. A response is written as
    headers, then body: the body then waited for the client's delayed ACK, ~40 ms on Linux.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def _uvicorn_config(app: App, sock_port: int | None = None, **overrides: object) -> uvicorn.Config:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    options: dict[str, object] = dict(
        host=app.config.host,
        port=sock_port if sock_port is not None else app.config.port,
        loop=loop,
        http=_HttpProtocol,
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=75,
        timeout_graceful_shutdown=5,  # parked long polls are cut short on shutdown
        server_header=False,
        date_header=True,
    )
    options.update(overrides)
    return uvicorn.Config(app.asgi, **options)  # type: ignore[arg-type]


class Server(uvicorn.Server):
    """uvicorn's server with a hook that runs once sockets are listening."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None = None,
                 app: App | None = None) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Workers first: they are clients of this server, and their open long polls would otherwise
        # hold up the connection drain.
        if self._app is not None:
            await self._app.pools.stop()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, so the process would die by
        # the signal; Ctrl-C and SIGTERM are the normal way to stop Conveyor, so exit 0 instead.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: object) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self._on_ready is not None and self.started:
            self._on_ready()


def serve(app: App, on_ready: Callable[[], None] | None = None) -> bool:
    """Serve in the foreground until Ctrl-C/SIGTERM; returns False if start-up failed."""
    server = Server(_uvicorn_config(app), on_ready, app)
    server.run()
    return server.started


@contextlib.contextmanager
def serve_in_thread(app: App) -> Iterator[str]:
    """Run a server on a free loopback port in a background thread; yields its endpoint URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = Server(_uvicorn_config(app, port, loop="asyncio"), app=app)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server failed to start")
        threading.Event().wait(0.01)
    app.pools.endpoint = f"http://127.0.0.1:{port}"
    try:
        yield app.pools.endpoint
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
