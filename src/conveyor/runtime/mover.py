"""The built-in mover: long-polls a queue of S3 events and moves `uploads/KEY` to `processed/KEY`.

Written with plain boto3, as a user would write it, so the same file runs unchanged against AWS:

    python -m conveyor.runtime.mover --queue-url URL [--source-prefix uploads/] [--dest-prefix processed/]

It accepts S3 event notifications delivered directly or wrapped in an SNS envelope, skips
`s3:TestEvent`s, and deletes a message only after its objects were moved. A message it cannot handle
stays in the queue and returns after its visibility timeout (and reaches the DLQ by the queue's
redrive policy).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3


def s3_records(body: str) -> Iterator[dict[str, Any]]:
    """The S3 records of a message body, unwrapping an SNS envelope if there is one."""
    event = json.loads(body)
    if event.get("Type") == "Notification" and "Message" in event:
        event = json.loads(event["Message"])
    if event.get("Event") == "s3:TestEvent":
        return
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:s3":
            yield record


class Mover:
    def __init__(self, queue_url: str, source_prefix: str, dest_prefix: str, *, fail_on: str = "",
                 work_seconds: float = 0.0) -> None:
        self.queue_url = queue_url
        # Teaching aids: a deliberate bug for keys containing `fail_on`, and simulated work per file.
        self.fail_on = fail_on
        self.work_seconds = work_seconds
        self.source_prefix = source_prefix
        self.dest_prefix = dest_prefix
        self.sqs = boto3.client("sqs")
        self.s3 = boto3.client("s3")
        self.done = 0
        self.running = True
        # Optional liveness signal for Conveyor's worker pools (absent on AWS).
        self.heartbeat = os.environ.get("CONVEYOR_HEARTBEAT_FILE")

    def beat(self) -> None:
        if self.heartbeat:
            tmp = f"{self.heartbeat}.tmp"
            with open(tmp, "w") as handle:
                handle.write(str(self.done))
            os.replace(tmp, self.heartbeat)

    def move(self, bucket: str, key: str) -> None:
        if not key.startswith(self.source_prefix) or key.endswith("/"):
            return  # not ours, or a folder marker
        target = self.dest_prefix + key[len(self.source_prefix):]
        print(f"Processing: {key}", flush=True)
        if self.fail_on and self.fail_on in key:
            raise RuntimeError(f"cannot process {key} (keys containing {self.fail_on!r} fail)")
        if self.work_seconds:
            time.sleep(self.work_seconds)
        self.s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
        self.s3.delete_object(Bucket=bucket, Key=key)
        print(f"Moved to: {target}", flush=True)

    def handle(self, message: dict[str, Any]) -> None:
        for record in s3_records(message["Body"]):
            if not record.get("eventName", "").startswith("ObjectCreated"):
                continue
            bucket = record["s3"]["bucket"]["name"]
            self.move(bucket, unquote_plus(record["s3"]["object"]["key"]))

    def run(self) -> None:
        self.beat()
        while self.running:
            response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=2)
            for message in response.get("Messages", []):
                try:
                    self.handle(message)
                except Exception as exc:  # left in the queue: it comes back, then goes to the DLQ
                    print(f"Failed: {message['MessageId']}: {exc}", file=sys.stderr, flush=True)
                    continue
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                self.done += 1
            self.beat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue-url", default=os.environ.get("QUEUE_URL"), required="QUEUE_URL" not in os.environ)
    parser.add_argument("--source-prefix", default=os.environ.get("SOURCE_PREFIX", "uploads/"))
    parser.add_argument("--dest-prefix", default=os.environ.get("DEST_PREFIX", "processed/"))
    parser.add_argument("--fail-on", default=os.environ.get("FAIL_ON", ""),
                        help="refuse keys containing this text (simulates a processing bug)")
    parser.add_argument("--work-seconds", type=float, default=float(os.environ.get("WORK_SECONDS", "0")),
                        help="simulated processing time per file")
    args = parser.parse_args(argv)
    mover = Mover(args.queue_url, args.source_prefix, args.dest_prefix, fail_on=args.fail_on,
                  work_seconds=args.work_seconds)

    def finish(*_: object) -> None:  # graceful scale-in: end the current batch, then exit
        mover.running = False

    signal.signal(signal.SIGTERM, finish)
    try:
        mover.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
