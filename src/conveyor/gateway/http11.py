"""HTTP/1.1 connections: httptools' parser feeding the gateway, one asyncio protocol per connection.

Conveyor speaks HTTP itself instead of through an ASGI server: a response leaves in one write (status
line, headers and body together, where an ASGI server writes headers and body separately: two trips
through the loopback stack), and no per-request message dicts or middleware stand in between.

What a connection does:
- requests are answered one at a time and in order (pipelined ones wait in `queue`);
- a request body streams to the handler as it arrives; reading from the socket pauses while more than
  HIGH_WATER bytes wait unread (a 5 GiB upload never sits in memory);
- `Expect: 100-continue` is answered when the handler starts reading the body, so a request refused
  before that (a bad signature, a missing bucket) never makes the client send it;
- a client that disconnects fails its body read mid-upload, and abandons its request (conveyor.waiting:
  a parked long poll is cancelled, nothing else is cut short);
- a response body streams with the transport's flow control (pause_writing / resume_writing).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import http
import logging
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httptools

from conveyor import waiting
from conveyor.gateway.http import Headers, HttpRequest, HttpResponse

if TYPE_CHECKING:
    from conveyor.gateway.chain import Gateway

log = logging.getLogger("conveyor.http")

HIGH_WATER = 1 << 20  # unread request body bytes before the socket stops being read
LOW_WATER = HIGH_WATER // 4
MAX_HEAD = 64 * 1024  # request line and headers
KEEP_ALIVE_SECONDS = 75.0  # idle connections are closed after this long
_REASONS = {status.value: status.phrase.encode() for status in http.HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _Date:
    """The Date header, formatted once per second."""

    second = -1
    value = b""

    @classmethod
    def now(cls) -> bytes:
        second = int(time.time())
        if second != cls.second:
            cls.second, cls.value = second, email.utils.formatdate(second, usegmt=True).encode()
        return cls.value


class RequestBody:
    """A request body arriving from the socket, read chunk by chunk by the handler."""

    def __init__(self, connection: Connection, expect_continue: bool) -> None:
        self.connection = connection
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.error: Exception | None = None
        self.expect_continue = expect_continue
        self._arrived = asyncio.Event()

    def feed(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        self._arrived.set()
        if self.buffered > HIGH_WATER:
            self.connection.pause_reading()

    def finish(self) -> None:
        self.complete = True
        self._arrived.set()

    def fail(self, error: Exception) -> None:
        if not self.complete:
            self.error = error
            self._arrived.set()

    async def read(self) -> bytes | None:
        """The next chunk, or None once the body is complete."""
        if self.expect_continue:
            self.expect_continue = False
            if not self.chunks:
                # Even for an empty body: botocore, having asked, takes a final status arriving first
                # as the answer to its *next* request on the connection.
                self.connection.write(_CONTINUE)
        while True:
            if self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self.buffered < LOW_WATER:
                    self.connection.resume_reading()
                return chunk
            if self.error is not None:
                raise self.error
            if self.complete:
                return None
            self._arrived.clear()
            await self._arrived.wait()


class Connection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, gateway: Gateway, connections: set[Connection]) -> None:
        self.gateway = gateway
        self.connections = connections
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] | None = None
        self.closed = False
        self.stopping = False
        self._url = b""
        self._head: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._body: RequestBody | None = None
        self.queue: collections.deque[tuple[HttpRequest, RequestBody, bool]] = collections.deque()
        self.active: asyncio.Task[None] | None = None
        self._reading_paused = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._idle: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are duck-typed
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio and uvloop turn Nagle off only for sockets created with IPPROTO_TCP, which a
            # listening socket made by hand is not; a streamed body written after its headers would
            # then wait for the client's delayed ACK (~40 ms on Linux).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self.connections.add(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.connections.discard(self)
        self._cancel_idle()
        self._writable.set()
        gone = ConnectionResetError("client disconnected mid-request")
        for body in [self._body, *(b for _, b, _ in self.queue)]:
            if body is not None:
                body.fail(gone)
        if self.active is not None:
            waiting.abandon(self.active)  # a parked long poll must not go on to take messages

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, b"Protocol upgrades are not supported")
        except httptools.HttpParserError as exc:  # also what our callbacks raise, wrapped
            if self._head_size > MAX_HEAD:
                self._refuse(431, b"Request header fields too large")
            else:
                self._refuse(400, f"Malformed HTTP request: {exc}".encode())

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- httptools callbacks ------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url, self._head, self._head_size = b"", [], 0
        self._cancel_idle()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head.append((name, value))
        self._count(len(name) + len(value))

    def on_headers_complete(self) -> None:
        headers = Headers([(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._head])
        raw_path, _, query = self._url.partition(b"?")
        body = RequestBody(self, (headers.get("expect") or "").lower() == "100-continue")
        request = HttpRequest(
            method=self.parser.get_method().decode("ascii"),
            path=raw_path.decode("latin-1"),
            query_string=query.decode("latin-1"),
            headers=headers,
            client=self.peer,
            _receive=body.read,
        )
        self._body = body
        self.queue.append((request, body, bool(self.parser.should_keep_alive())))
        if self.active is None:
            self._start_next()

    def on_body(self, data: bytes) -> None:
        if self._body is not None:
            self._body.feed(data)

    def on_message_complete(self) -> None:
        if self._body is not None:
            self._body.finish()
            self._body = None

    # -- answering ----------------------------------------------------------------------------------
    def _start_next(self) -> None:
        request, body, keep_alive = self.queue.popleft()
        self.active = self.loop.create_task(self._answer(request, body, keep_alive))

    async def _answer(self, request: HttpRequest, body: RequestBody, keep_alive: bool) -> None:
        try:
            response = await self.gateway.handle(request)
        except asyncio.CancelledError:
            self.close()
            return
        except Exception:  # the gateway answers errors itself; this is a last resort
            log.exception("unhandled error answering %s %s", request.method, request.path)
            response = HttpResponse(500, [("Content-Type", "text/plain")], b"Internal server error")
        if not body.complete:
            # Unread body bytes would be parsed as the next request: this connection cannot go on.
            keep_alive = False
        try:
            keep_alive = await self._send(response, request.method, keep_alive)
        except (ConnectionError, asyncio.CancelledError):
            keep_alive = False
        if not keep_alive or self.closed or self.stopping:
            self.close()
            return
        self.active = None
        if self.queue:
            self._start_next()
        else:
            self._arm_idle()

    async def _send(self, response: HttpResponse, method: str, keep_alive: bool) -> bool:
        """Write the response; returns whether the connection stays open for another request."""
        head = bytearray(b"HTTP/1.1 %d %s\r\n" % (response.status, _REASONS.get(response.status, b"Unknown")))
        has_length = False
        for name, value in response.headers:
            lname = name.lower()
            if lname == "content-length":
                has_length = True
            elif lname == "connection":
                keep_alive = keep_alive and value.lower() != "close"
                continue  # written below, once
            head += f"{name}: {value}\r\n".encode("latin-1")
        head += b"date: " + _Date.now() + b"\r\n"
        stream = response.stream
        chunked = stream is not None and not has_length and method != "HEAD"
        if stream is None and not has_length:
            head += b"content-length: %d\r\n" % len(response.body)
        elif chunked:
            head += b"transfer-encoding: chunked\r\n"
        if not keep_alive:
            head += b"connection: close\r\n"
        head += b"\r\n"
        if stream is None:
            self.write(bytes(head) if method == "HEAD" else bytes(head) + response.body)
            return keep_alive
        self.write(bytes(head))
        if method == "HEAD":
            await _close_stream(stream)
            return keep_alive
        try:
            async for chunk in stream:
                if self.closed:
                    break
                if chunk:
                    self.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
                if not self._writable.is_set():
                    await self._writable.wait()
        finally:
            await _close_stream(stream)
        if chunked:
            self.write(b"0\r\n\r\n")
        return keep_alive

    # -- plumbing -----------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def _count(self, n: int) -> None:
        self._head_size += n
        if self._head_size > MAX_HEAD:
            raise ValueError("request head too large")  # httptools reports it as a parser error

    def _refuse(self, status: int, message: bytes) -> None:
        """A request too broken to parse: answer it plainly and close (its framing cannot be trusted)."""
        if self.active is None:
            self.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
                       b"connection: close\r\n\r\n%b" % (status, _REASONS[status], len(message), message))
        self.close()

    def close(self) -> None:
        self._cancel_idle()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _arm_idle(self) -> None:
        self._cancel_idle()
        self._idle = self.loop.call_later(KEEP_ALIVE_SECONDS, self.close)

    def _cancel_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    @property
    def idle(self) -> bool:
        return self.active is None and not self.queue

    def shutdown(self) -> None:
        """The server is stopping: close now if idle, else once the current answer is written."""
        self.stopping = True
        if self.idle:
            self.close()


async def _close_stream(stream: Any) -> None:
    close: Callable[[], Any] | None = getattr(stream, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:  # a stream that fails to close must not break the connection
            log.debug("closing a response stream failed", exc_info=True)
