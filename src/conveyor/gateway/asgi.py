"""The thin ASGI adapter between uvicorn and the gateway: no framework, just scope -> HttpRequest."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from conveyor.gateway.http import Headers, HttpRequest, HttpResponse

if TYPE_CHECKING:
    from conveyor.app import App

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


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
        response = await self.app.gateway.handle(request)
        await _send_response(response, request.method, send)


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
