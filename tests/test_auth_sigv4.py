"""SigV4 bypasses, each tried against a `--auth sigv4` server with an independent signer (botocore's
SigV4Auth / S3SigV4Auth / SigV4QueryAuth / presigner) and raw HTTP where a client library would refuse
to send the request: unsigned x-amz-* headers, X-Amz-Target and Host; a credential scope of another
day; bodies added to presigned non-S3 URLs; and errors in each protocol's own shape."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

KEY, SECRET = "AKIDCONVEYOR", "s3cret"
CREDS = Credentials(KEY, SECRET)
REGION = "us-east-1"


@pytest.fixture
def secured(start_server, tmp_path):  # type: ignore[no-untyped-def]
    return start_server(tmp_path / "sigv4", "--auth", "sigv4", "--access-key", KEY, "--secret-key", SECRET)


def client(server: Any, service: str, secret: str = SECRET) -> Any:
    config = BotoConfig(retries={"max_attempts": 1}, signature_version="s3v4" if service == "s3" else None)
    return boto3.client(service, endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=KEY,
                        aws_secret_access_key=secret, config=config)


def send(request: AWSRequest, *, body: bytes | None = None, extra: dict[str, str] | None = None) -> requests.Response:
    """Send a signed request as signed, or with its body swapped / headers added after signing."""
    headers = {k: str(v) for k, v in request.headers.items()}
    headers.update(extra or {})
    data = request.body if body is None else body
    return requests.request(request.method, request.url, data=data, headers=headers, timeout=30)


def sqs_json(server: Any, target: str, payload: dict[str, Any], *, sign_target: bool = True) -> AWSRequest:
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    if sign_target:
        headers["X-Amz-Target"] = f"AmazonSQS.{target}"
    request = AWSRequest("POST", f"{server.endpoint}/", data=json.dumps(payload).encode(), headers=headers)
    SigV4Auth(CREDS, "sqs", REGION).add_auth(request)
    return request


# -- item 5: every x-amz-* header, X-Amz-Target and Host must be signed -----------------------------

def test_x_amz_target_left_out_of_signed_headers_is_refused(secured) -> None:
    sqs = client(secured, "sqs")
    url = sqs.create_queue(QueueName="keep")["QueueUrl"]
    signed_without_target = sqs_json(secured, "DeleteQueue", {"QueueUrl": url}, sign_target=False)
    assert "x-amz-target" not in signed_without_target.headers["Authorization"]
    response = send(signed_without_target, extra={"X-Amz-Target": "AmazonSQS.DeleteQueue"})
    assert response.status_code == 403
    assert response.json()["message"] == "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
    assert sqs.get_queue_url(QueueName="keep")["QueueUrl"] == url
    assert send(sqs_json(secured, "DeleteQueue", {"QueueUrl": url})).status_code == 200  # signed: fine


class _HostlessSigner(SigV4Auth):
    """Signs everything but Host (botocore always signs it; AWS requires it)."""

    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


def test_host_must_be_signed(secured) -> None:
    request = AWSRequest("POST", f"{secured.endpoint}/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    _HostlessSigner(CREDS, "sts", REGION).add_auth(request)
    response = send(request)
    assert response.status_code == 403
    error = ET.fromstring(response.content).find("{*}Error")
    assert error is not None
    assert error.findtext("{*}Code") == "SignatureDoesNotMatch"
    assert error.findtext("{*}Message") == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


def test_unsigned_x_amz_header_on_s3_is_refused(secured) -> None:
    s3 = client(secured, "s3")
    s3.create_bucket(Bucket="private")
    request = AWSRequest("PUT", f"{secured.endpoint}/private/doc.txt", data=b"mine")
    S3SigV4Auth(CREDS, "s3", REGION).add_auth(request)
    response = send(request, extra={"x-amz-acl": "public-read"})
    assert response.status_code == 403
    error = ET.fromstring(response.content)
    assert error.findtext("Code") == "AccessDenied"
    assert error.findtext("Message") == "There were headers present in the request which were not signed"
    assert error.findtext("HeadersNotSigned") == "x-amz-acl"
    with pytest.raises(ClientError):
        s3.head_object(Bucket="private", Key="doc.txt")
    assert send(request).status_code == 200  # as signed


def test_presigned_s3_put_refuses_unsigned_x_amz_headers_and_takes_plain_ones(secured) -> None:
    s3 = client(secured, "s3")
    s3.create_bucket(Bucket="uploads")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "uploads", "Key": "a.txt"}, ExpiresIn=300)
    assert "X-Amz-SignedHeaders=host&" in url  # botocore presigns PUTs with `host` alone
    refused = requests.put(url, data=b"x", headers={"x-amz-acl": "public-read", "x-amz-meta-owner": "eve"}, timeout=30)
    assert refused.status_code == 403
    assert ET.fromstring(refused.content).findtext("HeadersNotSigned") == "x-amz-acl, x-amz-meta-owner"
    # Content-Type and the other headers a browser adds are not x-amz-*: a presigned PUT takes them.
    accepted = requests.put(url, data=b"hello", headers={"Content-Type": "text/plain"}, timeout=30)
    assert accepted.status_code == 200, accepted.text
    assert s3.get_object(Bucket="uploads", Key="a.txt")["Body"].read() == b"hello"
    assert s3.get_object_acl(Bucket="uploads", Key="a.txt")["Grants"][0]["Permission"] == "FULL_CONTROL"


class _OtherDaySigner(SigV4Auth):
    """A signer whose credential scope names yesterday while X-Amz-Date is now: what a signing key derived
    for one day would produce if the server let it sign requests of another day."""

    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y%m%d")

    def credential_scope(self, request: AWSRequest) -> str:
        return f"{self.day}/{self._region_name}/{self._service_name}/aws4_request"

    def scope(self, request: AWSRequest) -> str:
        return f"{self.credentials.access_key}/{self.credential_scope(request)}"

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        key = self._sign(f"AWS4{self.credentials.secret_key}".encode(), self.day)
        for part in (self._region_name, self._service_name, "aws4_request"):
            key = self._sign(key, part)
        return str(self._sign(key, string_to_sign, hex=True))


class _OtherDayS3Signer(_OtherDaySigner, S3SigV4Auth):
    pass


def test_credential_scope_must_be_the_day_of_x_amz_date(secured) -> None:
    request = AWSRequest("POST", f"{secured.endpoint}/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    _OtherDaySigner(CREDS, "sts", REGION).add_auth(request)
    response = send(request)
    assert response.status_code == 403
    amz_date = request.headers["X-Amz-Date"]
    message = ET.fromstring(response.content).find("{*}Error").findtext("{*}Message")  # type: ignore[union-attr]
    assert message == ("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                       f"'{_OtherDaySigner.day}' != '{amz_date[:8]}', from '{amz_date}'.")
    s3_request = AWSRequest("GET", f"{secured.endpoint}/")
    _OtherDayS3Signer(CREDS, "s3", REGION).add_auth(s3_request)
    s3_response = send(s3_request)
    assert s3_response.status_code == 400
    error = ET.fromstring(s3_response.content)
    assert error.findtext("Code") == "AuthorizationHeaderMalformed"
    assert error.findtext("Message") == ("The authorization header is malformed; Invalid credential date. "
                                         "Date is not the same as X-Amz-Date.")


# -- item 4: a presigned non-S3 URL: the body changes nothing ---------------------------------------

def _presigned(server: Any, service: str, params: dict[str, str]) -> str:
    query = "&".join(f"{k}={requests.utils.quote(v, safe='')}" for k, v in params.items())
    request = AWSRequest("GET", f"{server.endpoint}/?{query}")
    SigV4QueryAuth(CREDS, service, REGION, expires=300).add_auth(request)
    return str(request.url)


def test_presigned_sqs_url_ignores_no_body_and_refuses_one(secured) -> None:
    sqs = client(secured, "sqs")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    presigned = _presigned(secured, "sqs", {"Action": "GetQueueUrl", "QueueName": "jobs", "Version": "2012-11-05"})
    ok = requests.get(presigned, timeout=30)
    assert ok.status_code == 200 and "<QueueUrl>" in ok.text
    # The same URL POSTed with form fields that would delete the queue: AWS signs the empty body of a
    # presigned request, so a body breaks the signature.
    hijack = requests.post(presigned, data={"Action": "DeleteQueue", "QueueUrl": url}, timeout=30)
    assert hijack.status_code == 403
    assert ET.fromstring(hijack.content).find("{*}Error").findtext("{*}Code") == "SignatureDoesNotMatch"  # type: ignore[union-attr]
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url


def test_form_fields_never_override_the_query_string(endpoint, client) -> None:  # type: ignore[no-untyped-def]
    """Even with authentication off, the query string's Action and QueueUrl are the ones that count."""
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="stays")["QueueUrl"]
    response = requests.post(f"{endpoint}/?Action=GetQueueUrl&QueueName=stays&Version=2012-11-05",
                             data={"Action": "DeleteQueue", "QueueUrl": url}, timeout=30)
    assert response.status_code == 200 and "GetQueueUrlResponse" in response.text
    assert sqs.get_queue_url(QueueName="stays")["QueueUrl"] == url


