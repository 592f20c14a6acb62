"""What EC2 says about the subnets, VPCs and security groups a load balancer or target group names, asked
through the served EC2 API (conveyor.ports.ApiCaller), so its answer is EC2's own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conveyor.ports import Ports
from conveyor.services.elbv2 import errors
from conveyor.wire import ServiceError


class Network:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports

    async def _ec2(self, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
        api = self.ports.api
        if api is None:
            raise errors.unsupported("load balancers without EC2")
        return await api.call("ec2", operation, params, region)

    async def subnets(self, region: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The subnets, in the order given; SubnetNotFound for one EC2 does not know."""
        known = {s["SubnetId"]: s for s in (await self._ec2("DescribeSubnets", {}, region)).get("Subnets") or []}
        for subnet in ids:
            if subnet not in known:
                raise errors.subnet_not_found(subnet)
        return [known[s] for s in ids]

    async def vpc_exists(self, region: str, vpc_id: str) -> bool:
        vpcs = (await self._ec2("DescribeVpcs", {}, region)).get("Vpcs") or []
        return any(v["VpcId"] == vpc_id for v in vpcs)

    async def security_groups(self, region: str, vpc_id: str, ids: Sequence[str]) -> list[str]:
        """The groups given (InvalidSecurityGroup for one EC2 does not know), or the VPC's default group."""
        try:
            groups = (await self._ec2("DescribeSecurityGroups", {}, region)).get("SecurityGroups") or []
        except ServiceError:
            groups = []
        in_vpc = [g for g in groups if g.get("VpcId") == vpc_id]
        if not ids:
            return [g["GroupId"] for g in in_vpc if g.get("GroupName") == "default"][:1]
        known = {g["GroupId"] for g in in_vpc}
        elsewhere = {g["GroupId"] for g in groups}
        for group in ids:
            if group in elsewhere and group not in known:
                # What AWS answers for a group of another VPC (as users meet it, e.g. pulumi/pulumi-awsx#816).
                raise errors.invalid_configuration(f"Security group '{group}' does not belong to VPC '{vpc_id}'")
            if group not in known:
                raise errors.invalid_security_group(group)
        return list(ids)
