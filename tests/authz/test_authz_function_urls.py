"""Function URLs of AuthType AWS_IAM under `--iam enforce` (and `--auth sigv4`): the signed caller needs
lambda:InvokeFunctionUrl and lambda:InvokeFunction on the function
(https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html#urls-auth-iam); a bad signature is refused
before anything runs."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any
from urllib.parse import urlsplit

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.authz.conftest import ACCOUNT, Server, allow
from tests.conftest import lambda_role

FORBIDDEN = {"Message": "Forbidden. For troubleshooting Function URL authorization issues, see: "
                        "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}


def package() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", "def lambda_handler(event, context):\n"
                                          "    return {'caller': event['requestContext']['authorizer']['iam']['userArn']}\n")
    return buf.getvalue()


def signed_get(server: Server, uid: str, key: str, secret: str) -> requests.Response:
    port = urlsplit(server.endpoint).port
    request = AWSRequest("GET", f"{server.endpoint}/", headers={"Host": f"{uid}.lambda-url.localhost:{port}"})
    SigV4Auth(Credentials(key, secret), "lambda", "us-east-1").add_auth(request)
    return requests.get(request.url, headers=dict(request.headers), timeout=30)


def test_aws_iam_url_judges_the_signed_caller(server: Server) -> None:
    lam, iam = server.root("lambda"), server.root("iam")
    role = lambda_role(iam, "exec")
    lam.create_function(FunctionName="web", Runtime="python3.12", Role=role, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": package()})
    url = lam.create_function_url_config(FunctionName="web", AuthType="AWS_IAM")["FunctionUrl"]
    uid = urlsplit(url).hostname.split(".")[0]  # type: ignore[union-attr]
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:web"
    keys: dict[str, dict[str, Any]] = {}
    for name, statements in (("nobody", []), ("url-only", [allow("lambda:InvokeFunctionUrl", arn)]),
                             ("both", [allow(["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"], arn)])):
        iam.create_user(UserName=name)
        if statements:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": statements}))
        keys[name] = iam.create_access_key(UserName=name)["AccessKey"]
    for name in ("nobody", "url-only"):
        refused = signed_get(server, uid, keys[name]["AccessKeyId"], keys[name]["SecretAccessKey"])
        assert refused.status_code == 403 and refused.json() == FORBIDDEN, name
    allowed = signed_get(server, uid, keys["both"]["AccessKeyId"], keys["both"]["SecretAccessKey"])
    assert allowed.status_code == 200, allowed.text
    assert allowed.json() == {"caller": f"arn:aws:iam::{ACCOUNT}:user/both"}
    assert signed_get(server, uid, keys["both"]["AccessKeyId"], "wrong-secret").status_code == 403
    assert requests.get(f"{server.endpoint}/", headers={"Host": f"{uid}.lambda-url.localhost"},
                        timeout=30).status_code == 403  # unsigned
