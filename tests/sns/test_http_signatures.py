"""HTTP subscribers (confirmation handshake, delivery, retries into a DLQ) and signature verification."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from sns_helpers import body, verify
from tests.helpers import wait_for


class Subscriber:
    """A real HTTP endpoint in a thread: records every POST, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                data = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(data)))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_type(self, kind: str) -> list[dict]:
        return [doc for _, doc in self.requests if doc.get("Type") == kind]


@pytest.fixture
def subscriber():
    sub = Subscriber()
    yield sub
    sub.server.shutdown()
    sub.server.server_close()


def retry_armed(endpoint: str, failed_attempts: int) -> dict:
    """Wait until the server has armed the retry after `failed_attempts` failed POSTs (the subscriber sees
    a POST before the server reads its answer and arms the retry timer on its clock): moving the manual
    clock any earlier would leave the retry due after the time the test moves to."""
    def armed() -> dict | None:
        return next((r for r in pending_retries(endpoint) if r["failedAttempts"] == failed_attempts), None)
    return wait_for(armed, what=f"the retry after attempt {failed_attempts}")


def pending_retries(endpoint: str) -> list[dict]:
    """GET /_conveyor/sns/retries: the HTTP(S) deliveries waiting for their next retry."""
    with urllib.request.urlopen(f"{endpoint}/_conveyor/sns/retries", timeout=5) as response:
        return json.loads(response.read())["retries"]


def tampered(doc: dict) -> dict:
    return {**doc, "Message": doc["Message"] + "!"}


def test_http_confirmation_and_delivery(sns, subscriber):
    topic = sns.create_topic(Name="web")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url)["SubscriptionArn"] == \
        "pending confirmation"
    (confirm,) = wait_for(lambda: subscriber.of_type("SubscriptionConfirmation"))
    assert list(confirm) == ["Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp",
                             "SignatureVersion", "Signature", "SigningCertURL"]
    verify(confirm)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"] == \
        "PendingConfirmation"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"
    sns.publish(TopicArn=topic, Message="before confirmation")  # not delivered: still pending
    with urllib.request.urlopen(confirm["SubscribeURL"], timeout=10) as response:  # what a subscriber does
        assert b"ConfirmSubscriptionResult" in response.read()
    sub_arn = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
    assert sub_arn.startswith(topic + ":")
    sns.publish(TopicArn=topic, Message="after", Subject="Hi",
                MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    (note,) = wait_for(lambda: subscriber.of_type("Notification"))
    headers = next(h for h, d in subscriber.requests if d is note)
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == sub_arn and headers["x-amz-sns-topic-arn"] == topic
    assert headers["content-type"].startswith("text/plain")
    assert note["Message"] == "after" and note["Subject"] == "Hi"
    assert note["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    verify(note)
    with pytest.raises(InvalidSignature):
        verify(tampered(note))
    # The UnsubscribeURL works as a plain GET.
    urllib.request.urlopen(note["UnsubscribeURL"], timeout=10).close()
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_confirm_with_the_api(sns, subscriber):
    topic = sns.create_topic(Name="web")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url)
    (confirm,) = wait_for(lambda: subscriber.of_type("SubscriptionConfirmation"))
    arn = sns.confirm_subscription(TopicArn=topic, Token=confirm["Token"])["SubscriptionArn"]
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"
    with pytest.raises(ClientError):
        sns.confirm_subscription(TopicArn=topic, Token="wrong")


def test_failing_http_subscriber_ends_in_its_dlq(sns, subscriber, queue, receive, advance, endpoint):
    topic = sns.create_topic(Name="web")["TopicArn"]
    dlq_url, dlq_arn = queue("web-dlq")
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url,
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    (confirm,) = wait_for(lambda: subscriber.of_type("SubscriptionConfirmation"))
    sub = sns.confirm_subscription(TopicArn=topic, Token=confirm["Token"])["SubscriptionArn"]
    subscriber.status = 500
    message_id = sns.publish(TopicArn=topic, Message="doomed")["MessageId"]
    # Default HTTP policy: the first attempt, then 3 retries 20 seconds apart (on the server's clock).
    for attempt in range(1, 4):
        wait_for(lambda n=attempt: len(subscriber.of_type("Notification")) == n)
        retry = retry_armed(endpoint, attempt)
        assert retry["endpoint"] == subscriber.url and retry["messageId"] == message_id
        now = advance(19)
        assert retry["retryAt"] == pytest.approx(now + 1)
        assert len(subscriber.of_type("Notification")) == attempt
        advance(1)
    wait_for(lambda: len(subscriber.of_type("Notification")) == 4)
    (dead,) = receive(dlq_url)
    assert pending_retries(endpoint) == []  # given up: nothing left to retry
    doc = body(dead)
    assert doc["MessageId"] == message_id and doc["Message"] == "doomed"
    assert sub in doc["UnsubscribeURL"]
    verify(doc)


def test_subscription_delivery_policy_controls_retries(sns, subscriber, advance, endpoint):
    topic = sns.create_topic(Name="web")["TopicArn"]
    policy = {"healthyRetryPolicy": {"numRetries": 2, "numNoDelayRetries": 1, "minDelayTarget": 5,
                                     "maxDelayTarget": 5}}
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url,
                  Attributes={"DeliveryPolicy": json.dumps(policy)})
    (confirm,) = wait_for(lambda: subscriber.of_type("SubscriptionConfirmation"))
    arn = sns.confirm_subscription(TopicArn=topic, Token=confirm["Token"])["SubscriptionArn"]
    effective = json.loads(sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                           ["EffectiveDeliveryPolicy"])
    assert effective["healthyRetryPolicy"]["numRetries"] == 2
    subscriber.status = 503
    sns.publish(TopicArn=topic, Message="x")
    wait_for(lambda: len(subscriber.of_type("Notification")) == 2)  # first try + one immediate retry
    retry_armed(endpoint, 2)
    advance(5)
    wait_for(lambda: len(subscriber.of_type("Notification")) == 3)


@pytest.mark.parametrize("version", ["1", "2"])
def test_sqs_envelope_signature_verifies(sns, subscribed, receive, version):
    topic = sns.create_topic(Name="signed", Attributes={"SignatureVersion": version})["TopicArn"]
    url, _ = subscribed(topic, "signed-q")
    sns.publish(TopicArn=topic, Message="sign me\nwith lines", Subject="S")
    doc = body(receive(url)[0])
    assert doc["SignatureVersion"] == version
    verify(doc)
    with pytest.raises(InvalidSignature):
        verify(tampered(doc))
