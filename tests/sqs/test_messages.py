"""Send, receive, delete, visibility, delays, retention, long polling, batches."""

from __future__ import annotations

import hashlib
import struct
import threading
import time

import pytest
from botocore.exceptions import ClientError
from sqs_helpers import is_error


def attributes_md5(attrs):
    """An independent implementation of AWS's message-attribute digest."""
    out = b""
    for name in sorted(attrs):
        v = attrs[name]
        out += struct.pack(">I", len(name.encode())) + name.encode()
        out += struct.pack(">I", len(v["DataType"].encode())) + v["DataType"].encode()
        if "StringValue" in v:
            data = v["StringValue"].encode()
            out += b"\x01" + struct.pack(">I", len(data)) + data
        else:
            out += b"\x02" + struct.pack(">I", len(v["BinaryValue"])) + v["BinaryValue"]
    return hashlib.md5(out).hexdigest()


ATTRS = {
    "color": {"DataType": "String", "StringValue": "blue"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    "custom": {"DataType": "String.custom", "StringValue": "é ü"},
}


def test_send_receive_delete_with_md5(sqs, queue):
    url = queue("msgs")
    body = "hello \u00e9\U0001f600\r\n"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=ATTRS,
                            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String",
                                                                        "StringValue": "Root=1-abc"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == attributes_md5(ATTRS)
    assert sent["MD5OfMessageSystemAttributes"]
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
    [m] = got["Messages"]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == body
    assert m["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert m["MessageAttributes"] == ATTRS
    assert m["MD5OfMessageAttributes"] == attributes_md5(ATTRS)
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert m["Attributes"]["SenderId"] == "000000000000"
    assert m["Attributes"]["AWSTraceHeader"] == "Root=1-abc"
    assert int(m["Attributes"]["SentTimestamp"]) > 1_600_000_000_000
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_message_attribute_name_filters(sqs, queue):
    url = queue("filters")
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
        "a.one": {"DataType": "String", "StringValue": "1"},
        "a.two": {"DataType": "String", "StringValue": "2"},
        "b": {"DataType": "String", "StringValue": "3"},
    })
    [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["a.*"], VisibilityTimeout=0)["Messages"]
    assert set(m["MessageAttributes"]) == {"a.one", "a.two"}
    [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["b"], VisibilityTimeout=0)["Messages"]
    assert set(m["MessageAttributes"]) == {"b"}
    [m] = sqs.receive_message(QueueUrl=url, AttributeNames=["SentTimestamp"])["Messages"]
    assert "MessageAttributes" not in m and set(m["Attributes"]) == {"SentTimestamp"}


def test_visibility_timeout(sqs, queue, advance):
    url = queue("vis", VisibilityTimeout="10")
    sqs.send_message(QueueUrl=url, MessageBody="v")
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"
    advance(11)
    [again] = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert again["MessageId"] == m["MessageId"]
    assert again["ReceiptHandle"] != m["ReceiptHandle"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    # the old receipt handle no longer deletes the message
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=100)
    advance(50)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    [third] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=5)["Messages"]
    advance(6)
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"], VisibilityTimeout=5)
    assert is_error(e.value, "MessageNotInflight")
    [fourth] = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=fourth["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_visibility_total_cap(sqs, queue, advance):
    url = queue("cap")
    sqs.send_message(QueueUrl=url, MessageBody="c")
    [m] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=43200)["Messages"]
    advance(100)
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=43200)
    assert is_error(e.value, "InvalidParameterValue")


def test_invalid_receipt_handle(sqs, queue):
    url = queue("handles")
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert is_error(e.value, "ReceiptHandleIsInvalid")


def test_delays(sqs, queue, advance):
    url = queue("delayed", DelaySeconds="20")
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    sqs.send_message(QueueUrl=url, MessageBody="own delay", DelaySeconds=5)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "2"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    advance(6)
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert m["Body"] == "own delay"
    advance(15)
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert m["Body"] == "queue delay"


def test_retention_expiry(sqs, queue, advance):
    url = queue("short", MessageRetentionPeriod="60")
    sqs.send_message(QueueUrl=url, MessageBody="old")
    advance(30)
    sqs.send_message(QueueUrl=url, MessageBody="new")
    advance(31)
    [m] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert m["Body"] == "new"
    advance(60)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_retention_shortened_on_an_empty_queue_applies_to_the_next_send(sqs, queue, advance):
    """A send re-arms the queue's timer only when it is due before the armed one: here the armed one is
    the old retention's, and the new message must expire by the shorter one."""
    url = queue("shortened", MessageRetentionPeriod="600")
    sqs.send_message(QueueUrl=url, MessageBody="gone")
    [m] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1000)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "short-lived"}])
    advance(59)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "1"
    advance(2)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)


def test_receive_many(sqs, queue):
    url = queue("many")
    for i in range(15):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(first) == 10 and len(second) == 5
    assert len({m["Body"] for m in first + second}) == 15
    with pytest.raises(ClientError):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)


def test_long_poll_woken_by_send(sqs, queue, sqs_factory):
    url = queue("longpoll")
    other = sqs_factory()

    def later():
        time.sleep(0.3)
        other.send_message(QueueUrl=url, MessageBody="wake up")

    thread = threading.Thread(target=later)
    start = time.monotonic()
    thread.start()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)
    elapsed = time.monotonic() - start
    thread.join()
    assert got["Messages"][0]["Body"] == "wake up"
    assert elapsed < 5


