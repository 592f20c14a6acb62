"""Requests to targets over HTTP/1.1 with keep-alive: connections to each target are kept and reused, as a
load balancer keeps its connections to targets open (https://docs.aws.amazon.com/elasticloadbalancing/
latest/application/application-load-balancers.html#connection-idle-timeout).

`fetch` raises TargetUnreachable (no connection, the connection lost before a whole answer, a malformed
answer) or TimeoutError (no whole answer in time); the caller turns them into 502 and 504, or into a
health check's Target.FailedHealthChecks and Target.Timeout.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httptools

IDLE_KEPT = 8  # idle connections kept per target
MAX_ANSWER = 64 * 1024 * 1024


class TargetUnreachable(Exception):
    pass


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str = ""


@dataclass
class _Parsing:
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    done: bool = False
    headers_done: bool = False
    keep_alive: bool = False  # read as the headers complete: httptools forgets it once the message is
    parser: httptools.HttpResponseParser | None = None

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body += body
        if len(self.body) > MAX_ANSWER:
            raise TargetUnreachable("the target's answer is too large")

    def on_message_complete(self) -> None:
        self.done = True


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Upstream:
    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[Connection]] = {}
        self.opened = 0  # connections opened in all (keep-alive keeps this low)

    def close(self) -> None:
        for connections in self._idle.values():
            for _, writer in connections:
                writer.close()
        self._idle.clear()

    async def fetch(self, host: str, port: int, method: str, target: str, headers: list[tuple[str, str]],
                    body: bytes, timeout: float) -> Answer:
        """One request; a kept connection that turns out closed is replaced once by a new one."""
        async with asyncio.timeout(timeout):
            kept = self._take(host, port)
            if kept is not None:
                try:
                    return await self._exchange(host, port, kept, method, target, headers, body)
                except TargetUnreachable:
                    pass  # the target closed the idle connection meanwhile: try a fresh one
            try:
                connection = await asyncio.open_connection(host, port)
            except OSError as exc:
                raise TargetUnreachable(f"cannot connect to {host}:{port}: {exc}") from None
            self.opened += 1
            return await self._exchange(host, port, connection, method, target, headers, body)

    def _take(self, host: str, port: int) -> Connection | None:
        connections = self._idle.get((host, port))
        while connections:
            reader, writer = connections.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        return None

    async def _exchange(self, host: str, port: int, connection: Connection, method: str, target: str,
                        headers: list[tuple[str, str]], body: bytes) -> Answer:
        reader, writer = connection
        given_host = next((value for name, value in headers if name.lower() == "host"), f"{host}:{port}")
        head = [f"{method} {target} HTTP/1.1", f"Host: {given_host}"]
        head += [f"{name}: {value}" for name, value in headers if name.lower() not in ("host", "content-length")]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        parsing = _Parsing()
        parser = parsing.parser = httptools.HttpResponseParser(parsing)
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
            # A HEAD answer carries no body, whatever its Content-Length says: its headers are all of it.
            while not (parsing.done or (method == "HEAD" and parsing.headers_done)):
                chunk = await reader.read(65536)
                if not chunk:
                    raise TargetUnreachable(f"{host}:{port} closed the connection before a whole answer")
                parser.feed_data(chunk)
        except (OSError, httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            writer.close()
            raise TargetUnreachable(f"{host}:{port}: {exc or type(exc).__name__}") from None
        except BaseException:
            writer.close()  # a timeout or a cancellation: the connection is in an unknown state
            raise
        if parsing.done and parsing.keep_alive:
            kept = self._idle.setdefault((host, port), [])
            if len(kept) < IDLE_KEPT:
                kept.append(connection)
            else:
                writer.close()
        else:
            writer.close()
        return Answer(parser.get_status_code(), parsing.headers, bytes(parsing.body))
