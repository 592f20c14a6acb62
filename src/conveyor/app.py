"""The running Conveyor: configuration, clock, services and the gateway that serves them."""

from __future__ import annotations

import dataclasses
import fcntl
import logging

from conveyor.authz import Enforcer
from conveyor.clock import Clock, ManualClock
from conveyor.config import Config
from conveyor.dashboard import Dashboard, DashboardWeb, LogTee, Wiring
from conveyor.gateway.chain import Gateway
from conveyor.gateway.inprocess import InProcessApi
from conveyor.internal_api import InternalApi
from conveyor.lazy_ports import LazyPort
from conveyor.metrics import Metrics
from conveyor.outages import RegionOutages
from conveyor.ports import (
    AlarmKeeper,
    AlarmStates,
    Credential,
    EventBuses,
    Functions,
    Instances,
    LoadBalancerHealth,
    LogGroups,
    LogSink,
    MetricsSink,
    Objects,
    PermissionSource,
    Ports,
    Queues,
    RoleDirectory,
    RoleSessions,
    ScalingActions,
    Streams,
    TargetGroups,
    Topics,
    Vpcs,
    find_credential,
)
from conveyor.prometheus import BuiltinSeries, Exposition, PoolLevel
from conveyor.runtime.pools import PoolManager
from conveyor.service_set import ServiceSet, in_build, load_class
from conveyor.services.base import Environment, Service, ServiceEntry
from conveyor.services.catalog import CATALOG
from conveyor.storage.disk import DiskGuard

log = logging.getLogger("conveyor")

# Registry name -> "module:Class", in start-up order (services others deliver into come first). The
# catalog (conveyor.services.catalog) says how to route to each without importing it; a service added here
# and not there is imported and started with the server.
SERVICES = {entry.name: entry.path for entry in CATALOG}


def _entries() -> list[ServiceEntry]:
    """The catalog's services that are part of this build, and those registered in SERVICES alone."""
    known = {entry.name: entry for entry in CATALOG}
    entries = []
    for name, path in SERVICES.items():
        entry = known.get(name)
        if entry is not None and entry.path == path:
            if in_build(path):
                entries.append(entry)
            continue
        service_class = load_class(path)
        if service_class is not None:
            entries.append(_uncatalogued(name, path, service_class))
    return entries


def _uncatalogued(name: str, path: str, service_class: type[Service]) -> ServiceEntry:
    """A service outside the catalog: its class and model say how to route to it; it starts with the server."""
    from conveyor.protocol.models import model_metadata

    return ServiceEntry(name, path, (service_class.signing_name or name, *service_class.signing_aliases),
                        model_metadata(service_class.name).get("targetPrefix"), service_class.takes_unsigned,
                        internal_prefix=service_class.internal_prefix, eager=True)


# Ports the App stands in front of: what goes through them feeds Prometheus and the dashboard too.
_FRONTED = ("metrics", "logs")
_PORT_TYPES: dict[str, type] = {
    "queues": Queues, "topics": Topics, "functions": Functions, "events": EventBuses, "objects": Objects,
    "roles": RoleDirectory, "role_sessions": RoleSessions, "logs": LogSink, "log_groups": LogGroups,
    "metrics": MetricsSink,
    "streams": Streams, "table_streams": Streams, "instances": Instances, "scaling": ScalingActions,
    "alarms": AlarmKeeper, "permissions": PermissionSource, "load_balancers": LoadBalancerHealth,
    "alarm_states": AlarmStates, "target_groups": TargetGroups, "vpcs": Vpcs,
}


