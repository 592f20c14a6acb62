"""The built-in mover: S3 events in, `uploads/KEY` moved to `processed/KEY`.

Written with plain boto3, as a user would write it, so the same file runs unchanged against AWS, as a
long-polling worker or as a Lambda function:

    python -m conveyor.runtime.mover --queue-url URL [--source-prefix uploads/] [--dest-prefix processed/]
    handler "mover.lambda_handler" (SQS event source mapping, S3 or SNS trigger)

It accepts S3 event notifications delivered directly or wrapped in an SNS envelope, skips
`s3:TestEvent`s and decodes keys (form-encoded in events: a space arrives as "+"). A batch is moved
with one copy per object, then one DeleteObjects and one DeleteMessageBatch for the whole batch; a
message is deleted only after all of its objects were moved. A message it cannot handle stays in the
queue and returns after its visibility timeout (and reaches the DLQ by the queue's redrive policy).
Delivery is at least once, so a move is idempotent: a source already gone whose target exists counts as
moved (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues-at-least-once-delivery.html).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

COPY_THREADS = 4


def say(line: str, *, error: bool = False) -> None:
    """Log a line; a closed log (the server that collects it went away) must not fail a move."""
    try:
        print(line, file=sys.stderr if error else sys.stdout, flush=True)
    except (OSError, ValueError):
        pass


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


def created_objects(body: str) -> list[tuple[str, str]]:
    """(bucket, key) of every ObjectCreated record in a message body, keys decoded."""
    return [(r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"]))
            for r in s3_records(body) if r.get("eventName", "").startswith("ObjectCreated")]


@dataclass
class Move:
    message: str  # the id of the message that asked for it
    bucket: str
    source: str
    target: str


class Mover:
    """Moves the objects of a batch of messages; tells which messages are done."""

    def __init__(self, source_prefix: str = "uploads/", dest_prefix: str = "processed/", *, fail_on: str = "",
                 work_seconds: float = 0.0, s3: Any = None) -> None:
        self.source_prefix = source_prefix
        self.dest_prefix = dest_prefix
        # Teaching aids: a deliberate bug for keys containing `fail_on`, and simulated work per file.
        self.fail_on = fail_on
        self.work_seconds = work_seconds
        self.s3 = s3 or boto3.client("s3")  # boto3 clients are thread-safe
        self._copies = ThreadPoolExecutor(COPY_THREADS, thread_name_prefix="copy")

    @classmethod
    def from_environment(cls) -> Mover:
        return cls(os.environ.get("SOURCE_PREFIX", "uploads/"), os.environ.get("DEST_PREFIX", "processed/"),
                   fail_on=os.environ.get("FAIL_ON", ""), work_seconds=float(os.environ.get("WORK_SECONDS", "0")))

    def target(self, key: str) -> str | None:
        if not key.startswith(self.source_prefix) or key.endswith("/"):
            return None  # not ours, or a folder marker
        return self.dest_prefix + key[len(self.source_prefix):]

    def start(self, message: str, bucket: str, key: str) -> Move | None:
        """The per-file work before the copy (here only the teaching aids); None if not ours."""
        target = self.target(key)
        if target is None:
            return None
        say(f"Processing: {key}")
        if self.fail_on and self.fail_on in key:
            raise RuntimeError(f"cannot process {key} (keys containing {self.fail_on!r} fail)")
        if self.work_seconds:
            time.sleep(self.work_seconds)
        return Move(message, bucket, key, target)

    def copy(self, move: Move) -> Move | None:
        """Copy to the target; None if an earlier delivery of the same event already moved it."""
        try:
            self.s3.copy_object(Bucket=move.bucket, Key=move.target,
                                CopySource={"Bucket": move.bucket, "Key": move.source})
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("NoSuchKey", "404") or not self._exists(move.bucket, move.target):
                raise
            say(f"Already moved: {move.target}")
            return None
        return move

    def _try_copy(self, move: Move) -> Move | Exception | None:
        try:
            return self.copy(move)
        except Exception as exc:
            return exc

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError:
            return False

    def move(self, messages: list[tuple[str, str]]) -> set[str]:
        """Move the objects of (message id, body) pairs; returns the ids of the messages that failed."""
        failed: set[str] = set()

        def fail(message: str, exc: Exception) -> None:  # left in the queue: it comes back, then to the DLQ
            if message not in failed:
                say(f"Failed: {message}: {exc}", error=True)
                failed.add(message)

        started: list[Move] = []
        for message, body in messages:
            try:
                started += [m for bucket, key in created_objects(body) if (m := self.start(message, bucket, key))]
            except Exception as exc:
                fail(message, exc)
        # The copies are independent: a few at a time keep this worker busy while S3 answers.
        copies = [m for m in started if m.message not in failed]
        results = self._copies.map(self._try_copy, copies) if len(copies) > 1 else map(self._try_copy, copies)
        moves: list[Move] = []
        for move, result in zip(copies, results, strict=True):
            if isinstance(result, Exception):
                fail(move.message, result)
            elif result is not None:
                moves.append(result)
        moves = [m for m in moves if m.message not in failed]
        for bucket in sorted({m.bucket for m in moves}):
            mine = [m for m in moves if m.bucket == bucket]
            try:
                deleted = self.s3.delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": m.source} for m in mine], "Quiet": True})
            except Exception as exc:
                say(f"Failed: deleting {len(mine)} originals in {bucket}: {exc}", error=True)
                failed.update(m.message for m in mine)
                continue
            errors = {e.get("Key"): e for e in deleted.get("Errors", [])}
            for m in mine:
                if m.source in errors:
                    error = errors[m.source]
                    say(f"Failed: {m.message}: could not delete {m.source}: {error.get('Code')}: "
                        f"{error.get('Message')}", error=True)
                    failed.add(m.message)
                else:
                    say(f"Moved to: {m.target}")
        return failed


class QueueWorker:
    """The long-polling loop of a pool worker: receive, move, delete what is done."""

    def __init__(self, queue_url: str, mover: Mover) -> None:
        self.queue_url = queue_url
        self.mover = mover
        self.sqs = boto3.client("sqs")
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

    def run(self) -> None:
        self.beat()
        while self.running:
            response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=2)
            messages = response.get("Messages", [])
            if messages:
                self.finish(messages, self.mover.move([(m["MessageId"], m["Body"]) for m in messages]))
            self.beat()

    def finish(self, messages: Sequence[MessageTypeDef], failed: set[str]) -> None:
        done = [m for m in messages if m["MessageId"] not in failed]
        if not done:
            return
        result = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        for entry in result.get("Failed", []):
            say(f"Failed: deleting message {done[int(entry['Id'])]['MessageId']}: {entry.get('Message')}",
                error=True)
        self.done += len(result.get("Successful", []))


# -- as a Lambda function --------------------------------------------------------------------------
_function_mover: Mover | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batches report the failed messages (the mapping needs ReportBatchItemFailures, the
    pipeline's default: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html);
    a direct S3 or SNS invocation raises on failure so that Lambda retries it."""
    global _function_mover
    if _function_mover is None:  # once per execution environment, like any handler's clients
        _function_mover = Mover.from_environment()
    records = event.get("Records", [])
    if records and records[0].get("eventSource") == "aws:sqs":
        failed = _function_mover.move([(r["messageId"], r["body"]) for r in records])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records
                                      if r["messageId"] in failed]}
    if records and records[0].get("EventSource") == "aws:sns":
        bodies = [(r["Sns"]["MessageId"], r["Sns"]["Message"]) for r in records]
    else:
        bodies = [(getattr(context, "aws_request_id", "event"), json.dumps(event))]
    failed = _function_mover.move(bodies)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(bodies)} events failed")
    return {"moved": len(bodies)}


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
    worker = QueueWorker(args.queue_url, Mover(args.source_prefix, args.dest_prefix, fail_on=args.fail_on,
                                               work_seconds=args.work_seconds))

    def finish(*_: object) -> None:  # graceful scale-in: end the current batch, then exit
        worker.running = False

    signal.signal(signal.SIGTERM, finish)
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
