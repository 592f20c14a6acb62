"""Execution environments: one OS process per environment, reused warm, recycled when the code changes.

An environment runs `bootstrap.py` with the local interpreter, imports the handler once (cold start) and
then serves one invocation at a time over pipes. A handler that overruns its timeout or crashes takes
only its own environment down. Idle environments are reaped after `idle_timeout` seconds of real time;
on stop every environment process ends.

Concurrency per function is counted here: reserved concurrency caps the environments a function may
have busy at once (synchronous callers are throttled, event sources and async invokes wait for a slot).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import struct
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.background import spawn
from conveyor.ports import SessionCredentials
from conveyor.services.lambda_.functions import runtime_command

BOOTSTRAP = str(Path(__file__).with_name("bootstrap.py"))
BOOTSTRAP_JS = str(Path(__file__).with_name("bootstrap.js"))
INIT_TIMEOUT = 10.0  # AWS: the init phase is limited to 10 seconds
ACCOUNT_CONCURRENCY = 1000


class EnvironmentDied(Exception):
    def __init__(self, reason: str, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


@dataclass
class EnvSpec:
    """What an environment is started from; environments are reused only for an identical key."""

    key: tuple[str, str, int]  # (function, version, generation)
    code_dir: Path
    env: dict[str, str]
    log_path: Path
    runtime: str = "python3.12"
    # Each environment gets its own session of the execution role at its cold start (None: the
    # environment keeps the credentials `env` holds).
    credentials: Callable[[], Awaitable[SessionCredentials]] | None = None
    timeout: float = 3.0  # the function's: an environment must not outlive its credentials mid-invocation
    # Where the environment's output goes besides `log_path`, line by line: (its log stream, lines), as
    # Lambda sends it to CloudWatch Logs. None: the process writes `log_path` itself.
    output: Callable[[str, list[str]], None] | None = None

    def argv(self) -> list[str]:
        interpreter = runtime_command(self.runtime)
        if interpreter is None:
            raise EnvironmentDied(f"Runtime {self.runtime} has no interpreter on this machine")
        if self.runtime.startswith("python"):
            return [*interpreter, BOOTSTRAP]
        # Node cannot duplicate descriptors itself: the shell hands it the result pipe as fd 3 and
        # points fd 1 at the log before exec'ing it.
        return ["/bin/sh", "-c", 'exec 3>&1 1>&2; exec "$0" "$@"', *interpreter, BOOTSTRAP_JS]


class Environment:
    _ids = itertools.count(1)

    def __init__(self, spec: EnvSpec) -> None:
        self.spec = spec
        self.id = next(self._ids)
        self.process: asyncio.subprocess.Process | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.invocations = 0
        self.init_ms = 0.0
        self.credentials_expire: float | None = None  # the server's clock
        self.stream_name = ""

    async def start(self) -> None:
        spec = self.spec
        argv = spec.argv()
        # Each environment has its own log stream, named as AWS names them: date/[version]id.
        self.stream_name = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{spec.key[1]}]{uuid.uuid4().hex}"
        env = {**spec.env, "AWS_LAMBDA_LOG_STREAM_NAME": self.stream_name}
        if spec.credentials is not None:
            session = await spec.credentials()
            env.update(session.environment())
            self.credentials_expire = session.expiration
        with open(spec.log_path, "ab") as log:
            try:
                self.process = await asyncio.create_subprocess_exec(
                    *argv, cwd=spec.code_dir, env=env,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=log if spec.output is None else asyncio.subprocess.PIPE,
                    start_new_session=True, limit=16 * 1024 * 1024,
                )
            except OSError as exc:
                raise EnvironmentDied(f"Runtime could not start: {exc}")
        if spec.output is not None:
            spawn(self._copy_output(spec.output))
        try:
            ready = await asyncio.wait_for(self._read(), INIT_TIMEOUT)
        except (TimeoutError, EnvironmentDied) as exc:
            self.kill()
            timed_out = isinstance(exc, TimeoutError)
            raise EnvironmentDied(f"Runtime exited during init: {'timeout' if timed_out else exc}", timed_out)
        self.init_ms = float(ready.get("init_ms") or 0.0)

    async def _copy_output(self, output: Callable[[str, list[str]], None]) -> None:
        """The process's output, into its log file and, line by line, to `output`."""
        assert self.process is not None and self.process.stderr is not None
        stream, pending = self.process.stderr, b""
        with open(self.spec.log_path, "ab") as log:
            while chunk := await stream.read(64 * 1024):
                log.write(chunk)
                log.flush()
                *lines, pending = (pending + chunk).split(b"\n")
                if len(pending) > 256 * 1024:  # a runaway line: pass on what there is
                    lines.append(pending)
                    pending = b""
                if lines:
                    output(self.stream_name, [line.decode(errors="replace") for line in lines])
        if pending:
            output(self.stream_name, [pending.decode(errors="replace")])

    async def invoke(self, frame: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None
        data = json.dumps(frame).encode()
        try:
            self.process.stdin.write(struct.pack(">I", len(data)) + data)
            await self.process.stdin.drain()
        except (ConnectionError, OSError):
            raise EnvironmentDied(await self._exit_reason())
        try:
            async with asyncio.timeout(timeout):  # no extra task per invocation, unlike wait_for
                result = await self._read()
        except TimeoutError:
            self.kill()
            raise EnvironmentDied("timeout", timed_out=True)
        self.invocations += 1
        return result

    async def _read(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        try:
            head = await self.process.stdout.readexactly(4)
            (size,) = struct.unpack(">I", head)
            doc: dict[str, Any] = json.loads(await self.process.stdout.readexactly(size))
            return doc
        except (asyncio.IncompleteReadError, ConnectionError):
            raise EnvironmentDied(await self._exit_reason())

    async def _exit_reason(self) -> str:
        assert self.process is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 2)
        code = self.process.returncode
        if code is None:
            self.kill()
            return "Runtime closed its pipe"
        if code < 0:
            return f"Runtime exited with error: signal: {signal.Signals(-code).name.lower().removeprefix('sig')}"
        return f"Runtime exited with error: exit status {code}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def fresh(self, now: float) -> bool:
        """Whether its credentials last through one more invocation (and a minute to spare)."""
        return self.credentials_expire is None or self.credentials_expire - now > self.spec.timeout + 60

    def kill(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    async def close(self) -> None:
        self.kill()
        if self.process is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.process.wait(), 5)


class Throttled(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # AWS's Reason: the function's reserved concurrency, or the account's


@dataclass
class FunctionSlots:
    busy: int = 0
    idle: list[Environment] = field(default_factory=list)
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    cold_starts: int = 0
    invocations: int = 0
    peak: int = 0


class EnvironmentManager:
    def __init__(self, idle_timeout: float = 300.0, now: Callable[[], float] = time.time) -> None:
        self.idle_timeout = idle_timeout
        self.now = now  # the server's clock, which credentials expire on
        self.slots: dict[str, FunctionSlots] = {}
        self.all: set[Environment] = set()
        self.closing = False

    def _slots(self, name: str) -> FunctionSlots:
        return self.slots.setdefault(name, FunctionSlots())

    def total_busy(self) -> int:
        return sum(s.busy for s in self.slots.values())

    async def acquire_slot(self, name: str, reserved: int | None, wait: bool) -> None:
        """Take one unit of the function's concurrency; throttle or wait when none is left."""
        slots = self._slots(name)
        limit = ACCOUNT_CONCURRENCY if reserved is None else reserved
        while slots.busy >= limit or self.total_busy() >= ACCOUNT_CONCURRENCY:
            if not wait:
                raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded" if slots.busy >= limit
                                else "ConcurrentInvocationLimitExceeded")
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            slots.waiters.append(fut)
            try:
                await fut
            finally:
                if fut in slots.waiters:
                    slots.waiters.remove(fut)
        slots.busy += 1
        slots.invocations += 1
        slots.peak = max(slots.peak, slots.busy)

    def release_slot(self, name: str) -> None:
        slots = self._slots(name)
        saturated = self.total_busy() >= ACCOUNT_CONCURRENCY
        slots.busy = max(0, slots.busy - 1)
        self.wake(name)
        if saturated:  # waiters of other functions may have been held back by the account limit
            for other in self.slots:
                if other != name:
                    self.wake(other)

    def wake(self, name: str) -> None:
        """Let a waiter re-check (a slot was released or the reserved concurrency changed)."""
        slots = self._slots(name)
        while slots.waiters:
            fut = slots.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                break

    def wake_all(self, name: str) -> None:
        slots = self._slots(name)
        while slots.waiters:
            fut = slots.waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def environment(self, spec: EnvSpec) -> tuple[Environment, bool]:
        """A warm environment for `spec`, or a new one (cold start); returns (env, cold)."""
        slots = self._slots(spec.key[0])
        while slots.idle:
            env = slots.idle.pop()
            if env.idle_timer is not None:
                env.idle_timer.cancel()
                env.idle_timer = None
            if env.spec.key == spec.key and env.alive and env.fresh(self.now()):
                return env, False
            await self._discard(env)
        env = Environment(spec)
        self.all.add(env)
        slots.cold_starts += 1
        try:
            await env.start()
        except BaseException:  # including cancellation: never leave a half-started process behind
            env.kill()
            self.all.discard(env)
            raise
        return env, True

    def put_back(self, env: Environment, current_key: tuple[str, str, int] | None) -> None:
        if self.closing or not env.alive or env.spec.key != current_key:
            spawn(self._discard(env))
            return
        slots = self._slots(env.spec.key[0])
        slots.idle.append(env)
        loop = asyncio.get_running_loop()
        env.idle_timer = loop.call_later(self.idle_timeout, lambda: self._reap(env))

    def _reap(self, env: Environment) -> None:
        slots = self._slots(env.spec.key[0])
        if env in slots.idle:
            slots.idle.remove(env)
            spawn(self._discard(env))

    def abandon(self, env: Environment) -> None:
        """An environment whose invocation was cancelled midway: its state is unknown, so it goes."""
        env.kill()
        spawn(self._discard(env))

    async def _discard(self, env: Environment) -> None:
        self.all.discard(env)
        await env.close()

    async def retire(self, name: str) -> None:
        """Drop the function's idle environments (code or configuration changed, or it was deleted)."""
        slots = self.slots.get(name)
        if slots is None:
            return
        idle, slots.idle = slots.idle, []
        await asyncio.gather(*(self._discard(e) for e in idle))

    def forget(self, name: str) -> None:
        slots = self.slots.pop(name, None)
        if slots is not None:
            for fut in slots.waiters:
                if not fut.done():
                    fut.set_result(None)

    async def stop(self) -> None:
        self.closing = True
        envs = list(self.all)
        self.all.clear()
        for slots in self.slots.values():
            slots.idle.clear()
        await asyncio.gather(*(e.close() for e in envs))

    async def reset(self) -> None:
        await self.stop()
        for name in list(self.slots):
            self.forget(name)
        self.closing = False

    def snapshot(self) -> dict[str, Any]:
        return {name: {"busy": s.busy, "idle": len(s.idle), "cold_starts": s.cold_starts,
                       "invocations": s.invocations, "peak": s.peak}
                for name, s in self.slots.items()}


def now_real() -> float:
    return time.monotonic()
