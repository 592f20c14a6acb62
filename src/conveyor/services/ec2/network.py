"""The default VPC every region of an account has, so tutorials' lookups (`describe-vpcs --filters
Name=isDefault,Values=true`, `describe-subnets`, `describe-security-groups --group-names default`,
`describe-availability-zones`) find what they expect. Instances run on this host, so the network is a
description: three zones (a, b, c), a default subnet in each, the default security group. Its ids are
derived from the account and region, so they are the same on every start.
https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html (172.31.0.0/16, a /20 per zone)
"""

from __future__ import annotations

import hashlib
from typing import Any

from conveyor.services.ec2.filters import Extractor, field

ZONE_LETTERS = "abc"


def _id(prefix: str, *parts: str) -> str:
    return f"{prefix}-{hashlib.sha256('/'.join(parts).encode()).hexdigest()[:17]}"


def zones(region: str) -> list[str]:
    return [f"{region}{letter}" for letter in ZONE_LETTERS]


def zone_id(region: str, zone: str) -> str:
    short = "".join(word[0] for word in region.split("-")[:-1]) + region.rsplit("-", 1)[1]
    return f"{short}-az{ZONE_LETTERS.index(zone[-1]) + 1}"


def vpc(account: str, region: str) -> dict[str, Any]:
    return {"VpcId": _id("vpc", account, region), "OwnerId": account, "State": "available",
            "CidrBlock": "172.31.0.0/16", "DhcpOptionsId": _id("dopt", account, region), "InstanceTenancy": "default",
            "IsDefault": True, "CidrBlockAssociationSet": [{"AssociationId": _id("vpc-cidr-assoc", account, region),
                                                            "CidrBlock": "172.31.0.0/16",
                                                            "CidrBlockState": {"State": "associated"}}]}


def subnets(account: str, region: str) -> list[dict[str, Any]]:
    vpc_id = vpc(account, region)["VpcId"]
    out = []
    for index, zone in enumerate(zones(region)):
        subnet_id = _id("subnet", account, region, zone)
        out.append({"SubnetId": subnet_id, "VpcId": vpc_id, "State": "available", "AvailabilityZone": zone,
                    "AvailabilityZoneId": zone_id(region, zone), "CidrBlock": f"172.31.{16 * index}.0/20",
                    "AvailableIpAddressCount": 4091, "DefaultForAz": True, "MapPublicIpOnLaunch": True,
                    "OwnerId": account, "SubnetArn": f"arn:aws:ec2:{region}:{account}:subnet/{subnet_id}",
                    "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": []})
    return out


def security_group(account: str, region: str) -> dict[str, Any]:
    group_id = _id("sg", account, region)
    return {"GroupId": group_id, "GroupName": "default", "Description": "default VPC security group",
            "VpcId": vpc(account, region)["VpcId"], "OwnerId": account,
            "SecurityGroupArn": f"arn:aws:ec2:{region}:{account}:security-group/{group_id}",
            "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                               "UserIdGroupPairs": [{"GroupId": group_id, "UserId": account}]}],
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                                     "PrefixListIds": [], "UserIdGroupPairs": []}]}


def availability_zones(region: str) -> list[dict[str, Any]]:
    return [{"ZoneName": zone, "ZoneId": zone_id(region, zone), "State": "available", "RegionName": region,
             "ZoneType": "availability-zone", "OptInStatus": "opt-in-not-required", "GroupName": region,
             "NetworkBorderGroup": region, "Messages": []} for zone in zones(region)]


def image(account: str, region: str, image_id: str, created: float) -> dict[str, Any]:
    """An AMI id is an opaque name here: whatever image an instance names, it boots this host."""
    return {"ImageId": image_id, "ImageLocation": f"{account}/{image_id}", "State": "available", "OwnerId": account,
            "Public": False, "Architecture": "x86_64", "ImageType": "machine", "Name": image_id,
            "Description": "This host (Conveyor runs an instance's user data as a local process)",
            "RootDeviceType": "ebs", "RootDeviceName": "/dev/xvda", "VirtualizationType": "hvm", "Hypervisor": "xen",
            "PlatformDetails": "Linux/UNIX", "UsageOperation": "RunInstances", "EnaSupport": True,
            "CreationDate": created, "BlockDeviceMappings": []}


VPC_FILTERS: dict[str, Extractor] = {
    "vpc-id": field("VpcId"), "isDefault": field("IsDefault"), "is-default": field("IsDefault"),
    "state": field("State"), "cidr": field("CidrBlock"), "cidr-block-association.cidr-block": field("CidrBlock"),
    "owner-id": field("OwnerId"), "dhcp-options-id": field("DhcpOptionsId"),
}
SUBNET_FILTERS: dict[str, Extractor] = {
    "subnet-id": field("SubnetId"), "vpc-id": field("VpcId"), "availability-zone": field("AvailabilityZone"),
    "availability-zone-id": field("AvailabilityZoneId"), "default-for-az": field("DefaultForAz"),
    "defaultForAz": field("DefaultForAz"), "state": field("State"), "cidr-block": field("CidrBlock"),
    "map-public-ip-on-launch": field("MapPublicIpOnLaunch"), "owner-id": field("OwnerId"),
    "subnet-arn": field("SubnetArn"),
}
GROUP_FILTERS: dict[str, Extractor] = {
    "group-id": field("GroupId"), "group-name": field("GroupName"), "vpc-id": field("VpcId"),
    "description": field("Description"), "owner-id": field("OwnerId"),
}
ZONE_FILTERS: dict[str, Extractor] = {
    "zone-name": field("ZoneName"), "zone-id": field("ZoneId"), "state": field("State"),
    "region-name": field("RegionName"), "zone-type": field("ZoneType"), "group-name": field("GroupName"),
    "opt-in-status": field("OptInStatus"),
}
IMAGE_FILTERS: dict[str, Extractor] = {
    "image-id": field("ImageId"), "name": field("Name"), "state": field("State"), "owner-id": field("OwnerId"),
    "architecture": field("Architecture"), "image-type": field("ImageType"), "is-public": field("Public"),
    "root-device-type": field("RootDeviceType"), "virtualization-type": field("VirtualizationType"),
}
