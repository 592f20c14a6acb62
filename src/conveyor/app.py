"""The running Conveyor: configuration, clock, services and the gateway that serves them."""

from __future__ import annotations

import fcntl
import importlib
import logging

from conveyor.authz import Enforcer
from conveyor.clock import Clock, ManualClock
from conveyor.config import Config
from conveyor.dashboard import Dashboard, DashboardWeb, LogTee, Wiring
from conveyor.gateway.chain import Gateway
from conveyor.gateway.inprocess import InProcessApi
from conveyor.internal_api import InternalApi
from conveyor.metrics import Metrics
from conveyor.outages import RegionOutages
from conveyor.ports import Credential, Ports, find_credential
from conveyor.prometheus import BuiltinSeries, Exposition, PoolLevel
from conveyor.runtime.pools import PoolManager
from conveyor.services.base import Environment, Service
from conveyor.storage.disk import DiskGuard

log = logging.getLogger("conveyor")

# Registry name -> "module:Class". Order matters for start-up: services others deliver into come first.
SERVICES = {
    "sts": "conveyor.services.sts.api:StsService",
    "iam": "conveyor.services.iam.api:IamService",
    "logs": "conveyor.services.logs.api:LogsService",
    "cloudwatch": "conveyor.services.cloudwatch.api:CloudWatchService",
    "kinesis": "conveyor.services.kinesis.api:KinesisService",
    "dynamodb": "conveyor.services.dynamodb.api:DynamoDBService",
    "sqs": "conveyor.services.sqs.api:SqsService",
    "sns": "conveyor.services.sns.api:SnsService",
    "lambda": "conveyor.services.lambda_.api:LambdaService",
    "events": "conveyor.services.events.api:EventsService",
    "scheduler": "conveyor.services.scheduler.api:SchedulerService",
    "s3": "conveyor.services.s3.api:S3Service",
    "apigatewayv2": "conveyor.services.apigatewayv2.api:ApiGatewayService",
    # Elastic Load Balancing before Auto Scaling, which registers its instances in target groups.
    "elbv2": "conveyor.services.elbv2.api:ElbService",
    # EC2 before Auto Scaling, which launches its instances (and stops first, so that no instance it
    # watches going down is replaced during a shutdown).
    "ec2": "conveyor.services.ec2.api:Ec2Service",
    "autoscaling": "conveyor.services.autoscaling.api:AutoScalingService",
    "cloudfront": "conveyor.services.cloudfront.api:CloudFrontService",
    # After the services whose names its aliases point at (distributions, load balancers, websites).
    "route53": "conveyor.services.route53.api:Route53Service",
    # Last: it makes the other services' resources through their APIs.
    "cloudformation": "conveyor.services.cloudformation.api:CloudFormationService",
}


def _load(path: str) -> type[Service] | None:
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # that service is not part of this build
        raise
    service_class = getattr(module, class_name)
    if not (isinstance(service_class, type) and issubclass(service_class, Service)):
        raise TypeError(f"{path} is not a Service")
    return service_class


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
        self.services: dict[str, Service] = {}
        for name, path in SERVICES.items():
            cls = _load(path)
            if cls is not None:
                self.services[name] = cls(self.env)
        # IAM enforcement (--iam): the gateway's step, and the check of deliveries between services.
        self.enforcer = Enforcer(self.config.iam, self.ports, self.clock)
        self.ports.access = self.enforcer
        for service in self.services.values():
            service.provide(self.ports)
        # Prometheus keeps running totals of the built-in metrics on their way to CloudWatch, and the
        # dashboard reads the code runners' log lines on their way to CloudWatch Logs: both stand in front
        # of the services' sinks before anyone starts using them.
        self.builtin_series = BuiltinSeries(self.ports.metrics)
        self.ports.metrics = self.builtin_series
        self.pools = PoolManager(self.env)
        self.ports.pools = self.pools  # Auto Scaling describes and scales them as groups
        self.dashboard = Dashboard(Wiring(self.services, self.ports, self.pools, self.config, self.clock.now))
        self.ports.logs = LogTee(self.ports.logs, self.dashboard.trail, self.dashboard.changed)
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
