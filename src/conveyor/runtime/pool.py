"""Worker pools: the Auto Scaling group of the architecture, as local processes.

A pool keeps `desired` worker processes running between `min` and `max`:
- self-healing: a worker that exits (crash, `conveyor workers kill`) is replaced at once, and one whose
  heartbeat goes stale after its grace period is killed and replaced;
- target tracking on backlog per worker (visible messages / in-service workers), as AWS recommends for
  SQS-driven groups, with warm-up and separate scale-out / scale-in cooldowns
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-using-sqs-queue.html);
- graceful scale-in: SIGTERM lets the in-flight batch finish, SIGKILL only after `drain_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conveyor.background import spawn
from conveyor.clock import Clock

EVALUATION_INTERVAL = 1.0
CRASH_LOOP_SECONDS = 2.0  # a worker that dies younger than this is replaced after a growing delay
MOVER = [sys.executable, "-m", "conveyor.runtime.mover"]
OUTPUT_CHUNK = 65536
Echo = Callable[[str], None]


class PoolError(ValueError):
    pass


@dataclass
class PoolSpec:
    name: str
    command: list[str] = field(default_factory=lambda: list(MOVER))
    queue: str | None = None  # URL or ARN of the queue whose backlog drives scaling
    min: int = 1
    max: int = 4
    desired: int | None = None
    target_backlog: float = 10.0  # acceptable latency / processing time per message
    warmup: float = 5.0
    scale_out_cooldown: float = 10.0
    scale_in_cooldown: float = 30.0
    grace: float = 10.0
    heartbeat_timeout: float | None = None
    drain_timeout: float = 30.0
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise PoolError(f"pool name {self.name!r} must be letters, digits, '-' or '_'")
        if not self.command:
            raise PoolError(f"pool {self.name}: command must not be empty")
        if not 0 <= self.min <= self.max:
            raise PoolError(f"pool {self.name}: need 0 <= min ({self.min}) <= max ({self.max})")
        if self.desired is None:
            self.desired = self.min
        if not self.min <= self.desired <= self.max:
            raise PoolError(f"pool {self.name}: desired {self.desired} is outside [{self.min}, {self.max}]")
        if self.target_backlog <= 0:
            raise PoolError(f"pool {self.name}: target_backlog must be positive")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoolSpec:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise PoolError(f"unknown pool settings: {', '.join(sorted(unknown))}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise PoolError(str(exc))


@dataclass
class Worker:
    id: str
    pool: str
    process: asyncio.subprocess.Process
    started: float
    heartbeat: Path
    state: str = "starting"  # starting -> in-service -> terminating | unhealthy
    exit_code: int | None = None
    born: float = field(default_factory=time.monotonic)  # real time, for crash-loop detection

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


class WorkerPool:
    _ids = itertools.count(1)

    def __init__(self, spec: PoolSpec, clock: Clock, workdir: Path, base_env: dict[str, str],
                 backlog: Callable[[str], float | None], echo: Echo | None = None) -> None:
        self.spec = spec
        self.clock = clock
        self.workdir = workdir
        self.base_env = base_env
        self.backlog = backlog
        # Worker output and pool events, one line at a time (`conveyor up` prints them, like a
        # worker's own terminal); always appended to workdir/workers.log as well.
        self.echo = echo
        self._output: Any = None
        self.workers: dict[str, Worker] = {}
        self.replaced = 0
        self.events: list[str] = []
        self._last_scale_out = -math.inf
        self._last_scale_in = -math.inf
        self._timer: Any = None
        self._closing = False
        self._lock = asyncio.Lock()
        self._quick_deaths = 0

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._output = open(self.workdir / "workers.log", "a", buffering=1, errors="replace")  # noqa: SIM115
        await self.reconcile()
        self._schedule()

    async def stop(self, graceful: bool = True) -> None:
        """SIGTERM and a drain (graceful), or SIGKILL when everything is being wiped anyway."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        workers = list(self.workers.values())
        if not graceful:
            for worker in workers:
                worker.state = "terminating"
                _signal(worker, signal.SIGKILL)
        await asyncio.gather(*(self._terminate(w) for w in workers))
        if self._output is not None:
            self._output.close()
            self._output = None

    def _schedule(self) -> None:
        if not self._closing:
            self._timer = self.clock.call_at(self.clock.now() + EVALUATION_INTERVAL,
                                             lambda: spawn(self.evaluate()))

    # -- scaling ------------------------------------------------------------------------------------
    def in_service(self) -> list[Worker]:
        return [w for w in self.workers.values() if w.state == "in-service"]

    def active(self) -> list[Worker]:
        return [w for w in self.workers.values() if w.state in ("starting", "in-service")]

    def set_desired(self, desired: int, reason: str = "set by user") -> None:
        if not self.spec.min <= desired <= self.spec.max:
            raise PoolError(f"desired capacity {desired} is outside [{self.spec.min}, {self.spec.max}]")
        if desired != self.spec.desired:
            self._log(f"desired {self.spec.desired} -> {desired} ({reason})")
        self.spec.desired = desired

    async def evaluate(self) -> None:
        """One evaluation period: health checks, then target tracking, then reconcile."""
        try:
            now = self.clock.now()
            self._check_health(now)
            self._track_target(now)
            await self.reconcile()
        finally:
            self._schedule()

    def _check_health(self, now: float) -> None:
        spec = self.spec
        for worker in self.active():
            age = now - worker.started
            if worker.state == "starting" and age >= spec.warmup:
                worker.state = "in-service"
            if spec.heartbeat_timeout is None or age < spec.grace:
                continue
            beat = worker.heartbeat_age(time.time())  # the file's mtime is wall-clock time
            if beat is None or beat > spec.heartbeat_timeout:
                self._log(f"{worker.id} failed its health check (heartbeat {beat and round(beat, 1)} s old)")
                worker.state = "unhealthy"
                _signal(worker, signal.SIGKILL)

    def _track_target(self, now: float) -> None:
        spec = self.spec
        if spec.queue is None:
            return
        visible = self.backlog(spec.queue)
        if visible is None:
            return
        wanted = min(spec.max, max(spec.min, math.ceil(visible / spec.target_backlog)))
        current = spec.desired or 0
        if wanted > current and now - self._last_scale_out >= spec.scale_out_cooldown:
            self._last_scale_out = now
            in_service = max(1, len(self.in_service()))
            self.set_desired(wanted, f"backlog {visible:g} = {visible / in_service:.1f} per worker, "
                                     f"target {spec.target_backlog:g}")
        elif (wanted < current and now - self._last_scale_out >= spec.scale_in_cooldown
              and now - self._last_scale_in >= spec.scale_in_cooldown):
            self._last_scale_in = now
            self.set_desired(wanted, f"backlog {visible:g} below target")

    async def reconcile(self) -> None:
        async with self._lock:
            if self._closing:
                return
            active = self.active()
            desired = self.spec.desired or 0
            for _ in range(desired - len(active)):
                await self._launch()
            if len(active) > desired:
                newest_first = sorted(active, key=lambda w: w.started, reverse=True)
                for worker in newest_first[: len(active) - desired]:
                    spawn(self._terminate(worker))

    # -- processes ----------------------------------------------------------------------------------
    async def _launch(self) -> Worker:
        worker_id = f"{self.spec.name}-{next(self._ids)}"
        heartbeat = self.workdir / f"{worker_id}.heartbeat"
        env = {**os.environ, **self.base_env, **self.spec.env,
               "CONVEYOR_WORKER_ID": worker_id, "CONVEYOR_HEARTBEAT_FILE": str(heartbeat)}
        if shutil.which(self.spec.command[0], path=env.get("PATH")) is None:  # refused now, not by a crash loop
            self._log(f"cannot start {self.spec.command[0]}: not found or not executable")
            raise PoolError(f"pool {self.spec.name}: cannot start {self.spec.command[0]!r}: not found or not executable")
        try:
            process = await asyncio.create_subprocess_exec(
                *_DIE_WITH_PARENT, *self.spec.command, env=env, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
            )
        except OSError as exc:
            self._log(f"cannot start {self.spec.command[0]}: {exc}")
            raise PoolError(f"pool {self.spec.name}: cannot start {self.spec.command[0]!r}: {exc}")
        worker = Worker(worker_id, self.spec.name, process, self.clock.now(), heartbeat)
        self.workers[worker_id] = worker
        self._log(f"{worker_id} started (pid {process.pid})")
        spawn(self._pump(worker))
        spawn(self._watch(worker))
        return worker

    async def _pump(self, worker: Worker) -> None:
        """Copy a worker's output, line by line, prefixed with its id (like `docker compose logs`)."""
        stream = worker.process.stdout
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
            for line in lines:
                self._write(f"{worker.id} | {line.decode(errors='replace').rstrip()}")
        if pending:
            self._write(f"{worker.id} | {pending.decode(errors='replace').rstrip()}")

    def _write(self, line: str) -> None:
        if self._output is not None:
            with contextlib.suppress(OSError, ValueError):
                self._output.write(line + "\n")
        if self.echo is not None:
            self.echo(line)

    async def _watch(self, worker: Worker) -> None:
        worker.exit_code = await worker.process.wait()
        self.workers.pop(worker.id, None)
        with contextlib.suppress(OSError):
            worker.heartbeat.unlink()
        if worker.state == "terminating" or self._closing:
            self._log(f"{worker.id} stopped")
            return
        self.replaced += 1
        # A command that keeps dying at start must not spin the CPU: back off 0.25 s, 0.5 s, ... 10 s.
        quick = time.monotonic() - worker.born < CRASH_LOOP_SECONDS
        self._quick_deaths = self._quick_deaths + 1 if quick else 0
        delay = min(10.0, 0.25 * 2 ** (self._quick_deaths - 2)) if self._quick_deaths > 1 else 0.0
        self._log(f"{worker.id} died (exit {worker.exit_code}); replacing it"
                  + (f" in {delay:g} s (crash loop)" if delay else ""))
        if delay:
            await asyncio.sleep(delay)
        await self.reconcile()

    async def _terminate(self, worker: Worker) -> None:
        if worker.state == "terminating" and worker.process.returncode is not None:
            return
        worker.state = "terminating"
        _signal(worker, signal.SIGTERM)
        try:
            await asyncio.wait_for(worker.process.wait(), self.spec.drain_timeout)
        except TimeoutError:
            _signal(worker, signal.SIGKILL)
            await worker.process.wait()

    async def kill(self, worker_id: str) -> None:
        """Simulate a crash: SIGKILL, no chance to finish anything."""
        worker = self.workers.get(worker_id)
        if worker is None:
            raise PoolError(f"no worker {worker_id!r}")
        _signal(worker, signal.SIGKILL)

    # -- reporting ----------------------------------------------------------------------------------
    def _log(self, line: str) -> None:
        self.events.append(f"{self.clock.now():.3f} {line}")
        del self.events[:-200]
        self._write(f"pool {self.spec.name}: {line}")

    def snapshot(self) -> dict[str, Any]:
        now = self.clock.now()
        visible = self.backlog(self.spec.queue) if self.spec.queue else None
        return {
            "spec": asdict(self.spec),
            "desired": self.spec.desired,
            "in_service": len(self.in_service()),
            "backlog": visible,
            "replaced": self.replaced,
            "log": str(self.workdir / "workers.log"),
            "workers": [
                {"id": w.id, "pid": w.process.pid, "state": w.state, "uptime": round(now - w.started, 1),
                 "messages_done": w.messages_done()}
                for w in sorted(self.workers.values(), key=lambda w: w.started)
            ],
            "events": self.events[-20:],
        }


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


def _signal(worker: Worker, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        worker.process.send_signal(sig)
