"""Elastic Load Balancing v2 (query protocol): load balancers that carry real HTTP traffic.

- Load balancers (application; network ones with TCP listeners): conveyor.services.elbv2.balancers
- Target groups, their targets and health: conveyor.services.elbv2.target_groups, .health
- Listeners and rules: conveyor.services.elbv2.listeners, .actions, .conditions
- Tags: conveyor.services.elbv2.tags
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from conveyor.authz import Need
from conveyor.ports import Ports
from conveyor.protocol.models import service_model
from conveyor.protocol.registry import codecs_for
from conveyor.services.base import Environment, Service
from conveyor.services.elbv2 import errors, iam
from conveyor.services.elbv2.balancers import BalancerOperations
from conveyor.services.elbv2.catalog import BALANCER, LISTENER, RULE, TARGET_GROUP, Catalog, Resource, Target
from conveyor.services.elbv2.checker import HealthChecker
from conveyor.services.elbv2.health import routable, target_health
from conveyor.services.elbv2.listeners import ListenerOperations
from conveyor.services.elbv2.network import Network
from conveyor.services.elbv2.store import ElbStore
from conveyor.services.elbv2.tags import TagOperations
from conveyor.services.elbv2.target_groups import TargetGroupOperations
from conveyor.services.elbv2.tcp_listeners import TcpListeners
from conveyor.services.elbv2.traffic import LoadBalancerTraffic
from conveyor.services.elbv2.upstream import Upstream
from conveyor.services.elbv2.usage import forwarded_groups, in_use
from conveyor.wire import HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_elbv2.type_defs import DescribeAccountLimitsInputTypeDef, DescribeSSLPoliciesInputTypeDef

# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html
LIMITS = {"application-load-balancers": 50, "target-groups": 3000, "targets-per-application-load-balancer": 1000,
          "listeners-per-application-load-balancer": 50, "rules-per-application-load-balancer": 100,
          "network-load-balancers": 50, "targets-per-network-load-balancer": 3000,
          "listeners-per-network-load-balancer": 50, "condition-values-per-alb-rule": 5,
          "condition-wildcards-per-alb-rule": 5, "target-groups-per-application-load-balancer": 100,
          "target-groups-per-action-on-application-load-balancer": 5, "certificates-per-application-load-balancer": 25,
          "targets-per-target-group": 1000}
CLASSIC_VERSION = "2012-06-01"
# The predefined security policies and their TLS versions
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html); Conveyor
# names them, and serves TLS with its own settings.
SSL_POLICIES = {
    "ELBSecurityPolicy-TLS13-1-2-2021-06": ["TLSv1.2", "TLSv1.3"],
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": ["TLSv1.2", "TLSv1.3"],
    "ELBSecurityPolicy-TLS13-1-3-2021-06": ["TLSv1.3"],
    "ELBSecurityPolicy-2016-08": ["TLSv1", "TLSv1.1", "TLSv1.2"],
    "ELBSecurityPolicy-TLS-1-0-2015-04": ["TLSv1", "TLSv1.1", "TLSv1.2"],
    "ELBSecurityPolicy-TLS-1-1-2017-01": ["TLSv1.1", "TLSv1.2"],
    "ELBSecurityPolicy-TLS-1-2-2017-01": ["TLSv1.2"],
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06": ["TLSv1.2"],
    "ELBSecurityPolicy-FS-2018-06": ["TLSv1", "TLSv1.1", "TLSv1.2"],
    "ELBSecurityPolicy-FS-1-1-2019-08": ["TLSv1.1", "TLSv1.2"],
    "ELBSecurityPolicy-FS-1-2-2019-08": ["TLSv1.2"],
    "ELBSecurityPolicy-FS-1-2-Res-2020-10": ["TLSv1.2"],
    "ELBSecurityPolicy-2015-05": ["TLSv1", "TLSv1.1", "TLSv1.2"],
}


class ElbService(Service):
    name = "elbv2"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    signing_name = "elasticloadbalancing"
    validation_codes = errors.VALIDATION

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.model = service_model("elbv2")
        self.codecs = codecs_for(self.model)
        self.catalog: Catalog | None = None
        network = Network(self.ports)
        self.balancers = BalancerOperations(self._catalog, network, self.clock.now)
        self.target_groups = TargetGroupOperations(self._catalog, network, self.ports, self.clock)
        self.listeners = ListenerOperations(self._catalog)
        self.tags = TagOperations(self._catalog)
        self.operation_groups = (self.balancers, self.target_groups, self.listeners, self.tags)
        self.upstream = Upstream()
        self.checker = HealthChecker(self._catalog, self.clock, self.upstream, self.address_of, self._invoke)
        self.target_groups.changed.append(self.checker.refresh)
        self.listeners.changed.append(self.checker.refresh_all)
        self.traffic = LoadBalancerTraffic(lambda: self.catalog, self.ports, self.upstream, self.address_of)
        self.tcp = TcpListeners(lambda: self.catalog, self.ports, self.address_of, self.clock)
        self.listeners.tcp = self.tcp
        self.balancers.listeners_removed.append(self.tcp.close_each)
        self.checker.changed.append(self.tcp.target_changed)
        self.target_groups.changed.append(self.tcp.group_changed)
        self.data_plane = self.traffic

    def address_of(self, region: str, group: Resource, target: Target) -> str | None:
        """Where a target is reached: an ip target at its address, a running instance at its private address;
        None for an instance that is not running (no requests go to it)."""
        if group.doc["TargetType"] == "ip":
            return target.id
        instances = self.ports.instances
        view = instances.instance(region, target.id) if instances is not None else None
        return view.private_ip if view is not None and view.state == "running" else None

    async def _invoke(self, arn: str, event: dict[str, Any]) -> dict[str, Any]:
        functions = self.ports.functions
        if functions is None:
            raise RuntimeError("no Lambda to invoke")
        invocation = await functions.invoke(arn, json.dumps(event).encode())
        if invocation.status != 200 or invocation.function_error is not None:
            raise RuntimeError(f"{arn} failed: {invocation.error_code or invocation.function_error}")
        answer = json.loads(invocation.payload)
        if not isinstance(answer, dict):
            raise RuntimeError(f"{arn} answered no object")
        return answer

    def _catalog(self) -> Catalog:
        if self.catalog is None:
            raise RuntimeError("Elastic Load Balancing is not started")
        return self.catalog

    def provide(self, ports: Ports) -> None:
        ports.load_balancers = self
        ports.target_groups = self

    async def start(self) -> None:
        store = ElbStore(self.config.service_dir("elbv2") / "elbv2.db", self.env.disk)
        self.catalog = Catalog(store)
        now = self.clock.now()
        for group_arn, held in self.catalog.targets.items():
            for target in held.values():
                if target.draining_until is not None:
                    if target.draining_until <= now:
                        await self.catalog.drop_targets(group_arn, [target.key])
                    else:
                        self.target_groups.schedule_drain(group_arn, target)
        self.checker.start()
        await self.tcp.sync()

    async def stop(self) -> None:
        self.tcp.close_all()
        self.checker.stop()
        self.upstream.close()
        self.target_groups.cancel_drains()
        if self.catalog is not None:
            self.catalog.store.close()
            self.catalog = None

    async def reset(self) -> None:
        catalog = self._catalog()
        self.checker.stop()
        self.tcp.close_all()
        self.target_groups.cancel_drains()
        await catalog.store.wipe()
        catalog.clear()
        self.traffic.round_robin.clear()
        self.upstream.close()
        self.checker.start()

    def missing_for_other_account(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> ServiceError | None:
        """Load balancer and target group names are its own account's, which has none: the not-found errors
        DescribeLoadBalancers and DescribeTargetGroups give for any missing name (ARNs of the account's own
        resources answer AccessDenied, the enforcer's rule)."""
        names = params.get("Names")
        if operation == "DescribeLoadBalancers" and names:
            return errors.load_balancer_not_found([str(n) for n in names])
        if operation == "DescribeTargetGroups" and names:
            return errors.target_group_not_found()
        return None

    def health(self) -> dict[str, Any]:
        if self.catalog is None:
            return {"status": "stopped"}
        return {"status": "running", "load_balancers": sum(1 for r in self.catalog.resources.values()
                                                           if r.kind == BALANCER)}

    async def intercept(self, ctx: RequestContext) -> HttpResponse | None:
        """Classic Load Balancers (`aws elb`, API version 2012-06-01) share this endpoint and signing name, and
        some of their actions' names (DescribeLoadBalancers): a request of that version is refused by name
        rather than answered in version 2015-12-01's shapes it would misread."""
        if ctx.protocol != "query":
            return None
        form = parse_qs(ctx.request.query_string)
        if "Version" not in form:
            form = parse_qs((await ctx.request.body()).decode("utf-8", "replace"))
        if form.get("Version") == [CLASSIC_VERSION]:
            raise ServiceError("InvalidAction", "Conveyor does not serve the service 'elasticloadbalancing' with "
                               f"API version {CLASSIC_VERSION} (Classic Load Balancers); it serves Elastic Load "
                               "Balancing v2 (API version 2015-12-01: aws elbv2).")
        return None

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(operation.name, params)

    # -- account-wide ------------------------------------------------------------------------------------
    async def DescribeAccountLimits(self, ctx: RequestContext, params: DescribeAccountLimitsInputTypeDef,
                                    ) -> dict[str, Any]:
        return {"Limits": [{"Name": k, "Max": str(v)} for k, v in LIMITS.items()]}

    async def DescribeSSLPolicies(self, ctx: RequestContext, params: DescribeSSLPoliciesInputTypeDef,
                                  ) -> dict[str, Any]:
        names = list(dict.fromkeys(params.get("Names") or SSL_POLICIES))
        for name in names:
            if name not in SSL_POLICIES:
                raise ServiceError("SSLPolicyNotFound", f"SSL policy '{name}' not found")
        return {"SslPolicies": [{"Name": n, "SslProtocols": SSL_POLICIES[n], "Ciphers": [],
                                 "SupportedLoadBalancerTypes": ["application", "network"]} for n in names]}

    # -- conveyor.ports.TargetGroups (Auto Scaling) ------------------------------------------------------
    def target_group_exists(self, region: str, arn: str) -> bool:
        return self.catalog is not None and self.catalog.get(arn, TARGET_GROUP, region) is not None

    async def register_instances(self, region: str, group_arn: str, instance_ids: Sequence[str]) -> None:
        await self.target_groups.register(region, group_arn, [{"Id": i} for i in instance_ids])

    async def deregister_instances(self, region: str, group_arn: str, instance_ids: Sequence[str]) -> None:
        catalog = self._catalog()
        group = catalog.get(group_arn, TARGET_GROUP, region)
        if group is None:
            return
        wanted = set(instance_ids)
        leaving = [t for t in catalog.group_targets(group_arn).values() if t.id in wanted]
        if leaving:
            await self.target_groups.deregister(group, leaving)

    def deregistration_delay(self, region: str, group_arn: str) -> float:
        catalog = self._catalog()
        group = catalog.get(group_arn, TARGET_GROUP, region)
        if group is None or not in_use(catalog, group_arn):
            return 0.0
        return float(group.attributes.get("deregistration_delay.timeout_seconds", "300"))

    def instance_state(self, region: str, group_arn: str, instance_id: str) -> str | None:
        catalog = self._catalog()
        group = catalog.get(group_arn, TARGET_GROUP, region)
        if group is None:
            return None
        target = next((t for t in catalog.group_targets(group_arn).values() if t.id == instance_id), None)
        if target is None:
            return None
        instances = self.ports.instances
        view = instances.instance(region, instance_id) if instances is not None else None
        used = in_use(catalog, group_arn)
        return str(target_health(target, group.doc, used, view.state if view is not None else None)["State"])

    # -- conveyor.ports.LoadBalancerHealth ---------------------------------------------------------------
    def any_healthy(self, dns_name: str) -> bool | None:
        """(conveyor.ports.LoadBalancerHealth) Whether the load balancer of that DNS name has a target that
        receives traffic in some target group it forwards to; None when there is no such load balancer."""
        if self.catalog is None:
            return None
        wanted = dns_name.rstrip(".").lower()
        for prefix in ("dualstack.",):  # Route 53 alias targets may name the dualstack form
            if wanted.startswith(prefix):
                wanted = wanted[len(prefix):]
        balancer = next((r for r in self.catalog.resources.values()
                         if r.kind == BALANCER and str(r.doc["DNSName"]).lower() == wanted), None)
        if balancer is None:
            return None
        outages = self.ports.outages
        if outages is not None and outages.is_down(balancer.region):
            return False  # its region is down (a drill): nothing behind it answers
        groups: set[str] = set()
        for resource in self.catalog.resources.values():
            if resource.kind == LISTENER and resource.doc["LoadBalancerArn"] == balancer.arn:
                groups.update(forwarded_groups(resource.doc.get("DefaultActions") or []))
            elif resource.kind == RULE and resource.doc["_LoadBalancerArn"] == balancer.arn:
                groups.update(forwarded_groups(resource.doc.get("Actions") or []))
        for group_arn in groups:
            group = self.catalog.get(group_arn, TARGET_GROUP)
            if group is not None and any(routable(t, group.doc) for t in self.catalog.group_targets(group_arn).values()):
                return True
        return False
