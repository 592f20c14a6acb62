"""The "machine" of an instance: its user data, run as a process on this host.

- The user data runs in the instance's own directory under the data directory, as the server's user:
  a script starting with `#!` through its interpreter, anything else with bash (cloud-init runs user
  data that is a shell script the same way; https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html).
- The machine is up while its script, or anything the script started that still holds its console (its
  output), runs: a script that starts `python3 worker.py &` and returns keeps the machine up, as a
  background service keeps an instance up.
- Its console output (stdout and stderr) goes to `console.log` there, which GetConsoleOutput reads.
- Stopping sends SIGTERM to the whole process group and SIGKILL after `drain` seconds, as an operating
  system's shutdown does.

Process handling is the pools' (conveyor.runtime.workers: own session, death with the server, group signals).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from conveyor.background import spawn
from conveyor.runtime.workers import WorkerStartError, signal_process_group, start

CONSOLE = "console.log"
USER_DATA = "user-data"
CONSOLE_KEPT = 64 * 1024  # GetConsoleOutput answers the last 64 KB
OUTPUT_CHUNK = 65536
EXIT_WAIT = 5.0


class Machine:
    def __init__(self, instance_id: str, workdir: Path, script: bytes, env: dict[str, str],
                 on_halt: Callable[[Machine], Awaitable[None]]) -> None:
        self.instance_id = instance_id
        self.workdir = workdir
        self.script = script
        self.env = env
        self.on_halt = on_halt  # called once the machine went down by itself (not by `shutdown`)
        self.process: asyncio.subprocess.Process | None = None
        self.born = time.monotonic()
        self.ended: float | None = None
        self.halting = False  # a shutdown was asked: the end is expected
        self.killed = False  # a drill (`conveyor workers kill`): not a crash
        self._down = asyncio.Event()

    def lived(self) -> float:
        return (self.ended if self.ended is not None else time.monotonic()) - self.born

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def boot(self) -> None:
        """Start the user data; raises WorkerStartError when it cannot run at all."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / USER_DATA
        path.write_bytes(self.script)
        path.chmod(0o700)
        command = [str(path)] if self.script.startswith(b"#!") else ["bash", str(path)]
        self.born = time.monotonic()
        self.process = await start(self.instance_id, command, self.env, str(self.workdir))
        spawn(self._run(self.process))

    async def _run(self, process: asyncio.subprocess.Process) -> None:
        await self._copy_output(process)
        with contextlib.suppress(ProcessLookupError):
            await process.wait()
        self.ended = time.monotonic()
        self._down.set()
        if not self.halting:
            await self.on_halt(self)

    async def _copy_output(self, process: asyncio.subprocess.Process) -> None:
        """Copy the console to console.log until every process holding it is gone."""
        stream = process.stdout
        if stream is None:
            return
        with open(self.workdir / CONSOLE, "ab", buffering=0) as console:
            while True:
                chunk = await stream.read(OUTPUT_CHUNK)
                if not chunk:
                    return
                with contextlib.suppress(OSError):
                    console.write(chunk)

    async def shutdown(self, drain: float) -> None:
        """SIGTERM to everything the machine runs, SIGKILL after `drain` seconds; returns once it is down."""
        self.halting = True
        process = self.process
        if process is None or self._down.is_set():
            return
        signal_process_group(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(self._down.wait(), drain)
        except TimeoutError:
            signal_process_group(process, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._down.wait(), EXIT_WAIT)

    def kill(self, drill: bool = False) -> None:
        """SIGKILL at once (a wipe, or a drill that simulates a crash)."""
        self.killed = self.killed or drill
        if self.process is not None and not self._down.is_set():
            signal_process_group(self.process, signal.SIGKILL)


def console_output(workdir: Path) -> bytes:
    """The last CONSOLE_KEPT bytes of the instance's console."""
    try:
        with open(workdir / CONSOLE, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - CONSOLE_KEPT))
            return handle.read()
    except OSError:
        return b""


__all__ = ["Machine", "WorkerStartError", "console_output"]
