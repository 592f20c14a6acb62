"""The thin ASGI adapter between uvicorn and the gateway: no framework, just scope -> HttpRequest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from conveyor.gateway.http import Headers, HttpRequest, HttpResponse

if TYPE_CHECKING:
    from conveyor.app import App

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_WATCH_AFTER = 0.25  # seconds before a running request starts watching for its client's disconnect


class AsgiApp:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.app.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    raise
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.app.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]])

        more = True

        async def read_chunk() -> bytes | None:
            nonlocal more
            if not more:
                return None
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionResetError("client disconnected mid-request")
            more = message.get("more_body", False)
            return message.get("body", b"")

        request = HttpRequest(
            method=scope["method"],
            path=path,
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            client=scope.get("client"),
            scheme=scope.get("scheme", "http"),
            _receive=read_chunk,
        )
        handling = asyncio.ensure_future(self.app.gateway.handle(request))
        loop = asyncio.get_running_loop()
        watcher: asyncio.Future[None] | None = None

        def watch_disconnect() -> None:
            # A request still running after a while is usually a parked long poll. If its client goes
            # away, cancel it so it cannot take messages nobody will ever see (they would stay
            # invisible for a whole visibility timeout). Only once the body is read: before that,
            # receive() belongs to the handler.
            nonlocal watcher, check
            if handling.done():
                return
            if more:
                check = loop.call_later(_WATCH_AFTER, watch_disconnect)
                return
            watcher = asyncio.ensure_future(_cancel_on_disconnect(receive, handling))

        check = loop.call_later(_WATCH_AFTER, watch_disconnect)
        try:
            response = await handling
        except asyncio.CancelledError:
            if watcher is not None and watcher.done():
                return  # the client left: nobody to answer
            raise
        finally:
            check.cancel()
            if watcher is not None:
                watcher.cancel()
        await _send_response(response, request.method, send)


async def _cancel_on_disconnect(receive: Receive, handling: asyncio.Future[HttpResponse]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            handling.cancel()
            return


async def _send_response(response: HttpResponse, method: str, send: Send) -> None:
    headers = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in response.headers]
    if response.stream is None and response.header("content-length") is None:
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if response.stream is None or method == "HEAD":
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else response.body})
        return
    async for chunk in response.stream:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
