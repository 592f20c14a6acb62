"""The photo app's thumbnail worker as a pool's process (`pools:` in conveyor.yaml; an Auto Scaling group's
instance on AWS): long-polls QUEUE_URL and runs thumbnail.process_message on each message. A message is
deleted once processed; a failed one is left to come back after its visibility timeout, and the queue's
redrive policy moves it to the DLQ after its retries. SIGTERM (scale-in) finishes the batch in hand.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))

import thumbnail  # noqa: E402 (the functions' directory is on the path now)

stopping = False


def _stop(signum: int, frame: object) -> None:
    global stopping
    stopping = True


def beat() -> None:
    """The pool's health check reads this file's age (CONVEYOR_HEARTBEAT_FILE, set by the pool)."""
    path = os.environ.get("CONVEYOR_HEARTBEAT_FILE")
    if path:
        Path(path).write_text(str(time.time()))


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    sqs = boto3.client("sqs")
    queue = os.environ["QUEUE_URL"]
    print(f"thumbnail worker polling {queue}")
    while not stopping:
        beat()
        answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=10)
        done = []
        for message in answer.get("Messages", []):
            try:
                thumbnail.process_message(message["Body"])
                done.append({"Id": message["MessageId"], "ReceiptHandle": message["ReceiptHandle"]})
            except Exception as exc:
                print(f"failed: message {message['MessageId']}: {exc}")
                if isinstance(exc, thumbnail.images.Rejected):  # waiting will not help: retry now (DLQ sooner)
                    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"],
                                                  VisibilityTimeout=0)
        if done:
            sqs.delete_message_batch(QueueUrl=queue, Entries=done)


if __name__ == "__main__":
    main()
