"""S3 static website hosting: PutBucketWebsite/GetBucketWebsite/DeleteBucketWebsite through boto3 and the AWS
CLI, and the website endpoint reached by its Host names on the same port (raw HTTP, no redirects followed):
index documents, HTML errors and error documents, redirects, anonymous access by bucket policy.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/WebsiteHosting.html"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

HOSTS = ["{b}.s3-website.localhost", "{b}.s3-website-us-east-1.amazonaws.com", "{b}.s3-website.us-east-1.amazonaws.com"]


def fetch(endpoint: str, host: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request to the server with the given Host header; (status, lower-cased headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", urlparse(endpoint).port, timeout=30)
    try:
        conn.request(method, path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _public(s3, bucket: str, *actions: str) -> None:  # type: ignore[no-untyped-def]
    statements = [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]
    if "list" in actions:
        statements.append({"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                           "Resource": f"arn:aws:s3:::{bucket}"})
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))


@pytest.fixture
def site(s3, bucket) -> str:  # type: ignore[no-untyped-def]
    for key, body in (("index.html", b"<h1>home</h1>"), ("docs/index.html", b"<h1>docs</h1>"),
                      ("error.html", b"<h1>oops</h1>"), ("style.css", b"body{}")):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/css" if key.endswith("css") else "text/html")
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}})
    return bucket


def test_configuration_is_validated_stored_and_deleted(s3, bucket, aws):
    refused = [
        {"ErrorDocument": {"Key": "e.html"}},  # no index document, no redirect-all
        {"IndexDocument": {"Suffix": "a/index.html"}},
        {"RedirectAllRequestsTo": {"HostName": "example.com"}, "IndexDocument": {"Suffix": "index.html"}},
        {"IndexDocument": {"Suffix": "index.html"}, "RoutingRules": [{"Redirect": {"ReplaceKeyWith": "a",
                                                                                   "ReplaceKeyPrefixWith": "b"}}]},
        {"IndexDocument": {"Suffix": "index.html"}, "RoutingRules": [{"Redirect": {"HttpRedirectCode": "200"}}]},
    ]
    for config in refused:
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=config)
        assert exc.value.response["Error"]["Code"] == "InvalidArgument", config
    config = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"},
              "RoutingRules": [{"Condition": {"KeyPrefixEquals": "old/"},
                                "Redirect": {"ReplaceKeyPrefixWith": "new/", "HttpRedirectCode": "302"}}]}
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=config)
    got = s3.get_bucket_website(Bucket=bucket)
    assert {k: got[k] for k in config} == config and "RedirectAllRequestsTo" not in got
    cli = aws("s3api", "get-bucket-website", "--bucket", bucket)
    assert cli["IndexDocument"] == {"Suffix": "index.html"}
    assert s3.delete_bucket_website(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_website(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchWebsiteConfiguration"


@pytest.mark.parametrize("host", HOSTS)
def test_index_documents_objects_and_the_error_document(endpoint, s3, site, host):
    _public(s3, site, "list")
    host = host.format(b=site)
    status, headers, body = fetch(endpoint, host, "/")
    assert (status, body, headers["content-type"]) == (200, b"<h1>home</h1>", "text/html")
    assert headers["etag"].startswith('"') and "last-modified" in headers
    assert fetch(endpoint, host, "/docs/")[2] == b"<h1>docs</h1>"
    status, headers, _ = fetch(endpoint, host, "/docs")  # a "directory" without its slash
    assert (status, headers["location"]) == (302, "/docs/")
    assert fetch(endpoint, host, "/style.css")[1]["content-type"] == "text/css"
    status, headers, body = fetch(endpoint, host, "/nothing/here.html")
    assert (status, body) == (404, b"<h1>oops</h1>")  # the error document, with the error's status
    status, headers, body = fetch(endpoint, host, "/style.css", "HEAD")
    assert (status, body, headers["content-length"]) == (200, b"", "6")


def test_no_listing_and_anonymous_access_by_policy(endpoint, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    host = f"{bucket}.s3-website.localhost"
    status, headers, body = fetch(endpoint, host, "/a.txt")  # a private bucket: nothing is served
    assert status == 403 and headers["x-amz-error-code"] == "AccessDenied"
    assert headers["content-type"] == "text/html; charset=utf-8" and b"<h1>403 Forbidden</h1>" in body
    _public(s3, bucket)
    assert fetch(endpoint, host, "/a.txt")[:3:2] == (200, b"a")
    s3.put_object(Bucket=bucket, Key="docs/index.html", Body=b"docs")
    status, headers, _ = fetch(endpoint, host, "/docs")  # redirected even for a caller that may not list
    assert (status, headers["location"]) == (302, "/docs/")
    # Without s3:ListBucket a missing key is 403, never 404, and the root is never a listing.
    status, _, body = fetch(endpoint, host, "/")
    assert status == 403 and b"a.txt" not in body
    _public(s3, bucket, "list")
    status, headers, body = fetch(endpoint, host, "/")
    assert status == 404 and headers["x-amz-error-code"] == "NoSuchKey" and b"<li>Key: index.html</li>" in body
    assert fetch(endpoint, host, "/a.txt", "DELETE")[0] == 405


def test_redirects(endpoint, s3, site):
    _public(s3, site, "list")
    host = f"{site}.s3-website.localhost"
    s3.put_object(Bucket=site, Key="moved.html", Body=b"", WebsiteRedirectLocation="/index.html")
    status, headers, _ = fetch(endpoint, host, "/moved.html")
    assert (status, headers["location"]) == (301, "/index.html")
    s3.put_bucket_website(Bucket=site, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"},
        "RoutingRules": [
            {"Condition": {"KeyPrefixEquals": "old/"}, "Redirect": {"ReplaceKeyPrefixWith": "docs/"}},
            {"Condition": {"HttpErrorCodeReturnedEquals": "404"},
             "Redirect": {"HostName": "example.com", "Protocol": "https", "HttpRedirectCode": "307"}}]})
    status, headers, _ = fetch(endpoint, host, "/old/page.html")
    assert (status, headers["location"]) == (301, f"http://{host}/docs/page.html")
    status, headers, _ = fetch(endpoint, host, "/missing.html")
    assert (status, headers["location"]) == (307, "https://example.com/missing.html")
    s3.put_bucket_website(Bucket=site, WebsiteConfiguration={
        "RedirectAllRequestsTo": {"HostName": "www.example.org", "Protocol": "https"}})
    status, headers, _ = fetch(endpoint, host, "/any/path.html")
    assert (status, headers["location"]) == (301, "https://www.example.org/any/path.html")
