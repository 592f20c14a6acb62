"""A load balancer's surroundings: the default VPC's subnets, through EC2's API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def elb(client: Callable[..., Any]) -> Any:
    return client("elbv2")


@pytest.fixture
def network(client: Callable[..., Any]) -> dict[str, Any]:
    ec2 = client("ec2")
    return {"subnets": [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]],
            "vpc": ec2.describe_vpcs()["Vpcs"][0]["VpcId"]}
