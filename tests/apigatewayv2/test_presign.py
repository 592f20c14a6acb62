"""The presign endpoint: the web lab through curl and the AWS CLI with the default pipeline, and an `api:`
section with limits (content types, size, POST policies) applied to a running server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from conveyor.pipeline.spec import PipelineError, parse
from tests.apigatewayv2.conftest import Invoker
from tests.conftest import run_aws
from tests.helpers import wait_for


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["curl", "-s", *args], capture_output=True, timeout=60, check=True)


def test_the_web_lab_through_curl(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--with-pipeline", console=console)
    # `conveyor up` prints the presign endpoint once the pipeline is applied
    url = wait_for(lambda: re.search(r"endpoint: POST (http://\S+/prod/presign)", console.read_text()))[1]
    assert re.fullmatch(rf"http://[a-z0-9]{{10}}\.execute-api\.localhost:{server.port}/prod/presign", url)
    presign = json.loads(curl("-X", "POST", url).stdout)
    key = presign["s3Key"]
    assert re.fullmatch(r"uploads/[0-9a-f]{32}", key)
    assert presign["uploadUrl"].startswith(f"http://localhost:{server.port}/conveyor-uploads/{key}?")
    upload = curl("-i", "-X", "PUT", presign["uploadUrl"], "--data-binary", "hello-lab").stdout.decode()
    assert upload.startswith("HTTP/1.1 200 OK"), upload
    moved = key.replace("uploads/", "processed/")
    listing = wait_for(lambda: moved.rsplit("/", 1)[1] in run_aws(server.endpoint, "s3", "ls",
                                                                 "s3://conveyor-uploads/processed/"))
    assert listing
    assert server.client("s3").get_object(Bucket="conveyor-uploads", Key=moved)["Body"].read() == b"hello-lab"
    # a browser on the configured origin may ask, and may upload to the bucket
    preflight = curl("-i", "-X", "OPTIONS", url, "-H", "Origin: http://localhost:8080",
                     "-H", "Access-Control-Request-Method: POST").stdout.decode()
    assert "HTTP/1.1 204" in preflight and "access-control-allow-origin: http://localhost:8080" in preflight
    rules = server.client("s3").get_bucket_cors(Bucket="conveyor-uploads")["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["http://localhost:8080", "http://127.0.0.1:8080"]
    assert rules[0]["AllowedMethods"] == ["PUT"]


PIPELINE = """
buckets:
  - name: photos
    prefixes: [incoming/]
api:
  name: photo-web
  presign:
    prefix: incoming/
    expires: 60
    max_size: 100
    content_types: [image/png, image/jpeg]
    method: {method}
  cors:
    allow_origins: ["http://localhost:3000"]
"""


def apply(endpoint: str, tmp_path: Path, text: str) -> str:
    file = tmp_path / "conveyor.yaml"
    file.write_text(text)
    result = subprocess.run([sys.executable, "-m", "conveyor.cli", "apply", "--pipeline", str(file), "--endpoint",
                             endpoint], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def endpoint_of(output: str) -> tuple[str, str]:
    """(API id, path) of the printed presign endpoint."""
    match = re.search(r"endpoint: POST http://([a-z0-9]+)\.execute-api\.localhost:\d+(/\S*)", output)
    assert match is not None, output
    return match[1], match[2]


def test_presigned_put_with_limits(endpoint: str, tmp_path: Path, invoke: Invoker, client: Any) -> None:
    output = apply(endpoint, tmp_path, PIPELINE.format(method="PUT"))
    assert "created HTTP API photo-web" in output and "created function presign" in output
    api_id, path = endpoint_of(output)
    assert path == "/presign"  # the $default stage: no stage in the URL
    ask = lambda doc: invoke.call("POST", api_id, path, json=doc)  # noqa: E731
    refused = ask({"contentType": "text/html", "size": 10})
    assert refused.status_code == 400 and "image/png, image/jpeg" in refused.json()["message"]
    assert ask({"contentType": "image/png", "size": 1000}).status_code == 400  # larger than max_size
    assert "size is required" in ask({"contentType": "image/png"}).json()["message"]
    answer = ask({"contentType": "image/png", "size": 5, "filename": "../my photo.png"})
    assert answer.status_code == 200
    doc = answer.json()
    assert re.fullmatch(r"incoming/[0-9a-f]{32}-my-photo\.png", doc["s3Key"]) and doc["expiresIn"] == 60
    assert "content-type" in doc["uploadUrl"].lower()  # the declared type is signed into the URL
    put = requests.put(doc["uploadUrl"], data=b"12345", headers={"Content-Type": "image/png"}, timeout=30)
    assert put.status_code == 200
    got = client("s3").get_object(Bucket="photos", Key=doc["s3Key"])
    assert got["ContentType"] == "image/png" and got["Body"].read() == b"12345"
    # asked through the API's AWS host name, the URL names S3's own host name on the same port
    aws_host = invoke.call("POST", api_id, path, json={"contentType": "image/png", "size": 5}, headers={
        "Host": f"{api_id}.execute-api.us-east-1.amazonaws.com:{invoke.port}"}).json()
    assert aws_host["uploadUrl"].startswith(f"http://s3.us-east-1.amazonaws.com:{invoke.port}/photos/incoming/")
    again = apply(endpoint, tmp_path, PIPELINE.format(method="PUT"))
    assert "nothing to change" in again and "endpoint: POST" in again


def test_presigned_post_policy_enforces_the_limits(endpoint: str, tmp_path: Path, invoke: Invoker,
                                                  client: Any) -> None:
    api_id, path = endpoint_of(apply(endpoint, tmp_path, PIPELINE.format(method="POST")))
    doc = invoke.call("POST", api_id, path, json={"contentType": "image/jpeg"}).json()
    assert doc["method"] == "POST" and doc["fields"]["key"] == doc["s3Key"]
    url, fields = doc["uploadUrl"], doc["fields"]
    too_big = requests.post(url, data=fields, files={"file": ("a.jpg", b"x" * 101)}, timeout=30)
    assert too_big.status_code == 400 and b"EntityTooLarge" in too_big.content
    ok = requests.post(url, data=fields, files={"file": ("a.jpg", b"x" * 10)}, timeout=30)
    assert ok.status_code == 204, ok.content
    assert client("s3").head_object(Bucket="photos", Key=doc["s3Key"])["ContentLength"] == 10


@pytest.mark.parametrize(("text", "line", "words"), [
    ("api: {stage: 'a b'}", 1, "api.stage"),
    ("buckets: [{name: b}]\napi:\n  presign:\n    method: GET\n", 4, "api.presign.method must be PUT"),
    ("buckets: [{name: b}]\napi:\n  presign:\n    prefix: up\n", 4, "must end in '/'"),
    ("buckets: [{name: a}, {name: b}]\napi:\n  presign: {expires: 5}\n", 3, "'bucket' is required"),
    ("api:\n  routes:\n    - route: GET x\n      function: f\n", 3, "is not a route key"),
    ("api:\n  routes:\n    - route: GET /x\n      function: f\n", 3, "function 'f' is not defined"),
    ("api:\n  cors:\n    allow_origins: '*'\n    allow_credentials: true\n", 4, "allow_credentials"),
    ("api:\n  colour: blue\n", 2, "unknown setting 'colour'"),
])
def test_api_section_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PipelineError) as caught:
        parse(text)
    assert f"conveyor.yaml:{line}:" in str(caught.value) and words in str(caught.value), str(caught.value)
