"""Shared pieces of the CloudFront tests: clients, a private bucket, and distribution configs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # Managed-CachingOptimized
DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled


@pytest.fixture
def cf(client: Callable[..., Any]) -> Any:
    return client("cloudfront")


@pytest.fixture
def s3(client: Callable[..., Any]) -> Any:
    return client("s3")


def distribution_config(bucket: str, oac_id: str = "", *, policy: str = OPTIMIZED, enabled: bool = True,
                        viewer: str = "allow-all", **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "CallerReference": str(uuid.uuid4()), "Comment": "", "Enabled": enabled,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "s3", "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac_id}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": viewer, "CachePolicyId": policy},
    }
    config.update(extra)
    return config


def create_oac(cf: Any, name: str = "oac", signing: str = "always") -> str:
    return str(cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": name, "SigningProtocol": "sigv4", "SigningBehavior": signing,
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"])


def allow_distribution(s3: Any, bucket: str, distribution_arn: str) -> None:
    """The bucket policy CloudFront's console proposes for an origin access control."""
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowCloudFrontServicePrincipalReadOnly", "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}}]}))


class Viewer:
    """A viewer of the edge. `*.localhost` names resolve to loopback in browsers and curl but not through
    this machine's resolver, so Python connects to 127.0.0.1 and names the distribution in the Host header,
    which is what curl sends too."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.port = int(endpoint.rsplit(":", 1)[1])

    def get(self, domain: str, path: str, method: str = "GET", **headers: str) -> requests.Response:
        return requests.request(method, f"{self.endpoint}{path}", headers={"Host": f"{domain}:{self.port}", **headers},
                                allow_redirects=False, timeout=30)


@pytest.fixture
def viewer(endpoint: str) -> Viewer:
    return Viewer(endpoint)
