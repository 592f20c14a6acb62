"""API Gateway fixtures: the clients, an echo function behind an API, and calls to invoke URLs.

`*.localhost` names resolve to loopback in browsers and curl but not through this machine's resolver, so
Python calls connect to 127.0.0.1 and name the API in the Host header, which is what curl sends too.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import lambda_role

ACCOUNT = "000000000000"
PRINCIPAL = "apigateway.amazonaws.com"

# One function answers every kind of response the tests need, chosen by the last segment of the path.
ECHO = '''
import base64, json, time

def handler(event, context):
    path = event.get("rawPath") or event.get("path") or ""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if last == "boom":
        raise RuntimeError("boom")
    if last == "slow":
        time.sleep(3)
        print("slow one done")
        return {"statusCode": 200, "body": "late"}
    if last == "plain":
        return {"hello": "world"}
    if last == "text":
        return "just text"
    if last == "binary":
        return {"statusCode": 201, "headers": {"content-type": "application/octet-stream", "x-one": 1},
                "cookies": ["s=1; Path=/", "t=2"], "body": base64.b64encode(b"\\x00\\x01\\xff").decode(),
                "isBase64Encoded": True}
    if last == "bad":
        return {"statusCode": "two hundred"}
    if last == "nocontenttype":
        return {"statusCode": 202, "body": "accepted"}
    return {"statusCode": 200, "headers": {"content-type": "application/json",
                                           "access-control-allow-origin": "https://ignored.example"},
            "body": json.dumps(event)}
'''


def zip_source(source: str, name: str = "echo.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, textwrap.dedent(source))
    return buffer.getvalue()


@pytest.fixture
def gw(client: Callable[..., Any]) -> Any:
    return client("apigatewayv2")


@pytest.fixture
def lam(client: Callable[..., Any]) -> Any:
    return client("lambda")


@pytest.fixture
def echo(client: Callable[..., Any], lam: Any) -> str:
    """The echo function's ARN."""
    role = lambda_role(client("iam"), "r")
    config = lam.create_function(FunctionName="echo", Runtime="python3.12", Role=role, Handler="echo.handler",
                                 Code={"ZipFile": zip_source(ECHO)}, Timeout=10)
    return str(config["FunctionArn"])


def allow(lam: Any, api_id: str, function: str = "echo", source: str = "*/*", sid: str = "apigw") -> None:
    """The permission `aws lambda add-permission` gives API Gateway, for routes matching `source`."""
    lam.add_permission(FunctionName=function, StatementId=sid, Action="lambda:InvokeFunction", Principal=PRINCIPAL,
                       SourceArn=f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/{source}")


@dataclass
class Invoker:
    endpoint: str

    @property
    def port(self) -> int:
        return int(urlsplit(self.endpoint).port or 80)

    def host(self, api_id: str) -> str:
        return f"{api_id}.execute-api.localhost:{self.port}"

    def call(self, method: str, api_id: str, path: str, *, headers: dict[str, str] | None = None,
             **kwargs: Any) -> requests.Response:
        """A request to http://{api_id}.execute-api.localhost:{port}{path}."""
        sent = {"Host": self.host(api_id), **(headers or {})}
        return requests.request(method, f"{self.endpoint}{path}", headers=sent, timeout=30, **kwargs)


@pytest.fixture
def invoke(endpoint: str) -> Invoker:
    return Invoker(endpoint)


@pytest.fixture
def quick_api(gw: Any, lam: Any, echo: str) -> str:
    """An API quick-created on the echo function (route $default, stage $default), allowed to invoke it."""
    api_id = str(gw.create_api(Name="echo-api", ProtocolType="HTTP", Target=echo)["ApiId"])
    allow(lam, api_id)
    return api_id
