"""Helpers of the EC2 and Auto Scaling tests: an instance profile trusting EC2, user data, waiting."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
AMI = "ami-0abcdef1234567890"


def instance_profile(iam: Any, name: str = "worker") -> str:
    """A role trusting EC2 in an instance profile of the same name; the profile's ARN."""
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)
    arn = str(iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"])
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return arn


def encoded(script: str) -> str:
    return base64.b64encode(script.encode()).decode()


def state(ec2: Any, instance_id: str) -> str:
    return str(ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"])


def console(ec2: Any, instance_id: str) -> str:
    return str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        error = exc.response["Error"]
        return error["Code"], error["Message"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("the call succeeded")
