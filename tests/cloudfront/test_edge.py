"""The edge, through HTTP as a browser or curl reaches it: a private bucket read only through origin access
control, caching (X-Cache, Age, TTLs on the server's clock), 304s, ranges, HEAD, invalidation, error
caching and custom error pages, behaviors by path pattern, viewer protocol policies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.cloudfront.conftest import DISABLED, Viewer, allow_distribution, create_oac, distribution_config

Site = tuple[str, str, str]  # (distribution id, domain name, etag)


@pytest.fixture
def site(cf: Any, s3: Any) -> Callable[..., Site]:
    """A private bucket `site` with a few objects, and a distribution reading it through an origin access
    control the bucket policy allows."""

    def make(allow: bool = True, **config: Any) -> Site:
        if "site" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket="site")
            s3.put_object(Bucket="site", Key="processed/a.txt", Body=b"hello world", ContentType="text/plain")
            s3.put_object(Bucket="site", Key="processed/b.txt", Body=b"second")
            s3.put_object(Bucket="site", Key="index.html", Body=b"<h1>home</h1>", ContentType="text/html")
        oac = create_oac(cf, f"oac-{len(cf.list_origin_access_controls()['OriginAccessControlList'].get('Items', []))}")
        created = cf.create_distribution(DistributionConfig=distribution_config("site", oac, **config))
        distribution = created["Distribution"]
        if allow:
            allow_distribution(s3, "site", distribution["ARN"])
        return distribution["Id"], distribution["DomainName"], created["ETag"]

    return make


def test_the_bucket_stays_private_and_only_the_distribution_reads_it(
        site: Callable[..., Site], viewer: Viewer, endpoint: str) -> None:
    _, domain, _ = site()
    direct = requests.get(f"{endpoint}/site/processed/a.txt", timeout=30)
    assert direct.status_code == 403 and b"<Code>AccessDenied</Code>" in direct.content
    first = viewer.get(domain, "/processed/a.txt")
    assert first.status_code == 200 and first.content == b"hello world"
    assert first.headers["X-Cache"] == "Miss from cloudfront" and "Age" not in first.headers
    assert first.headers["Content-Type"] == "text/plain"
    assert first.headers["Via"].endswith(".cloudfront.localhost (CloudFront)")
    assert first.headers["X-Amz-Cf-Pop"] and len(first.headers["X-Amz-Cf-Id"]) == 56
    second = viewer.get(domain, "/processed/a.txt")
    assert second.status_code == 200 and second.content == b"hello world"
    assert second.headers["X-Cache"] == "Hit from cloudfront" and second.headers["ETag"] == first.headers["ETag"]


def test_the_policy_must_name_this_distribution(site: Callable[..., Site], viewer: Viewer, s3: Any) -> None:
    _, domain, _ = site(allow=False)
    other = site(allow=False)  # the policy names another distribution's ARN
    allow_distribution(s3, "site", f"arn:aws:cloudfront::000000000000:distribution/{other[0]}")
    denied = viewer.get(domain, "/processed/a.txt")
    assert denied.status_code == 403 and b"<Code>AccessDenied</Code>" in denied.content
    assert denied.headers["X-Cache"] == "Error from cloudfront"
    # A missing key is 403 too: the distribution may not list the bucket, so it learns nothing of what exists.
    assert viewer.get(domain, "/no/such.txt").status_code == 403
    assert viewer.get(other[1], "/processed/a.txt").status_code == 200


def test_without_access_control_the_edge_reads_anonymously(cf: Any, s3: Any, viewer: Viewer) -> None:
    s3.create_bucket(Bucket="open")
    s3.put_object(Bucket="open", Key="k", Body=b"v")
    distribution = cf.create_distribution(DistributionConfig=distribution_config("open"))["Distribution"]
    assert viewer.get(distribution["DomainName"], "/k").status_code == 403
    s3.delete_public_access_block(Bucket="open")  # new buckets block public policies
    s3.put_bucket_policy(Bucket="open", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::open/*"}]}))
    s3.put_object(Bucket="open", Key="k2", Body=b"v2")
    assert viewer.get(distribution["DomainName"], "/k2").content == b"v2"


def test_errors_are_cached_for_ten_seconds(site: Callable[..., Site], viewer: Viewer, s3: Any, cf: Any,
                                           advance: Callable[[float], float]) -> None:
    distribution_id, domain, _ = site(allow=False)
    assert viewer.get(domain, "/processed/a.txt").status_code == 403
    allow_distribution(s3, "site", cf.get_distribution(Id=distribution_id)["Distribution"]["ARN"])
    cached = viewer.get(domain, "/processed/a.txt")
    assert cached.status_code == 403 and cached.headers["X-Cache"] == "Error from cloudfront"
    advance(10)
    assert viewer.get(domain, "/processed/a.txt").status_code == 200


def test_age_and_ttls_on_the_servers_clock(site: Callable[..., Site], viewer: Viewer, s3: Any, cf: Any,
                                           advance: Callable[[float], float]) -> None:
    policy = cf.create_cache_policy(CachePolicyConfig={
        "Name": "minute", "MinTTL": 0, "DefaultTTL": 60, "MaxTTL": 3600,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": False, "HeadersConfig": {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"},
            "QueryStringsConfig": {"QueryStringBehavior": "none"}}})["CachePolicy"]["Id"]
    _, domain, _ = site(policy=policy)
    assert viewer.get(domain, "/processed/a.txt").headers["X-Cache"] == "Miss from cloudfront"
    advance(30)
    hit = viewer.get(domain, "/processed/a.txt")
    assert hit.headers["X-Cache"] == "Hit from cloudfront" and hit.headers["Age"] == "30"
    advance(31)  # past DefaultTTL: the origin still has the same object (same ETag)
    refreshed = viewer.get(domain, "/processed/a.txt")
    assert refreshed.headers["X-Cache"] == "RefreshHit from cloudfront" and refreshed.content == b"hello world"
    s3.put_object(Bucket="site", Key="processed/a.txt", Body=b"changed", CacheControl="max-age=5")
    assert viewer.get(domain, "/processed/a.txt").content == b"hello world"  # cached still
    advance(61)
    changed = viewer.get(domain, "/processed/a.txt")
    assert changed.headers["X-Cache"] == "Miss from cloudfront" and changed.content == b"changed"
    assert changed.headers["Cache-Control"] == "max-age=5"
    advance(6)  # the origin's max-age (within the policy's MinTTL..MaxTTL) wins over DefaultTTL
    assert viewer.get(domain, "/processed/a.txt").headers["X-Cache"] == "RefreshHit from cloudfront"


def test_caching_disabled_always_asks_the_origin(site: Callable[..., Site], viewer: Viewer) -> None:
    _, domain, _ = site(policy=DISABLED)
    for _ in range(2):
        assert viewer.get(domain, "/processed/a.txt").headers["X-Cache"] == "Miss from cloudfront"


def test_conditional_requests(site: Callable[..., Site], viewer: Viewer) -> None:
    _, domain, _ = site()
    first = viewer.get(domain, "/processed/a.txt")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    same = viewer.get(domain, "/processed/a.txt", **{"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["ETag"] == etag
    assert same.headers["X-Cache"] == "Hit from cloudfront"
    other = viewer.get(domain, "/processed/a.txt", **{"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.content == b"hello world"
    assert viewer.get(domain, "/processed/a.txt", **{"If-Modified-Since": modified}).status_code == 304
    assert viewer.get(domain, "/processed/a.txt",
                      **{"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status_code == 200


def test_ranges_and_head(site: Callable[..., Site], viewer: Viewer) -> None:
    _, domain, _ = site()
    part = viewer.get(domain, "/processed/a.txt", Range="bytes=0-4")
    assert part.status_code == 206 and part.content == b"hello"
    assert part.headers["Content-Range"] == "bytes 0-4/11" and part.headers["Content-Length"] == "5"
    assert viewer.get(domain, "/processed/a.txt", Range="bytes=-5").content == b"world"
    assert viewer.get(domain, "/processed/a.txt", Range="bytes=6-").content == b"world"
    past = viewer.get(domain, "/processed/a.txt", Range="bytes=50-60")
    assert past.status_code == 416 and past.headers["Content-Range"] == "bytes */11"
    assert b"<Code>InvalidRange</Code>" in past.content
    head = viewer.get(domain, "/processed/b.txt", method="HEAD")
    assert head.status_code == 200 and head.headers["Content-Length"] == "6" and head.content == b""
    assert head.headers["Accept-Ranges"] == "bytes"


def test_a_large_object_is_cached_on_disk(site: Callable[..., Site], viewer: Viewer, s3: Any) -> None:
    _, domain, _ = site()
    big = bytes(range(256)) * (40 * 1024 + 3)  # about 10 MiB, past the memory tier's object limit
    s3.put_object(Bucket="site", Key="processed/big.bin", Body=big)
    first = viewer.get(domain, "/processed/big.bin")
    assert first.headers["X-Cache"] == "Miss from cloudfront" and first.content == big
    second = viewer.get(domain, "/processed/big.bin")
    assert second.headers["X-Cache"] == "Hit from cloudfront" and second.content == big
    tail = viewer.get(domain, "/processed/big.bin", Range=f"bytes={len(big) - 1000}-")
    assert tail.status_code == 206 and tail.content == big[-1000:]


def test_invalidation_by_path_and_wildcard(site: Callable[..., Site], viewer: Viewer, cf: Any) -> None:
    distribution_id, domain, _ = site()
    for path in ("/processed/a.txt", "/processed/b.txt", "/index.html"):
        viewer.get(domain, path)
        assert viewer.get(domain, path).headers["X-Cache"] == "Hit from cloudfront"

    def invalidate(*paths: str) -> None:
        cf.create_invalidation(DistributionId=distribution_id, InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": repr(paths)})

    invalidate("/processed/a.txt")
    assert viewer.get(domain, "/processed/a.txt").headers["X-Cache"] == "Miss from cloudfront"
    assert viewer.get(domain, "/processed/b.txt").headers["X-Cache"] == "Hit from cloudfront"
    invalidate("/processed/*")
    assert viewer.get(domain, "/processed/a.txt").headers["X-Cache"] == "Miss from cloudfront"
    assert viewer.get(domain, "/processed/b.txt").headers["X-Cache"] == "Miss from cloudfront"
    assert viewer.get(domain, "/index.html").headers["X-Cache"] == "Hit from cloudfront"


def test_query_strings_stay_out_of_the_key_with_caching_optimized(site: Callable[..., Site], viewer: Viewer) -> None:
    _, domain, _ = site()
    assert viewer.get(domain, "/processed/a.txt?v=1").headers["X-Cache"] == "Miss from cloudfront"
    assert viewer.get(domain, "/processed/a.txt?v=2").headers["X-Cache"] == "Hit from cloudfront"


def test_default_root_object_and_custom_error_pages(site: Callable[..., Site], viewer: Viewer, s3: Any) -> None:
    _, domain, _ = site(DefaultRootObject="index.html", CustomErrorResponses={"Quantity": 1, "Items": [
        {"ErrorCode": 403, "ResponsePagePath": "/index.html", "ResponseCode": "200", "ErrorCachingMinTTL": 0}]})
    root = viewer.get(domain, "/")
    assert root.status_code == 200 and root.content == b"<h1>home</h1>"
    # A single-page app: a path the bucket does not have (403 without ListBucket) answers the app's page.
    spa = viewer.get(domain, "/some/route")
    assert spa.status_code == 200 and spa.content == b"<h1>home</h1>" and spa.headers["Content-Type"] == "text/html"
    assert spa.headers["X-Cache"] == "Error from cloudfront"


def test_behaviors_by_path_pattern(site: Callable[..., Site], viewer: Viewer) -> None:
    _, domain, _ = site(CacheBehaviors={"Quantity": 1, "Items": [{
        "PathPattern": "processed/*", "TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
        "CachePolicyId": DISABLED}]})
    viewer.get(domain, "/processed/a.txt")
    assert viewer.get(domain, "/processed/a.txt").headers["X-Cache"] == "Miss from cloudfront"
    viewer.get(domain, "/index.html")
    assert viewer.get(domain, "/index.html").headers["X-Cache"] == "Hit from cloudfront"


def test_viewer_protocol_policies(site: Callable[..., Site], viewer: Viewer) -> None:
    _, domain, _ = site(viewer="redirect-to-https")
    moved = viewer.get(domain, "/processed/a.txt?x=1")
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"https://{domain}:{viewer.port}/processed/a.txt?x=1"
    assert moved.headers["X-Cache"] == "Redirect from cloudfront"
    _, only, _ = site(viewer="https-only")
    refused = viewer.get(only, "/processed/a.txt")
    assert refused.status_code == 403 and b"HTTPS" in refused.content


def test_what_the_edge_refuses(site: Callable[..., Site], viewer: Viewer, cf: Any) -> None:
    distribution_id, domain, etag = site()
    posted = viewer.get(domain, "/processed/a.txt", method="POST")
    assert posted.status_code == 403 and b"The request could not be satisfied" in posted.content
    assert posted.headers["X-Cache"] == "Error from cloudfront"
    unknown = viewer.get("e0nosuchdist00.cloudfront.localhost", "/processed/a.txt")
    assert unknown.status_code == 403 and b"Bad request" in unknown.content
    config = cf.get_distribution_config(Id=distribution_id)
    cf.update_distribution(Id=distribution_id, IfMatch=config["ETag"],
                           DistributionConfig=dict(config["DistributionConfig"], Enabled=False))
    assert viewer.get(domain, "/processed/a.txt").status_code == 403


def test_the_path_form_for_clients_that_cannot_resolve_names(site: Callable[..., Site], endpoint: str) -> None:
    distribution_id, _, _ = site()
    answer = requests.get(f"{endpoint}/_aws/cloudfront/{distribution_id}/processed/a.txt", timeout=30)
    assert answer.status_code == 200 and answer.content == b"hello world"
