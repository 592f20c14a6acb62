"""Load balancers: CreateLoadBalancer (application; network ones carry TCP), Delete, Describe, their
attributes, subnets, security groups and IP address type.

https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
- The name: at most 32 alphanumeric characters or hyphens, neither first nor last, not "internal-...".
- Idempotent: the same name with the same settings answers the existing load balancer.
- An Application Load Balancer needs subnets in at least two Availability Zones, one subnet per zone.
- The DNS name is `{name}-{id}.{region}.elb.localhost` (`internal-` first for an internal scheme, as AWS
  names them): Conveyor answers it on its own port (conveyor.services.elbv2.traffic).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.services.elbv2 import attributes, errors
from conveyor.services.elbv2.catalog import BALANCER, Catalog, Resource, new_id
from conveyor.services.elbv2.network import Network
from conveyor.services.elbv2.paging import page
from conveyor.services.elbv2.tags import check_tags
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_elbv2.type_defs import (
        CreateLoadBalancerInputTypeDef,
        DeleteLoadBalancerInputTypeDef,
        DescribeLoadBalancerAttributesInputTypeDef,
        DescribeLoadBalancersInputTypeDef,
        ModifyLoadBalancerAttributesInputTypeDef,
        SetIpAddressTypeInputTypeDef,
        SetSecurityGroupsInputTypeDef,
        SetSubnetsInputTypeDef,
    )

DNS_SUFFIX = "elb.localhost"
_NAME = re.compile(r"^[A-Za-z0-9-]+$")
# The hosted zone of each region's load balancers (Route 53 alias targets), from
# https://docs.aws.amazon.com/general/latest/gr/elb.html
_APPLICATION_ZONES = {"us-east-1": "Z35SXDOTRQ7X7K", "us-east-2": "Z3AADJGX6KTTL2", "us-west-1": "Z368ELLRRE2KJ0",
                      "us-west-2": "Z1H1FL5HABSF5", "eu-west-1": "Z32O12XQLNTSW2", "eu-central-1": "Z215JYRZR1TBD5",
                      "ap-northeast-1": "Z14GRHDCWA56QT", "ap-southeast-1": "Z1LMS91P8CMLE5"}
_NETWORK_ZONES = {"us-east-1": "Z26RNL4JYFTOTI", "us-east-2": "ZLMOA37VPKANP", "us-west-1": "Z24FKFUX50B4VW",
                  "us-west-2": "Z18D5FSROUN65G", "eu-west-1": "Z2IFOLAFXWLO4F", "eu-central-1": "Z3F0SRJ5LGBH90",
                  "ap-northeast-1": "Z31USIVHYNEOWT", "ap-southeast-1": "ZKVM4W9LS7TM"}


def check_name(name: str) -> None:
    if len(name) > 32:
        raise errors.validation(f"The load balancer name '{name}' cannot be longer than '32' characters")
    if not _NAME.match(name):
        raise errors.validation(f"The load balancer name '{name}' can only contain characters that are "
                                "alphanumeric characters or hyphens(-)")
    if name.startswith("-") or name.endswith("-"):
        raise errors.validation(f"The load balancer name '{name}' cannot begin or end with a hyphen(-)")
    if name.startswith("internal-"):
        raise errors.validation(f"The load balancer name '{name}' cannot begin with 'internal-'")


def hosted_zone(kind: str, region: str) -> str:
    return (_NETWORK_ZONES if kind == "network" else _APPLICATION_ZONES).get(region, "Z35SXDOTRQ7X7K")


class BalancerOperations:
    def __init__(self, catalog: Callable[[], Catalog], network: Network, now: Callable[[], float]) -> None:
        self._catalog = catalog
        self.network = network
        self.now = now
        # Told the ARNs of the listeners a deleted load balancer took with it (their ports are closed).
        self.listeners_removed: list[Callable[[list[str]], None]] = []

    def balancer(self, arn: str, region: str) -> Resource:
        found = self._catalog().get(arn, BALANCER, region)
        if found is None:
            raise errors.load_balancer_not_found()
        return found

    async def _zones(self, region: str, kind: str, given: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """The VPC and the AvailabilityZones entries of the subnets (or subnet mappings) given."""
        mappings = [dict(m) for m in given.get("SubnetMappings") or []]
        ids = [m["SubnetId"] for m in mappings] if mappings else list(given.get("Subnets") or [])
        if not ids:
            raise errors.validation("At least one subnet must be specified" if kind == "network" else
                                    "At least two subnets in two different Availability Zones must be specified")
        subnets = await self.network.subnets(region, ids)
        zones = [s["AvailabilityZone"] for s in subnets]
        if len(set(zones)) != len(zones):
            raise errors.invalid_configuration("A load balancer cannot be attached to multiple subnets in the same "
                                               "Availability Zone")
        if kind == "application" and len(zones) < 2:
            raise errors.validation("At least two subnets in two different Availability Zones must be specified")
        vpcs = {s["VpcId"] for s in subnets}
        if len(vpcs) > 1:
            raise errors.invalid_subnet("All subnets must belong to the same VPC")
        entries = [{"ZoneName": s["AvailabilityZone"], "SubnetId": s["SubnetId"], "LoadBalancerAddresses": []}
                   for s in subnets]
        return vpcs.pop(), entries

    async def CreateLoadBalancer(self, ctx: RequestContext, params: CreateLoadBalancerInputTypeDef) -> dict[str, Any]:
        catalog = self._catalog()
        given: dict[str, Any] = dict(params)
        name = given["Name"]
        check_name(name)
        kind = given.get("Type") or "application"
        if kind not in ("application", "network"):
            raise errors.unsupported(f"{kind} load balancers")
        scheme = given.get("Scheme") or "internet-facing"
        vpc_id, zones = await self._zones(ctx.region, kind, given)
        groups = await self.network.security_groups(ctx.region, vpc_id, list(given.get("SecurityGroups") or []))
        tags = check_tags([dict(t) for t in given.get("Tags") or []])
        for existing in catalog.of_kind(BALANCER, ctx.region):
            if existing.doc["LoadBalancerName"] == name:
                same = (existing.doc["Type"] == kind and existing.doc["Scheme"] == scheme
                        and [z["SubnetId"] for z in existing.doc["AvailabilityZones"]] == [z["SubnetId"] for z in zones])
                if not same:
                    raise errors.duplicate_load_balancer(name)
                return {"LoadBalancers": [existing.public()]}
        ident = new_id()
        arn = f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account_id}:loadbalancer/{kind[:3]}/{name}/{ident}"
        dns_id = str(random.randrange(10**9, 10**10))
        prefix = "internal-" if scheme == "internal" else ""
        doc: dict[str, Any] = {
            "LoadBalancerArn": arn, "DNSName": f"{prefix}{name}-{dns_id}.{ctx.region}.{DNS_SUFFIX}",
            "CanonicalHostedZoneId": hosted_zone(kind, ctx.region), "CreatedTime": self.now(),
            "LoadBalancerName": name, "Scheme": scheme, "VpcId": vpc_id, "State": {"Code": "active"}, "Type": kind,
            "AvailabilityZones": zones, "IpAddressType": given.get("IpAddressType") or "ipv4",
            "_tags": tags, "_attributes": attributes.for_balancer(kind)}
        if kind == "application" or given.get("SecurityGroups"):
            doc["SecurityGroups"] = groups
        balancer = Resource(arn, BALANCER, ctx.region, doc)
        await catalog.save(balancer)
        # Provisioning is immediate here; CreateLoadBalancer answers "provisioning" as AWS always does, and
        # DescribeLoadBalancers "active" from then on.
        return {"LoadBalancers": [{**balancer.public(), "State": {"Code": "provisioning"}}]}

    async def DeleteLoadBalancer(self, ctx: RequestContext, params: DeleteLoadBalancerInputTypeDef) -> dict[str, Any]:
        catalog = self._catalog()
        found = catalog.get(params["LoadBalancerArn"], BALANCER, ctx.region)
        if found is None:
            # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeleteLoadBalancer.html:
            # deleting one that is already gone succeeds.
            return {}
        if found.attributes.get("deletion_protection.enabled") == "true":
            raise errors.operation_not_permitted(f"Load balancer '{found.arn}' cannot be deleted because deletion "
                                                 "protection is enabled")
        listeners = catalog.listeners_of(found.arn)
        rules = [r.arn for listener in listeners for r in catalog.rules_of(listener.arn)]
        await catalog.remove([found.arn, *[lst.arn for lst in listeners], *rules])
        for removed in self.listeners_removed:
            removed([lst.arn for lst in listeners])
        return {}

    async def DescribeLoadBalancers(self, ctx: RequestContext, params: DescribeLoadBalancersInputTypeDef,
                                    ) -> dict[str, Any]:
        balancers = self._catalog().of_kind(BALANCER, ctx.region)
        arns, names = list(params.get("LoadBalancerArns") or []), list(params.get("Names") or [])
        if arns and names:
            raise errors.validation("Load balancer ARNs and load balancer names cannot be specified at the same time")
        if arns:
            by_arn = {b.arn: b for b in balancers}
            if any(a not in by_arn for a in arns):
                raise errors.load_balancer_not_found()
            balancers = [by_arn[a] for a in dict.fromkeys(arns)]
        elif names:
            by_name = {b.doc["LoadBalancerName"]: b for b in balancers}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise errors.load_balancer_not_found(missing)
            balancers = [by_name[n] for n in dict.fromkeys(names)]
        items, marker = page([b.public() for b in balancers], params.get("Marker"), params.get("PageSize"))
        return {"LoadBalancers": items, "NextMarker": marker}

    async def DescribeLoadBalancerAttributes(self, ctx: RequestContext,
                                             params: DescribeLoadBalancerAttributesInputTypeDef) -> dict[str, Any]:
        found = self.balancer(params["LoadBalancerArn"], ctx.region)
        return {"Attributes": attributes.listing(found.attributes)}

    async def ModifyLoadBalancerAttributes(self, ctx: RequestContext,
                                           params: ModifyLoadBalancerAttributesInputTypeDef) -> dict[str, Any]:
        found = self.balancer(params["LoadBalancerArn"], ctx.region)
        changed = attributes.modify(found.attributes, [dict(a) for a in params["Attributes"]], "Load balancer")
        await self._catalog().save(Resource(found.arn, BALANCER, found.region, {**found.doc, "_attributes": changed}),
                                   grows=False)
        return {"Attributes": attributes.listing(changed)}

    async def SetSubnets(self, ctx: RequestContext, params: SetSubnetsInputTypeDef) -> dict[str, Any]:
        found = self.balancer(params["LoadBalancerArn"], ctx.region)
        vpc_id, zones = await self._zones(ctx.region, found.doc["Type"], dict(params))
        if vpc_id != found.doc["VpcId"]:
            raise errors.invalid_subnet("The subnets must belong to the load balancer's VPC")
        await self._catalog().save(Resource(found.arn, BALANCER, found.region, {**found.doc, "AvailabilityZones": zones}))
        return {"AvailabilityZones": zones, "IpAddressType": found.doc["IpAddressType"]}

    async def SetSecurityGroups(self, ctx: RequestContext, params: SetSecurityGroupsInputTypeDef) -> dict[str, Any]:
        found = self.balancer(params["LoadBalancerArn"], ctx.region)
        given = list(params["SecurityGroups"])
        if found.doc["Type"] == "application" and not given:
            raise errors.validation("At least one security group must be specified")
        groups = await self.network.security_groups(ctx.region, found.doc["VpcId"], given) if given else []
        await self._catalog().save(Resource(found.arn, BALANCER, found.region, {**found.doc, "SecurityGroups": groups}))
        return {"SecurityGroupIds": groups}

    async def SetIpAddressType(self, ctx: RequestContext, params: SetIpAddressTypeInputTypeDef) -> dict[str, Any]:
        found = self.balancer(params["LoadBalancerArn"], ctx.region)
        kind = params["IpAddressType"]
        if kind == "dualstack-without-public-ipv4" and found.doc["Type"] != "application":
            raise errors.validation("dualstack-without-public-ipv4 is supported by Application Load Balancers only")
        await self._catalog().save(Resource(found.arn, BALANCER, found.region, {**found.doc, "IpAddressType": kind}))
        return {"IpAddressType": kind}

    def children(self, balancer_arn: str) -> list[str]:
        catalog = self._catalog()
        listeners = catalog.listeners_of(balancer_arn)
        return [*[lst.arn for lst in listeners], *[r.arn for lst in listeners for r in catalog.rules_of(lst.arn)]]
