"""The architecture's web lab end to end, through curl and the AWS CLI as its readers type them: presign
an upload, PUT it, the worker moves it to processed/, and users download it through the distribution over
HTTPS (Miss, then Hit) while the bucket stays private; an invalidation makes the next read a Miss."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.apigatewayv2.test_presign import wait_for
from tests.conftest import CLI_ENV


def curl(*args: str) -> str:
    """curl's answer with its headers (`-i`); curl resolves `*.localhost` to loopback itself."""
    return subprocess.run(["curl", "-s", "-i", *args], capture_output=True, timeout=60, check=True).stdout.decode()


def test_presign_upload_process_and_download_through_the_edge(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--with-pipeline", console=console)
    ca = str(tmp_path / "data" / "tls" / "ca.pem")
    port = server.port
    https = f"https://localhost:{port}"

    def aws(*args: str) -> Any:
        env = {**os.environ, **CLI_ENV, "AWS_CA_BUNDLE": ca}
        result = subprocess.run(["aws", "--endpoint-url", https, "--output", "json", *args], capture_output=True,
                                env=env, timeout=120)
        assert result.returncode == 0, result.stderr.decode()
        out = result.stdout.decode()
        return json.loads(out) if out.strip().startswith("{") else out

    url = wait_for(lambda: re.search(r"endpoint: POST http://(\S+)", console.read_text()))[1]
    presign = json.loads(curl("--cacert", ca, "-X", "POST", f"https://{url}").split("\r\n\r\n", 1)[1])
    assert presign["uploadUrl"].startswith(f"https://localhost:{port}/conveyor-uploads/uploads/")  # asked over TLS
    upload = curl("--cacert", ca, "-X", "PUT", presign["uploadUrl"], "--data-binary", "hello-edge")
    assert upload.startswith("HTTP/1.1 200 OK"), upload
    moved = presign["s3Key"].replace("uploads/", "processed/")
    wait_for(lambda: moved.rsplit("/", 1)[1] in aws("s3", "ls", "s3://conveyor-uploads/processed/"))

    oac = aws("cloudfront", "create-origin-access-control", "--origin-access-control-config",
              "Name=uploads,SigningProtocol=sigv4,SigningBehavior=always,OriginAccessControlOriginType=s3")
    config = tmp_path / "distribution.json"
    config.write_text(json.dumps({
        "CallerReference": "web-lab", "Comment": "downloads", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "uploads", "DomainName": "conveyor-uploads.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "OriginAccessControlId": oac["OriginAccessControl"]["Id"]}]},
        "DefaultCacheBehavior": {"TargetOriginId": "uploads", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}))
    distribution = aws("cloudfront", "create-distribution", "--distribution-config", f"file://{config}")["Distribution"]
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::conveyor-uploads/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution["ARN"]}}}]}))
    aws("s3api", "put-bucket-policy", "--bucket", "conveyor-uploads", "--policy", f"file://{policy}")

    edge = f"{distribution['DomainName']}:{port}/{moved}"
    redirected = curl(f"http://{edge}")
    assert redirected.startswith("HTTP/1.1 301") and f"Location: https://{edge}" in redirected
    first = curl("--cacert", ca, f"https://{edge}")
    assert first.startswith("HTTP/1.1 200") and "X-Cache: Miss from cloudfront" in first
    assert first.endswith("hello-edge")
    second = curl("--cacert", ca, f"https://{edge}")
    assert "X-Cache: Hit from cloudfront" in second and second.endswith("hello-edge")
    direct = curl("--cacert", ca, f"{https}/conveyor-uploads/{moved}")
    assert direct.startswith("HTTP/1.1 403") and "<Code>AccessDenied</Code>" in direct

    aws("cloudfront", "create-invalidation", "--distribution-id", distribution["Id"], "--paths", "/processed/*")
    again = curl("--cacert", ca, f"https://{edge}")
    assert "X-Cache: Miss from cloudfront" in again and again.endswith("hello-edge")
