"""Function URLs through boto3 and plain HTTP: the configuration API, and the URL served on Conveyor's port
as `{url-id}.lambda-url.localhost` (Python's resolver does not resolve `*.localhost`, so requests go to
127.0.0.1 and name the URL in the Host header, as curl and browsers send it).

https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html (one URL per function or alias),
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html (payload format 2.0, response mapping),
https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html (NONE needs both permissions since 2025).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"
FORBIDDEN = {"Message": "Forbidden. For troubleshooting Function URL authorization issues, see: "
                        "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}
ECHO = """
import json
def lambda_handler(event, context):
    path = event["rawPath"]
    if path == "/fail":
        raise ValueError("boom")
    if path == "/plain":
        return {"hello": "world"}
    if path == "/bad":
        return {"statusCode": "teapot"}
    if path == "/binary":
        import base64
        return {"statusCode": 201, "isBase64Encoded": True, "body": base64.b64encode(b"\\x00\\x01").decode(),
                "headers": {"content-type": "application/octet-stream", "access-control-allow-origin": "x"},
                "cookies": ["a=1", "b=2; Secure"]}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""


def url_id(config: dict[str, Any]) -> str:
    match = re.fullmatch(r"https://([a-z0-9]{32})\.lambda-url\.us-east-1\.on\.aws/", config["FunctionUrl"])
    assert match, config["FunctionUrl"]
    return match.group(1)


def call(endpoint: str, uid: str, method: str = "GET", path: str = "/", **kwargs: Any) -> requests.Response:
    port = urlsplit(endpoint).port
    headers = {"Host": f"{uid}.lambda-url.localhost:{port}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{endpoint}{path}", headers=headers, timeout=30, **kwargs)


def allow_public(lam: Any, name: str, qualifier: str | None = None) -> None:
    extra = {"Qualifier": qualifier} if qualifier else {}
    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE", **extra)
    lam.add_permission(FunctionName=name, StatementId="invoke", Action="lambda:InvokeFunction", Principal="*",
                       InvokedViaFunctionUrl=True, **extra)


