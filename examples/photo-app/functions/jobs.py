"""The photo app's job items in DynamoDB: one item per upload, keyed by its id.

    id          the upload's id (its object is uploads/{id}, its thumbnails processed/{id}/{size}.webp)
    kind        "upload": the partition of the `recent` index (sort key createdAt) that GET /uploads reads
    status      uploading | processing | done | failed   (the page shows `queued` for an uploaded file whose
                job is still `uploading`: its event waits in the queue)
    reason      why it failed, in words a user can act on
    thumbnails  {"256": "processed/{id}/256.webp", "1024": ...} once done
    expiresAt   epoch seconds: DynamoDB's TTL deletes the item a week after the upload

Plain boto3: the same module runs on AWS Lambda, in a worker pool's process and against Conveyor.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import boto3

TABLE = os.environ.get("TABLE", "photo-jobs")
RECENT_INDEX = "recent"
KIND = "upload"
KEEP_SECONDS = 7 * 24 * 3600

_dynamodb = boto3.client("dynamodb")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _item(job: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in job.items():
        if isinstance(value, str):
            out[key] = {"S": value}
        elif isinstance(value, bool):
            out[key] = {"BOOL": value}
        elif isinstance(value, int):
            out[key] = {"N": str(value)}
        elif isinstance(value, dict):
            out[key] = {"M": _item(value)}
    return out


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        kind, inner = next(iter(value.items()))
        out[key] = int(inner) if kind == "N" else _plain(inner) if kind == "M" else inner
    return out


def create(job_id: str, filename: str, content_type: str, size: int) -> dict[str, Any]:
    stamp = now()
    job = {"id": job_id, "kind": KIND, "status": "uploading", "filename": filename, "contentType": content_type,
           "size": size, "createdAt": stamp, "updatedAt": stamp, "attempts": 0,
           "expiresAt": int(time.time()) + KEEP_SECONDS}
    _dynamodb.put_item(TableName=TABLE, Item=_item(job), ConditionExpression="attribute_not_exists(id)")
    return job


def get(job_id: str) -> dict[str, Any] | None:
    item = _dynamodb.get_item(TableName=TABLE, Key={"id": {"S": job_id}}, ConsistentRead=True).get("Item")
    return _plain(item) if item else None


def recent(limit: int = 50) -> list[dict[str, Any]]:
    """The newest jobs first, from the `recent` index (a Query, not a Scan of the table)."""
    answer = _dynamodb.query(TableName=TABLE, IndexName=RECENT_INDEX, KeyConditionExpression="kind = :kind",
                             ExpressionAttributeValues={":kind": {"S": KIND}}, ScanIndexForward=False, Limit=limit)
    return [_plain(item) for item in answer.get("Items", [])]


def start(job_id: str) -> None:
    """processing, one more attempt; only a job that exists and is not done (a repeated delivery of a finished
    job changes nothing)."""
    _dynamodb.update_item(
        TableName=TABLE, Key={"id": {"S": job_id}},
        UpdateExpression="SET #s = :processing, updatedAt = :now ADD attempts :one",
        ConditionExpression="attribute_exists(id) AND #s <> :done",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":processing": {"S": "processing"}, ":now": {"S": now()}, ":one": {"N": "1"},
                                   ":done": {"S": "done"}})


def finish(job_id: str, thumbnails: dict[str, str]) -> None:
    _dynamodb.update_item(
        TableName=TABLE, Key={"id": {"S": job_id}},
        UpdateExpression="SET #s = :done, thumbnails = :thumbnails, updatedAt = :now REMOVE reason",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": {"S": "done"}, ":thumbnails": {"M": _item(thumbnails)},
                                   ":now": {"S": now()}})


def fail(job_id: str, reason: str) -> None:
    _dynamodb.update_item(
        TableName=TABLE, Key={"id": {"S": job_id}},
        UpdateExpression="SET #s = :failed, reason = :reason, updatedAt = :now",
        ConditionExpression="attribute_exists(id)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":failed": {"S": "failed"}, ":reason": {"S": reason[:500]}, ":now": {"S": now()}})


def public(job: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of a job."""
    keys = ("id", "status", "filename", "contentType", "size", "reason", "thumbnails", "createdAt", "updatedAt",
            "attempts")
    return {key: job[key] for key in keys if key in job}
