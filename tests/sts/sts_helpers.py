"""Shared by the STS tests: a user with keys, a role it may assume, clients signing with given keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

ACCOUNT = "000000000000"


def trust(principal: dict[str, Any], actions: str | list[str] = "sts:AssumeRole",
          condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": actions}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def client_with(endpoint: str, service: str, key: str, secret: str, token: str | None = None,
                region: str = "us-east-1", config: BotoConfig | None = None) -> Any:
    config = BotoConfig(retries={"max_attempts": 1}, signature_version="s3v4" if service == "s3" else None).merge(
        config or BotoConfig())
    return boto3.client(service, endpoint_url=endpoint, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token, config=config)


def session_client(endpoint: str, service: str, credentials: dict[str, Any], region: str = "us-east-1") -> Any:
    """A client signing with temporary credentials as AssumeRole/GetSessionToken return them."""
    return client_with(endpoint, service, credentials["AccessKeyId"], credentials["SecretAccessKey"],
                       credentials["SessionToken"], region)


def user_with_key(iam: Any, name: str) -> dict[str, str]:
    iam.create_user(UserName=name)
    return iam.create_access_key(UserName=name)["AccessKey"]


def user_and_role(iam: Any, endpoint: str, user: str = "ana", role: str = "deployer",
                  **role_options: Any) -> tuple[Callable[[str], Any], str]:
    """A user `user` with a key and a role `role` that trusts it; returns (client factory for the user,
    role ARN)."""
    key = user_with_key(iam, user)
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{user}"}), **role_options)["Role"]["Arn"]

    def as_user(service: str) -> Any:
        return client_with(endpoint, service, key["AccessKeyId"], key["SecretAccessKey"])

    return as_user, arn