def error_of(call_: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call_(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_url_configs_are_created_read_updated_listed_and_deleted(lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("web", ECHO, Publish=True)
    lam.create_alias(FunctionName="web", Name="live", FunctionVersion="1")
    cors = {"AllowCredentials": True, "AllowHeaders": ["date", "keep-alive"], "AllowMethods": ["*"],
            "AllowOrigins": ["*"], "ExposeHeaders": ["date"], "MaxAge": 86400}
    created = lam.create_function_url_config(FunctionName=f"{ARN}:web", AuthType="AWS_IAM", Cors=cors)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == f"{ARN}:web" and created["AuthType"] == "AWS_IAM"
    assert created["Cors"] == cors and created["InvokeMode"] == "BUFFERED"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", created["CreationTime"])
    uid = url_id(created)
    assert error_of(lam.create_function_url_config, FunctionName="web", AuthType="NONE") == (
        "ResourceConflictException", f"Failed to create function url config for [functionArn = {ARN}:web]. "
        "Error message:  FunctionUrlConfig exists for this Lambda function")
    got = lam.get_function_url_config(FunctionName="web")
    assert url_id(got) == uid and got["LastModifiedTime"] == got["CreationTime"]
    updated = lam.update_function_url_config(FunctionName="web", AuthType="NONE", Cors={"AllowCredentials": False})
    assert updated["Cors"] == {"AllowCredentials": False} and updated["AuthType"] == "NONE"
    assert url_id(updated) == uid  # the URL never changes
    alias_url = lam.create_function_url_config(FunctionName="web", Qualifier="live", AuthType="NONE")
    assert alias_url["FunctionArn"] == f"{ARN}:web:live" and url_id(alias_url) != uid
    listed = lam.list_function_url_configs(FunctionName="web")["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{ARN}:web", f"{ARN}:web:live"]
    # A URL serves $LATEST or an alias: the model refuses a version number, a missing alias is not found.
    assert error_of(lam.create_function_url_config, FunctionName="web", Qualifier="1", AuthType="NONE")[0] == \
        "ValidationException"
    assert error_of(lam.get_function_url_config, FunctionName="web", Qualifier="nope") == (
        "ResourceNotFoundException", f"Function not found: {ARN}:web:nope")
    # Responses are served whole: streaming is refused rather than silently buffered.
    assert error_of(lam.update_function_url_config, FunctionName="web", InvokeMode="RESPONSE_STREAM")[0] == \
        "InvalidParameterValueException"
    lam.delete_function_url_config(FunctionName="web")
    assert error_of(lam.get_function_url_config, FunctionName="web") == (
        "ResourceNotFoundException", "The resource you requested does not exist.")
    lam.delete_alias(FunctionName="web", Name="live")  # its URL goes with it
    assert lam.list_function_url_configs(FunctionName="web")["FunctionUrlConfigs"] == []
    assert error_of(lam.delete_function_url_config, FunctionName="missing")[1] == f"Function not found: {ARN}:missing"


def test_auth_none_needs_both_permissions(endpoint: str, lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("web", ECHO)
    uid = url_id(lam.create_function_url_config(FunctionName="web", AuthType="NONE"))
    refused = call(endpoint, uid)
    assert refused.status_code == 403 and refused.json() == FORBIDDEN
    lam.add_permission(FunctionName="web", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    assert call(endpoint, uid).status_code == 403  # lambda:InvokeFunction too, since October 2025
    policy = json.loads(lam.get_policy(FunctionName="web")["Policy"])
    assert policy["Statement"][0]["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    lam.add_permission(FunctionName="web", StatementId="invoke", Action="lambda:InvokeFunction", Principal="*",
                       InvokedViaFunctionUrl=True)
    policy = json.loads(lam.get_policy(FunctionName="web")["Policy"])
    assert policy["Statement"][1]["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert call(endpoint, uid).status_code == 200
    assert call(endpoint, "a" * 32).status_code == 404  # no such URL


def test_the_event_is_payload_format_2(endpoint: str, lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("web", ECHO)
    uid = url_id(lam.create_function_url_config(FunctionName="web", AuthType="NONE"))
    allow_public(lam, "web")
    port = urlsplit(endpoint).port
    answer = call(endpoint, uid, "POST", "/my/path?x=1&x=2&y=a%20b", data=b'{"k": 1}',
                  headers={"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2", "X-Custom": "yes"})
    assert answer.status_code == 200 and answer.headers["x-amzn-RequestId"]
    event = answer.json()
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path" and event["rawQueryString"] == "x=1&x=2&y=a%20b"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "a b"}
    assert event["cookies"] == ["c1=v1", "c2=v2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "yes" and event["headers"]["host"] == f"{uid}.lambda-url.localhost:{port}"
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    assert event["pathParameters"] is None and event["stageVariables"] is None
    context = event["requestContext"]
    assert context["accountId"] == "anonymous" and context["apiId"] == uid and context["domainPrefix"] == uid
    assert context["domainName"] == f"{uid}.lambda-url.localhost"
    assert context["http"]["method"] == "POST" and context["http"]["path"] == "/my/path"
    assert context["http"]["sourceIp"] == "127.0.0.1" and context["stage"] == "$default"
    assert "authorizer" not in context and isinstance(context["timeEpoch"], int)
    binary = call(endpoint, uid, "PUT", "/echo", data=b"\xff\xfe", headers={"Content-Type": "application/octet-stream"})
    assert binary.json()["isBase64Encoded"] is True and base64.b64decode(binary.json()["body"]) == b"\xff\xfe"
    assert "body" not in call(endpoint, uid).json()  # a request without a body


def test_the_response_is_mapped_as_lambda_maps_it(endpoint: str, lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("web", ECHO)
    uid = url_id(lam.create_function_url_config(FunctionName="web", AuthType="NONE"))
    allow_public(lam, "web")
    inferred = call(endpoint, uid, path="/plain")  # JSON without statusCode: the body of a 200
    assert inferred.status_code == 200 and inferred.json() == {"hello": "world"}
    assert inferred.headers["Content-Type"] == "application/json"
    binary = call(endpoint, uid, path="/binary")
    assert binary.status_code == 201 and binary.content == b"\x00\x01"
    assert binary.headers["Content-Type"] == "application/octet-stream"
    assert binary.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2; Secure"]
    failed = call(endpoint, uid, path="/fail")
    assert failed.status_code == 502 and failed.text == "Internal Server Error"
    assert call(endpoint, uid, path="/bad").status_code == 502


def test_cors_is_answered_by_the_url(endpoint: str, lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("web", ECHO)
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-custom"],
            "ExposeHeaders": ["x-amzn-requestid"], "MaxAge": 600}
    uid = url_id(lam.create_function_url_config(FunctionName="web", AuthType="NONE", Cors=cors))
    allow_public(lam, "web")
    preflight = call(endpoint, uid, "OPTIONS", "/x", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-custom"})
    assert preflight.status_code == 200 and preflight.text == ""  # answered without the function
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert preflight.headers["Access-Control-Allow-Headers"] == "x-custom"
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    other = call(endpoint, uid, "OPTIONS", "/x", headers={"Origin": "https://evil.example",
                                                          "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in other.headers
    actual = call(endpoint, uid, path="/binary", headers={"Origin": "https://app.example"})
    # The function's own access-control-allow-origin ("x") is replaced by the configured one.
    assert actual.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert actual.headers["Access-Control-Expose-Headers"] == "x-amzn-requestid"


def test_aws_iam_urls_need_a_signature(endpoint: str, lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("web", ECHO)
    lam.create_alias(FunctionName="web", Name="live", FunctionVersion="$LATEST")
    uid = url_id(lam.create_function_url_config(FunctionName="web", Qualifier="live", AuthType="AWS_IAM"))
    unsigned = call(endpoint, uid, "POST", "/signed", data=b"hi")
    assert unsigned.status_code == 403 and unsigned.json() == FORBIDDEN
    port = urlsplit(endpoint).port
    request = AWSRequest("POST", f"{endpoint}/signed?q=1", data=b"hi",
                         headers={"Host": f"{uid}.lambda-url.localhost:{port}", "Content-Type": "text/plain"})
    SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    signed = requests.request("POST", request.url, headers=dict(request.headers), data=b"hi", timeout=30)
    assert signed.status_code == 200, signed.text
    event = signed.json()
    assert event["rawPath"] == "/signed" and event["body"] == "hi"
    assert event["requestContext"]["accountId"] == ACCOUNT
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == "test" and iam["userArn"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_the_readme_commands_through_the_cli_and_curl(endpoint: str, aws: Callable[..., Any],
                                                      make_function: Callable[..., Any]) -> None:
    make_function("fn", ECHO)
    config = aws("lambda", "create-function-url-config", "--function-name", "fn", "--auth-type", "NONE")
    uid = url_id(config)
    aws("lambda", "add-permission", "--function-name", "fn", "--statement-id", "url", "--action",
        "lambda:InvokeFunctionUrl", "--principal", "*", "--function-url-auth-type", "NONE")
    aws("lambda", "add-permission", "--function-name", "fn", "--statement-id", "invoke", "--action",
        "lambda:InvokeFunction", "--principal", "*", "--invoked-via-function-url")
    port = urlsplit(endpoint).port
    result = subprocess.run(["curl", "-s", f"http://{uid}.lambda-url.localhost:{port}/hello?a=b"],
                            capture_output=True, timeout=60)
    event = json.loads(result.stdout)
    assert event["rawPath"] == "/hello" and event["queryStringParameters"] == {"a": "b"}


def test_a_region_down_drill_takes_its_urls_down(endpoint: str, lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("web", ECHO)
    uid = url_id(lam.create_function_url_config(FunctionName="web", AuthType="NONE"))
    allow_public(lam, "web")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

    def drill(command: str) -> None:
        subprocess.run([sys.executable, "-m", "conveyor.cli", "drill", command, "us-east-1", "--endpoint", endpoint],
                       check=True, capture_output=True, timeout=60, env=env)

    drill("region-down")
    try:
        down = call(endpoint, uid)
        assert down.status_code == 503 and down.json() == {"Message": "Service Unavailable"}
    finally:
        drill("region-up")
    assert call(endpoint, uid).status_code == 200
