"""How many connections a server holds, and for how long they may stay silent.

Every connection costs a file descriptor, and a process that runs out of them cannot open its own
database files, blobs or worker pipes any more. So the server holds at most `max_connections` at once:
a connection beyond that first makes room by closing the connection that has been idle the longest
(a keep-alive connection between requests: its client reconnects when it next needs one), and if every
connection is busy, it is answered `503 Service Unavailable` with `Retry-After` and closed (every AWS SDK
retries a 503 with backoff).
"""

from __future__ import annotations

import contextlib
import logging
import resource
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.gateway.http11 import Connection

log = logging.getLogger("conveyor.http")

# File descriptors kept for everything else the process opens: each service's SQLite files (database,
# WAL, shared memory; a reader and a writer), object files being written, worker and function pipes.
FD_RESERVE = 256
# Connections refused for being over the limit get their 503 and a moment to read it; past this many at
# once, further ones are closed without an answer (they too hold descriptors).
MAX_REFUSING = 64


@dataclass(frozen=True)
class ConnectionLimits:
    # Silence tolerated in the middle of a request (a half-sent head, a body shorter than its
    # Content-Length). S3 answers such a request `400 RequestTimeout` after about 20 seconds.
    read_timeout: float = 20.0
    # A keep-alive connection with no request in progress is closed after this long. S3 closes idle
    # connections after about 20 seconds too (observed by SDK users; AWS documents no figure).
    idle_timeout: float = 20.0
    max_connections: int = 1024
    # How long a refused connection may take to read its 503 before it is closed.
    linger: float = 2.0


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft limit on open files toward `wanted` (up to the hard limit); returns the soft limit.

    Many systems start processes with a soft limit of 256 or 1024 and a much higher hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft


class Connections:
    """The server's open connections, admitted up to the limit."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._open: set[Connection] = set()
        self.refusing = 0
        soft = raise_fd_limit(limits.max_connections + MAX_REFUSING + FD_RESERVE)
        self.max_open = limits.max_connections
        if soft != resource.RLIM_INFINITY and soft - MAX_REFUSING - FD_RESERVE < self.max_open:
            # A hard limit too low for the reserve still leaves a quarter of it to connections.
            self.max_open = max(soft - MAX_REFUSING - FD_RESERVE, soft // 4, 1)
            log.warning("the open-files limit (%d) allows only %d connections, not %d", soft, self.max_open,
                        limits.max_connections)

    def admit(self, connection: Connection) -> bool:
        """Whether `connection` may be served; an idle connection may be closed to make room for it."""
        if len(self._open) >= self.max_open:
            idle = [c for c in self._open if c.idle and not c.closed]
            if not idle:
                return False
            oldest = min(idle, key=lambda c: c.idle_since)
            oldest.close()
            self._open.discard(oldest)
        self._open.add(connection)
        return True

    def discard(self, connection: Connection) -> None:
        self._open.discard(connection)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._open))

    def __len__(self) -> int:
        return len(self._open)
