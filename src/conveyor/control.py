"""A client for Conveyor's own API (/_conveyor/*), used by the `conveyor` command, `conveyor apply` and
the demo. It signs every call with SigV4 (service name `conveyor`), as any AWS client signs its calls,
so it works against a server started with `--auth sigv4`.

Credentials, the first found: explicit values (the command's --access-key / --secret-key), the server's
own variables (CONVEYOR_ACCESS_KEY_ID / CONVEYOR_SECRET_ACCESS_KEY), the AWS ones (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY, as `conveyor up` prints them), else the default test / test.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from conveyor.config import DEFAULT_KEY
from conveyor.gateway.sigv4 import CONVEYOR_SERVICE

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    region: str = DEFAULT_REGION


def resolve_credentials(access_key: str | None = None, secret_key: str | None = None,
                        region: str | None = None) -> Credentials:
    env = os.environ
    if access_key is None or secret_key is None:
        for key_var, secret_var in (("CONVEYOR_ACCESS_KEY_ID", "CONVEYOR_SECRET_ACCESS_KEY"),
                                    ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")):
            if env.get(key_var) and env.get(secret_var):
                access_key = access_key or env[key_var]
                secret_key = secret_key or env[secret_var]
                break
    region = region or env.get("CONVEYOR_REGION") or env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION")
    return Credentials(access_key or DEFAULT_KEY, secret_key or DEFAULT_KEY, region or DEFAULT_REGION)


class ControlError(Exception):
    """The server refused a call (`status` is its HTTP status) or could not be reached (`status` 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ControlClient:
    def __init__(self, endpoint: str, credentials: Credentials | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.credentials = credentials or resolve_credentials()

    def signed_request(self, method: str, path: str, payload: Any = None) -> urllib.request.Request:
        """The request for `METHOD /_conveyor/PATH` with a JSON body, signed."""
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        aws_request = AWSRequest(method=method, url=f"{self.endpoint}/_conveyor/{path}", data=body, headers=headers)
        creds = self.credentials
        SigV4Auth(BotoCredentials(creds.access_key, creds.secret_key), CONVEYOR_SERVICE,
                  creds.region).add_auth(aws_request)
        prepared = aws_request.prepare()
        return urllib.request.Request(prepared.url, data=body or None, method=method,
                                      headers={k: str(v) for k, v in prepared.headers.items()})

    def call(self, method: str, path: str, payload: Any = None, timeout: float = 30) -> Any:
        request = self.signed_request(method, path, payload)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw or b"{}").get("message") or exc.reason
            except (ValueError, AttributeError):
                message = exc.reason
            if exc.code == 403:
                message = (f"{message} (the server checks signatures: give the command its credentials with "
                           "--access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
            raise ControlError(exc.code, str(message))
        except (urllib.error.URLError, OSError) as exc:
            raise ControlError(0, f"no server at {self.endpoint} ({exc})")
