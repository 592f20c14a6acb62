"""Auto Scaling groups and target groups through boto3: TargetGroupARNs on a new group, Attach/Detach/
DescribeLoadBalancerTargetGroups, members registered once in service and deregistered when detached, and
the errors for target groups that do not exist. Each instance has its own loopback address."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import wait_for

MISSING = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/missing/0123456789abcdef"


def test_groups_register_their_instances(client: Callable[..., Any], network: dict[str, Any]) -> None:
    elb, scaling, ec2 = client("elbv2"), client("autoscaling"), client("ec2")
    made = elb.create_load_balancer(Name="asg", Subnets=network["subnets"][:2])["LoadBalancers"][0]
    group_arn = elb.create_target_group(Name="asg", Protocol="HTTP", Port=8080, VpcId=network["vpc"],
                                        )["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=made["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}])
    ec2.create_launch_template(LaunchTemplateName="idle", LaunchTemplateData={
        "ImageId": "ami-0abcdef1234567890", "InstanceType": "t3.micro",
        "UserData": base64.b64encode(b"#!/bin/bash\nexec sleep 300\n").decode()})
    with pytest.raises(ClientError) as raised:
        scaling.create_auto_scaling_group(AutoScalingGroupName="bad", LaunchTemplate={"LaunchTemplateName": "idle"},
                                          MinSize=1, MaxSize=1, AvailabilityZones=["us-east-1a"],
                                          TargetGroupARNs=[MISSING])
    assert raised.value.response["Error"] == {"Type": "Sender", "Code": "ValidationError", "Message":
                                              "Provided Target Groups may not be valid. Please ensure they exist and "
                                              "try again."}
    scaling.create_auto_scaling_group(AutoScalingGroupName="g", LaunchTemplate={"LaunchTemplateName": "idle"},
                                      MinSize=2, MaxSize=2, AvailabilityZones=["us-east-1a", "us-east-1b"])
    assert scaling.describe_load_balancer_target_groups(AutoScalingGroupName="g")["LoadBalancerTargetGroups"] == []
    scaling.attach_load_balancer_target_groups(AutoScalingGroupName="g", TargetGroupARNs=[group_arn])
    assert scaling.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])["AutoScalingGroups"][0][
        "TargetGroupARNs"] == [group_arn]

    def registered() -> list[str]:
        found = elb.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
        return sorted(h["Target"]["Id"] for h in found if h["TargetHealth"]["State"] != "draining")

    members = wait_for(lambda: len(registered()) == 2 and registered(), what="both members registered")
    addresses = {i["PrivateIpAddress"] for r in ec2.describe_instances(InstanceIds=members)["Reservations"]
                 for i in r["Instances"]}
    assert len(addresses) == 2 and all(a.startswith("127.") for a in addresses)
    assert scaling.describe_load_balancer_target_groups(AutoScalingGroupName="g")["LoadBalancerTargetGroups"] == [
        {"LoadBalancerTargetGroupARN": group_arn, "State": "Added"}]  # no instance has passed a check yet
    with pytest.raises(ClientError) as raised:
        scaling.attach_load_balancer_target_groups(AutoScalingGroupName="g", TargetGroupARNs=[MISSING])
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    scaling.detach_load_balancer_target_groups(AutoScalingGroupName="g", TargetGroupARNs=[group_arn])
    wait_for(lambda: registered() == [], what="members deregistered (draining)")
    states = {h["TargetHealth"]["State"] for h in
              elb.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]}
    assert states == {"draining"}
    scaling.delete_auto_scaling_group(AutoScalingGroupName="g", ForceDelete=True)


def test_scale_in_drains_before_terminating(client: Callable[..., Any], network: dict[str, Any],
                                            advance: Callable[[float], float]) -> None:
    elb, scaling, ec2 = client("elbv2"), client("autoscaling"), client("ec2")
    made = elb.create_load_balancer(Name="drain", Subnets=network["subnets"][:2])["LoadBalancers"][0]
    group_arn = elb.create_target_group(Name="drain", Protocol="HTTP", Port=8080, VpcId=network["vpc"],
                                        )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=group_arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])
    elb.create_listener(LoadBalancerArn=made["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}])
    ec2.create_launch_template(LaunchTemplateName="idle", LaunchTemplateData={
        "ImageId": "ami-0abcdef1234567890", "UserData": base64.b64encode(b"#!/bin/bash\nexec sleep 300\n").decode()})
    scaling.create_auto_scaling_group(AutoScalingGroupName="d", LaunchTemplate={"LaunchTemplateName": "idle"},
                                      MinSize=1, MaxSize=2, DesiredCapacity=2, AvailabilityZones=["us-east-1a"],
                                      TargetGroupARNs=[group_arn])

    def states() -> dict[str, str]:
        found = elb.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
        return {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in found}

    wait_for(lambda: len(states()) == 2, what="both members registered")
    scaling.set_desired_capacity(AutoScalingGroupName="d", DesiredCapacity=1)
    [leaving] = wait_for(lambda: [i for i, s in states().items() if s == "draining"], what="one member draining")

    def ec2_state() -> str:
        return str(ec2.describe_instances(InstanceIds=[leaving])["Reservations"][0]["Instances"][0]["State"]["Name"])

    advance(20)
    assert ec2_state() == "running"  # still draining: the instance is not terminated yet
    advance(11)
    wait_for(lambda: ec2_state() in ("shutting-down", "terminated"), what="terminated once drained")
    wait_for(lambda: leaving not in states(), what="the drained target gone")
    scaling.delete_auto_scaling_group(AutoScalingGroupName="d", ForceDelete=True)
