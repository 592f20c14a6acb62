"""Route 53 (rest-xml, API version 2013-04-01, a global service): hosted zones, record sets with their
routing policies, health checks that really probe, tags, and the DNS server that answers for the zones.

The operations live in objects over one catalog and its store; this class wires them, owns the lifecycle
(the store, the health checker, the DNS server) and reports the DNS server's port at /_conveyor/route53.
Query logs are written through CloudWatch Logs' ports while its resource policies let Route 53 write.
Traffic policies, DNSSEC signing, CIDR collections and key-signing keys answer NotImplemented.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dns.rcode

from conveyor.authz import Need
from conveyor.ports import AlarmStates, LoadBalancerHealth
from conveyor.protocol.models import service_model
from conveyor.protocol.rest_xml import RestXmlCodec
from conveyor.services.base import Environment, Service
from conveyor.services.route53 import errors, iam
from conveyor.services.route53.catalog import Catalog
from conveyor.services.route53.changes import ChangeOperations
from conveyor.services.route53.dns_door import DnsDoor
from conveyor.services.route53.dns_server import DnsServer
from conveyor.services.route53.health_checks import HealthCheckOperations
from conveyor.services.route53.probes import Prober
from conveyor.services.route53.query_logging import QueryLogOperations, QueryLogWriter
from conveyor.services.route53.records import RecordOperations
from conveyor.services.route53.resolver import LOOPBACK_V4, Answer, Resolver, is_conveyor_name
from conveyor.services.route53.store import Route53Store
from conveyor.services.route53.tagging import TagOperations
from conveyor.services.route53.zones import ZoneOperations
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from botocore.model import OperationModel

log = logging.getLogger("conveyor.route53")


class Route53Service(Service):
    name = "route53"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    # A global service: a region drill leaves its API and its DNS server answering, as Route 53's are not in
    # one region (conveyor.outages).
    regional = False
    validation_codes = errors.VALIDATION
    internal_prefix = "route53"

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.model = service_model("route53")
        self.codecs = {"rest-xml": RestXmlCodec(self.model)}
        self.store: Route53Store | None = None
        self.catalog: Catalog | None = None
        self.prober: Prober | None = None
        self.resolver: Resolver | None = None
        self.dns: DnsServer | None = None
        self.dns_error: str | None = None

    async def start(self) -> None:
        self.store = Route53Store(self.config.service_dir("route53") / "route53.db", self.env.disk)
        self.catalog = catalog = Catalog(self.store)
        self.prober = Prober(catalog, self.clock, self.config.region, self._resolve_v4, self._alarm_states)
        self.resolver = Resolver(catalog, self.prober, self._load_balancers,
                                 self.config.dns_client_region or self.config.region)
        self.operation_groups: Sequence[object] = (
            ZoneOperations(catalog, self.clock, self.config.account_id, lambda: self.ports.vpcs),
            RecordOperations(catalog, self.clock),
            ChangeOperations(catalog),
            HealthCheckOperations(catalog, self.prober),
            TagOperations(catalog),
            QueryLogOperations(catalog, self.config.account_id, lambda: self.ports.log_groups),
        )
        self.query_log = QueryLogWriter(catalog, self.clock, self.config.account_id, lambda: self.ports.logs,
                                        lambda: self.ports.log_groups)
        self.prober.start()
        await self._start_dns()

    async def _start_dns(self) -> None:
        """A DNS port already taken does not stop the API: the server is reported as not listening."""
        if self.config.dns_port < 0 or self.resolver is None:
            return
        host = "127.0.0.1"  # loopback only, whatever address the API is served on
        door: DnsDoor | None = self.env.doors.pop(self.name, None)
        if door is not None:  # the port held since the server started: its sockets, or why it has none
            sockets = door.take()
            if sockets is None:
                self.dns_error = door.error
                return
            server = DnsServer(host, door.port, self._answer, sockets)
        else:
            server = DnsServer(host, self.config.dns_port, self._answer)
        try:
            await server.start()
        except OSError as exc:
            self.dns_error = f"could not listen on {host}:{self.config.dns_port}: {exc.strerror or exc}"
            log.warning("Route 53's DNS server %s", self.dns_error)
            return
        self.dns = server

    async def stop(self) -> None:
        if self.dns is not None:
            await self.dns.stop()
            self.dns = None
        if self.prober is not None:
            self.prober.stop()
        if self.store is not None:
            self.store.close()
            self.store = None

    async def reset(self) -> None:
        if self.store is not None and self.catalog is not None and self.prober is not None:
            self.prober.stop()
            async with self.catalog.mutex:
                await self.store.wipe()
                self.catalog.clear()
            self.prober.start()

    def health(self) -> dict[str, Any]:
        if self.catalog is None:
            return {"status": "stopped"}
        return {"status": "running", "hosted_zones": len(self.catalog.zones),
                "health_checks": len(self.catalog.health_checks), **self._dns_status()}

    def _answer(self, name: str, kind: str, protocol: str, client: str) -> Answer:
        """A DNS query's answer, logged when its zone has a query logging configuration."""
        if self.resolver is None:
            return Answer(rcode=dns.rcode.SERVFAIL, authoritative=False)
        answer = self.resolver.resolve(name, kind)
        self.query_log.write(answer.zone_id, name, kind, dns.rcode.to_text(dns.rcode.Rcode(answer.rcode)), protocol,
                             client)
        return answer

    def _dns_status(self) -> dict[str, Any]:
        if self.dns is not None:
            return {"dns_port": self.dns.port, "dns_host": self.dns.host}
        return {"dns_port": None, "dns_error": self.dns_error or "disabled"}

    async def internal(self, ctx: RequestContext, parts: list[str]) -> Any:
        """GET /_conveyor/route53: where the DNS server listens (tests ask for port 0 and read it here)."""
        if parts in ([], [""]):
            return self._dns_status()
        return NotImplemented

    # -- what the health checker and the resolver ask of the others ------------------------------------------
    def _load_balancers(self) -> LoadBalancerHealth | None:
        return self.ports.load_balancers

    def _alarm_states(self) -> AlarmStates | None:
        return self.ports.alarm_states

    def _resolve_v4(self, name: str) -> str | None:
        """A health check's FullyQualifiedDomainName: the account's zones first, then Conveyor's own names."""
        fqdn = name.lower() if name.endswith(".") else name.lower() + "."
        if self.resolver is not None:
            found = self.resolver.resolve(fqdn, "A")
            for rrset in found.answer:
                for rd in rrset:
                    address = getattr(rd, "address", None)
                    if address:
                        return str(address)
        if is_conveyor_name(fqdn) or fqdn == "localhost.":
            return LOOPBACK_V4
        return None

    # -- IAM (conveyor.services.route53.iam) -------------------------------------------------------------
    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(operation.name, params)
