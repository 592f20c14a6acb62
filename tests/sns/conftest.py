"""SNS fixtures on top of the shared ones: clients, queues subscribed to topics, and polling receives."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.helpers import wait_for


@pytest.fixture
def sns(client: Callable[..., Any]) -> Any:
    return client("sns")


@pytest.fixture
def sqs(client: Callable[..., Any]) -> Any:
    return client("sqs")


@pytest.fixture
def queue(sqs: Any) -> Callable[..., tuple[str, str]]:
    """queue("name", **attributes) -> (url, arn)."""

    def make(name: str, **attrs: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    return make


@pytest.fixture
def subscribed(sns: Any, queue: Callable[..., tuple[str, str]]) -> Callable[..., tuple[str, str]]:
    """subscribed(topic_arn, "queue-name", **subscription attributes) -> (queue url, subscription arn)."""

    def make(topic_arn: str, name: str, **attrs: str) -> tuple[str, str]:
        url, arn = queue(name, **({"FifoQueue": "true"} if name.endswith(".fifo") else {}))
        sub = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attrs,
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
        return url, sub

    return make


@pytest.fixture
def receive(sqs: Any) -> Callable[..., list[dict[str, Any]]]:
    """receive(url, count=1): poll (no long poll: the test clock is manual) until `count` messages came."""

    def get(url: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []

        def step() -> bool:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                        MessageAttributeNames=["All"], AttributeNames=["All"]).get("Messages", [])
            for m in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            got.extend(batch)
            return len(got) >= count

        wait_for(step, timeout)
        return got

    return get


@pytest.fixture
def nothing_in(sqs: Any) -> Callable[[str], None]:
    def check(url: str, settle: float = 0.3) -> None:
        time.sleep(settle)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        assert got == [], got

    return check
