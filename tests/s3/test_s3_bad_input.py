"""Hostile S3 inputs get S3's own errors (never a 500), and an S3 error keeps the connection open when the
request was read whole."""

from __future__ import annotations

import base64
import json
import socket
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def signed(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> requests.Response:
    """A request signed by botocore's own signer, sent as is (boto3 would refuse to build these)."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers))


def error(response: requests.Response) -> tuple[int, str, str]:
    """(status, Code, Message) of an S3 XML error."""
    assert response.headers["Content-Type"] == "application/xml", response.text
    root = ET.fromstring(response.content)
    return response.status_code, root.findtext("Code") or "", root.findtext("Message") or ""


def test_an_unparseable_expires_is_kept_as_sent(endpoint, s3, bucket):
    put = signed("PUT", f"{endpoint}/{bucket}/cache", b"body", {"Expires": "1e309"})
    assert put.status_code == 200, put.text
    head = s3.head_object(Bucket=bucket, Key="cache")
    assert head["ExpiresString"] == "1e309" and head.get("Expires") is None
    raw = signed("GET", f"{endpoint}/{bucket}/cache")
    assert raw.status_code == 200 and raw.headers["Expires"] == "1e309"
    # A real date goes back exactly as it came too; response-expires is echoed.
    signed("PUT", f"{endpoint}/{bucket}/dated", b"x", {"Expires": "Thu, 01 Dec 1994 16:00:00 GMT"})
    assert signed("HEAD", f"{endpoint}/{bucket}/dated").headers["Expires"] == "Thu, 01 Dec 1994 16:00:00 GMT"
    assert signed("GET", f"{endpoint}/{bucket}/dated?response-expires=soon").headers["Expires"] == "soon"
    # A timestamp header S3 does parse answers InvalidArgument, not a 500.
    huge = signed("PUT", f"{endpoint}/{bucket}/copy", headers={
        "x-amz-copy-source": f"/{bucket}/dated", "x-amz-copy-source-if-modified-since": "1e309"})
    assert error(huge)[:2] == (400, "InvalidArgument")


def test_a_bucket_policy_that_is_not_utf8(endpoint, bucket):
    assert error(signed("PUT", f"{endpoint}/{bucket}?policy", b'{"Version": "\xff\xfe"}')) == (
        400, "MalformedPolicy", "This policy contains invalid Json")
    assert error(signed("PUT", f"{endpoint}/{bucket}?policy", b"\xff{}")) == (
        400, "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'")
    for hostile in (b"[]", b'{"Statement": [1]}', b'{"Statement": {"Effect": "Allow"}}',
                    b'{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": 1, "Resource": "x"}]}',
                    b'{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": [2]}]}'):
        status, code, _ = error(signed("PUT", f"{endpoint}/{bucket}?policy", hostile))
        assert (status, code) == (400, "MalformedPolicy"), hostile


def test_a_part_number_that_is_not_a_number(endpoint, s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    body = (f"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>{etag}</ETag></Part>"
            "</CompleteMultipartUpload>").encode()
    assert error(signed("POST", f"{endpoint}/{bucket}/mp?uploadId={upload}", body))[:2] == (400, "MalformedXML")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})  # still usable


def _form(endpoint: str, bucket: str, policy: Any, **fields: bytes | str) -> requests.Response:
    data: dict[str, Any] = {"key": "uploads/x", **fields}
    if policy is not None:
        data["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
        data["AWSAccessKeyId"] = "test"
        data["signature"] = "unchecked-with-auth-off"
    return requests.post(f"{endpoint}/{bucket}", data=data, files={"file": ("x", b"content")})


FUTURE = "2099-01-01T00:00:00Z"


@pytest.mark.parametrize(("policy", "message"), [
    ({"expiration": None, "conditions": []}, "Invalid Policy: Invalid JSON."),
    (["expiration", FUTURE], "Invalid Policy: Invalid JSON."),
    ({"expiration": "tomorrow", "conditions": []}, "Invalid Policy: Invalid 'expiration' value: 'tomorrow'"),
    ({"conditions": []}, "Invalid Policy: Policy missing expiration."),
    ({"expiration": FUTURE}, "Invalid Policy: Policy missing conditions."),
    ({"expiration": FUTURE, "conditions": {"a": "b"}}, "Invalid Policy: Invalid 'conditions' value: must be a List."),
    ({"expiration": FUTURE, "conditions": [["content-length-range", "a", "b"]]}, "Invalid Policy: Invalid JSON."),
    ({"expiration": FUTURE, "conditions": [["content-length-range", 1.5, 10]]}, "Invalid Policy: Invalid JSON."),
    ({"expiration": FUTURE, "conditions": [["content-length-range", True, 10]]}, "Invalid Policy: Invalid JSON."),
    ({"expiration": FUTURE, "conditions": [["eq", "$key", 7]]}, "Invalid Policy: Invalid JSON."),
    ({"expiration": FUTURE, "conditions": [["content-length-range", 1]]},
     "Invalid Policy: Invalid content-length-range: wrong number of arguments."),
    ({"expiration": FUTURE, "conditions": [["like", "$key", "x"]]},
     "Invalid Policy: Invalid Condition: unknown operation 'like'."),
    ({"expiration": FUTURE, "conditions": [[]]}, "Invalid Policy: Invalid Condition: missing operation identifier."),
    ({"expiration": FUTURE, "conditions": [7]}, "Invalid Policy: Invalid condition test: must be a List or Object."),
    ({"expiration": FUTURE, "conditions": [{"key": 1}]},
     "Invalid Policy: Invalid Simple-Condition: value must be a string."),
])
def test_post_policies_s3_cannot_read(endpoint, bucket, policy, message):
    assert error(_form(endpoint, bucket, policy)) == (400, "InvalidPolicyDocument", message)


def test_post_policy_bounds_given_as_digits_work(endpoint, s3, bucket):
    policy = {"expiration": FUTURE, "conditions": [["starts-with", "$key", "uploads/"],
                                                   ["content-length-range", "1", "100"]]}
    assert _form(endpoint, bucket, policy).status_code == 204
    assert s3.get_object(Bucket=bucket, Key="uploads/x")["Body"].read() == b"content"


def test_a_form_field_that_is_not_utf8(endpoint, bucket):
    response = requests.post(f"{endpoint}/{bucket}", files={"key": (None, b"uploads/\xff\xfe"),
                                                           "file": ("x", b"content")})
    assert error(response) == (400, "MalformedPOSTRequest",
                               "The body of your POST request is not well-formed multipart/form-data.")


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += sock.recv(65536)
    return head


def test_an_s3_error_keeps_a_fully_read_connection_open(endpoint, bucket):
    u = urlparse(endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        host = f"Host: {u.hostname}:{u.port}\r\n".encode()
        # No body at all (a GET), a small body, and a chunked body: each read whole, so the connection stays.
        for request in (b"GET /%s/missing HTTP/1.1\r\n%s\r\n" % (bucket.encode(), host),
                        b"PUT /%s/k HTTP/1.1\r\n%sContent-Length: 5\r\n\r\nhello" % (bucket.encode(), host),
                        b"PUT /%s/k HTTP/1.1\r\n%sTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                        % (bucket.encode(), host)):
            head = _exchange(sock, request)
            assert head.startswith(b"HTTP/1.1 403") or head.startswith(b"HTTP/1.1 404"), head
            assert b"connection: close" not in head.lower(), head
        # The connection is still usable for a request that succeeds.
        assert _exchange(sock, b"GET /_conveyor/health HTTP/1.1\r\n%s\r\n" % host).startswith(b"HTTP/1.1 200")


def test_an_s3_error_before_a_large_body_closes_the_connection(endpoint, bucket):
    u = urlparse(endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        sock.sendall(b"PUT /%s/big HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" % bucket.encode()
                     + b"x" * 1000)
        data = b""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            data += sock.recv(65536)
        # The unread rest of the body cannot be taken for the next request.
        assert data.startswith(b"HTTP/1.1 403") and b"connection: close" in data.lower()
