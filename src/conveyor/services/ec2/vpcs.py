"""VPCs, subnets and security groups made by the API (CreateVpc, CreateSubnet, CreateSecurityGroup and their
Delete, AuthorizeSecurityGroupIngress/Egress), next to the default VPC of conveyor.services.ec2.network.
Like the default VPC they are descriptions: instances run on this host whatever network they name, and
load balancers and target groups name them.

https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpc.html (a /16 to /28 block; a new VPC
gets its own `default` security group), API_CreateSubnet.html (a block inside the VPC's, overlapping no
other subnet's), API_CreateSecurityGroup.html (a name unique in its VPC; the default VPC's when no VpcId).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.services.ec2 import errors, network
from conveyor.services.ec2.store import Ec2Store
from conveyor.services.ec2.templates import new_id
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import (
        AuthorizeSecurityGroupEgressRequestTypeDef,
        AuthorizeSecurityGroupIngressRequestTypeDef,
        CreateSecurityGroupRequestTypeDef,
        CreateSubnetRequestTypeDef,
        CreateVpcRequestTypeDef,
        DeleteSecurityGroupRequestTypeDef,
        DeleteSubnetRequestTypeDef,
        DeleteVpcRequestTypeDef,
    )

VPC, SUBNET, GROUP = "vpc", "subnet", "security-group"


def _tags(given: Any, kind: str) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": t.get("Value", "")} for spec in given or []
            if spec.get("ResourceType") in (kind, None) for t in spec.get("Tags") or []]


def _dependency(what: str, ident: str) -> ServiceError:
    return ServiceError("DependencyViolation", f"The {what} '{ident}' has dependencies and cannot be deleted.")


class Networks:
    """The made VPCs, subnets and security groups, by id: (region, kind, document)."""

    def __init__(self, store: Callable[[], Ec2Store], account: str) -> None:
        self._store = store
        self.account = account
        self.made: dict[str, tuple[str, str, dict[str, Any]]] = {}

    def load(self) -> None:
        self.made = {i: (region, kind, doc) for i, region, kind, doc in self._store().network()}

    def clear(self) -> None:
        self.made.clear()

    def _of(self, kind: str, region: str) -> list[dict[str, Any]]:
        return [doc for r, k, doc in self.made.values() if k == kind and r == region]

    def vpcs(self, region: str) -> list[dict[str, Any]]:
        return [network.vpc(self.account, region), *self._of(VPC, region)]

    def subnets(self, region: str) -> list[dict[str, Any]]:
        return [*network.subnets(self.account, region), *self._of(SUBNET, region)]

    def security_groups(self, region: str) -> list[dict[str, Any]]:
        return [network.security_group(self.account, region), *self._of(GROUP, region)]

    async def _save(self, region: str, *items: tuple[str, dict[str, Any]]) -> None:
        rows = [(doc[{VPC: "VpcId", SUBNET: "SubnetId", GROUP: "GroupId"}[kind]], region, kind, doc)
                for kind, doc in items]
        await self._store().put_network(rows)
        for ident, r, kind, doc in rows:
            self.made[ident] = (r, kind, doc)

    async def _drop(self, *ids: str) -> None:
        await self._store().delete_network(list(ids))
        for ident in ids:
            self.made.pop(ident, None)

    def _group_doc(self, region: str, vpc_id: str, name: str, description: str,
                   tags: list[dict[str, str]]) -> dict[str, Any]:
        group_id = new_id("sg")
        return {"GroupId": group_id, "GroupName": name, "Description": description, "VpcId": vpc_id,
                "OwnerId": self.account, "SecurityGroupArn": f"arn:aws:ec2:{region}:{self.account}:security-group/"
                                                             f"{group_id}",
                "IpPermissions": [], "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                                              "Ipv6Ranges": [], "PrefixListIds": [],
                                                              "UserIdGroupPairs": []}], "Tags": tags}

    # -- operations -------------------------------------------------------------------------------------
    async def CreateVpc(self, ctx: RequestContext, params: CreateVpcRequestTypeDef) -> dict[str, Any]:
        block = params.get("CidrBlock")
        if not block:
            raise errors.missing("The request must contain the parameter CidrBlock")
        try:
            # Host bits are dropped ("100.68.0.18/18" is 100.68.0.0/18), not refused.
            # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpc.html#API_CreateVpc_RequestParameters
            cidr = ipaddress.ip_network(block, strict=False)
        except ValueError:
            raise errors.invalid_parameter(f"Value ({block}) for parameter cidrBlock is invalid. This is not a valid "
                                           "CIDR block.") from None
        if not 16 <= cidr.prefixlen <= 28:
            raise ServiceError("InvalidVpc.Range", f"The CIDR '{block}' is invalid.")
        vpc_id = new_id("vpc")
        doc = {"VpcId": vpc_id, "OwnerId": self.account, "State": "available", "CidrBlock": str(cidr),
               "DhcpOptionsId": network.vpc(self.account, ctx.region)["DhcpOptionsId"],
               "InstanceTenancy": params.get("InstanceTenancy") or "default", "IsDefault": False,
               "CidrBlockAssociationSet": [{"AssociationId": new_id("vpc-cidr-assoc"), "CidrBlock": str(cidr),
                                            "CidrBlockState": {"State": "associated"}}],
               "Tags": _tags(params.get("TagSpecifications"), "vpc")}
        group = self._group_doc(ctx.region, vpc_id, "default", "default VPC security group", [])
        await self._save(ctx.region, (VPC, doc), (GROUP, group))
        return {"Vpc": doc}

    async def DeleteVpc(self, ctx: RequestContext, params: DeleteVpcRequestTypeDef) -> dict[str, Any]:
        vpc_id = params["VpcId"]
        if not any(v["VpcId"] == vpc_id for v in self._of(VPC, ctx.region)):
            if vpc_id == network.vpc(self.account, ctx.region)["VpcId"]:
                raise _dependency("vpc", vpc_id)  # the default VPC stays
            raise errors.vpc_not_found(vpc_id)
        if any(s["VpcId"] == vpc_id for s in self._of(SUBNET, ctx.region)) or any(
                g["VpcId"] == vpc_id and g["GroupName"] != "default" for g in self._of(GROUP, ctx.region)):
            raise _dependency("vpc", vpc_id)
        defaults = [g["GroupId"] for g in self._of(GROUP, ctx.region) if g["VpcId"] == vpc_id]
        await self._drop(vpc_id, *defaults)
        return {}

    async def CreateSubnet(self, ctx: RequestContext, params: CreateSubnetRequestTypeDef) -> dict[str, Any]:
        vpc_id = params["VpcId"]
        vpc = next((v for v in self.vpcs(ctx.region) if v["VpcId"] == vpc_id), None)
        if vpc is None:
            raise errors.vpc_not_found(vpc_id)
        block = params.get("CidrBlock") or ""
        try:
            # Canonical form, as for a VPC's block.
            # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSubnet.html#API_CreateSubnet_RequestParameters
            cidr = ipaddress.ip_network(block, strict=False)
        except ValueError:
            raise errors.invalid_parameter(f"Value ({block}) for parameter cidrBlock is invalid. This is not a valid "
                                           "CIDR block.") from None
        if not (isinstance(cidr, ipaddress.IPv4Network) and cidr.subnet_of(ipaddress.IPv4Network(vpc["CidrBlock"]))
                and 16 <= cidr.prefixlen <= 28):
            raise ServiceError("InvalidSubnet.Range", f"The CIDR '{block}' is invalid.")
        for other in self.subnets(ctx.region):
            if other["VpcId"] == vpc_id and cidr.overlaps(ipaddress.ip_network(other["CidrBlock"])):
                raise ServiceError("InvalidSubnet.Conflict", f"The CIDR '{block}' conflicts with another subnet")
        zones = network.zones(ctx.region)
        zone = params.get("AvailabilityZone")
        if params.get("AvailabilityZoneId") and not zone:
            zone = next((z for z in zones if network.zone_id(ctx.region, z) == params["AvailabilityZoneId"]), None)
        zone = zone or zones[0]
        if zone not in zones:
            raise errors.invalid_parameter(f"Value ({zone}) for parameter availabilityZone is invalid. Subnets can "
                                           f"currently only be created in the following availability zones: "
                                           f"{', '.join(zones)}.")
        subnet_id = new_id("subnet")
        doc = {"SubnetId": subnet_id, "VpcId": vpc_id, "State": "available", "AvailabilityZone": zone,
               "AvailabilityZoneId": network.zone_id(ctx.region, zone), "CidrBlock": str(cidr),
               "AvailableIpAddressCount": cidr.num_addresses - 5, "DefaultForAz": False,
               "MapPublicIpOnLaunch": False, "OwnerId": self.account,
               "SubnetArn": f"arn:aws:ec2:{ctx.region}:{self.account}:subnet/{subnet_id}",
               "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [],
               "Tags": _tags(params.get("TagSpecifications"), "subnet")}
        await self._save(ctx.region, (SUBNET, doc))
        return {"Subnet": doc}

    async def DeleteSubnet(self, ctx: RequestContext, params: DeleteSubnetRequestTypeDef) -> dict[str, Any]:
        subnet_id = params["SubnetId"]
        if not any(s["SubnetId"] == subnet_id for s in self._of(SUBNET, ctx.region)):
            if any(s["SubnetId"] == subnet_id for s in network.subnets(self.account, ctx.region)):
                raise _dependency("subnet", subnet_id)
            raise errors.subnet_not_found(subnet_id)
        await self._drop(subnet_id)
        return {}

    async def CreateSecurityGroup(self, ctx: RequestContext, params: CreateSecurityGroupRequestTypeDef,
                                  ) -> dict[str, Any]:
        name, description = params["GroupName"], params["Description"]
        vpc_id = params.get("VpcId") or network.vpc(self.account, ctx.region)["VpcId"]
        if not any(v["VpcId"] == vpc_id for v in self.vpcs(ctx.region)):
            raise errors.vpc_not_found(vpc_id)
        if any(g["VpcId"] == vpc_id and g["GroupName"] == name for g in self.security_groups(ctx.region)):
            raise ServiceError("InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC "
                                                         f"'{vpc_id}'")
        if name.lower().startswith("sg-"):
            raise errors.invalid_parameter("Group names may not be in the format sg-*.")
        doc = self._group_doc(ctx.region, vpc_id, name, description,
                              _tags(params.get("TagSpecifications"), "security-group"))
        await self._save(ctx.region, (GROUP, doc))
        return {"GroupId": doc["GroupId"], "SecurityGroupArn": doc["SecurityGroupArn"], "Tags": doc["Tags"]}

    def _group(self, region: str, group_id: str | None, name: str | None) -> dict[str, Any]:
        default_vpc = network.vpc(self.account, region)["VpcId"]
        for group in self.security_groups(region):
            if (group_id and group["GroupId"] == group_id) or (
                    not group_id and name and group["GroupName"] == name and group["VpcId"] == default_vpc):
                return group
        if group_id:
            raise errors.group_id_not_found(group_id)
        raise errors.group_not_found(name or "", default_vpc)

    async def DeleteSecurityGroup(self, ctx: RequestContext, params: DeleteSecurityGroupRequestTypeDef,
                                  ) -> dict[str, Any]:
        group = self._group(ctx.region, params.get("GroupId"), params.get("GroupName"))
        if group["GroupName"] == "default":
            raise ServiceError("CannotDelete", f"the specified group: \"{group['GroupId']}\" name: \"default\" cannot "
                                               "be deleted by a user")
        await self._drop(group["GroupId"])
        return {"Return": True, "GroupId": group["GroupId"]}

    async def AuthorizeSecurityGroupIngress(self, ctx: RequestContext,
                                            params: AuthorizeSecurityGroupIngressRequestTypeDef) -> dict[str, Any]:
        return await self._authorize(ctx.region, params.get("GroupId"), params.get("GroupName"),
                                     dict(params), "IpPermissions")

    async def AuthorizeSecurityGroupEgress(self, ctx: RequestContext,
                                           params: AuthorizeSecurityGroupEgressRequestTypeDef) -> dict[str, Any]:
        return await self._authorize(ctx.region, params["GroupId"], None, dict(params), "IpPermissionsEgress")

    async def _authorize(self, region: str, group_id: str | None, name: str | None, given: dict[str, Any],
                         member: str) -> dict[str, Any]:
        group = self._group(region, group_id, name)
        if not any(g["GroupId"] == group["GroupId"] for g in self._of(GROUP, region)):
            raise errors.unsupported("Conveyor keeps the default VPC's security group as it is: add rules to a group "
                                     "you created.")
        permissions = [dict(p) for p in given.get("IpPermissions") or []]
        if given.get("IpProtocol"):  # the old flat form
            permissions.append({"IpProtocol": given["IpProtocol"], "FromPort": given.get("FromPort"),
                                "ToPort": given.get("ToPort"), "IpRanges": [{"CidrIp": given["CidrIp"]}]
                                if given.get("CidrIp") else []})
        rules = [{k: v for k, v in {**{"IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
                                    **p}.items() if v is not None} for p in permissions]
        doc = {**group, member: [*group[member], *rules]}
        await self._save(region, (GROUP, doc))
        return {"Return": True, "SecurityGroupRules": []}
