"""The running Conveyor: configuration, clock, services and the gateway that serves them."""

from __future__ import annotations

import fcntl
import importlib
import logging

from conveyor.caller import Caller
from conveyor.clock import Clock, ManualClock
from conveyor.config import Config
from conveyor.gateway.chain import Gateway
from conveyor.gateway.router import Router
from conveyor.metrics import Metrics
from conveyor.ports import Credential, CredentialSource, RoleDirectory, RoleSessions
from conveyor.runtime.pools import PoolManager
from conveyor.services.base import Service
from conveyor.storage.disk import DiskGuard

log = logging.getLogger("conveyor")

# Registry name -> "module:Class". Order matters for start-up: services others deliver into come first.
SERVICES = {
    "sts": "conveyor.services.sts.api:StsService",
    "iam": "conveyor.services.iam.api:IamService",
    "sqs": "conveyor.services.sqs.api:SqsService",
    "sns": "conveyor.services.sns.api:SnsService",
    "lambda": "conveyor.services.lambda_.api:LambdaService",
    "s3": "conveyor.services.s3.api:S3Service",
}


def _load(path: str) -> type[Service] | None:
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # that service is not part of this build
        raise
    return getattr(module, class_name)


class App:
    def __init__(self, config: Config | None = None, clock: Clock | None = None) -> None:
        self.config = config or Config()
        self.clock = clock or (ManualClock() if self.config.clock == "manual" else Clock())
        self.metrics = Metrics()
        self.disk = DiskGuard(self.config.data_dir)  # shared by every service's storage
        self.services: dict[str, Service] = {}
        for name, path in SERVICES.items():
            cls = _load(path)
            if cls is not None:
                self.services[name] = cls(self)
        self.credential_sources = [s for s in self.services.values() if isinstance(s, CredentialSource)]
        # IAM's roles, as STS reads them; STS's sessions of them, as Lambda and the pools ask for them.
        self.roles: RoleDirectory | None = next(
            (s for s in self.services.values() if isinstance(s, RoleDirectory)), None)
        self.role_sessions: RoleSessions | None = next(
            (s for s in self.services.values() if isinstance(s, RoleSessions)), None)
        self.pools = PoolManager(self)
        self.router = Router(self.services)
        self.gateway = Gateway(self)
        self.started = False
        # False while `conveyor up` applies its pipeline on start (LocalStack's READY stage waits for it).
        self.ready = True

    def credential_for(self, access_key: str) -> Credential | None:
        """Who signs with `access_key`: the configured (root) credentials, or a key a service issued
        (IAM's CreateAccessKey, STS's temporary credentials)."""
        secret = self.config.credentials.get(access_key)
        if secret is not None:
            return Credential(access_key, secret, Caller.root(self.config.account_id))
        for source in self.credential_sources:
            found = source.secret_for(access_key)
            if found is not None:
                return found
        return None

    def note_key_used(self, access_key: str, service: str, region: str) -> None:
        """Tell the issuer of `access_key` that a request signed with it was accepted."""
        if access_key in self.config.credentials:
            return
        for source in self.credential_sources:
            source.note_used(access_key, service, region)

    def _lock_data_dir(self) -> None:
        """One server per data directory: two would corrupt each other's state."""
        self._lock = open(self.config.data_dir / ".lock", "a+")  # noqa: SIM115 - held while serving
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise RuntimeError(f"another Conveyor is already using {self.config.data_dir}")

    async def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        self.disk.open()
        for service in self.services.values():
            await service.start()
        await self.pools.start()
        self.started = True

    async def stop(self) -> None:
        await self.pools.stop()
        for service in reversed(list(self.services.values())):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)
        self.started = False
        if getattr(self, "_lock", None) is not None:
            self._lock.close()

    async def reset(self) -> None:
        await self.pools.reset()
        for service in self.services.values():
            await service.reset()
        if isinstance(self.clock, ManualClock):
            self.clock.reset()
        self.metrics.clear()
