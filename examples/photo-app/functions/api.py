"""The photo app's HTTP API (API Gateway HTTP API, payload format 2.0), one handler per route:

    POST /uploads        {"filename", "contentType", "size"} -> 201 {"job": ..., "upload": {"url", "fields"}}
                         a job item (status uploading) and a presigned POST for uploads/{id} whose policy
                         pins the content type and bounds the size, so S3 itself refuses anything else
    GET  /uploads/{id}   -> 200 {"job": ...} | 404
    GET  /uploads        -> 200 {"jobs": [...]}, newest first

Settings (environment): TABLE, BUCKET, MAX_SIZE (bytes, default 20 MiB), EXPIRES (seconds, default 300).
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from typing import Any

import boto3
import jobs
from botocore.config import Config

BUCKET = os.environ.get("BUCKET", "photo-uploads")
PREFIX = "uploads/"
MAX_SIZE = int(os.environ.get("MAX_SIZE", str(20 * 1024 * 1024)))
EXPIRES = int(os.environ.get("EXPIRES", "300"))
CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
_API_LABEL = re.compile(r"^[a-z0-9]+\.execute-api\.")


def _answer(status: int, doc: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json", "cache-control": "no-store"},
            "body": json.dumps(doc)}


def _s3_endpoint(event: dict[str, Any]) -> str | None:
    """Where the browser reaches S3: on AWS, S3's own endpoint (None); off AWS (AWS_ENDPOINT_URL set), the host
    the request came in on without the API's `{id}.execute-api.` label, which is where the server is."""
    local = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not local:
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    host = headers.get("host")
    if not host:
        return local
    scheme = headers.get("x-forwarded-proto") or local.split("://", 1)[0]
    return f"{scheme}://{_API_LABEL.sub('', host)}"


def create_upload(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    body = event.get("body") or "{}"
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    try:
        request = json.loads(body)
    except ValueError:
        return _answer(400, {"message": "the body must be JSON: {\"filename\", \"contentType\", \"size\"}"})
    if not isinstance(request, dict):
        return _answer(400, {"message": "the body must be a JSON object"})
    filename, content_type, size = request.get("filename"), request.get("contentType"), request.get("size")
    if not isinstance(filename, str) or not filename.strip() or len(filename) > 255:
        return _answer(400, {"message": "filename must be the file's name (1 to 255 characters)"})
    if content_type not in CONTENT_TYPES:
        return _answer(400, {"message": f"content type {content_type!r} is not accepted: upload "
                                        f"{', '.join(CONTENT_TYPES)}"})
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_SIZE:
        return _answer(400, {"message": f"size must be the file's size in bytes, at most {MAX_SIZE}"})
    job_id = uuid.uuid4().hex
    job = jobs.create(job_id, filename.strip(), content_type, size)
    s3 = boto3.client("s3", endpoint_url=_s3_endpoint(event), config=Config(signature_version="s3v4"))
    # The policy's conditions are S3's to enforce: exactly this key and content type, at most MAX_SIZE bytes.
    # https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
    upload = s3.generate_presigned_post(
        BUCKET, PREFIX + job_id, Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, MAX_SIZE]], ExpiresIn=EXPIRES)
    return _answer(201, {"job": jobs.public(job), "upload": upload})


def get_upload(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    job_id = (event.get("pathParameters") or {}).get("id", "")
    job = jobs.get(job_id) if re.fullmatch(r"[0-9a-f]{32}", job_id) else None
    if job is None:
        return _answer(404, {"message": f"no upload {job_id!r}"})
    return _answer(200, {"job": jobs.public(job)})


def list_uploads(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return _answer(200, {"jobs": [jobs.public(job) for job in jobs.recent()]})
