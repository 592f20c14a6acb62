"""Functions run as their execution role: Lambda refuses a role it cannot assume, and every environment
gets a session of the role in its variables (named after the function), renewed with the environment
before it expires, so that what a function does is attributable to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
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
from tests.conftest import LAMBDA_TRUST, lambda_role
from tests.lambda_.conftest import ROLE, make_zip

CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."
WHO_AM_I = """
import os
import boto3

def lambda_handler(event, context):
    who = boto3.client("sts").get_caller_identity()
    return {"arn": who["Arn"], "user_id": who["UserId"], "key": os.environ["AWS_ACCESS_KEY_ID"],
            "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
"""


def invoke(lam: Any, name: str) -> dict[str, Any]:
    out = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def refused(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_role_lambda_cannot_assume_is_refused(lam: Any, client: Callable[..., Any], aws: Any,
                                                tmp_path: Path) -> None:
    code = {"ZipFile": make_zip(WHO_AM_I)}
    common = {"Runtime": "python3.12", "Handler": "lambda_function.lambda_handler", "Code": code}
    missing = "arn:aws:iam::000000000000:role/never-made"
    assert refused(lambda: lam.create_function(FunctionName="f", Role=missing, **common)) == (
        "InvalidParameterValueException", CANNOT_ASSUME)
    # Another account's role, whatever it trusts: AWS's 403 (aws/aws-toolkit-azure-devops#546).
    with pytest.raises(ClientError) as caught:
        lam.create_function(FunctionName="f", Role="arn:aws:iam::111122223333:role/theirs", **common)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused(lambda: lam.create_function(FunctionName="f", Role="arn:aws:iam::111122223333:role/theirs",
                                               **common)) == ("AccessDeniedException",
                                                              "Cross-account pass role is not allowed.")
    iam = client("iam")
    ec2_only = iam.create_role(RoleName="instance", AssumeRolePolicyDocument=LAMBDA_TRUST.replace(
        "lambda.amazonaws.com", "ec2.amazonaws.com"))["Role"]["Arn"]
    assert refused(lambda: lam.create_function(FunctionName="f", Role=ec2_only, **common))[1] == CANNOT_ASSUME
    package = tmp_path / "f.zip"
    package.write_bytes(code["ZipFile"])
    cli = aws("lambda", "create-function", "--function-name", "f", "--runtime", "python3.12", "--handler",
              "lambda_function.lambda_handler", "--role", missing, "--zip-file", f"fileb://{package}", check=False)
    assert cli.returncode != 0
    assert f"(InvalidParameterValueException) when calling the CreateFunction operation: {CANNOT_ASSUME}" in \
        cli.stderr.decode()

    lam.create_function(FunctionName="f", Role=ROLE, **common)
    assert refused(lambda: lam.update_function_configuration(FunctionName="f", Role=ec2_only))[1] == CANNOT_ASSUME
    assert refused(lambda: lam.update_function_configuration(
        FunctionName="f", Role="arn:aws:iam::111122223333:role/theirs"))[1] == "Cross-account pass role is not allowed."
    assert lam.get_function_configuration(FunctionName="f")["Role"] == ROLE


def test_a_function_calls_aws_as_its_role_session(lam: Any, make_function: Any, aws: Any, tmp_path: Path) -> None:
    make_function("whoami", WHO_AM_I, Timeout=30)
    me = invoke(lam, "whoami")
    role_id = aws("iam", "get-role", "--role-name", "r")["Role"]["RoleId"]
    assert me["arn"] == "arn:aws:sts::000000000000:assumed-role/r/whoami"  # the session is the function's name
    assert me["user_id"] == f"{role_id}:whoami"
    assert me["key"].startswith("ASIA") and me["token"]
    # Through the AWS CLI too.
    out = tmp_path / "out.json"
    aws("lambda", "invoke", "--function-name", "whoami", str(out))
    assert json.loads(out.read_text())["arn"] == me["arn"]


def test_a_deleted_role_fails_the_next_cold_start(lam: Any, make_function: Any, client: Callable[..., Any]) -> None:
    make_function("orphan", "def lambda_handler(e, c):\n    return 1\n")
    client("iam").delete_role(RoleName="r")
    assert refused(lambda: lam.invoke(FunctionName="orphan", Payload=b"{}")) == (
        "InvalidParameterValueException", CANNOT_ASSUME)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[str, ControlClient]]:
    app = App(Config(data_dir=tmp_path / "data", port=0, clock="manual", auth="sigv4"))
    with serve_in_thread(app) as url:
        yield url, ControlClient(url, Credentials("test", "test"))


def test_environments_renew_their_session_before_it_expires_under_sigv4(secured: tuple[str, ControlClient]) -> None:
    """Every call a function makes is signed with its session and checked; an environment is not used
    once its session is about to end: the next invocation starts one with a new session."""
    endpoint, control = secured
    options: dict[str, Any] = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "test",
                               "aws_secret_access_key": "test", "config": BotoConfig(retries={"max_attempts": 1})}
    lambda_role(boto3.client("iam", **options))
    lam = boto3.client("lambda", **options)
    lam.create_function(FunctionName="whoami", Role=ROLE, Runtime="python3.12", Timeout=30,
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip(WHO_AM_I)})
    first = invoke(lam, "whoami")
    assert first["arn"] == "arn:aws:sts::000000000000:assumed-role/r/whoami"
    assert invoke(lam, "whoami")["key"] == first["key"]  # the same warm environment, the same session

    control.call("POST", "clock", {"advance": 12 * 3600 - 60})  # the session ends in a minute
    renewed = invoke(lam, "whoami")  # its calls are accepted: it is a new environment with a new session
    assert renewed["key"] != first["key"] and renewed["arn"] == first["arn"]
    health = control.call("GET", "health")["services"]["lambda"]["concurrency"]["whoami"]
    assert health["cold_starts"] == 2
