"""The lab's IAM steps through the AWS CLI, and an access key made by IAM used to sign requests."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SQS_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
BUCKET_RW = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": "arn:aws:s3:::conveyor-uploads/*"},
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::conveyor-uploads"}]}


def _file(tmp_path: Path, name: str, document: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2))
    return f"file://{path}"


def test_the_labs_function_role_step_by_step(aws: Callable[..., Any], tmp_path: Path) -> None:
    role = aws("iam", "create-role", "--role-name", "upload-processor",
               "--assume-role-policy-document", _file(tmp_path, "trust.json", LAMBDA_TRUST))["Role"]
    assert role["Arn"] == "arn:aws:iam::000000000000:role/upload-processor"
    assert role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 3600
    assert role["AssumeRolePolicyDocument"] == LAMBDA_TRUST  # the CLI decodes IAM's URL-encoded document

    for arn in (BASIC, SQS_EXECUTION):
        aws("iam", "attach-role-policy", "--role-name", "upload-processor", "--policy-arn", arn)
    attached = aws("iam", "list-attached-role-policies", "--role-name", "upload-processor")["AttachedPolicies"]
    assert {a["PolicyArn"] for a in attached} == {BASIC, SQS_EXECUTION}
    assert {a["PolicyName"] for a in attached} == {"AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole"}

    aws("iam", "put-role-policy", "--role-name", "upload-processor", "--policy-name", "uploads-read-write",
        "--policy-document", _file(tmp_path, "s3.json", BUCKET_RW))
    assert aws("iam", "list-role-policies", "--role-name", "upload-processor")["PolicyNames"] == ["uploads-read-write"]
    inline = aws("iam", "get-role-policy", "--role-name", "upload-processor", "--policy-name", "uploads-read-write")
    assert inline["PolicyDocument"] == BUCKET_RW and inline["RoleName"] == "upload-processor"

    sqs_policy = aws("iam", "get-policy", "--policy-arn", SQS_EXECUTION)["Policy"]
    assert sqs_policy["Path"] == "/service-role/" and sqs_policy["AttachmentCount"] == 1
    version = aws("iam", "get-policy-version", "--policy-arn", SQS_EXECUTION,
                  "--version-id", sqs_policy["DefaultVersionId"])["PolicyVersion"]
    assert "sqs:ReceiveMessage" in version["Document"]["Statement"][0]["Action"] and version["IsDefaultVersion"]

    # The worker's instance role: an EC2 trust policy and an instance profile carrying it.
    ec2_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    aws("iam", "create-role", "--role-name", "upload-worker",
        "--assume-role-policy-document", _file(tmp_path, "ec2.json", ec2_trust))
    profile = aws("iam", "create-instance-profile", "--instance-profile-name", "upload-worker")["InstanceProfile"]
    assert profile["Arn"] == "arn:aws:iam::000000000000:instance-profile/upload-worker" and profile["Roles"] == []
    aws("iam", "add-role-to-instance-profile", "--instance-profile-name", "upload-worker", "--role-name", "upload-worker")
    profiles = aws("iam", "list-instance-profiles-for-role", "--role-name", "upload-worker")["InstanceProfiles"]
    assert [p["Roles"][0]["RoleName"] for p in profiles] == ["upload-worker"]

    # Cleaning up in the wrong order is refused, as on AWS.
    refused = aws("iam", "delete-role", "--role-name", "upload-processor", check=False)
    assert refused.returncode != 0 and b"DeleteConflict" in refused.stderr
    assert b"must detach all policies first" in refused.stderr
    refused = aws("iam", "delete-role", "--role-name", "upload-worker", check=False)
    assert b"must remove roles from instance profile first" in refused.stderr


def test_a_missing_role_and_a_malformed_trust_policy(aws: Callable[..., Any], tmp_path: Path) -> None:
    missing = aws("iam", "get-role", "--role-name", "nobody", check=False)
    assert b"NoSuchEntity" in missing.stderr and b"The role with name nobody cannot be found." in missing.stderr
    bad_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
         "Resource": "*"}]}
    refused = aws("iam", "create-role", "--role-name", "x", "--assume-role-policy-document",
                  _file(tmp_path, "bad.json", bad_trust), check=False)
    assert b"MalformedPolicyDocument" in refused.stderr and b"Has prohibited field Resource" in refused.stderr


@pytest.fixture
def secured(start_server: Callable[..., Any], tmp_path: Path) -> Any:
    return start_server(tmp_path / "iam-sigv4", "--auth", "sigv4")


def _client(server: Any, service: str, key: str, secret: str) -> Any:
    return boto3.client(service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=BotoConfig(retries={"max_attempts": 1}))


def test_keys_made_by_create_access_key_sign_requests(secured: Any) -> None:
    root = _client(secured, "iam", "test", "test")
    root.create_user(UserName="ana")
    key = root.create_access_key(UserName="ana")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    never = root.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert never == {"ServiceName": "N/A", "Region": "N/A"}

    ana = _client(secured, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    me = ana.get_user()["User"]  # no UserName: the user whose key signed
    assert me["UserName"] == "ana" and me["Arn"] == "arn:aws:iam::000000000000:user/ana"
    _client(secured, "s3", key["AccessKeyId"], key["SecretAccessKey"]).create_bucket(Bucket="anas-bucket")
    used = root.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert used["UserName"] == "ana"
    assert used["AccessKeyLastUsed"]["ServiceName"] == "s3" and used["AccessKeyLastUsed"]["Region"] == "us-east-1"
    assert "LastUsedDate" in used["AccessKeyLastUsed"]

    # The AWS CLI signs with it too.
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
           "AWS_DEFAULT_REGION": "us-east-1"}
    listed = subprocess.run(["aws", "--endpoint-url", secured.endpoint, "--output", "json", "s3api", "list-buckets"],
                            capture_output=True, env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert [b["Name"] for b in json.loads(listed.stdout)["Buckets"]] == ["anas-bucket"]
    whoami = subprocess.run(["aws", "--endpoint-url", secured.endpoint, "--output", "json", "iam", "get-user"],
                            capture_output=True, env=env, timeout=120)
    assert json.loads(whoami.stdout)["User"]["UserName"] == "ana", whoami.stderr

    with pytest.raises(ClientError) as wrong:
        _client(secured, "iam", key["AccessKeyId"], "not-the-secret").get_user()
    assert wrong.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    root.update_access_key(UserName="ana", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert root.list_access_keys(UserName="ana")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    with pytest.raises(ClientError) as inactive:
        ana.get_user()
    assert inactive.value.response["Error"]["Code"] == "InvalidClientTokenId"
    root.update_access_key(UserName="ana", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert ana.get_user()["User"]["UserName"] == "ana"
    root.delete_access_key(UserName="ana", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as deleted:
        ana.get_user()
    assert deleted.value.response["Error"]["Code"] == "InvalidClientTokenId"
