"""Helpers every test module may use (fixtures live in conftest.py)."""

from __future__ import annotations

import datetime
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from conveyor.app import App

T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll `condition` until it returns something truthy, and return that; fail after `timeout` seconds.

    For what happens in another process or thread on its own time (a worker, a function, a delivery);
    what the server schedules on its clock is moved with the manual clock instead."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout:g} seconds")
        time.sleep(interval)


def signed(service: str) -> dict[str, str]:
    """A well-formed SigV4 header for `service` (routing only: the shared server runs with auth off, which
    routes by the credential scope without verifying the signature)."""
    now = datetime.datetime.now(datetime.UTC)
    scope = f"{now:%Y%m%d}/us-east-1/{service}/aws4_request"
    return {"X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=test/{scope}, SignedHeaders=host;x-amz-date, "
                             f"Signature={'0' * 64}"}


def cfn_lint(directory: Path, template: str = "template.yaml") -> tuple[bool, str]:
    """Run cfn-lint (the PyPI package) on a template: (no errors, its report). Its exit status has bit 2 for
    errors, 4 for warnings and 8 for informational findings; anything else (1: it could not run) fails too."""
    linted = subprocess.run([sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
                             "--format", "parseable", template], capture_output=True, text=True, cwd=directory,
                            timeout=300)
    return linted.returncode & ~(4 | 8) == 0, linted.stdout + linted.stderr


@contextmanager
def write_lock(database: Path) -> Iterator[None]:
    """Hold an SQLite store's write lock from another connection: the server's commits wait for it (up to their
    busy timeout of 5 s), so its writes stay in flight until the lock goes: a real overlap, not a sleep."""
    conn = sqlite3.connect(database, isolation_level=None, timeout=1)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@asynccontextmanager
async def served_in_process(data_dir: Path) -> AsyncIterator[tuple[App, str]]:
    """A server in this process and event loop (manual clock, auth off) on a free port: (its App, its
    endpoint), shut down on leaving."""
    from conveyor.app import App
    from conveyor.config import Config
    from conveyor.server import HttpServer

    app = App(Config(data_dir=data_dir, port=0, clock="manual", auth="off"))
    server = HttpServer(app)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await server.start(sock)
    try:
        yield app, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.stopped.set()
        await server.shutdown()
