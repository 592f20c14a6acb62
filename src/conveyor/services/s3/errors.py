"""The errors several S3 modules answer with, in AWS's words.

https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
"""

from __future__ import annotations

import base64
import functools
import hashlib
import xml.etree.ElementTree as ET

from conveyor.protocol.base import xml_safe
from conveyor.protocol.rest_xml import to_bytes
from conveyor.wire import HttpResponse, RequestContext, ServiceError

MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema"


def no_such_bucket(name: str) -> ServiceError:
    return ServiceError("NoSuchBucket", "The specified bucket does not exist", 404, extra={"BucketName": name})


def no_such_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", 404, extra={"Key": key})


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the "
                        "upload may have been aborted or completed.", 404, extra={"UploadId": upload_id})


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                        extra={"Condition": condition})


def malformed_xml() -> ServiceError:
    return ServiceError("MalformedXML", MALFORMED_XML, 400)


def slow_down() -> ServiceError:
    """S3 asks clients to back off with `503 SlowDown`, which every SDK retries as throttling."""
    return ServiceError("SlowDown", "Please reduce your request rate.", 503, sender_fault=False)


def error_response(ctx: RequestContext, error: ServiceError) -> HttpResponse:
    """S3's error document: `<Error>` at the root, with the request's ids and the error's own details
    (Key, BucketName, Condition...). https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"""
    root = ET.Element("Error")
    ET.SubElement(root, "Code").text = xml_safe(error.code)
    ET.SubElement(root, "Message").text = xml_safe(error.message or error.code)
    for k, v in error.extra.items():
        if v is not None:
            ET.SubElement(root, k).text = xml_safe(str(v))  # often the request's own bad value
    ET.SubElement(root, "RequestId").text = ctx.request_id
    ET.SubElement(root, "HostId").text = host_id(ctx)
    body = b"" if ctx.request.method == "HEAD" else to_bytes(root)
    headers = [
        ("Content-Type", "application/xml"),
        ("x-amz-id-2", host_id(ctx)),
    ]
    headers += list(error.headers.items())
    if ctx.request.method != "HEAD" and error.status != 304:
        headers.append(("Content-Length", str(len(body))))
    else:
        body = b""
    return HttpResponse(status=error.status, headers=headers, body=body)


def host_id(ctx: RequestContext) -> str:
    """S3's x-amz-id-2, derived from the request id so every part of one answer agrees."""
    return _host_id(ctx.request_id)


@functools.lru_cache(maxsize=256)  # (asked for by several parts of one answer: computed once)
def _host_id(request_id: str) -> str:
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest()).decode()
