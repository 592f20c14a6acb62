"""Worker processes: starting one, copying its output line by line, signalling it, and the crash-loop
back-off of the pool that replaces them.

A worker is a plain process (the user's own `python worker.py`, or the built-in mover). It runs in its
own session, so it and whatever it starts form one process group: stopping a worker signals the group,
as `docker stop` or systemd do, and no grandchild is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

OUTPUT_CHUNK = 65536
CRASH_LOOP_SECONDS = 2.0  # a worker that dies younger than this (real time) counts as a quick death
MAX_BACKOFF = 10.0
Echo = Callable[[str], None]  # one or more lines (joined by newlines), as one write


class WorkerStartError(ValueError):
    pass


@dataclass
class Worker:
    id: str
    pool: str
    process: asyncio.subprocess.Process
    started: float  # the pool's clock
    heartbeat: Path
    state: str = "starting"  # starting -> in-service -> terminating | unhealthy
    exit_code: int | None = None
    born: float = field(default_factory=time.monotonic)  # real time: how long the process really lived
    killed: bool = False  # by `conveyor workers kill`: a drill, not a crash
    output_done: asyncio.Event = field(default_factory=asyncio.Event)
    credentials_expire: float | None = None  # its session of the pool's role (the pool's clock)
    role_session: str | None = None  # that session's ARN

    def messages_done(self) -> int:
        try:
            return int(self.heartbeat.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def heartbeat_age(self, now_real: float) -> float | None:
        try:
            return now_real - self.heartbeat.stat().st_mtime
        except OSError:
            return None

    def lived(self) -> float:
        return time.monotonic() - self.born


def executable(command: list[str], workdir: str | None, path: str | None) -> str | None:
    """The program a command runs, as the worker will find it: a name through PATH, a relative path
    (`./worker.sh`) from the worker's directory. None when there is no such executable."""
    program = command[0]
    if os.sep in program and not os.path.isabs(program):
        program = os.path.join(workdir or os.getcwd(), program)
    return shutil.which(program, path=path)


async def start(worker_id: str, command: list[str], env: dict[str, str], workdir: str | None,
                ) -> asyncio.subprocess.Process:
    """Start a worker process: stdin closed, stdout and stderr into one pipe, its own session."""
    if executable(command, workdir, env.get("PATH")) is None:  # refused now, not by a crash loop
        raise WorkerStartError(f"cannot start {command[0]!r}: not found or not executable")
    try:
        return await asyncio.create_subprocess_exec(
            *_DIE_WITH_PARENT, *command, env=env, cwd=workdir, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
    except OSError as exc:
        raise WorkerStartError(f"cannot start {command[0]!r}: {exc.strerror or exc}")


async def pump(worker: Worker, write: Callable[[list[str]], None]) -> None:
    """Copy a worker's output until the pipe closes: `write` gets the complete lines of each read at
    once (a worker that prints line by line while the server is busy hands over many per read, and each
    read then costs one write to the log file, the console and CloudWatch Logs, not one per line).
    Everything a stopping worker wrote is copied before its pool calls it stopped."""
    stream = worker.process.stdout
    try:
        if stream is None:
            return
        pending = b""
        while True:
            chunk = await stream.read(OUTPUT_CHUNK)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            if len(pending) > OUTPUT_CHUNK:  # a runaway line: show what there is
                lines.append(pending)
                pending = b""
            if lines:
                write([line.decode(errors="replace").rstrip() for line in lines])
        if pending:
            write([pending.decode(errors="replace").rstrip()])
    finally:
        worker.output_done.set()


def signal_group(worker: Worker, sig: int) -> None:
    """Signal the worker and everything it started (its session's process group)."""
    signal_process_group(worker.process, sig)


def signal_process_group(process: asyncio.subprocess.Process, sig: int) -> None:
    """Signal a process started by `start` and everything it started (pools' workers, EC2's instances)."""
    try:
        os.killpg(process.pid, sig)
    except OSError:  # no such group (left it, or all gone): the process itself, if it is still there
        with contextlib.suppress(OSError):
            process.send_signal(sig)


class CrashLoop:
    """The back-off of a pool whose workers keep dying at start, on the pool's clock.

    The first quick death is replaced at once; from the second on in a row, no worker of the pool starts
    for 0.25 s, 0.5 s, 1 s, ... up to MAX_BACKOFF: the hold covers every launch (replacements, the
    periodic reconcile, scale-out), so the delay logged is the delay kept. A death after a real life
    (or a worker that lives past CRASH_LOOP_SECONDS) ends the loop.
    """

    def __init__(self) -> None:
        self.quick_deaths = 0
        self.hold_until = -math.inf

    def died(self, worker: Worker, now: float) -> float:
        """Record a death; returns how long launches are now held (0: replace at once)."""
        return self.ended(worker.lived(), worker.killed, now)

    def ended(self, lived: float, killed: bool, now: float) -> float:
        """Record the end of a process that ran `lived` real seconds (`killed`: by a drill, not a crash);
        returns how long launches are now held (0: replace at once)."""
        if killed or lived >= CRASH_LOOP_SECONDS:
            self.quick_deaths = 0
            return 0.0
        self.quick_deaths += 1
        if self.quick_deaths < 2:
            return 0.0
        delay = min(MAX_BACKOFF, 0.25 * 2 ** (self.quick_deaths - 2))
        self.hold_until = max(self.hold_until, now + delay)
        return self.hold_until - now

    def survived(self) -> None:
        self.quick_deaths = 0

    def holding(self, now: float) -> bool:
        return now < self.hold_until

    @property
    def looping(self) -> bool:
        return self.quick_deaths >= 2


def _die_with_parent_prefix() -> list[str]:
    """A launcher that makes a worker get SIGTERM when the server dies (even by SIGKILL), so no worker
    is orphaned: util-linux `setpriv --pdeathsig` sets PR_SET_PDEATHSIG, which survives its exec of the
    command. Not a `preexec_fn`: Python code between fork and exec can deadlock on a lock another
    thread held at the fork, and a SIGTERM arriving there would hit the server's handler and be lost.
    Where setpriv is missing (or not Linux) workers simply do without."""
    if not sys.platform.startswith("linux"):
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


_DIE_WITH_PARENT = _die_with_parent_prefix()
