"""Versioning, anonymous access (policy, canned ACLs, Public Access Block), CORS and aws-chunked bodies."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
import requests
from botocore.exceptions import ClientError


def test_versioning(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"one"
    marker = s3.delete_object(Bucket=bucket, Key="doc")
    assert marker["DeleteMarker"] is True
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="doc")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    versions = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in versions["Versions"]] == [v2, v1]
    assert [m["VersionId"] for m in versions["DeleteMarkers"]] == [marker["VersionId"]]
    assert versions["DeleteMarkers"][0]["IsLatest"] is True
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=bucket, Key="doc", Body=b"null")["VersionId"] == "null"


def test_anonymous_access_policy_acl_and_block(s3, bucket, endpoint):
    s3.put_object(Bucket=bucket, Key="public/a.txt", Body=b"public")
    s3.put_object(Bucket=bucket, Key="private/b.txt", Body=b"private")
    url = f"{endpoint}/{bucket}"
    r = requests.get(f"{url}/public/a.txt")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                       "Resource": f"arn:aws:s3:::{bucket}/public/*"}]}
    with pytest.raises(ClientError) as exc:  # a new bucket blocks public policies
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert requests.get(f"{url}/public/a.txt").content == b"public"
    assert requests.get(f"{url}/private/b.txt").status_code == 403
    assert requests.put(f"{url}/public/new.txt", data=b"x").status_code == 403
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    assert requests.get(f"{url}/public/a.txt").status_code == 403
    s3.delete_public_access_block(Bucket=bucket)
    s3.delete_bucket_policy(Bucket=bucket)
    # Canned ACLs, on a bucket whose Object Ownership enables them again.
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_object(Bucket=bucket, Key="acl.txt", Body=b"acl", ACL="public-read")
    assert requests.get(f"{url}/acl.txt").content == b"acl"
    assert requests.get(f"{url}/private/b.txt").status_code == 403
    assert requests.get(f"{url}?list-type=2").status_code == 403
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert requests.get(f"{url}?list-type=2").status_code == 200
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="acl2.txt", Body=b"x", ACL="public-read")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_cors(s3, public_bucket, endpoint):
    bucket = public_bucket
    url = f"{endpoint}/{bucket}/file.txt"
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
           "Access-Control-Request-Headers": "content-type"}
    assert requests.options(url, headers=pre).status_code == 403
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["https://app.example"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["AllowedMethods"] == ["GET", "PUT"]
    r = requests.options(url, headers=pre)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "PUT" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert requests.options(url, headers={**pre, "Origin": "https://evil.example"}).status_code == 403
    assert requests.options(url, headers={**pre, "Access-Control-Request-Method": "DELETE"}).status_code == 403
    s3.put_object(Bucket=bucket, Key="file.txt", Body=b"x")
    r = requests.get(url, headers={"Origin": "https://app.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag"
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"


def _chunked(data: bytes, size: int, trailer: bytes = b"") -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


def test_aws_chunked_with_trailing_checksum(s3, bucket, endpoint):
    data = bytes(range(256)) * 300
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=00",
        "x-amz-date": "20250101T000000Z",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    body = _chunked(data, 8192, f"x-amz-checksum-crc32:{crc}\r\n".encode())
    r = requests.put(f"{endpoint}/{bucket}/chunked", data=body, headers=headers)
    if r.status_code == 403:
        pytest.skip("the server verifies signatures (auth on)")
    assert r.status_code == 200, r.text
    got = s3.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got["ChecksumCRC32"] == crc
    assert "ContentEncoding" not in got
    bad = _chunked(data, 8192, b"x-amz-checksum-crc32:AAAAAA==\r\n")
    r = requests.put(f"{endpoint}/{bucket}/chunked-bad", data=bad, headers=headers)
    assert r.status_code == 400 and "BadDigest" in r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="chunked-bad")
