"""Worker pools: the Auto Scaling group of the architecture, as local processes.

A pool keeps `desired` worker processes running between `min` and `max`:
- self-healing: a worker that exits (crash, `conveyor workers kill`) is replaced at once, and one whose
  heartbeat goes stale after its grace period is killed and replaced; a command that keeps dying at
  start is held back by a growing delay (workers.CrashLoop);
- target tracking on backlog per worker (visible messages / in-service workers), as AWS recommends for
  SQS-driven groups, with warm-up and separate scale-out / scale-in cooldowns
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-using-sqs-queue.html); a desired capacity
  set by hand holds for the scale-in cooldown before target tracking moves it again, and is not
  configuration (the next start begins from the pool's own settings);
- graceful scale-in: SIGTERM lets the in-flight batch finish (and the output flush), SIGKILL only after
  `drain_timeout`;
- a pool with a `role` (its instance profile's role) starts each worker with a session of that role in
  AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, valid 12 hours; a process cannot be
  handed new variables, so a worker whose session ends within 15 minutes is replaced by one with a new
  session, as an Auto Scaling group replaces instances that reach their maximum lifetime
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-max-instance-lifetime.html). An SDK on EC2
  would fetch and refresh the role's credentials from the instance metadata service instead
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import math
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from conveyor import builtin_metrics
from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.ports import LogSink, MetricsSink, RoleNotAssumable, SessionCredentials
from conveyor.runtime.workers import (
    CRASH_LOOP_SECONDS,
    CrashLoop,
    Echo,
    Worker,
    WorkerStartError,
    pump,
    signal_group,
    start,
)

EVALUATION_INTERVAL = 1.0
EXIT_WAIT = 5.0  # after SIGKILL, how long to wait for a worker's exit to be reported
OUTPUT_WAIT = 1.0  # after a worker exits, how long its output may take to reach the end of the pipe
MOVER = [sys.executable, "-m", "conveyor.runtime.mover"]
Backlog = Callable[[str, str | None], float | None]
# A session of the pool's role for one worker (named by the worker's id).
RoleCredentials = Callable[[str], Awaitable[SessionCredentials]]
CREDENTIALS_LIFETIME = 12 * 3600
REFRESH_BEFORE = 15 * 60  # a worker whose session ends sooner is replaced

__all__ = ["MOVER", "Echo", "PoolError", "PoolSpec", "WorkerPool"]


class PoolError(ValueError):
    pass


def _task(start: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """A timer callback that runs a coroutine as a background task."""

    def run() -> None:
        spawn(start())

    return run


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
    region: str | None = None  # where its queue lives and its workers' AWS_REGION; None: the server's
    workdir: str | None = None  # workers' working directory (the pipeline file's); None: the server's
    role: str | None = None  # ARN of the role its workers run as (trusting ec2.amazonaws.com); None: the
    # server's configured credentials

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
        if self.region is not None and not re.fullmatch(r"[a-z]{2}(?:-[a-z]+)+-\d+", self.region):
            raise PoolError(f"pool {self.name}: region {self.region!r} is not a region name (e.g. us-east-2)")
        if self.workdir is not None and not os.path.isdir(self.workdir):
            raise PoolError(f"pool {self.name}: workdir {self.workdir} is not a directory")
        if self.role is not None and not re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]+", self.role):
            raise PoolError(f"pool {self.name}: role {self.role!r} is not a role ARN "
                            "(arn:aws:iam::ACCOUNT:role/NAME)")

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


class WorkerPool:
    _ids = itertools.count(1)

    def __init__(self, spec: PoolSpec, clock: Clock, workdir: Path, base_env: dict[str, str],
                 backlog: Backlog, echo: Echo | None = None, credentials: RoleCredentials | None = None) -> None:
        self.spec = spec  # the configuration, as created (and as persisted)
        self.clock = clock
        self.workdir = workdir  # the pool's state: heartbeats and workers.log
        self.base_env = base_env
        self.backlog = backlog
        self.credentials = credentials  # the role's sessions, when the pool has a role
        self.launch_problem: str | None = None  # why workers cannot start now (e.g. the role is gone)
        # Worker output and pool events, one line at a time (`conveyor up` prints them, like a
        # worker's own terminal); always appended to workdir/workers.log as well.
        self.echo = echo
        self._output: TextIO | None = None
        self.desired: int = spec.desired if spec.desired is not None else spec.min
        self.workers: dict[str, Worker] = {}
        self.replaced = 0
        self.events: list[str] = []
        self.crash_loop = CrashLoop()
        self._last_scale_out = -math.inf
        self._last_scale_in = -math.inf
        self._manual_until = -math.inf  # target tracking leaves a hand-set capacity alone until then
        self._timer: TimerHandle | None = None
        self._hold_timer: TimerHandle | None = None
        self._closing = False
        self._lock = asyncio.Lock()
        # CloudWatch: each worker's output as a stream of /conveyor/pools/NAME, the backlog per worker as a
        # Conveyor/Pools metric (set by the pool manager when the build has them).
        self.log_sink: LogSink | None = None
        self.metrics: MetricsSink | None = None
        self.region = spec.region or "us-east-1"

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._output = open(self.workdir / "workers.log", "a", buffering=1, errors="replace")  # noqa: SIM115
        await self.reconcile()
        self._schedule()

    async def stop(self, graceful: bool = True) -> None:
        """SIGTERM and a drain (graceful), or SIGKILL when everything is being wiped anyway. No worker
        outlives it: a launch in progress finishes first (the lock), and none starts afterwards."""
        self._closing = True
        for timer in (self._timer, self._hold_timer):
            if timer is not None:
                timer.cancel()
        async with self._lock:
            workers = list(self.workers.values())
        if not graceful:
            for worker in workers:
                worker.state = "terminating"
                signal_group(worker, signal.SIGKILL)
        await asyncio.gather(*(self._terminate(w) for w in workers))
        if self._output is not None:
            self._output.close()
            self._output = None

    def _schedule(self) -> None:
        if not self._closing:
            self._timer = self.clock.call_at(self.clock.now() + EVALUATION_INTERVAL, _task(self.evaluate))

    # -- scaling ------------------------------------------------------------------------------------
    def in_service(self) -> list[Worker]:
        return [w for w in self.workers.values() if w.state == "in-service"]

    def active(self) -> list[Worker]:
        return [w for w in self.workers.values() if w.state in ("starting", "in-service")]

    def set_desired(self, desired: int, reason: str | None = None) -> None:
        """Change the desired capacity; without a `reason` it is set by hand, and target tracking leaves it
        alone for the scale-in cooldown, as an Auto Scaling group's cooldown follows a manual change
        (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-scaling-cooldowns.html)."""
        spec = self.spec
        if not spec.min <= desired <= spec.max:
            raise PoolError(f"desired capacity {desired} is outside [{spec.min}, {spec.max}]")
        if reason is None:
            self._manual_until = self.clock.now() + spec.scale_in_cooldown
            reason = f"set by hand; target tracking resumes in {spec.scale_in_cooldown:g} s"
        if desired != self.desired:
            self._log(f"desired {self.desired} -> {desired} ({reason})")
        self.desired = desired

    async def evaluate(self) -> None:
        """One evaluation period: health checks, then target tracking, then reconcile."""
        try:
            now = self.clock.now()
            self._check_health(now)
            self._track_target(now)
            await self._reconcile_later()
        finally:
            self._schedule()

    def _check_health(self, now: float) -> None:
        spec = self.spec
        for worker in self.active():
            age = now - worker.started
            if worker.state == "starting" and age >= spec.warmup:
                worker.state = "in-service"
            if worker.credentials_expire is not None and worker.credentials_expire - now < REFRESH_BEFORE:
                self._log(f"{worker.id}'s role session ends in {worker.credentials_expire - now:.0f} s: "
                          "replacing it with a worker with a new session")
                worker.state = "terminating"
                spawn(self._terminate(worker))
                continue
            if worker.lived() >= CRASH_LOOP_SECONDS:
                self.crash_loop.survived()
            if spec.heartbeat_timeout is None or age < spec.grace:
                continue
            beat = worker.heartbeat_age(time.time())  # the file's mtime is wall-clock time
            if beat is None or beat > spec.heartbeat_timeout:
                self._log(f"{worker.id} failed its health check (heartbeat {beat and round(beat, 1)} s old)")
                worker.state = "unhealthy"
                self.replaced += 1  # now: its replacement may start before its exit is seen
                signal_group(worker, signal.SIGKILL)

    def _track_target(self, now: float) -> None:
        spec = self.spec
        if spec.queue is None or now < self._manual_until:
            return
        visible = self.backlog(spec.queue, spec.region)
        if visible is None:
            return
        builtin_metrics.pool_backlog(self.metrics, self.region, spec.name, visible, len(self.in_service()))
        wanted = min(spec.max, max(spec.min, math.ceil(visible / spec.target_backlog)))
        current = self.desired
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
            missing = self.desired - len(active)
            if missing > 0 and not self.crash_loop.holding(self.clock.now()):
                for _ in range(missing):
                    await self._launch()
            if len(active) > self.desired:
                newest_first = sorted(active, key=lambda w: (w.started, w.born), reverse=True)
                for worker in newest_first[: len(active) - self.desired]:
                    spawn(self._terminate(worker))

    async def _reconcile_later(self) -> None:
        """Reconcile from a timer or a worker's exit: a launch that fails is already in the pool's log
        and state, and the next evaluation tries again."""
        with contextlib.suppress(PoolError):
            await self.reconcile()

    # -- processes ----------------------------------------------------------------------------------
    async def _launch(self) -> Worker:
        worker_id = f"{self.spec.name}-{next(self._ids)}"
        heartbeat = self.workdir / f"{worker_id}.heartbeat"
        # Unbuffered: a worker's plain print() shows at once, and nothing waits in a buffer that a
        # SIGTERM would discard. The pool's own env may still say otherwise.
        env = {**os.environ, **self.base_env, "PYTHONUNBUFFERED": "1", **self.spec.env,
               "CONVEYOR_WORKER_ID": worker_id, "CONVEYOR_HEARTBEAT_FILE": str(heartbeat)}
        env.pop("AWS_SESSION_TOKEN", None)  # the server's own environment's token belongs to no key here
        session: SessionCredentials | None = None
        if self.credentials is not None:
            try:
                session = await self.credentials(worker_id)
            except RoleNotAssumable as exc:
                problem = f"cannot start workers: {exc}"
                if problem != self.launch_problem:
                    self._log(problem)
                self.launch_problem = problem
                raise PoolError(f"pool {self.spec.name}: {problem}")
            env.update(session.environment())
        self.launch_problem = None
        try:
            process = await start(worker_id, self.spec.command, env, self.spec.workdir)
        except WorkerStartError as exc:
            self._log(str(exc))
            raise PoolError(f"pool {self.spec.name}: {exc}")
        worker = Worker(worker_id, self.spec.name, process, self.clock.now(), heartbeat)
        if session is not None:
            worker.credentials_expire, worker.role_session = session.expiration, session.arn
        self.workers[worker_id] = worker
        self._log(f"{worker_id} started (pid {process.pid})")
        spawn(pump(worker, functools.partial(self._worker_output, worker)))
        spawn(self._watch(worker))
        return worker

    def _worker_output(self, worker: Worker, lines: list[str]) -> None:
        """A read's worth of a worker's lines: prefixed with its id for the console and workers.log (like
        `docker compose logs`), as they are into its own stream of the pool's log group."""
        self._write("\n".join(f"{worker.id} | {line}" for line in lines))
        if self.log_sink is not None:
            now = self.clock.now()
            self.log_sink.write(self.region, f"/conveyor/pools/{self.spec.name}", worker.id,
                                [(now, line) for line in lines])

    def _write(self, text: str) -> None:
        if self._output is not None:
            with contextlib.suppress(OSError, ValueError):
                self._output.write(text + "\n")
        if self.echo is not None:
            self.echo(text)

    async def _watch(self, worker: Worker) -> None:
        worker.exit_code = await worker.process.wait()
        self.workers.pop(worker.id, None)
        with contextlib.suppress(OSError):
            worker.heartbeat.unlink()
        if worker.state == "terminating" or self._closing:
            return  # _terminate reports it, once its output is in
        if worker.state != "unhealthy":  # the health check counted that one
            self.replaced += 1
        delay = self.crash_loop.died(worker, self.clock.now())
        if not delay:
            self._log(f"{worker.id} died (exit {worker.exit_code}); replacing it")
            await self._reconcile_later()
            return
        self._log(f"{worker.id} died (exit {worker.exit_code}); replacing it in {delay:g} s (crash loop: "
                  f"{self.crash_loop.quick_deaths} quick exits in a row)")
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        self._hold_timer = self.clock.call_at(self.crash_loop.hold_until, _task(self._reconcile_later))

    async def _terminate(self, worker: Worker) -> None:
        """SIGTERM, `drain_timeout` to finish (and flush), then SIGKILL; reported once its output is in."""
        if worker.state == "terminating" and worker.process.returncode is not None:
            return
        worker.state = "terminating"
        signal_group(worker, signal.SIGTERM)
        try:
            await asyncio.wait_for(worker.process.wait(), self.spec.drain_timeout)
        except TimeoutError:
            self._log(f"{worker.id} did not stop within {self.spec.drain_timeout:g} s of SIGTERM: SIGKILL")
            signal_group(worker, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.process.wait(), EXIT_WAIT)
        try:
            await asyncio.wait_for(worker.output_done.wait(), OUTPUT_WAIT)
        except TimeoutError:  # something the worker started still holds its output open: it goes too
            signal_group(worker, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.output_done.wait(), EXIT_WAIT)
        self._log(f"{worker.id} stopped")

    async def stop_worker(self, worker_id: str, decrement: bool) -> None:
        """Drain one worker (TerminateInstanceInAutoScalingGroup): with `decrement` the desired capacity goes
        down by one (held like a capacity set by hand), else the pool replaces it."""
        worker = self.workers.get(worker_id)
        if worker is None:
            raise PoolError(f"no worker {worker_id!r}")
        if decrement:
            self.set_desired(self.desired - 1)
        worker.state = "terminating"  # it is the one that goes, not the newest
        spawn(self._terminate(worker) if decrement else self._replace_after(worker))

    async def _replace_after(self, worker: Worker) -> None:
        await self._terminate(worker)
        await self._reconcile_later()

    async def kill(self, worker_id: str) -> None:
        """Simulate a crash: SIGKILL, no chance to finish anything (not counted as a crash loop)."""
        worker = self.workers.get(worker_id)
        if worker is None:
            raise PoolError(f"no worker {worker_id!r}")
        worker.killed = True
        signal_group(worker, signal.SIGKILL)

    # -- reporting ----------------------------------------------------------------------------------
    def _log(self, line: str) -> None:
        self.events.append(f"{self.clock.now():.3f} {line}")
        del self.events[:-200]
        self._write(f"pool {self.spec.name}: {line}")

    def state(self) -> str:
        """ok, crash-looping while the back-off holds launches back, or blocked while no worker can start
        (its role cannot be assumed)."""
        if self.launch_problem is not None:
            return "blocked"
        return "crash-looping" if self.crash_loop.looping else "ok"

    def snapshot(self) -> dict[str, Any]:
        now = self.clock.now()
        visible = self.backlog(self.spec.queue, self.spec.region) if self.spec.queue else None
        return {
            "spec": asdict(self.spec),
            "desired": self.desired,
            "state": self.state(),
            "crash_loop": {"quick_exits": self.crash_loop.quick_deaths,
                           "next_start_in": round(max(0.0, self.crash_loop.hold_until - now), 3)},
            "manual_hold": round(max(0.0, self._manual_until - now), 3),
            "region": self.spec.region,
            "in_service": len(self.in_service()),
            "backlog": visible,
            "replaced": self.replaced,
            "log": str(self.workdir / "workers.log"),
            "launch_problem": self.launch_problem,
            "workers": [
                {"id": w.id, "pid": w.process.pid, "state": w.state, "uptime": round(now - w.started, 1),
                 "messages_done": w.messages_done(), "role_session": w.role_session,
                 "credentials_expire": w.credentials_expire}
                for w in sorted(self.workers.values(), key=lambda w: w.started)
            ],
            "events": self.events[-20:],
        }
