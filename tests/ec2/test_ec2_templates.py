"""Launch templates and their versions through boto3, errors included, and the default VPC lookups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from tests.ec2.conftest import AMI, encoded, error_of


def test_templates_versions_default_and_deletion(client: Callable[..., Any]) -> None:
    ec2 = client("ec2")
    made = ec2.create_launch_template(
        LaunchTemplateName="workers", VersionDescription="first",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro", "UserData": encoded("echo one")},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "media"}]}],
    )["LaunchTemplate"]
    assert made["LaunchTemplateId"].startswith("lt-") and len(made["LaunchTemplateId"]) == 20
    assert made["DefaultVersionNumber"] == made["LatestVersionNumber"] == 1
    assert made["CreatedBy"] == "arn:aws:iam::000000000000:root" and made["Tags"] == [{"Key": "team", "Value": "media"}]
    second = ec2.create_launch_template_version(LaunchTemplateName="workers", SourceVersion="1",
                                                LaunchTemplateData={"InstanceType": "c5.large"})["LaunchTemplateVersion"]
    assert second["VersionNumber"] == 2 and second["DefaultVersion"] is False
    assert second["LaunchTemplateData"] == {"ImageId": AMI, "InstanceType": "c5.large", "UserData": encoded("echo one")}
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=made["LaunchTemplateId"])["LaunchTemplateVersions"]
    assert [v["VersionNumber"] for v in versions] == [2, 1]
    latest = ec2.describe_launch_template_versions(LaunchTemplateName="workers", Versions=["$Latest"])
    assert latest["LaunchTemplateVersions"][0]["VersionNumber"] == 2
    ec2.modify_launch_template(LaunchTemplateName="workers", DefaultVersion="2")
    [described] = ec2.describe_launch_templates(LaunchTemplateNames=["workers"])["LaunchTemplates"]
    assert described["DefaultVersionNumber"] == 2 and described["LatestVersionNumber"] == 2
    assert ec2.describe_launch_template_versions(LaunchTemplateName="workers", Versions=["$Default"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]["InstanceType"] == "c5.large"

    deleted = ec2.delete_launch_template_versions(LaunchTemplateName="workers", Versions=["1", "2", "7"])
    assert [v["VersionNumber"] for v in deleted["SuccessfullyDeletedLaunchTemplateVersions"]] == [1]
    refused = {v["VersionNumber"]: v["ResponseError"]["Code"]
               for v in deleted["UnsuccessfullyDeletedLaunchTemplateVersions"]}
    assert refused == {2: "launchTemplateVersionIsDefault", 7: "launchTemplateVersionDoesNotExist"}
    gone = ec2.delete_launch_template(LaunchTemplateId=made["LaunchTemplateId"])["LaunchTemplate"]
    assert gone["LaunchTemplateName"] == "workers"
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []


def test_template_errors(client: Callable[..., Any]) -> None:
    ec2 = client("ec2")
    ec2.create_launch_template(LaunchTemplateName="workers", LaunchTemplateData={"ImageId": AMI})
    assert error_of(lambda: ec2.create_launch_template(LaunchTemplateName="workers", LaunchTemplateData={"ImageId": AMI}))[:2] == (
        "InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
    code, message, status = error_of(lambda: ec2.describe_launch_templates(LaunchTemplateNames=["nope"]))
    assert (code, status) == ("InvalidLaunchTemplateName.NotFoundException", 400)
    assert message == "At least one of the launch templates specified in the request does not exist."
    assert error_of(lambda: ec2.describe_launch_templates(LaunchTemplateIds=["lt-0123456789abcdef0"]))[0] == \
        "InvalidLaunchTemplateId.NotFound"
    assert error_of(lambda: ec2.describe_launch_templates(LaunchTemplateIds=["lt-zz"]))[0] == \
        "InvalidLaunchTemplateId.Malformed"
    code, message, _ = error_of(lambda: ec2.describe_launch_template_versions(LaunchTemplateName="workers",
                                                                              Versions=["9"]))
    assert code == "InvalidLaunchTemplateId.VersionNotFound" and "version 9" in message
    assert error_of(lambda: ec2.create_launch_template(
        LaunchTemplateName="bad-data", LaunchTemplateData={"UserData": "not base64!"}))[0] == "InvalidParameterValue"
    assert error_of(lambda: ec2.create_launch_template(LaunchTemplateName="dry", LaunchTemplateData={"ImageId": AMI},
                                                       DryRun=True))[::2] == ("DryRunOperation", 412)
    assert error_of(lambda: ec2.describe_launch_templates(Filters=[{"Name": "colour", "Values": ["x"]}]))[:2] == (
        "InvalidParameterValue", "The filter 'colour' is invalid")


def test_the_default_vpc_answers_tutorial_lookups(endpoint: str, client: Callable[..., Any]) -> None:
    ec2 = client("ec2")
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    assert vpc["IsDefault"] is True and vpc["CidrBlock"] == "172.31.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    assert [s["AvailabilityZone"] for s in subnets] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert all(s["DefaultForAz"] for s in subnets)
    [group] = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert group["VpcId"] == vpc["VpcId"] and group["GroupName"] == "default"
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert zones[0]["State"] == "available" and zones[0]["RegionName"] == "us-east-1"
    [image] = ec2.describe_images(ImageIds=[AMI])["Images"]
    assert image["ImageId"] == AMI and image["State"] == "available"
    assert error_of(lambda: ec2.describe_subnets(SubnetIds=["subnet-0000"]))[0] == "InvalidSubnetID.NotFound"
    assert error_of(lambda: ec2.describe_images(ImageIds=["img-1"]))[0] == "InvalidAMIID.Malformed"
    ohio = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-2", aws_access_key_id="test",
                        aws_secret_access_key="test")
    assert ohio.describe_vpcs()["Vpcs"][0]["VpcId"] != vpc["VpcId"]
    assert ohio.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"] == "us-east-2a"


def test_a_tag_without_a_key_is_refused(client: Callable[..., Any]) -> None:
    """The model leaves Tag.Key optional; EC2 refuses a tag without one (found by the fuzz test as a 500)."""
    ec2 = client("ec2")
    template = ec2.create_launch_template(LaunchTemplateName="keyless",
                                          LaunchTemplateData={"ImageId": AMI})["LaunchTemplate"]["LaunchTemplateId"]
    expected = ("InvalidParameterValue", "Value ( '' ) for parameter Tag key is invalid. Tag key cannot be null or empty.")
    assert error_of(lambda: ec2.create_tags(Resources=[template], Tags=[{"Value": "v"}]))[:2] == expected
    assert error_of(lambda: ec2.delete_tags(Resources=[template], Tags=[{"Value": "v"}]))[:2] == expected