def test_long_poll_times_out_with_clock(sqs, queue, sqs_factory, advance):
    url = queue("timeout", ReceiveMessageWaitTimeSeconds="5")
    other = sqs_factory()
    box = {}

    def poll():
        box["r"] = other.receive_message(QueueUrl=url)  # queue default wait applies

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive()
    advance(6)
    thread.join(10)
    assert not thread.is_alive()
    assert "Messages" not in box["r"]


def test_long_poll_woken_by_visibility_expiry(sqs, queue, sqs_factory, advance):
    url = queue("visexp")
    sqs.send_message(QueueUrl=url, MessageBody="again")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=3)
    other = sqs_factory()
    box = {}
    thread = threading.Thread(target=lambda: box.update(r=other.receive_message(QueueUrl=url, WaitTimeSeconds=20)))
    thread.start()
    time.sleep(0.3)
    advance(4)
    thread.join(10)
    assert box["r"]["Messages"][0]["Body"] == "again"


def test_send_batch(sqs, queue):
    url = queue("batch")
    entries = [{"Id": f"e{i}", "MessageBody": f"body {i}"} for i in range(10)]
    entries[3]["MessageAttributes"] = ATTRS
    entries[5]["MessageBody"] = "bad \x01 char"
    r = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert len(r["Successful"]) == 9
    [failed] = r["Failed"]
    assert failed["Id"] == "e5" and failed["SenderFault"] is True
    assert failed["Code"] == "InvalidMessageContents"
    ok = {e["Id"]: e for e in r["Successful"]}
    assert ok["e3"]["MD5OfMessageAttributes"] == attributes_md5(ATTRS)
    assert ok["e0"]["MD5OfMessageBody"] == hashlib.md5(b"body 0").hexdigest()


def test_bodies_at_the_edges_of_the_allowed_characters(sqs, queue):
    """Tab, newline, carriage return, DEL and characters beyond ASCII are allowed (#x9 | #xA | #xD | #x20 to
    #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF); other control characters are not, wherever they are.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html"""
    url = queue("edges")
    bodies = ["tab\there", "lines\r\n", "del \x7f", "caf\u00e9", "\U0001f600 emoji", "\ue000\ufffd", "plain"]
    entries = [{"Id": f"e{i}", "MessageBody": b} for i, b in enumerate(bodies)]
    entries.append({"Id": "bad", "MessageBody": "fine until the end \x1f"})
    r = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert [f["Id"] for f in r.get("Failed", [])] == ["bad"]
    ok = {e["Id"]: e["MD5OfMessageBody"] for e in r["Successful"]}
    assert ok == {f"e{i}": hashlib.md5(b.encode("utf-8")).hexdigest() for i, b in enumerate(bodies)}
    got = []
    while len(got) < len(bodies):
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(m["Body"] for m in got) == sorted(bodies)
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="\x0b")
    assert is_error(e.value, "InvalidMessageContents")


def test_batch_errors(sqs, queue):
    url = queue("batcherr")
    cases = [
        ([], "EmptyBatchRequest"),
        ([{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": "bad id!", "MessageBody": "x"}], "InvalidBatchEntryId"),
        ([{"Id": f"e{i}", "MessageBody": "x" * 200_000} for i in range(6)], "BatchRequestTooLong"),
    ]
    for entries, code in cases:
        with pytest.raises(ClientError) as e:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert is_error(e.value, code), code
    with pytest.raises(ClientError) as e:
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "ReceiptHandle": "x"} for i in range(11)])
    assert is_error(e.value, "TooManyEntriesInBatchRequest")
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "a", "ReceiptHandle": "x", "VisibilityTimeout": 1},
            {"Id": "a", "ReceiptHandle": "y", "VisibilityTimeout": 1}])
    assert is_error(e.value, "BatchEntryIdsNotDistinct")


def test_delete_and_visibility_batches(sqs, queue, advance):
    url = queue("batch2")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(4)])
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    assert len(msgs) == 4
    r = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "bogus", "VisibilityTimeout": 0}])
    assert [e["Id"] for e in r["Successful"]] == ["a"]
    assert r["Failed"][0]["Id"] == "b" and r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    r = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs[1:])
    ] + [{"Id": "bad", "ReceiptHandle": "nope"}])
    assert len(r["Successful"]) == 3 and r["Failed"][0]["Id"] == "bad"
    [left] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert left["Body"] == msgs[0]["Body"]


def test_validation_errors(sqs, queue):
    url = queue("validate")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x" * (1048576 + 1))
    assert is_error(e.value, "InvalidParameterValue")
    assert "Message must be shorter than 1048576 bytes" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
            f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)})
    assert is_error(e.value, "InvalidParameterValue")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="bad \x00")
    assert is_error(e.value, "InvalidMessageContents")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
            "n": {"DataType": "Number", "StringValue": "abc"}})
    assert is_error(e.value, "InvalidParameterValue")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
            "n": {"DataType": "Weird", "StringValue": "abc"}})
    assert is_error(e.value, "InvalidParameterValue")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert is_error(e.value, "InvalidParameterValue")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "1024"})
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert is_error(e.value, "InvalidParameterValue")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url.replace("validate", "missing"), MessageBody="x")
    assert is_error(e.value, "QueueDoesNotExist")


def test_deleting_queue_ends_parked_receive(sqs, queue, sqs_factory):
    url = queue("vanishing")
    other = sqs_factory()
    box = {}

    def poll():
        try:
            box["r"] = other.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        except ClientError as exc:
            box["e"] = exc

    thread = threading.Thread(target=poll)
    start = time.monotonic()
    thread.start()
    time.sleep(0.3)
    sqs.delete_queue(QueueUrl=url)
    thread.join(10)
    assert time.monotonic() - start < 5
    assert "Messages" not in box.get("r", {})