# -- item 7: refusals in each protocol's own shape ---------------------------------------------------

def test_auth_errors_in_each_protocols_shape(secured) -> None:
    # rest-xml (S3): S3's XML error, whichever step refused the request.
    s3 = client(secured, "s3", secret="wrong")
    with pytest.raises(ClientError) as s3_error:
        s3.list_buckets()
    assert s3_error.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    raw = requests.get(f"{secured.endpoint}/some-bucket/key", headers={"Authorization": "AWS4-HMAC-SHA256 junk"},
                       timeout=30)
    assert raw.status_code == 400 and raw.headers["Content-Type"] == "application/xml"
    assert ET.fromstring(raw.content).findtext("Code") == "AuthorizationHeaderMalformed"
    # rest-json (Lambda): x-amzn-ErrorType and a JSON message.
    with pytest.raises(ClientError) as lambda_error:
        client(secured, "lambda", secret="wrong").list_functions()
    assert lambda_error.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    wrong = AWSRequest("GET", f"{secured.endpoint}/2015-03-31/functions/")
    SigV4Auth(Credentials(KEY, "wrong"), "lambda", REGION).add_auth(wrong)
    refused = send(wrong)
    assert refused.status_code == 403 and refused.headers["x-amzn-ErrorType"] == "SignatureDoesNotMatch"
    assert refused.json()["message"].startswith("The request signature we calculated does not match")
    malformed = requests.get(f"{secured.endpoint}/2015-03-31/functions/", timeout=30, headers={
        "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/20260101/us-east-1/lambda/aws4_request"})
    assert malformed.status_code == 400 and malformed.headers["x-amzn-ErrorType"] == "IncompleteSignature"
    # json (SQS with X-Amz-Target): __type.
    with pytest.raises(ClientError) as sqs_error:
        client(secured, "sqs", secret="wrong").list_queues()
    assert sqs_error.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    # query (SNS, STS): <ErrorResponse>.
    with pytest.raises(ClientError) as sns_error:
        client(secured, "sns", secret="wrong").list_topics()
    assert sns_error.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_s3_header_signature_needs_a_valid_payload_declaration(secured) -> None:
    request = AWSRequest("GET", f"{secured.endpoint}/")
    SigV4Auth(CREDS, "s3", REGION).add_auth(request)  # the generic signer sends no x-amz-content-sha256
    missing = send(request)
    assert missing.status_code == 400
    assert ET.fromstring(missing.content).findtext("Message") == \
        "Missing required header for this request: x-amz-content-sha256"
    request = AWSRequest("GET", f"{secured.endpoint}/", headers={"X-Amz-Content-SHA256": "sha256-of-nothing"})
    SigV4Auth(CREDS, "s3", REGION).add_auth(request)
    invalid = ET.fromstring(send(request).content)
    assert invalid.findtext("Code") == "InvalidArgument"
    assert invalid.findtext("ArgumentName") == "x-amz-content-sha256"


