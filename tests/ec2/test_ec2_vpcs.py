"""VPCs, subnets and security groups made through the API (descriptions, as the default VPC is): created,
described next to the default VPC's, refused with EC2's errors, deleted, and kept across a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def error_of(call: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return dict(raised.value.response["Error"])


def test_vpcs_subnets_and_security_groups(client: Callable[..., Any]) -> None:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "lab"}]}])["Vpc"]
    assert vpc["VpcId"].startswith("vpc-") and vpc["IsDefault"] is False and vpc["State"] == "available"
    assert vpc["Tags"] == [{"Key": "Name", "Value": "lab"}]
    described = ec2.describe_vpcs()["Vpcs"]
    assert [v["IsDefault"] for v in described] == [True, False]
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["lab"]}])["Vpcs"][0]["VpcId"] == vpc["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]
    assert (subnet["AvailabilityZone"], subnet["AvailableIpAddressCount"], subnet["DefaultForAz"]) == (
        "us-east-1b", 251, False)
    err = error_of(ec2.create_subnet, VpcId=vpc["VpcId"], CidrBlock="10.1.1.128/25")
    assert (err["Code"], err["Message"]) == ("InvalidSubnet.Conflict",
                                             "The CIDR '10.1.1.128/25' conflicts with another subnet")
    err = error_of(ec2.create_subnet, VpcId=vpc["VpcId"], CidrBlock="10.2.0.0/24")
    assert (err["Code"], err["Message"]) == ("InvalidSubnet.Range", "The CIDR '10.2.0.0/24' is invalid.")
    err = error_of(ec2.create_subnet, VpcId="vpc-0123456789abcdef0", CidrBlock="10.2.0.0/24")
    assert err["Code"] == "InvalidVpcID.NotFound"
    assert [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "Subnets"]] == [subnet["SubnetId"]]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["default"]  # a new VPC comes with its default group
    web = ec2.create_security_group(GroupName="web", Description="web servers", VpcId=vpc["VpcId"])["GroupId"]
    err = error_of(ec2.create_security_group, GroupName="web", Description="again", VpcId=vpc["VpcId"])
    assert (err["Code"], err["Message"]) == ("InvalidGroup.Duplicate",
                                             f"The security group 'web' already exists for VPC '{vpc['VpcId']}'")
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    [found] = ec2.describe_security_groups(GroupIds=[web])["SecurityGroups"]
    assert found["IpPermissions"][0]["FromPort"] == 80 and found["Description"] == "web servers"
    err = error_of(ec2.delete_vpc, VpcId=vpc["VpcId"])
    assert err["Code"] == "DependencyViolation"
    ec2.delete_security_group(GroupId=web)
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc["VpcId"])
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1
    in_default = ec2.create_security_group(GroupName="app", Description="in the default VPC")["GroupId"]
    assert ec2.describe_security_groups(GroupNames=["app"])["SecurityGroups"][0]["GroupId"] == in_default


def test_blocks_are_taken_in_canonical_form(client: Callable[..., Any]) -> None:
    """Host bits are dropped, not refused: 10.4.0.18/16 is 10.4.0.0/16 (the CreateVpc and CreateSubnet pages)."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.4.0.18/16")["Vpc"]
    assert vpc["CidrBlock"] == "10.4.0.0/16"
    assert vpc["CidrBlockAssociationSet"][0]["CidrBlock"] == "10.4.0.0/16"
    subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.4.1.7/24")["Subnet"]
    assert subnet["CidrBlock"] == "10.4.1.0/24"
    err = error_of(ec2.create_vpc, CidrBlock="10.4.0.300/16")
    assert (err["Code"], err["Message"]) == ("InvalidParameterValue", "Value (10.4.0.300/16) for parameter cidrBlock "
                                             "is invalid. This is not a valid CIDR block.")


def test_kept_across_a_restart(start_server: Callable[..., Any]) -> None:
    server = start_server()
    ec2 = server.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    server.kill()
    server.start()
    ec2 = server.client("ec2")
    assert ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"] == vpc_id
