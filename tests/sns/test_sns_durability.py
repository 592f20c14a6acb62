"""An acknowledged publish reaches every matching queue even when the server is killed right after."""

from __future__ import annotations

import json
import time

from sns_helpers import body


def drain(sqs, url: str, want: int, timeout: float = 20.0) -> set[str]:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in batch:
            seen.add(body(m)["MessageId"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return seen


def test_sigkill_right_after_publish_still_delivers(start_server, tmp_path):
    server = start_server(tmp_path / "data")
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name="durable")["TopicArn"]
    urls = []
    for i in range(3):
        url = sqs.create_queue(QueueName=f"d{i}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"FilterPolicy": json.dumps({"n": [{"numeric": [">=", i]}]})})
        urls.append(url)
    acknowledged = []
    for batch in range(10):
        result = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": str(i), "Message": f"m{batch}-{i}",
             "MessageAttributes": {"n": {"DataType": "Number", "StringValue": str(i % 3)}}} for i in range(10)])
        acknowledged.extend((s["MessageId"], int(s["Id"]) % 3) for s in result["Successful"])
    server.kill()  # SIGKILL: whatever was still in the outbox must be delivered after restart

    server = start_server(tmp_path / "data")
    sqs = server.client("sqs")
    for i, url in enumerate(urls):
        expected = {mid for mid, n in acknowledged if n >= i}
        assert drain(sqs, url, len(expected)) >= expected
    assert server.client("sns").list_topics()["Topics"] == [{"TopicArn": topic}]


def test_sigkill_right_after_fifo_publishes_keeps_their_messages_ids_and_sequence(start_server, tmp_path):
    """A FIFO publish answers once its queue holds the message and its deduplication id and sequence
    number are committed: after a SIGKILL every acknowledged message is in the queue once, in order, a
    repeat of a deduplication id answers with the first publish's ids, and sequence numbers go on rising."""
    server = start_server(tmp_path / "data")
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name="durable.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url = sqs.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    acknowledged = [sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
                    for i in range(20)]
    server.kill()

    server = start_server(tmp_path / "data")
    sns, sqs = server.client("sns"), server.client("sqs")
    again = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g", MessageDeduplicationId="d0")
    assert (again["MessageId"], again["SequenceNumber"]) == (acknowledged[0]["MessageId"],
                                                              acknowledged[0]["SequenceNumber"])
    later = sns.publish(TopicArn=topic, Message="m20", MessageGroupId="g", MessageDeduplicationId="d20")
    assert int(later["SequenceNumber"]) > int(acknowledged[-1]["SequenceNumber"])
    bodies: list[str] = []
    deadline = time.monotonic() + 20
    while len(bodies) < 21 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert bodies == [f"m{i}" for i in range(21)]
