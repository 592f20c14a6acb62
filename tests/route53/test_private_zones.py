"""Private hosted zones through boto3: their VPCs are EC2's (created with CreateVpc, checked through the EC2
port), named by id with or without their region, and one VPC cannot see two zones of the same name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import CREDENTIALS
from tests.route53.conftest import create_zone


def _error(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response: Any = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


@pytest.fixture
def ec2(endpoint: str) -> Callable[[str], Any]:
    """EC2 clients by region (VPCs are regional)."""
    return lambda region: boto3.client("ec2", endpoint_url=endpoint, **{**CREDENTIALS, "region_name": region})


def _vpc(ec2: Callable[[str], Any], region: str, cidr: str = "10.1.0.0/16") -> dict[str, str]:
    vpc_id = ec2(region).create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    return {"VPCRegion": region, "VPCId": vpc_id}


def _bare(created: dict[str, Any]) -> str:
    return str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def test_private_zone_and_its_vpcs(r53: Any, ec2: Callable[[str], Any]) -> None:
    vpc = _vpc(ec2, "us-east-1")
    created = r53.create_hosted_zone(Name="internal.example", CallerReference="p", VPC=vpc)
    zone_id = _bare(created)
    assert created["HostedZone"]["Config"]["PrivateZone"] is True
    assert created["VPC"] == vpc and "DelegationSet" not in created
    got = r53.get_hosted_zone(Id=zone_id)
    assert got["VPCs"] == [vpc] and "DelegationSet" not in got
    other = _vpc(ec2, "us-west-2", "10.2.0.0/16")
    assert r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC=other)["ChangeInfo"]["Status"] == "PENDING"
    by_vpc = r53.list_hosted_zones_by_vpc(VPCId=other["VPCId"], VPCRegion="us-west-2")["HostedZoneSummaries"]
    assert [(z["HostedZoneId"], z["Name"]) for z in by_vpc] == [(zone_id, "internal.example.")]
    r53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id, VPC=vpc)
    with pytest.raises(ClientError) as info:
        r53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id, VPC=other)
    assert _error(info)[0] == "LastVPCAssociation"
    public = create_zone(r53, "public.example")
    with pytest.raises(ClientError) as info:
        r53.associate_vpc_with_hosted_zone(HostedZoneId=public, VPC=vpc)
    assert _error(info)[0] == "PublicZoneVPCAssociation"
    listed = r53.list_hosted_zones(HostedZoneType="PrivateHostedZone")["HostedZones"]
    assert [z["Id"] for z in listed] == [f"/hostedzone/{zone_id}"]


def test_a_vpc_ec2_does_not_have_is_refused(r53: Any, ec2: Callable[[str], Any]) -> None:
    missing = {"VPCRegion": "us-east-1", "VPCId": "vpc-0123456789abcdef0"}
    with pytest.raises(ClientError) as info:
        r53.create_hosted_zone(Name="internal.example", CallerReference="missing", VPC=missing)
    code, status, message = _error(info)
    assert (code, status) == ("InvalidVPCId", 400)
    assert message == ("The VPC ID that you specified either isn't a valid ID or the current account is not "
                       "authorized to access this VPC.")
    assert r53.get_hosted_zone_count()["HostedZoneCount"] == 0
    # A VPC is regional: an id of us-east-1 does not name a VPC of us-west-2.
    vpc = _vpc(ec2, "us-east-1")
    with pytest.raises(ClientError) as info:
        r53.create_hosted_zone(Name="internal.example", CallerReference="elsewhere",
                               VPC={"VPCRegion": "us-west-2", "VPCId": vpc["VPCId"]})
    assert _error(info)[0] == "InvalidVPCId"
    zone_id = _bare(r53.create_hosted_zone(Name="internal.example", CallerReference="ok", VPC=vpc))
    with pytest.raises(ClientError) as info:
        r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC=missing)
    assert _error(info)[0] == "InvalidVPCId"
    assert r53.get_hosted_zone(Id=zone_id)["VPCs"] == [vpc]
    # The region's default VPC is a VPC too.
    default = ec2("us-east-1").describe_vpcs(
        Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC={"VPCRegion": "us-east-1", "VPCId": default})
    assert len(r53.get_hosted_zone(Id=zone_id)["VPCs"]) == 2


def test_a_vpc_is_named_by_its_id_when_the_region_is_left_out(r53: Any, ec2: Callable[[str], Any]) -> None:
    first, second = _vpc(ec2, "us-east-1"), _vpc(ec2, "us-east-1", "10.2.0.0/16")
    zone_id = _bare(r53.create_hosted_zone(Name="internal.example", CallerReference="p", VPC=first))
    r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC=second)
    with pytest.raises(ClientError) as info:
        r53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id,
                                              VPC={"VPCId": first["VPCId"], "VPCRegion": "us-west-2"})
    assert _error(info)[0] == "VPCAssociationNotFound"
    r53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id, VPC={"VPCId": first["VPCId"]})
    assert r53.get_hosted_zone(Id=zone_id)["VPCs"] == [second]
    with pytest.raises(ClientError) as info:
        r53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id, VPC={"VPCId": second["VPCId"]})
    code, _, message = _error(info)
    assert code == "LastVPCAssociation"
    assert message == ("The VPC that you're trying to disassociate from the private hosted zone is the last VPC that "
                       "is associated with the hosted zone. Amazon Route 53 doesn't support disassociating the last "
                       "VPC from a hosted zone.")


def test_one_vpc_sees_one_zone_of_a_name(r53: Any, ec2: Callable[[str], Any]) -> None:
    vpc, other = _vpc(ec2, "us-east-1"), _vpc(ec2, "us-east-1", "10.2.0.0/16")
    first = _bare(r53.create_hosted_zone(Name="internal.example", CallerReference="a", VPC=vpc))
    with pytest.raises(ClientError) as info:
        r53.create_hosted_zone(Name="internal.example.", CallerReference="b", VPC=vpc)
    assert _error(info)[:2] == ("ConflictingDomainExists", 400)
    # Another VPC may have its own zone of that name, and a zone of another name may share the VPC.
    second = _bare(r53.create_hosted_zone(Name="internal.example", CallerReference="c", VPC=other))
    r53.create_hosted_zone(Name="sub.internal.example", CallerReference="d", VPC=vpc)
    with pytest.raises(ClientError) as info:
        r53.associate_vpc_with_hosted_zone(HostedZoneId=second, VPC=vpc)
    assert _error(info)[0] == "ConflictingDomainExists"
    assert r53.get_hosted_zone(Id=second)["VPCs"] == [other]
    assert r53.get_hosted_zone(Id=first)["VPCs"] == [vpc]
