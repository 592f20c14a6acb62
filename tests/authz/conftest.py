"""A live server with `--iam enforce` (and signatures checked), shared by a module's tests and reset for
each; clients signing as the root user or as an IAM user made for the test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from conveyor.app import App
from conveyor.config import Config
from conveyor.control import ControlClient, Credentials
from conveyor.server import serve_in_thread

ACCOUNT = "000000000000"


def client_with(endpoint: str, service: str, key: str, secret: str, token: str | None = None) -> Any:
    config = BotoConfig(retries={"max_attempts": 1}, signature_version="s3v4" if service == "s3" else None,
                        s3={"addressing_style": "path"})
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token, config=config)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def refused(call: Callable[[], Any]) -> tuple[str, str, int]:
    """(code, message, HTTP status) of the error the call fails with."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", ""), caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


@dataclass
class Server:
    endpoint: str
    app: App
    control: ControlClient

    def root(self, service: str) -> Any:
        return client_with(self.endpoint, service, "test", "test")

    def user(self, name: str, *statements: dict[str, Any]) -> Callable[[str], Any]:
        """An IAM user with an access key (and an inline policy of `statements`): its client factory."""
        iam = self.root("iam")
        iam.create_user(UserName=name)
        if statements:
            iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy(*statements))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return lambda service: client_with(self.endpoint, service, key["AccessKeyId"], key["SecretAccessKey"])

    def session(self, credentials: dict[str, Any]) -> Callable[[str], Any]:
        return lambda service: client_with(self.endpoint, service, credentials["AccessKeyId"],
                                           credentials["SecretAccessKey"], credentials["SessionToken"])

    def denials(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control.call("GET", "iam/denials")
        return result


def serve(tmp: Path, iam: str, auth: str = "sigv4") -> Iterator[Server]:
    app = App(Config(data_dir=tmp / "data", port=0, clock="manual", auth=auth, iam=iam))
    with serve_in_thread(app) as url:
        yield Server(url, app, ControlClient(url, Credentials("test", "test")))


@pytest.fixture(scope="module")
def enforcing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory.mktemp("enforce"), "enforce")


@pytest.fixture
def server(enforcing: Server) -> Server:
    enforcing.control.call("POST", "reset")
    return enforcing