class App:
    def __init__(self, config: Config | None = None, clock: Clock | None = None) -> None:
        self.config = config or Config()
        self.clock = clock or (ManualClock(self.config.clock_start) if self.config.clock == "manual"
                                else Clock())
        self.metrics = Metrics()
        self.disk = DiskGuard(self.config.data_dir)  # shared by every service's storage
        # Services reach each other only through the ports each one provides (conveyor.ports).
        self.ports = Ports()
        self.env = Environment(self.config, self.clock, self.disk, self.ports)
        # Regions a drill has taken down: the gateway and the data planes answer for them as an outage does.
        self.outages = self.ports.outages = RegionOutages(self.clock)
        self.services = ServiceSet(self.env, _entries(), self._publish)
        # Until a service starts, its ports are stand-ins that start it on first use (conveyor.lazy_ports).
        self._stand_ins: dict[str, LazyPort] = {}
        for entry in self.services.entries.values():
            for port in entry.provides:
                self._stand_ins[port] = LazyPort(entry.name, _PORT_TYPES[port], self.services.use)
                setattr(self.ports, port, self._stand_ins[port])
        # IAM enforcement (--iam): the gateway's step, and the check of deliveries between services.
        self.enforcer = Enforcer(self.config.iam, self.ports, self.clock)
        self.ports.access = self.enforcer
        # Prometheus keeps running totals of the built-in metrics on their way to CloudWatch, and the
        # dashboard reads the code runners' log lines on their way to CloudWatch Logs: both stand in front
        # of the services' sinks before anyone starts using them.
        self.builtin_series = BuiltinSeries(self.ports.metrics)
        self.ports.metrics = self.builtin_series
        self.pools = PoolManager(self.env)
        self.ports.pools = self.pools  # Auto Scaling describes and scales them as groups
        self.dashboard = Dashboard(Wiring(self.services, self.ports, self.pools, self.config, self.clock.now))
        self.log_tee = LogTee(self.ports.logs, self.dashboard.trail, self.dashboard.changed)
        self.ports.logs = self.log_tee
        self.dashboard_web = DashboardWeb(self.dashboard, self.config)
        self.exposition = Exposition(self.metrics, self.builtin_series, lambda: self.ports.queues,
                                     self._pool_levels)
        self.gateway = Gateway(config=self.config, clock=self.clock, metrics=self.metrics, services=self.services,
                               keys=self, control=InternalApi(self), enforcer=self.enforcer, outages=self.outages)
        self.gateway.observers.append(self.dashboard.observe)
        # CloudFormation makes resources by calling the served APIs through this same pipeline.
        self.ports.api = InProcessApi(self.gateway.handle, self.config, self.services, self.env.local_endpoint)
        self.started = False
        # False while `conveyor up` applies its pipeline on start (LocalStack's READY stage waits for it).
        self.ready = True

    def _publish(self, entry: ServiceEntry, service: Service, offered: Ports) -> None:
        """A service has started: the ports it offers answer from now on (its stand-ins hand over)."""
        for port in dataclasses.fields(Ports):
            value = getattr(offered, port.name)
            if isinstance(value, list):
                getattr(self.ports, port.name).extend(value)
            elif isinstance(value, dict):
                getattr(self.ports, port.name).update(value)
            elif value is not None:
                if port.name == "metrics":
                    self.builtin_series.inner = value
                elif port.name == "logs":
                    self.log_tee.inner = value
                else:
                    setattr(self.ports, port.name, value)
                stand_in = self._stand_ins.get(port.name)
                if stand_in is not None:
                    stand_in.bind(value)

    def _pool_levels(self) -> list[PoolLevel]:
        return [PoolLevel(name, pool.region, pool.backlog(pool.spec.queue, pool.spec.region) if pool.spec.queue
                          else None, len(pool.in_service()), pool.desired)
                for name, pool in self.pools.pools.items()]

    def credential_for(self, access_key: str) -> Credential | None:
        """Who signs with `access_key`: the configured (root) credentials, or a key a service issued
        (IAM's CreateAccessKey, STS's temporary credentials)."""
        return find_credential(access_key, self.config.credentials, self.config.account_id,
                               self.ports.credential_sources)

    def note_used(self, access_key: str, service: str, region: str) -> None:
        """Tell the issuer of `access_key` that a request signed with it was accepted."""
        if access_key in self.config.credentials:
            return
        for source in self.ports.credential_sources:
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
        await self.services.start_those_with_state()
        await self.pools.start()
        self.started = True

    async def stop(self) -> None:
        await self.pools.stop()
        await self.services.stop()
        self.started = False
        if getattr(self, "_lock", None) is not None:
            self._lock.close()

    async def reset(self) -> None:
        await self.pools.reset()
        for region in self.outages.snapshot():  # a drill in progress ends with the state it was about
            self.outages.restore(region)
        # The clock first: services that keep timers (retention sweeps, the metrics minute) set them anew
        # as they reset, on the reset clock.
        if isinstance(self.clock, ManualClock):
            self.clock.reset()
        for service in self.services.values():
            await service.reset()
        self.metrics.clear()
        self.builtin_series.clear()
        self.dashboard.clear()
        self.enforcer.clear()
