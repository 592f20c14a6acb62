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
- a client that disconnects fails its body read mid-upload (ClientDisconnected: nobody is left to
  answer, so it is neither logged nor counted as an error), and abandons its request (conveyor.waiting:
  a parked long poll is cancelled, nothing else is cut short);
- a client silent for `read_timeout` in the middle of a request (half a head, a body shorter than its
  Content-Length) is timed out; a connection between requests is closed after `idle_timeout`. A request
  being answered (a parked long poll) is the server's turn, not the client's: no timeout runs then;
- `Upgrade` requests (h2c, websocket) are answered over HTTP/1.1 as if the header were absent;
- a response body streams with the transport's flow control (pause_writing / resume_writing).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import functools
import http
import logging
import socket
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httptools

from conveyor import waiting
from conveyor.gateway.connections import MAX_REFUSING, Connections
from conveyor.gateway.tls import HANDSHAKE, TlsSession
from conveyor.wire import ClientDisconnected, Headers, HttpRequest, HttpResponse, ServiceError

if TYPE_CHECKING:
    from conveyor.gateway.chain import Gateway

log = logging.getLogger("conveyor.http")

HIGH_WATER = 1 << 20  # unread request body bytes before the socket stops being read
LOW_WATER = HIGH_WATER // 4
MAX_HEAD = 64 * 1024  # request line and headers
_REASONS = {status.value: status.phrase.encode() for status in http.HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@functools.lru_cache(maxsize=64)
def _reason_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))