def test_x_amz_date_must_name_a_time_within_the_skew(secured) -> None:
    """X-Amz-Date is read by its digits' places: a stamp that names no time (month 13) is malformed, one
    20 minutes old is refused for skew, and the signed one of this second passes."""
    request = sqs_json(secured, "ListQueues", {})
    stamp = str(request.headers["X-Amz-Date"])
    assert send(request).status_code == 200
    no_such_time = send(request, extra={"X-Amz-Date": stamp[:4] + "13" + stamp[6:]})
    assert no_such_time.status_code == 400
    assert no_such_time.json()["message"] == "The request must carry a valid X-Amz-Date (yyyyMMddTHHmmssZ)."
    old = (dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ") - dt.timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    skewed = send(request, extra={"X-Amz-Date": old})
    assert skewed.status_code == 403
    assert skewed.json()["message"].startswith(f"Signature expired: {old} is now earlier than ")


def test_the_signature_hmac_is_hmac_sha256_for_every_key_length() -> None:
    """The gateway's HMAC (from each key's padded states, kept) is the standard library's, for keys shorter
    than, as long as and longer than SHA-256's block, and for every message length."""
    import hashlib
    import hmac
    import os

    from conveyor.gateway.sigv4 import hmac_sha256_hex

    for key in (b"", b"k", os.urandom(32), os.urandom(63), os.urandom(64), os.urandom(65), os.urandom(200)):
        for message in (b"", b"x", os.urandom(64), os.urandom(1000)):
            assert hmac_sha256_hex(key, message) == hmac.new(key, message, hashlib.sha256).hexdigest()
            assert hmac_sha256_hex(key, message) == hmac.new(key, message, hashlib.sha256).hexdigest()  # kept states
