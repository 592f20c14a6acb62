"""Every S3 body is checked against what the request declared about it, not only object uploads: a
signed x-amz-content-sha256 (a policy swapped after signing must not make a bucket public), Content-MD5,
x-amz-checksum-* headers, aws-chunked chunk signatures, and the checksum S3 requires for some operations.
Signed with botocore's S3SigV4Auth, sent with raw HTTP so the body can be swapped after signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

KEY, SECRET = "AKIDCONVEYOR", "s3cret"


@pytest.fixture
def secured(start_server, tmp_path):  # type: ignore[no-untyped-def]
    return start_server(tmp_path / "sigv4", "--auth", "sigv4", "--access-key", KEY, "--secret-key", SECRET)


def s3_client(endpoint: str, key: str = KEY, secret: str = SECRET) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def md5_of(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def signed(endpoint: str, method: str, path: str, body: bytes, *, key: str = KEY, secret: str = SECRET,
           headers: dict[str, str] | None = None) -> AWSRequest:
    request = AWSRequest(method, f"{endpoint}{path}", data=body, headers={"Content-MD5": md5_of(body),
                                                                          **(headers or {})})
    S3SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None, **extra: str) -> requests.Response:
    headers = {k: str(v) for k, v in request.headers.items()} | extra
    return requests.request(request.method, request.url, data=request.body if body is None else body,
                            headers=headers, timeout=30)


def code(response: requests.Response) -> str | None:
    return ET.fromstring(response.content).findtext("Code")


def policy(principal: Any, bucket: str) -> bytes:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}).encode()


def test_a_policy_swapped_after_signing_does_not_make_a_bucket_public(secured) -> None:
    s3 = s3_client(secured.endpoint)
    s3.create_bucket(Bucket="private")
    s3.delete_public_access_block(Bucket="private")  # so that a public policy would take effect
    s3.put_object(Bucket="private", Key="secret.txt", Body=b"secret")
    harmless = signed(secured.endpoint, "PUT", "/private?policy",
                      policy({"AWS": "arn:aws:iam::000000000000:root"}, "private"))
    public = policy("*", "private")
    swapped = send(harmless, body=public)
    assert swapped.status_code == 400 and code(swapped) == "XAmzContentSHA256Mismatch"
    error = ET.fromstring(swapped.content)
    assert error.findtext("S3ComputedContentSHA256") == hashlib.sha256(public).hexdigest()
    with pytest.raises(ClientError) as none:
        s3.get_bucket_policy(Bucket="private")
    assert none.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    assert requests.get(f"{secured.endpoint}/private/secret.txt", timeout=30).status_code == 403
    assert send(harmless).status_code == 204  # as signed, it is accepted
    assert send(signed(secured.endpoint, "PUT", "/private?policy", public)).status_code == 204
    assert requests.get(f"{secured.endpoint}/private/secret.txt", timeout=30).content == b"secret"  # so it would


def test_swapped_delete_objects_and_settings_bodies_change_nothing(secured) -> None:
    s3 = s3_client(secured.endpoint)
    s3.create_bucket(Bucket="data")
    for key in ("keep", "scratch"):
        s3.put_object(Bucket="data", Key=key, Body=b"x")
    delete_scratch = signed(secured.endpoint, "POST", "/data?delete",
                            b"<Delete><Object><Key>scratch</Key></Object></Delete>")
    refused = send(delete_scratch, body=b"<Delete><Object><Key>keep</Key></Object></Delete>")
    assert refused.status_code == 400 and code(refused) == "XAmzContentSHA256Mismatch"
    assert s3.head_object(Bucket="data", Key="keep")["ContentLength"] == 1
    cors = b"<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin>" \
           b"<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
    any_origin = cors.replace(b"https://app.example", b"*").replace(b"GET", b"PUT")
    assert code(send(signed(secured.endpoint, "PUT", "/data?cors", cors), body=any_origin)) == \
        "XAmzContentSHA256Mismatch"
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket="data")
    notification = b"<NotificationConfiguration/>"
    assert code(send(signed(secured.endpoint, "PUT", "/data?notification", notification),
                     body=b"<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:us-east-1:"
                          b"000000000000:elsewhere</Queue><Event>s3:ObjectCreated:*</Event>"
                          b"</QueueConfiguration></NotificationConfiguration>")) == "XAmzContentSHA256Mismatch"
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket="data")


def _chunked_policy(endpoint: str, body: bytes, *, tamper: bool) -> requests.Response:
    """PutBucketPolicy as a signed aws-chunked stream (how the Java and Go SDKs may send bodies):
    https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html"""
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
               "X-Amz-Decoded-Content-Length": str(len(body)), "Content-MD5": md5_of(body)}
    request = AWSRequest("PUT", f"{endpoint}/bucket?policy", headers=headers)
    # The generic signer keeps the declared STREAMING-... value (S3SigV4Auth would hash the empty body).
    SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(request)
    previous = request.headers["Authorization"].rpartition("Signature=")[2]
    amz_date = request.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    signing_key = f"AWS4{SECRET}".encode()
    for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    wire = b""
    for data in (body, b""):
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous,
                             hashlib.sha256(b"").hexdigest(), hashlib.sha256(data).hexdigest()])
        previous = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        sent = data.replace(b'"AWS"', b'"XXX"') if tamper else data
        wire += f"{len(data):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    return requests.put(str(request.url), data=wire, headers={k: str(v) for k, v in request.headers.items()},
                        timeout=30)


def test_signed_chunks_of_a_policy_are_checked(secured) -> None:
    s3 = s3_client(secured.endpoint)
    s3.create_bucket(Bucket="bucket")
    body = policy({"AWS": "arn:aws:iam::000000000000:root"}, "bucket")
    tampered = _chunked_policy(secured.endpoint, body, tamper=True)
    assert tampered.status_code == 403 and code(tampered) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket="bucket")
    accepted = _chunked_policy(secured.endpoint, body, tamper=False)
    assert accepted.status_code == 204, accepted.text
    assert json.loads(s3.get_bucket_policy(Bucket="bucket")["Policy"]) == json.loads(body)


# -- with authentication off too: the digests a request declares are checked --------------------------

def test_content_md5_and_checksums_are_checked(endpoint, aws) -> None:  # type: ignore[no-untyped-def]
    s3 = s3_client(endpoint, "test", "test")
    s3.create_bucket(Bucket="digests")
    s3.put_object(Bucket="digests", Key="keep", Body=b"x")
    delete = b"<Delete><Object><Key>keep</Key></Object></Delete>"

    def raw(body: bytes, **headers: str) -> requests.Response:
        request = AWSRequest("POST", f"{endpoint}/digests?delete", data=body, headers=headers)
        S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
        return send(request)

    wrong_md5 = raw(delete, **{"Content-MD5": md5_of(b"other")})
    assert wrong_md5.status_code == 400 and code(wrong_md5) == "BadDigest"
    assert code(raw(delete, **{"Content-MD5": "not base64!"})) == "InvalidDigest"
    crc = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    assert code(raw(delete, **{"x-amz-checksum-crc32": crc})) == "BadDigest"
    missing = raw(delete)  # DeleteObjects without any integrity header
    assert missing.status_code == 400 and code(missing) == "InvalidRequest"
    assert ET.fromstring(missing.content).findtext("Message") == \
        "Missing required header for this request: Content-MD5"
    sha_mismatch = send(signed(endpoint, "POST", "/digests?delete", delete, key="test", secret="test"),
                        body=delete.replace(b"keep", b"kept"))
    assert code(sha_mismatch) == "XAmzContentSHA256Mismatch"
    assert s3.head_object(Bucket="digests", Key="keep")["ContentLength"] == 1
    # What the SDKs and the CLI send is accepted: a CRC32 (boto3 today), a Content-MD5 (older SDKs).
    assert raw(delete, **{"Content-MD5": md5_of(delete)}).status_code == 200
    s3.put_object(Bucket="digests", Key="again", Body=b"x")
    assert s3.delete_objects(Bucket="digests", Delete={"Objects": [{"Key": "again"}]})["Deleted"][0]["Key"] == "again"
    aws("s3api", "put-bucket-cors", "--bucket", "digests", "--cors-configuration",
        json.dumps({"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]}))
    assert s3.get_bucket_cors(Bucket="digests")["CORSRules"][0]["AllowedMethods"] == ["GET"]


def test_complete_multipart_checksum_headers_are_the_objects_not_the_bodys(endpoint) -> None:  # type: ignore[no-untyped-def]
    s3 = s3_client(endpoint, "test", "test")
    s3.create_bucket(Bucket="parts")
    upload = s3.create_multipart_upload(Bucket="parts", Key="k", ChecksumAlgorithm="CRC32")
    data = b"a" * (5 * 1024 * 1024)
    part = s3.upload_part(Bucket="parts", Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=data,
                          ChecksumAlgorithm="CRC32")
    whole = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    s3.complete_multipart_upload(  # sends x-amz-checksum-crc32: the object's CRC32, not the XML's
        Bucket="parts", Key="k", UploadId=upload["UploadId"], ChecksumCRC32=whole,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": part["ChecksumCRC32"]}]})
    assert s3.head_object(Bucket="parts", Key="k")["ContentLength"] == len(data)
