"""The photo app's thumbnail worker: S3 event (uploads/{id}) -> SNS -> SQS -> here -> processed/{id}/.

As a function (handler `thumbnail.lambda_handler`, behind an SQS event source mapping with
ReportBatchItemFailures) each failed message is reported alone; `worker.py` runs the same `process_message`
in a worker pool. An upload Pillow refuses (not an image, truncated, a decompression bomb) marks its job
failed with the reason and fails its message every time, so the queue's redrive policy moves it to the
dead-letter queue after its retries, where the alarm sees it.

Settings (environment): TABLE (the jobs), DEST_PREFIX (default processed/).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from typing import Any

import boto3
import images
import jobs

SOURCE_PREFIX = "uploads/"
DEST_PREFIX = os.environ.get("DEST_PREFIX", "processed/")

_s3 = boto3.client("s3")


def uploads(body: str) -> list[tuple[str, str]]:
    """(bucket, key) of each upload an SQS message names: an S3 event, straight or in an SNS envelope (the
    s3:TestEvent names none)."""
    doc = json.loads(body)
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
        doc = json.loads(doc["Message"])
    return [(record["s3"]["bucket"]["name"], urllib.parse.unquote_plus(record["s3"]["object"]["key"]))
            for record in doc.get("Records", []) if record.get("eventName", "").startswith("ObjectCreated:")]


def process(bucket: str, key: str) -> None:
    job_id = key.removeprefix(SOURCE_PREFIX).split("/", 1)[0]
    job = jobs.get(job_id) if key.startswith(SOURCE_PREFIX) else None
    if job is None:
        print(f"skipping s3://{bucket}/{key}: no job for it")
        return
    if job["status"] == "done":
        return  # a repeated delivery: the thumbnails are there
    if job["status"] == "failed" and job.get("reason"):
        raise images.Rejected(job["reason"])  # refused before: retrying changes nothing; on to the DLQ
    jobs.start(job_id)
    data = _s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        made = images.thumbnails(data)
    except images.Rejected as exc:
        jobs.fail(job_id, str(exc))
        raise
    thumbnails: dict[str, str] = {}
    for size, webp in made.items():
        target = f"{DEST_PREFIX}{job_id}/{size}.webp"
        # A thumbnail never changes under its name: the edge may keep it for a year.
        _s3.put_object(Bucket=bucket, Key=target, Body=webp, ContentType="image/webp",
                       CacheControl="public, max-age=31536000, immutable")
        thumbnails[str(size)] = target
    jobs.finish(job_id, thumbnails)
    print(f"done: s3://{bucket}/{key} -> {', '.join(thumbnails.values())}")


def process_message(body: str) -> None:
    for bucket, key in uploads(body):
        process(bucket, key)


def retry_now(queue_arn: str, receipt_handle: str) -> None:
    """A refused upload will be refused again however long it waits: make its message visible at once, so its
    retries run now and the redrive policy moves it to the DLQ in seconds rather than visibility timeouts.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html"""
    _, _, _, region, account, name = queue_arn.split(":", 5)
    sqs = boto3.client("sqs", region_name=region)
    try:
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=0)
    except Exception as exc:  # only sooner: the visibility timeout brings it back all the same
        print(f"could not make the message visible again: {exc}")


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            process_message(record["body"])
        except Exception as exc:  # each message fails alone; its retries and the DLQ are the queue's
            print(f"failed: message {record['messageId']}: {exc}")
            failures.append({"itemIdentifier": record["messageId"]})
            if isinstance(exc, images.Rejected):
                retry_now(record["eventSourceARN"], record["receiptHandle"])
    return {"batchItemFailures": failures}
