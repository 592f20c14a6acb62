"""The built-in web function: `POST /presign` -> {"uploadUrl": ..., "s3Key": ...} for a fresh key.

Written with plain boto3, so the same file runs unchanged on AWS Lambda behind an HTTP API (handler
`presign.lambda_handler`, payload format 2.0). Settings come from its environment:

    BUCKET           the bucket uploads go to (required)
    PREFIX           where keys are made (default `uploads/`)
    EXPIRES          seconds the URL stays valid (default 300)
    MAX_SIZE         largest upload in bytes (optional)
    CONTENT_TYPES    comma-separated content types allowed (optional: any)
    UPLOAD_METHOD    PUT (a presigned PUT URL, default) or POST (a presigned POST policy)

The request body is optional JSON: {"filename": "photo.jpg", "contentType": "image/jpeg", "size": 1234}.
The key is PREFIX + a random id (+ "-" + the file name, made safe). With PUT, a declared content type and
size are signed into the URL (S3 refuses an upload that sends others), and MAX_SIZE needs a declared
size; with POST, the policy's conditions carry the limits and S3 checks them on upload, and the answer
also has the form `fields` to send.

Off AWS (AWS_ENDPOINT_URL set: Conveyor, LocalStack), the URL must work from where the browser is, so it
names the host the request came in on, without the API's own `{api}.execute-api.` label (an AWS host name
of the API becomes S3's: `s3.REGION.amazonaws.com`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from typing import Any

import boto3
from botocore.config import Config

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_API_LABEL = re.compile(r"^[a-z0-9]+\.execute-api\.")
_AWS_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(:\d+)?$")


def _answer(status: int, doc: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(doc)}


def _request(event: dict[str, Any]) -> dict[str, Any]:
    body = event.get("body")
    if not body:
        return {}
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    try:
        doc = json.loads(body)
    except ValueError:
        raise ValueError("the request body must be JSON, e.g. {\"filename\": \"photo.jpg\"}")
    if not isinstance(doc, dict):
        raise ValueError("the request body must be a JSON object")
    return doc


def s3_endpoint(event: dict[str, Any]) -> str | None:
    """Where the browser reaches S3: None on AWS (boto3's own endpoint); else the request's host."""
    local = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not local:
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    host = headers.get("host")
    if not host:
        return local
    scheme = headers.get("x-forwarded-proto") or local.split("://", 1)[0]
    aws = _AWS_API_HOST.match(host)
    if aws is not None:
        return f"{scheme}://s3.{aws.group(1)}.amazonaws.com{aws.group(2) or ''}"
    return f"{scheme}://{_API_LABEL.sub('', host)}"


def _key(prefix: str, filename: Any) -> str:
    key = prefix + uuid.uuid4().hex
    if isinstance(filename, str) and filename:
        safe = _UNSAFE.sub("-", filename.rsplit("/", 1)[-1]).strip("-.")[:100]
        if safe:
            key += "-" + safe
    return key


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket = os.environ["BUCKET"]
    prefix = os.environ.get("PREFIX", "uploads/")
    expires = int(os.environ.get("EXPIRES", "300"))
    max_size = int(os.environ["MAX_SIZE"]) if os.environ.get("MAX_SIZE") else None
    allowed = [t.strip() for t in os.environ.get("CONTENT_TYPES", "").split(",") if t.strip()]
    method = os.environ.get("UPLOAD_METHOD", "PUT").upper()
    try:
        request = _request(event)
    except ValueError as exc:
        return _answer(400, {"message": str(exc)})
    content_type = request.get("contentType")
    size = request.get("size")
    if content_type is not None and not isinstance(content_type, str):
        return _answer(400, {"message": "contentType must be a string"})
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        return _answer(400, {"message": "size must be a number of bytes"})
    if allowed and content_type not in allowed:
        return _answer(400, {"message": f"contentType must be one of {', '.join(allowed)}"})
    if max_size is not None and size is not None and size > max_size:
        return _answer(400, {"message": f"size must be at most {max_size} bytes"})
    key = _key(prefix, request.get("filename"))
    s3 = boto3.client("s3", endpoint_url=s3_endpoint(event),
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    if method == "POST":
        fields: dict[str, str] = {}
        conditions: list[Any] = []
        if max_size is not None:
            conditions.append(["content-length-range", 0, max_size])
        if content_type is not None:
            fields["Content-Type"] = content_type
            conditions.append({"Content-Type": content_type})
        post = s3.generate_presigned_post(bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires)
        return _answer(200, {"uploadUrl": post["url"], "fields": post["fields"], "s3Key": key, "method": "POST",
                             "expiresIn": expires})
    if max_size is not None and size is None:
        return _answer(400, {"message": f"size is required: uploads are limited to {max_size} bytes"})
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if content_type is not None:
        params["ContentType"] = content_type
    if size is not None and max_size is not None:
        params["ContentLength"] = size
    url = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=expires, HttpMethod="PUT")
    return _answer(200, {"uploadUrl": url, "s3Key": key, "method": "PUT", "expiresIn": expires})
