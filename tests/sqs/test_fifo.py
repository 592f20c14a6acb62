"""FIFO queues: ordering, deduplication, group blocking, receive attempts."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from sqs_helpers import is_error


@pytest.fixture
def fifo(queue):
    return lambda name="f.fifo", **attrs: queue(name, FifoQueue="true", **attrs)


def test_order_and_sequence_numbers(sqs, fifo):
    url = fifo()
    seqs = []
    for i in range(5):
        r = sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
        seqs.append(int(r["SequenceNumber"]))
        assert len(r["SequenceNumber"]) >= 20
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in msgs] == [f"m{i}" for i in range(5)]
    assert msgs[0]["Attributes"]["MessageGroupId"] == "g"
    assert msgs[0]["Attributes"]["MessageDeduplicationId"] == "d0"
    assert int(msgs[0]["Attributes"]["SequenceNumber"]) == seqs[0]


def test_group_blocking(sqs, fifo, advance):
    url = fifo(VisibilityTimeout="30")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"a{i}", MessageGroupId="A", MessageDeduplicationId=f"a{i}")
    sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="B", MessageDeduplicationId="b0")
    [first] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert first["Body"] == "a0"
    # group A is blocked while a0 is in flight; B is still served
    [other] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert other["Body"] == "b0"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=other["ReceiptHandle"])
    advance(31)  # a0 returns to the head of its group
    [again] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert again["Body"] == "a0"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in msgs] == ["a1", "a2"]


def test_dedup_window_outlives_delete_and_purge_clears(sqs, fifo, advance):
    url = fifo()
    first = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="same")
    dup = sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="same")
    assert dup["MessageId"] == first["MessageId"]
    [m] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs.send_message(QueueUrl=url, MessageBody="z", MessageGroupId="g", MessageDeduplicationId="same")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # still deduplicated after deletion
    advance(301)
    sqs.send_message(QueueUrl=url, MessageBody="later", MessageGroupId="g", MessageDeduplicationId="same")
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert m["Body"] == "later"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="after purge", MessageGroupId="g", MessageDeduplicationId="same")
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert m["Body"] == "after purge"


def test_content_based_dedup(sqs, fifo):
    url = fifo(ContentBasedDeduplication="true")
    a = sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    c = sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"] != c["MessageId"]
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageDeduplicationId"])
    assert [m["Body"] for m in msgs["Messages"]] == ["same body", "other body"]
    import hashlib

    assert msgs["Messages"][0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same body").hexdigest()


def test_fifo_errors(sqs, fifo):
    url = fifo()
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert is_error(e.value, "MissingParameter")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert is_error(e.value, "InvalidParameterValue")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d",
                         DelaySeconds=5)
    assert is_error(e.value, "InvalidParameterValue")


def test_fifo_batch_and_dedup_scope(sqs, fifo):
    url = fifo(DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId")
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "g1", "MessageGroupId": "a", "MessageDeduplicationId": "d"},
        {"Id": "2", "MessageBody": "g2", "MessageGroupId": "b", "MessageDeduplicationId": "d"},
    ])
    assert len(r["Successful"]) == 2
    assert r["Successful"][0]["MessageId"] != r["Successful"][1]["MessageId"]


def test_receive_request_attempt_id(sqs, fifo):
    url = fifo()
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    one = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")["Messages"]
    two = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")["Messages"]
    assert [m["ReceiptHandle"] for m in one] == [m["ReceiptHandle"] for m in two]
