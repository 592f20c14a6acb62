"""Temporary credentials under `--auth sigv4`: accepted with their session token (header or presigned
query parameter) until they expire on the server's clock, refused with each protocol's own error
otherwise, valid in every region, and still valid after kill -9 and a restart."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from sts_helpers import ACCOUNT, client_with, session_client, user_and_role

from conveyor.app import App
from conveyor.config import Config
from conveyor.control import ControlClient, Credentials
from conveyor.server import serve_in_thread


@dataclass
class Secured:
    endpoint: str
    control: ControlClient

    def root(self, service: str) -> Any:
        return client_with(self.endpoint, service, "test", "test")

    def advance(self, seconds: float) -> None:
        self.control.call("POST", "clock", {"advance": seconds})


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    app = App(Config(data_dir=tmp_path / "data", port=0, clock="manual", auth="sigv4"))
    with serve_in_thread(app) as url:
        yield Secured(url, ControlClient(url, Credentials("test", "test")))


def code_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", ""), caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def cli(endpoint: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(["aws", "--endpoint-url", endpoint, "--output", "json", *args], capture_output=True,
                          text=True, env={**clean, "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", **env},
                          timeout=120)


def test_the_cli_assumes_a_role_and_signs_with_the_session_until_it_expires(secured: Secured) -> None:
    iam = secured.root("iam")
    as_ana, arn = user_and_role(iam, secured.endpoint)
    key = as_ana("sts")._request_signer._credentials
    user_env = {"AWS_ACCESS_KEY_ID": key.access_key, "AWS_SECRET_ACCESS_KEY": key.secret_key}
    assumed = cli(secured.endpoint, user_env, "sts", "assume-role", "--role-arn", arn,
                  "--role-session-name", "cli-session", "--duration-seconds", "900")
    assert assumed.returncode == 0, assumed.stderr
    creds = json.loads(assumed.stdout)["Credentials"]
    session_env = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                   "AWS_SESSION_TOKEN": creds["SessionToken"]}
    who = cli(secured.endpoint, session_env, "sts", "get-caller-identity")
    assert json.loads(who.stdout)["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/cli-session"
    made = cli(secured.endpoint, session_env, "sqs", "create-queue", "--queue-name", "from-a-session")
    assert made.returncode == 0, made.stderr

    no_token = cli(secured.endpoint, {**session_env, "AWS_SESSION_TOKEN": ""}, "sts", "get-caller-identity")
    assert "(InvalidClientTokenId)" in no_token.stderr
    assert "The security token included in the request is invalid." in no_token.stderr

    secured.advance(901)
    expired = cli(secured.endpoint, session_env, "sts", "get-caller-identity")
    assert expired.returncode != 0
    assert "An error occurred (ExpiredToken) when calling the GetCallerIdentity operation: The security token " \
           "included in the request is expired" in expired.stderr
    # The user's own long-term key is unaffected.
    assert cli(secured.endpoint, user_env, "sts", "get-caller-identity").returncode == 0


def test_each_protocol_refuses_a_wrong_missing_or_expired_token_in_its_own_words(secured: Secured) -> None:
    root_s3 = secured.root("s3")
    root_s3.create_bucket(Bucket="kept")
    as_ana, arn = user_and_role(secured.root("iam"), secured.endpoint)
    creds = as_ana("sts").assume_role(RoleArn=arn, RoleSessionName="job", DurationSeconds=900)["Credentials"]
    good = {"sqs": session_client(secured.endpoint, "sqs", creds), "s3": session_client(secured.endpoint, "s3", creds),
            "lambda": session_client(secured.endpoint, "lambda", creds),
            "sts": session_client(secured.endpoint, "sts", creds)}
    assert good["sqs"].list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [b["Name"] for b in good["s3"].list_buckets()["Buckets"]] == ["kept"]
    assert good["lambda"].list_functions()["Functions"] == []

    wrong = {**creds, "SessionToken": creds["SessionToken"][:-4] + "AAAA"}
    missing = {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"], "SessionToken": None}
    invalid = "The security token included in the request is invalid."
    assert code_of(session_client(secured.endpoint, "sqs", wrong).list_queues) == ("InvalidClientTokenId", invalid, 403)
    assert code_of(session_client(secured.endpoint, "sts", wrong).get_caller_identity)[0] == "InvalidClientTokenId"
    assert code_of(session_client(secured.endpoint, "s3", wrong).list_buckets) == (
        "InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
    assert code_of(session_client(secured.endpoint, "s3", missing).list_buckets)[0] == "InvalidAccessKeyId"
    assert code_of(session_client(secured.endpoint, "sqs", missing).list_queues)[0] == "InvalidClientTokenId"
    # A token with a long-term key is refused too.
    with_token = client_with(secured.endpoint, "sqs", "test", "test", token=creds["SessionToken"])
    assert code_of(with_token.list_queues)[0] == "InvalidClientTokenId"

    secured.advance(900)
    expired = "The security token included in the request is expired"
    assert code_of(good["sqs"].list_queues) == ("ExpiredToken", expired, 403)  # JSON, query-compatible code
    assert code_of(good["sts"].get_caller_identity) == ("ExpiredToken", expired, 403)
    assert code_of(good["lambda"].list_functions) == ("ExpiredTokenException", expired, 403)
    assert code_of(good["s3"].list_buckets) == ("ExpiredToken", "The provided token has expired.", 400)


def test_a_presigned_url_carries_its_session_token(secured: Secured) -> None:
    secured.root("s3").create_bucket(Bucket="shared")
    secured.root("s3").put_object(Bucket="shared", Key="k", Body=b"hello")
    as_ana, arn = user_and_role(secured.root("iam"), secured.endpoint)
    creds = as_ana("sts").assume_role(RoleArn=arn, RoleSessionName="job")["Credentials"]
    s3 = session_client(secured.endpoint, "s3", creds)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "shared", "Key": "k"}, ExpiresIn=7200)
    assert "X-Amz-Security-Token=" in url
    assert requests.get(url, timeout=10).content == b"hello"
    tampered = url.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=A")
    assert requests.get(tampered, timeout=10).status_code in (400, 403)
    secured.advance(3600)
    late = requests.get(url, timeout=10)
    assert late.status_code == 400 and b"<Code>ExpiredToken</Code>" in late.content


def test_credentials_from_one_regional_endpoint_work_in_every_region(secured: Secured) -> None:
    as_ana, arn = user_and_role(secured.root("iam"), secured.endpoint)
    key = as_ana("sts")._request_signer._credentials
    west = client_with(secured.endpoint, "sts", key.access_key, key.secret_key, region="us-west-2")
    creds = west.assume_role(RoleArn=arn, RoleSessionName="job")["Credentials"]
    for region in ("eu-west-1", "ap-southeast-2"):
        sqs = session_client(secured.endpoint, "sqs", creds, region=region)
        url = sqs.create_queue(QueueName=f"in-{region}")["QueueUrl"]
        assert region in url


def test_sessions_survive_kill_9_and_a_restart(start_server: Callable[..., Any], tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--auth", "sigv4")
    as_ana, arn = user_and_role(server.client("iam"), server.endpoint)
    creds = as_ana("sts").assume_role(RoleArn=arn, RoleSessionName="durable")["Credentials"]
    token = as_ana("sts").get_session_token()["Credentials"]
    server.kill()
    again = start_server(tmp_path / "data", "--auth", "sigv4", port=server.port)
    assert session_client(again.endpoint, "sts", creds).get_caller_identity()["Arn"].endswith("/deployer/durable")
    assert session_client(again.endpoint, "sts", token).get_caller_identity()["Arn"] == \
        f"arn:aws:iam::{ACCOUNT}:user/ana"
    boto3.client("sts", endpoint_url=again.endpoint, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test", config=BotoConfig(retries={"max_attempts": 1})).get_caller_identity()


def test_web_identity_is_answered_unsigned_and_other_calls_are_not(secured: Secured) -> None:
    """AssumeRoleWithWebIdentity is unsigned on AWS (the token is the proof): under `--auth sigv4` it gets
    STS's own answer, while any other unsigned call is refused."""
    form = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleSessionName": "ci",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/ci", "WebIdentityToken": "not-a-jwt"}
    answered = requests.post(secured.endpoint + "/", data=form, timeout=10)
    assert answered.status_code == 400 and b"<Code>InvalidIdentityToken</Code>" in answered.content
    refused = requests.post(secured.endpoint + "/", data={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
                            timeout=10)
    assert refused.status_code == 403 and b"<Code>MissingAuthenticationToken</Code>" in refused.content
