"""Helpers for EventBridge tests: queues that let EventBridge send, functions that record their events,
waiting until every matched event was delivered."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import lambda_role
from tests.helpers import wait_for
from tests.lambda_.conftest import make_zip

RECORDER = """
import json, os
def lambda_handler(event, context):
    with open(os.environ["OUT"], "a") as fh:
        fh.write(json.dumps(event) + "\\n")
"""


def events_health(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_conveyor/health", timeout=10) as response:
        return dict(json.load(response)["services"]["events"])


def settled(endpoint: str) -> bool:
    """No delivery waits or runs, and Lambda has no asynchronous invocation queued or running."""
    with urllib.request.urlopen(f"{endpoint}/_conveyor/health", timeout=10) as response:
        services = json.load(response)["services"]
    functions = services["lambda"]  # a Lambda not started yet reports no queue: nothing runs there
    return bool(services["events"]["pending_deliveries"] == 0 and functions.get("async_pending", 0) == 0
                and functions.get("async_running", 0) == 0)


def recorded(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def allow_events(sqs: Any, url: str, rule_arn: str | None = None) -> str:
    """Give the queue the policy EventBridge needs to send to it (for one rule, or any); its ARN."""
    arn = str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                 "Action": "sqs:SendMessage", "Resource": arn}
    if rule_arn:
        statement["Condition"] = {"ArnEquals": {"aws:SourceArn": rule_arn}}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "Policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})})
    return arn


def receive_all(sqs: Any, url: str, expected: int, wait: float = 5.0) -> list[dict[str, Any]]:
    """Receive (and delete) messages until `expected` came or `wait` real seconds passed, then once more
    to catch any extra. Receives do not long-poll: on the tests' manual clock a long poll only ends when
    a message comes."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                    AttributeNames=["All"]).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        got.extend(batch)
        if (len(got) >= expected and not batch) or time.monotonic() > deadline:
            return got
        if not batch:
            time.sleep(0.05)


@pytest.fixture
def events(client: Callable[..., Any]) -> Any:
    return client("events")


@pytest.fixture
def sqs(client: Callable[..., Any]) -> Any:
    return client("sqs")


@pytest.fixture
def recorder(client: Callable[..., Any], tmp_path: Path) -> Callable[[str], tuple[str, Path]]:
    """A function writing each event it gets to a file: (its ARN, the file)."""
    lam = client("lambda")
    role = lambda_role(client("iam"), "r")

    def make(name: str) -> tuple[str, Path]:
        out = tmp_path / f"{name}.jsonl"
        arn = lam.create_function(FunctionName=name, Role=role, Runtime="python3.12",
                                  Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip(RECORDER)},
                                  Environment={"Variables": {"OUT": str(out)}})["FunctionArn"]
        return str(arn), out

    return make


__all__ = ["allow_events", "events_health", "receive_all", "recorded", "settled", "wait_for"]
