"""The pools of a running Conveyor: created over /_conveyor/pools, kept in the data directory."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from conveyor.ports import PoolView, SessionCredentials
from conveyor.runtime.pool import CREDENTIALS_LIFETIME, Echo, PoolError, PoolSpec, RoleCredentials, WorkerPool

if TYPE_CHECKING:
    from conveyor.services.base import Environment

log = logging.getLogger("conveyor.pools")
EC2_PRINCIPAL = "ec2.amazonaws.com"  # an instance profile's role trusts EC2


class PoolManager:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.pools: dict[str, WorkerPool] = {}
        self.path = env.config.data_dir / "pools.json"
        self.echo: Echo | None = None  # where worker output goes besides the log (`conveyor up`: stdout)
        self.closing = False  # shutting down: no new pool may start workers
        # Pools kept in pools.json that could not start (e.g. their command is gone): kept, not dropped.
        self.unstarted: dict[str, PoolSpec] = {}

    def worker_env(self, region: str | None = None) -> dict[str, str]:
        config = self.env.config
        region = region or config.region
        return {
            "AWS_ENDPOINT_URL": self.env.local_endpoint(),
            "AWS_ACCESS_KEY_ID": config.access_key,
            "AWS_SECRET_ACCESS_KEY": config.secret_key,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }

    def backlog(self, queue: str, region: str | None) -> float | None:
        """Visible messages of a pool's queue: a queue URL names its region, else the pool's says."""
        queues = self.env.ports.queues
        if queues is None:
            return None
        try:
            return float(queues.counters(queue, region)["visible"])
        except Exception:  # the queue was deleted: nothing to track
            return None

    async def start(self) -> None:
        self.closing = False
        if self.path.exists():
            for data in json.loads(self.path.read_text()):
                spec = PoolSpec.from_dict(data)
                try:
                    await self.create(spec, persist=False)
                except PoolError as exc:  # the server still starts; the pool says why it did not
                    log.warning("pool %s not started: %s", spec.name, exc)
                    if self.echo is not None:
                        self.echo(f"pool {spec.name}: not started: {exc}")
                    self.unstarted[spec.name] = spec

    async def stop(self) -> None:
        self.closing = True
        await asyncio.gather(*(pool.stop() for pool in self.pools.values()))

    async def reset(self) -> None:
        # A wipe (POST /_conveyor/reset): no drain, workers parked in long polls would only hold it up.
        await asyncio.gather(*(pool.stop(graceful=False) for pool in self.pools.values()))
        self.pools.clear()
        self.unstarted.clear()
        self._save()

    async def create(self, spec: PoolSpec, persist: bool = True) -> WorkerPool:
        if self.closing:
            raise PoolError("Conveyor is shutting down: no new pools")
        if spec.name in self.pools:
            raise PoolError(f"pool {spec.name!r} already exists")
        pool = WorkerPool(spec, self.env.clock, self.env.config.data_dir / "pools" / spec.name,
                          self.worker_env(spec.region), self.backlog, self.echo, self._role_credentials(spec))
        pool.log_sink, pool.metrics = self.env.ports.logs, self.env.ports.metrics
        pool.region = spec.region or self.env.config.region
        self.pools[spec.name] = pool
        try:
            await pool.start()
        except PoolError:  # e.g. a command that does not exist: no half-made pool stays behind
            del self.pools[spec.name]
            await pool.stop()
            raise
        self.unstarted.pop(spec.name, None)
        if persist:
            self._save()
        return pool

    def _role_credentials(self, spec: PoolSpec) -> RoleCredentials | None:
        """Sessions of the pool's role for its workers, once the role is known to trust EC2."""
        role = spec.role
        if role is None:
            return None
        sessions = self.env.ports.role_sessions
        if sessions is None:
            raise PoolError(f"pool {spec.name}: this Conveyor runs without STS, so workers cannot run as a role")
        if not sessions.assumable_by(role, EC2_PRINCIPAL):
            raise PoolError(f"pool {spec.name}: role {role} does not exist or its trust policy does not let "
                            f"{EC2_PRINCIPAL} assume it (an instance profile's role must)")
        region = spec.region or self.env.config.region

        async def issue(worker_id: str) -> SessionCredentials:
            # On EC2 the session is named after the instance; here after the worker.
            return await sessions.service_session(role, EC2_PRINCIPAL, worker_id, CREDENTIALS_LIFETIME, region)

        return issue

    async def delete(self, name: str) -> None:
        if self.unstarted.pop(name, None) is not None:
            self._save()
            return
        pool = self.get(name)
        del self.pools[name]
        await pool.stop()
        self._save()

    def get(self, name: str) -> WorkerPool:
        try:
            return self.pools[name]
        except KeyError:
            raise PoolError(f"no pool named {name!r}")

    async def scale(self, name: str, desired: int) -> None:
        """A desired capacity set by hand: it holds for the pool's scale-in cooldown, and is not saved as
        the pool's configuration (a restart begins from its settings again)."""
        pool = self.get(name)
        pool.set_desired(desired)
        await pool.reconcile()

    async def kill(self, worker_id: str) -> None:
        for pool in self.pools.values():
            if worker_id in pool.workers:
                await pool.kill(worker_id)
                return
        raise PoolError(f"no worker {worker_id!r}")

    # -- conveyor.ports.WorkerPools: the pools as Auto Scaling describes and scales them ----------------
    def pool_views(self) -> list[PoolView]:
        return [PoolView(name, pool.region, pool.spec.min, pool.spec.max, pool.desired,
                         tuple((w.id, w.state) for w in sorted(pool.workers.values(), key=lambda w: w.started)))
                for name, pool in self.pools.items()]

    async def set_pool_desired(self, name: str, desired: int) -> None:
        await self.scale(name, desired)

    async def stop_worker(self, worker_id: str, decrement: bool) -> str | None:
        for name, pool in self.pools.items():
            if worker_id in pool.workers:
                await pool.stop_worker(worker_id, decrement)
                return name
        return None

    def worker_pids(self) -> list[int]:
        """Every worker process (each leads its own process group); safe to call from another thread."""
        for _ in range(5):
            try:
                return [w.process.pid for pool in list(self.pools.values()) for w in list(pool.workers.values())]
            except RuntimeError:  # a dict changed size under us: look again
                continue
        return []

    def snapshot(self) -> dict[str, Any]:
        return {name: pool.snapshot() for name, pool in self.pools.items()}

    def _save(self) -> None:
        specs = [asdict(p.spec) for p in self.pools.values()] + [asdict(s) for s in self.unstarted.values()]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(specs, indent=1))
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
