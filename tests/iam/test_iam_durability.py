"""IAM's acknowledged writes survive kill -9, and the keys it issued still sign after a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
ALLOW = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def _iam(server: Any, key: str = "test", secret: str = "test") -> Any:
    return boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=BotoConfig(retries={"max_attempts": 1}))


def test_everything_iam_acknowledged_is_there_after_kill_9(start_server: Callable[..., Any], tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data, "--auth", "sigv4")
    iam = _iam(server)
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "env", "Value": "dev"}])
    iam.attach_role_policy(RoleName="fn", PolicyArn=BASIC)
    iam.put_role_policy(RoleName="fn", PolicyName="queues", PolicyDocument=ALLOW)
    arn = iam.create_policy(PolicyName="mine", PolicyDocument=ALLOW)["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=ALLOW.replace("sqs", "sns"), SetAsDefault=True)
    iam.create_user(UserName="ana")
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="ana")
    iam.attach_user_policy(UserName="ana", PolicyArn=arn)
    key = iam.create_access_key(UserName="ana")["AccessKey"]
    iam.create_instance_profile(InstanceProfileName="fn")
    iam.add_role_to_instance_profile(InstanceProfileName="fn", RoleName="fn")
    server.kill()

    again = start_server(data, "--auth", "sigv4")
    iam = _iam(again)
    role = iam.get_role(RoleName="fn")["Role"]
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST) and role["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="fn")["AttachedPolicies"]] == [BASIC]
    assert iam.get_role_policy(RoleName="fn", PolicyName="queues")["PolicyDocument"] == json.loads(ALLOW)
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["DefaultVersionId"] == "v2" and policy["AttachmentCount"] == 1
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="ana")["Groups"]] == ["devs"]
    profile = iam.get_instance_profile(InstanceProfileName="fn")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["fn"]
    assert _iam(again, key["AccessKeyId"], key["SecretAccessKey"]).get_user()["User"]["UserName"] == "ana"
