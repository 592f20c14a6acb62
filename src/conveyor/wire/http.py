"""The plain HTTP request and response every layer works with (the HTTP server builds them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from conveyor.wire.errors import ServiceError


class ClientDisconnected(Exception):
    """The client went away before its request body arrived: there is nobody left to answer.

    Not an OSError on purpose: code that handles a failing disk or socket of its own must not take a
    client's hang-up for one."""


class Headers:
    """Case-insensitive header access; keeps every value and the original order."""

    __slots__ = ("_items", "_map")

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        self._map: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            self._map[key] = f"{self._map[key]},{value}" if key in self._map else value

    @classmethod
    def from_wire(cls, raw: list[tuple[bytes, bytes]]) -> Headers:
        """Headers as the HTTP parser hands them over (latin-1 bytes): decoded and indexed in one pass."""
        headers = cls.__new__(cls)
        items: list[tuple[str, str]] = []
        index: dict[str, str] = {}
        for raw_name, raw_value in raw:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            items.append((name, value))
            key = name.lower()
            index[key] = f"{index[key]},{value}" if key in index else value
        headers._items = items
        headers._map = index
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._map.get(name)  # the pipeline asks in lower case: no copy of the name for that
        return value if value is not None else self._map.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def lowered(self) -> dict[str, str]:
        """lower-case name -> value (repeated names joined with commas); do not modify."""
        return self._map

    def items(self) -> list[tuple[str, str]]:
        """(lower-case name, value) pairs, repeated names joined with commas as HTTP allows."""
        return list(self._map.items())

    def raw(self) -> list[tuple[str, str]]:
        return list(self._items)


@dataclass
class HttpRequest:
    method: str
    path: str  # percent-encoded, exactly as sent
    query_string: str  # raw, without '?'
    headers: Headers
    client: tuple[str, int] | None = None
    scheme: str = "http"
    _receive: Callable[[], Awaitable[bytes | None]] | None = None
    _body: bytes | None = None
    _query: list[tuple[str, str]] | None = field(default=None, repr=False)
    # Bodies read whole (`body()`) are capped; streamed ones (S3 objects) are not.
    max_body: int = 16 * 1024 * 1024
    # The whole body, taken at once if it has all arrived (None if not): see `arrived_body`.
    _arrived: Callable[[], bytes | None] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return self.headers.get("host") or "127.0.0.1"

    @property
    def query(self) -> list[tuple[str, str]]:
        if self._query is None:
            self._query = parse_qsl(self.query_string, keep_blank_values=True) if self.query_string else []
        return self._query

    def query_dict(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def body_consumed(self) -> bool:
        return self._body is not None

    @property
    def body_pending(self) -> bool:
        """Whether the body (if any) is still unread: nobody has started reading or streaming it."""
        return self._receive is not None

    async def body(self) -> bytes:
        """The whole body (read once and kept); use `stream()` instead for large uploads."""
        if self._body is None:
            arrived = self.arrived_body()  # (most bodies: taken whole, no coroutine awaited for them)
            if arrived is not None:
                if len(arrived) > self.max_body:
                    raise ServiceError("RequestEntityTooLarge",
                                       f"Request bodies are limited to {self.max_body} bytes.", 413)
                return arrived
            receive, self._receive = self._receive, None
            chunks: list[bytes] = []
            size = 0
            # Read from the connection itself, not through `stream()`: an async generator per request is a
            # registration with the loop and a finalizer, for a body that is one chunk most of the time.
            while receive is not None:
                chunk = await receive()
                if chunk is None:
                    break
                size += len(chunk)
                if size > self.max_body:
                    raise ServiceError("RequestEntityTooLarge",
                                       f"Request bodies are limited to {self.max_body} bytes.", 413)
                chunks.append(chunk)
            self._body = chunks[0] if len(chunks) == 1 and type(chunks[0]) is bytes else b"".join(chunks)
        return self._body

    def arrived_body(self) -> bytes | None:
        """The whole body if it has all arrived with the request (nothing read yet), taken without a coroutine
        or an async generator; None if it has not (read it with `stream()`): most small bodies come in the
        same packets as their head. It is kept as `body()` keeps it, and `stream()` yields it."""
        if self._body is not None:
            return self._body
        if self._receive is None or self._arrived is None:
            return None
        data = self._arrived()
        if data is not None:
            self._receive = None
            self._body = data
        return data

    def keep_body(self, data: bytes) -> None:
        """Keep `data` as the body from now on: a caller that read the stream itself (decoding
        aws-chunked framing) hands the decoded body to the codecs that parse it."""
        self._receive = None
        self._body = data

    async def stream(self) -> AsyncIterator[bytes]:
        if self._body is not None:
            if self._body:
                yield self._body
            return
        if self._receive is None:
            self._body = b""
            return
        receive, self._receive = self._receive, None
        while True:
            chunk = await receive()
            if chunk is None:
                break
            if chunk:
                yield chunk


@dataclass
class HttpResponse:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # Large or file-backed bodies stream instead of `body`.
    stream: AsyncIterator[bytes] | None = None

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        lname = name.lower()
        for key, _ in self.headers:
            if key.lower() == lname:  # (rare: a header set twice) the earlier ones go
                self.headers = [(k, v) for k, v in self.headers if k.lower() != lname]
                break
        self.headers.append((name, value))
