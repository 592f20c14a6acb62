"""Applying a pipeline's `site:`: a private bucket holding a directory's files, served by a CloudFront
distribution through an origin access control, as the architecture's static front end is on AWS.

The bucket stays private: its policy lets only this distribution read it (the OAC pattern of
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html),
and so does every bucket a `paths:` entry adds, for that path's keys only. Files are uploaded when they are
new or changed (compared by MD5, S3's ETag of a single-part upload); a changed file invalidates the
distribution's cache, as a deploy to AWS would have to.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from conveyor.pipeline.spec import Bucket, Site

if TYPE_CHECKING:
    from mypy_boto3_cloudfront.client import CloudFrontClient

    from conveyor.pipeline.apply import Applier

# Managed-CachingOptimized: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CONFIG_FILE = "config.json"  # what the page reads to find the API: {"api": "http://..."}
# Types a browser insists on (a module script must be JavaScript) where the platform's table may lack them.
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
                 ".json": "application/json", ".svg": "image/svg+xml", ".webp": "image/webp", ".png": "image/png"}


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def site_files(root: Path, config: dict[str, Any] | None) -> dict[str, bytes]:
    """The site's files by key: the directory's (hidden ones left out), and config.json when there is one."""
    files = {file.relative_to(root).as_posix(): file.read_bytes() for file in sorted(root.rglob("*"))
             if file.is_file() and not any(p.startswith(".") for p in file.relative_to(root).parts)}
    if config is not None:
        files[CONFIG_FILE] = json.dumps(config, indent=2).encode() + b"\n"
    return files


def publish(s3: Any, bucket: str, root: Path, config: dict[str, Any] | None,
            say: Callable[[str], None]) -> list[tuple[str, bool]]:
    """Upload the site's files that are new or changed (compared by MD5, S3's ETag of a single-part upload),
    each with the Content-Type a browser needs; (key, whether it replaced a file) of each upload."""
    have = {item["Key"]: item.get("ETag", "").strip('"')
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])}
    changed = []
    for key, body in site_files(root, config).items():
        if have.get(key) == hashlib.md5(body).hexdigest():
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type(key))
        say(f"s3://{bucket}/{key}" if key not in have else f"s3://{bucket}/{key} (updated)")
        changed.append((key, key in have))
    return changed


class SiteApplier:
    def __init__(self, applier: Applier, cloudfront: Any) -> None:
        self.applier = applier
        self.s3 = applier.s3
        self.cloudfront = cast("CloudFrontClient", cloudfront)

    def apply(self, site: Site, base_dir: Path, api_endpoint: str | None) -> str:
        """Make or update the site; its URL."""
        applier = self.applier
        applier.bucket(Bucket(site.bucket))
        changed = self._upload(site, base_dir, api_endpoint)
        distribution, new = self._distribution(site, self._access_control(site.bucket))
        self._allow_distribution(site.bucket, "", distribution["ARN"])
        for path in site.paths:
            self._allow_distribution(path.bucket, path.prefix, distribution["ARN"])
        if changed and not new:
            self.cloudfront.create_invalidation(DistributionId=distribution["Id"], InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"conveyor-site-{time.time_ns()}"})
            applier.created(f"invalidation of {distribution['DomainName']} (the site's files changed)")
        endpoint = urlsplit(applier.endpoint)
        port = f":{endpoint.port}" if endpoint.port else ""
        return f"{endpoint.scheme}://{distribution['DomainName']}{port}/"

    def _upload(self, site: Site, base_dir: Path, api_endpoint: str | None) -> bool:
        config = {"api": api_endpoint} if api_endpoint is not None else None
        changed = publish(self.s3, site.bucket, base_dir / site.directory, config, self.applier.created)
        return any(existed for _, existed in changed)

    def _access_control(self, bucket: str) -> str:
        name = f"{bucket}-oac"[:64]
        listed = self.cloudfront.list_origin_access_controls().get("OriginAccessControlList", {})
        for item in listed.get("Items", []):
            if item["Name"] == name:
                return item["Id"]
        created = self.cloudfront.create_origin_access_control(OriginAccessControlConfig={
            "Name": name, "Description": f"the site's reads of {bucket}", "SigningProtocol": "sigv4",
            "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"})
        self.applier.created(f"origin access control {name}")
        return created["OriginAccessControl"]["Id"]

    def _distribution(self, site: Site, access_control: str) -> tuple[dict[str, Any], bool]:
        """The site's distribution (found by its comment) and whether this apply made it."""
        comment = f"conveyor site {site.bucket}"
        listed = self.cloudfront.list_distributions().get("DistributionList", {})
        for item in listed.get("Items", []):
            if item["Comment"] == comment:
                self._drift(site, item)
                return dict(item), False
        region = self.applier.region
        origins: dict[str, Any] = {}
        for bucket in [site.bucket, *(p.bucket for p in site.paths)]:
            origins.setdefault(bucket, {
                "Id": f"s3-{bucket}", "DomainName": f"{bucket}.s3.{region}.amazonaws.com",
                "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": access_control})

        def behavior(bucket: str) -> dict[str, Any]:
            # allow-all: the page works over http:// and https:// alike on the one port
            return {"TargetOriginId": f"s3-{bucket}", "ViewerProtocolPolicy": "allow-all",
                    "CachePolicyId": CACHING_OPTIMIZED, "Compress": True}

        paths = [{"PathPattern": p.path, **behavior(p.bucket)} for p in site.paths]
        config: dict[str, Any] = {
            "CallerReference": f"conveyor-site-{site.bucket}", "Comment": comment, "Enabled": True,
            "DefaultRootObject": site.index,
            "Origins": {"Quantity": len(origins), "Items": list(origins.values())},
            "DefaultCacheBehavior": behavior(site.bucket),
            "CacheBehaviors": {"Quantity": len(paths), "Items": paths} if paths else {"Quantity": 0}}
        distribution = self.cloudfront.create_distribution(DistributionConfig=cast(Any, config))["Distribution"]
        self.applier.created(f"distribution {distribution['DomainName']} for the site")
        return cast("dict[str, Any]", distribution), True

    def _drift(self, site: Site, summary: Any) -> None:
        paths = {(b["PathPattern"], b["TargetOriginId"]) for b in (summary.get("CacheBehaviors") or {}).get("Items", [])}
        wanted = {(p.path, f"s3-{p.bucket}") for p in site.paths}
        if paths != wanted:
            self.applier.drifted(f"site distribution {summary['DomainName']}: its paths are {sorted(paths)}, the "
                                 f"pipeline says {sorted(wanted)}")

    def _allow_distribution(self, bucket: str, prefix: str, distribution_arn: str) -> None:
        """The bucket policy statement letting the distribution (and nobody else) read `prefix`*."""
        try:
            current = json.loads(self.s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchBucketPolicy":
                raise
            current = {"Version": "2012-10-17", "Statement": []}
        found = current.get("Statement") or []
        statements: list[dict[str, Any]] = found if isinstance(found, list) else [found]
        sid = "conveyor-cloudfront-" + hashlib.sha256(f"{distribution_arn} {prefix}".encode()).hexdigest()[:16]
        if any(s.get("Sid") == sid for s in statements):
            return
        statements.append({
            "Sid": sid, "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}})
        current["Statement"] = statements
        self.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(current))
        self.applier.created(f"policy letting the site's distribution read s3://{bucket}/{prefix}")