def request_timeout() -> ServiceError:
    """S3's answer to a request whose body stopped arriving; each service's protocol shapes it.
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (RequestTimeout)"""
    return ServiceError("RequestTimeout", "Your socket connection to the server was not read from or written to "
                        "within the timeout period. Idle connections will be closed.", 400)


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

    __slots__ = ("connection", "chunks", "buffered", "complete", "error", "expect_continue", "_waiter")

    def __init__(self, connection: Connection, expect_continue: bool) -> None:
        self.connection = connection
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.error: Exception | None = None
        self.expect_continue = expect_continue
        # The handler waiting for more of the body, if it is: made only then (a small body has arrived
        # whole with its head by the time it is read).
        self._waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def feed(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        self._wake()
        if self.buffered > HIGH_WATER:
            self.connection.pause_reading()

    def finish(self) -> None:
        self.complete = True
        self._wake()

    def fail(self, error: Exception) -> None:
        if not self.complete and self.error is None:
            self.error = error
            self._wake()

    def take_whole(self) -> bytes | None:
        """The whole body if it has all arrived and none of it was read (HttpRequest.arrived_body), else None."""
        if not self.complete or self.error is not None or self.expect_continue:
            return None  # (a client that asked to continue is told so by `read`)
        chunks = self.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        self.connection.resume_reading()
        return data

    @property
    def awaits_client(self) -> bool:
        """Whether the rest of this body is the client's to send now."""
        return not self.complete and self.error is None and not self.expect_continue

    async def read(self) -> bytes | None:
        """The next chunk, or None once the body is complete."""
        if self.expect_continue:
            self.expect_continue = False
            if not self.chunks:
                # Even for an empty body: botocore, having asked, takes a final status arriving first
                # as the answer to its *next* request on the connection.
                self.connection.write(_CONTINUE)
                self.connection.client_turn()  # the client was waiting for us; now it is its turn
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
            waiter = self._waiter = self.connection.loop.create_future()
            await waiter


class Connection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, gateway: Gateway, connections: Connections, tls: ssl.SSLContext | None = None) -> None:
        self.gateway = gateway
        # HTTPS on the same port: a connection that opens with a TLS ClientHello is served through TLS.
        self.tls_context = tls
        self.tls: TlsSession | None = None
        self._sniffed = False
        self.connections = connections
        self.limits = connections.limits
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] | None = None
        self.closed = False
        self.stopping = False
        self.refused = False  # over the connection limit: answered 503 and closed
        self._draining = False  # no further request will be read (its framing can no longer be trusted)
        self._url = b""
        self._head: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._in_head = False
        self._body: RequestBody | None = None
        # The body of an `Upgrade` request, still to come after httptools stopped at its head.
        self._upgrade_body: tuple[RequestBody, bytes] | None = None
        self._continuing: RequestBody | None = None
        self.queue: collections.deque[tuple[HttpRequest, RequestBody, bool]] = collections.deque()
        self.active: asyncio.Task[None] | None = None
        self._reading_paused = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._idle: asyncio.TimerHandle | None = None
        self._idle_due: float | None = None  # when an idle connection closes; None while it is busy
        self.idle_since = self.loop.time()
        self._last_heard = self.loop.time()
        self._read_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are duck-typed
        if not self.connections.admit(self):
            self._refuse_over_limit()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio and uvloop turn Nagle off only for sockets created with IPPROTO_TCP, which a
            # listening socket made by hand is not; a streamed body written after its headers would
            # then wait for the client's delayed ACK (~40 ms on Linux).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.refused:
            self.connections.refusing -= 1
        else:
            self.connections.discard(self)
        self._cancel_idle()
        self._cancel_read_timer()
        self._writable.set()
        gone = ClientDisconnected("the client disconnected mid-request")
        for body in [self._body, self._continuing, *(b for _, b, _ in self.queue)]:
            if body is not None:
                body.fail(gone)
        if self.active is not None:
            waiting.abandon(self.active)  # a parked long poll must not go on to take messages

    def data_received(self, data: bytes) -> None:
        self._last_heard = self.loop.time()
        if not self._sniffed:
            self._sniffed = True
            if self.tls_context is not None and data[:1] == bytes([HANDSHAKE]):
                self.tls = TlsSession(self.tls_context, self._write_raw)
        if self.tls is not None:
            try:
                data = self.tls.receive(data)
            except ssl.SSLError as exc:  # a failed handshake (the client distrusts the CA) or a corrupt record
                log.debug("TLS with %s failed: %s", self.peer, exc)
                self._draining = True
                self.close()
                return
        while data and not self._draining:
            try:
                self.parser.feed_data(data)
                data = b""
            except httptools.HttpParserUpgrade as upgrade:
                data = self._after_upgrade(data[upgrade.args[0]:])
            except httptools.HttpParserError as exc:  # also what our callbacks raise, wrapped
                if self._head_size > MAX_HEAD:
                    self._refuse(431, b"Request header fields too large")
                else:
                    self._refuse(400, f"Malformed HTTP request: {exc}".encode())
                return
        # A request left unfinished by this chunk: the client's silence from here on counts.
        self._arm_read_timer()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- httptools callbacks ------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._continuing is not None:
            return
        self._url, self._head, self._head_size = b"", [], 0
        self._in_head = True
        if not self.refused:
            self._idle_due = None  # busy (a refused connection's timer is its linger, and stays)

    def on_url(self, url: bytes) -> None:
        if self._continuing is None:
            self._url += url
            self._head_size += len(url)
            if self._head_size > MAX_HEAD:
                raise ValueError("request head too large")  # httptools reports it as a parser error

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._continuing is None:
            self._head.append((name, value))
            self._head_size += len(name) + len(value)
            if self._head_size > MAX_HEAD:
                raise ValueError("request head too large")  # httptools reports it as a parser error

    def on_headers_complete(self) -> None:
        if self._continuing is not None:
            self._body = self._continuing
            return
        self._in_head = False
        if self.refused:
            if not self._draining:  # (once: a pipelined request behind it is not answered again)
                self._answer_over_limit()
            return
        headers = Headers.from_wire(self._head)
        raw_path, _, query = self._url.partition(b"?")
        expect = headers.get("expect")
        body = RequestBody(self, expect is not None and expect.lower() == "100-continue")
        request = HttpRequest(
            method=self.parser.get_method().decode("ascii"),
            path=raw_path.decode("latin-1"),
            query_string=query.decode("latin-1"),
            headers=headers,
            client=self.peer,
            scheme="https" if self.tls is not None else "http",
            _receive=body.read,
            _arrived=body.take_whole,
        )
        self._body = body
        if self.parser.should_upgrade():
            self._expect_upgrade_body(headers, body)
        self.queue.append((request, body, bool(self.parser.should_keep_alive())))
        if self.active is None:
            self._start_next()

    def on_body(self, data: bytes) -> None:
        if self._body is not None:
            self._body.feed(data)

    def on_message_complete(self) -> None:
        if self._body is not None:
            if self._upgrade_body is not None and self._upgrade_body[0] is self._body:
                return  # httptools stops at the head of an upgrade: the body is still to come
            self._body.finish()
            self._body = None
            self._continuing = None

    # -- Upgrade: answered over HTTP/1.1 as if the header were absent --------------------------------
    # A server may ignore `Upgrade` (RFC 9110, section 7.8); AWS endpoints speak HTTP/1.1 to a client
    # that asks for h2c or a websocket. httptools stops parsing at the head of such a request and
    # reports where the rest of the stream begins: a fresh parser takes over from there.
    def _expect_upgrade_body(self, headers: Headers, body: RequestBody) -> None:
        length = (headers.get("content-length") or "").strip()
        if "chunked" in (headers.get("transfer-encoding") or "").lower():
            framing = b"Transfer-Encoding: chunked"
        elif length.isdigit() and int(length) > 0:
            framing = b"Content-Length: %d" % int(length)
        else:
            return
        # What the body arrives as, parsed by the next parser behind a head carrying only its framing.
        self._upgrade_body = (body, b"PUT / HTTP/1.1\r\n%b\r\n\r\n" % framing)

    def _after_upgrade(self, rest: bytes) -> bytes:
        self.parser = httptools.HttpRequestParser(self)
        if self._upgrade_body is None:
            return rest
        body, head = self._upgrade_body
        self._upgrade_body = None
        self._continuing = body
        self._body = None
        return head + rest

    # -- answering ----------------------------------------------------------------------------------
    def _start_next(self) -> None:
        request, body, keep_alive = self.queue.popleft()
        waiting.request_on(self)
        self.active = self.loop.create_task(self._answer(request, body, keep_alive))

    async def _answer(self, request: HttpRequest, body: RequestBody, keep_alive: bool) -> None:
        try:
            response = await self.gateway.handle(request)
        except (asyncio.CancelledError, ClientDisconnected):
            self.close()
            return
        except Exception:  # the gateway answers errors itself; this is a last resort
            log.exception("unhandled error answering %s %s", request.method, request.path)
            response = HttpResponse(500, [("Content-Type", "text/plain")], b"Internal server error")
        if not body.complete:
            # Unread body bytes would be parsed as the next request: this connection cannot go on.
            keep_alive = False
        try:
            if response.stream is None:  # the answer in one write, no coroutine for it
                keep_alive = self._send_whole(response, request.method, keep_alive)
            else:
                keep_alive = await self._send(response, request.method, keep_alive)
        except (ConnectionError, asyncio.CancelledError):
            keep_alive = False
        if not keep_alive or self.closed or self.stopping:
            self.close()
            return
        self.active = None
        if self.queue:
            self._start_next()
        elif self._draining:
            self.close()
        else:
            self._arm_idle()

    def _response_head(self, response: HttpResponse, method: str, keep_alive: bool) -> tuple[bytes, bool, bool]:
        """(the status line and headers, whether the body goes chunked, whether the connection stays open)."""
        has_length = False
        lines = []
        for name, value in response.headers:
            if name[:1] in ("c", "C"):  # (Content-Length and Connection: the only names looked at)
                lname = name.lower()
                if lname == "content-length":
                    has_length = True
                elif lname == "connection":
                    keep_alive = keep_alive and value.lower() != "close"
                    continue  # written below, once
            lines.append(f"{name}: {value}\r\n")
        # (a header a service set may carry latin-1 characters; encoded at once, not line by line)
        parts = [_reason_line(response.status), "".join(lines).encode("latin-1")]
        stream = response.stream
        chunked = stream is not None and not has_length and method != "HEAD"
        parts.append(b"date: ")
        parts.append(_Date.now())
        if stream is None and not has_length:
            parts.append(b"\r\ncontent-length: %d" % len(response.body))
        elif chunked:
            parts.append(b"\r\ntransfer-encoding: chunked")
        if not keep_alive:
            parts.append(b"\r\nconnection: close")
        parts.append(b"\r\n\r\n")
        return b"".join(parts), chunked, keep_alive

    def _send_whole(self, response: HttpResponse, method: str, keep_alive: bool) -> bool:
        """Write a response whose body is in memory, in one write; returns whether the connection stays open."""
        head, _, keep_alive = self._response_head(response, method, keep_alive)
        self.write(head if method == "HEAD" or not response.body else head + response.body)
        return keep_alive

    async def _send(self, response: HttpResponse, method: str, keep_alive: bool) -> bool:
        """Write the response; returns whether the connection stays open for another request."""
        stream = response.stream
        if stream is None:
            return self._send_whole(response, method, keep_alive)
        head, chunked, keep_alive = self._response_head(response, method, keep_alive)
        self.write(head)
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
            self.transport.write(data if self.tls is None else self.tls.encrypt(data))

    def _write_raw(self, data: bytes) -> None:
        """Bytes of the TLS session itself (its handshake), written as they are."""
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
            self.client_turn()  # the silence while we were not reading was ours

    def _refuse(self, status: int, message: bytes) -> None:
        """A request too broken to parse: answer it plainly and close (its framing cannot be trusted)."""
        self._draining = True
        if self.active is None:
            self.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
                       b"connection: close\r\n\r\n%b" % (status, _REASONS[status], len(message), message))
        self.close()

    def close(self) -> None:
        self._cancel_idle()
        self._cancel_read_timer()
        if self.transport is not None and not self.transport.is_closing():
            if self.tls is not None and not self.closed:
                with contextlib.suppress(ssl.SSLError):
                    self.transport.write(self.tls.close_notify())
            self.transport.close()

    # -- over the connection limit --------------------------------------------------------------------
    def _refuse_over_limit(self) -> None:
        self.refused = True
        self.connections.refusing += 1
        if self.connections.refusing > MAX_REFUSING:
            assert self.transport is not None
            self.transport.abort()
            return
        # Answered once its head has arrived (an answer before the request could be lost to a reset
        # when the client's request then meets a closed socket); closed after `linger` regardless.
        self._idle = self.loop.call_later(self.limits.linger, self.close)

    def _answer_over_limit(self) -> None:
        self._draining = True
        message = (b"Conveyor is serving its maximum of %d connections; retry shortly."
                   % self.connections.max_open)
        self.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\n"
                   b"content-length: %d\r\nconnection: close\r\n\r\n%b" % (len(message), message))
        if self.transport is not None and self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the answer, then closes; `linger` bounds that

    # -- timeouts -------------------------------------------------------------------------------------
    def client_turn(self) -> None:
        """The client is now expected to send (the rest of) a request: its silence starts counting."""
        self._last_heard = self.loop.time()
        self._arm_read_timer()

    def _awaits_client(self) -> bool:
        if self._reading_paused or self._draining or self.closed:
            return False
        if self._in_head:
            return True
        return self._body is not None and self._body.awaits_client

    def _arm_read_timer(self) -> None:
        if self._read_timer is None and self._awaits_client():
            self._read_timer = self.loop.call_at(self._last_heard + self.limits.read_timeout, self._check_read)

    def _check_read(self) -> None:
        self._read_timer = None
        if not self._awaits_client():
            return  # re-armed when it is the client's turn again
        if self.loop.time() - self._last_heard < self.limits.read_timeout:
            self._arm_read_timer()  # it spoke since the timer was set
            return
        self._draining = True  # whatever it sends next cannot be framed any more
        if self._body is not None:
            # The request is answered with the error (RequestTimeout), then the connection closes.
            self._body.fail(request_timeout())
            self._body = None
            self._continuing = None
        elif self.active is None and not self.queue:
            self.close()  # half a head: there is no request to answer

    def _arm_idle(self) -> None:
        """Idle from now: closed after `idle_timeout` unless a request begins first. One timer serves
        many requests: it is left running while the connection is busy and, when it fires early, set
        again for the time still due (not cancelled and made anew for every request)."""
        now = self.loop.time()
        self.idle_since = now
        self._idle_due = now + self.limits.idle_timeout
        if self._idle is None:
            self._idle = self.loop.call_at(self._idle_due, self._idle_check)

    def _idle_check(self) -> None:
        self._idle = None
        due = self._idle_due
        if due is None:
            return  # busy: armed again when it next goes idle
        if self.loop.time() < due:
            self._idle = self.loop.call_at(due, self._idle_check)
            return
        self.close()

    def _cancel_idle(self) -> None:
        self._idle_due = None
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    @property
    def idle(self) -> bool:
        return self.active is None and not self.queue and not self._in_head and not self.refused

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
