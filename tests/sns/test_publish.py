"""Publish and PublishBatch: fan-out into SQS, the exact envelope, raw delivery, FIFO, limits, the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import statistics
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sns_helpers import body, error

from conveyor.app import App
from conveyor.clock import ManualClock
from conveyor.config import Config
from conveyor.services.sns.store import FORGET_EXPIRED_DEDUP

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_fan_out_to_three_queues_with_exact_envelope(sns, subscribed, receive):
    topic = sns.create_topic(Name="uploads")["TopicArn"]
    queues = [subscribed(topic, f"q{i}") for i in range(3)]
    message_id = sns.publish(TopicArn=topic, Message="hello", Subject="Greeting",
                             MessageAttributes={"kind": {"DataType": "String", "StringValue": "greet"},
                                                "n": {"DataType": "Number", "StringValue": "7"},
                                                "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
                             )["MessageId"]
    for url, sub in queues:
        (message,) = receive(url)
        doc = body(message)
        assert list(doc) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                             "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL",
                             "MessageAttributes"]
        assert doc["Type"] == "Notification" and doc["MessageId"] == message_id
        assert doc["TopicArn"] == topic and doc["Subject"] == "Greeting" and doc["Message"] == "hello"
        assert TIMESTAMP.match(doc["Timestamp"]) and doc["SignatureVersion"] == "1"
        assert doc["MessageAttributes"] == {"kind": {"Type": "String", "Value": "greet"},
                                            "n": {"Type": "Number", "Value": "7"},
                                            "b": {"Type": "Binary", "Value": "AAE="}}
        assert "SubscriptionArn=" + sub in doc["UnsubscribeURL"]
        assert message["Body"].startswith('{\n  "Type" : "Notification",\n')
        assert "MessageAttributes" not in message  # not raw: attributes live in the envelope


def test_envelope_without_subject_or_attributes(sns, subscribed, receive):
    topic = sns.create_topic(Name="t")["TopicArn"]
    url, _ = subscribed(topic, "q")
    sns.publish(TopicArn=topic, Message='{"json": "stays a string"}')
    doc = body(receive(url)[0])
    assert "Subject" not in doc and "MessageAttributes" not in doc
    assert doc["Message"] == '{"json": "stays a string"}'


def test_raw_delivery_with_attributes(sns, subscribed, receive):
    topic = sns.create_topic(Name="t")["TopicArn"]
    url, _ = subscribed(topic, "raw", RawMessageDelivery="true")
    sns.publish(TopicArn=topic, Message="raw body", Subject="ignored",
                MessageAttributes={"s": {"DataType": "String", "StringValue": "v"},
                                   "n": {"DataType": "Number", "StringValue": "1.5"},
                                   "b": {"DataType": "Binary", "BinaryValue": b"bin"},
                                   "arr": {"DataType": "String.Array", "StringValue": '["a", 1]'}})
    (message,) = receive(url)
    assert message["Body"] == "raw body"
    assert message["MessageAttributes"] == {
        "s": {"StringValue": "v", "DataType": "String"},
        "n": {"StringValue": "1.5", "DataType": "Number"},
        "b": {"BinaryValue": b"bin", "DataType": "Binary"},
        "arr": {"StringValue": '["a", 1]', "DataType": "String.Array"},
    }


def test_message_structure_json(sns, subscribed, receive):
    topic = sns.create_topic(Name="t")["TopicArn"]
    url, _ = subscribed(topic, "q")
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message='{"default": "for everyone", "sqs": "for queues", "http": "for web"}')
    assert body(receive(url)[0])["Message"] == "for queues"
    for message, reason in (("not json", "JSON message body failed to parse"),
                            ('{"sqs": "x"}', "No default entry in JSON message body")):
        with pytest.raises(ClientError) as exc:
            sns.publish(TopicArn=topic, MessageStructure="json", Message=message)
        assert error(exc.value) == ("InvalidParameter", f"Invalid parameter: Message Structure - {reason}")


def test_publish_refusals(sns):
    topic = sns.create_topic(Name="t")["TopicArn"]
    cases = [
        (dict(TopicArn=topic, Message="x" * (256 * 1024 + 1)), "Invalid parameter: Message too long"),
        (dict(TopicArn=topic, Message="x" * 1000, MessageAttributes={
            "a": {"DataType": "String", "StringValue": "y" * (256 * 1024 - 1000)}}),
         "Invalid parameter: Message too long"),
        (dict(TopicArn=topic, Message="x", Subject="s" * 101), "Invalid parameter: Subject"),
        (dict(TopicArn=topic, Message="x", Subject="line\nbreak"), "Invalid parameter: Subject"),
        (dict(TopicArn=topic, Message=""), "Invalid parameter: Empty message"),
        (dict(PhoneNumber="NAA+15555550100", Message="x"),
         "Invalid parameter: PhoneNumber Reason: NAA+15555550100 is not valid to publish to"),
        (dict(TargetArn="arn:aws:sns:us-east-1:000000000000:endpoint/APNS/app/0c9b9f3e-4cbb-3b1a-9d39-2f4b6e1c5a77",
              Message="x"),
         "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified"),
        (dict(TargetArn="arn:aws:sns:us-east-1:000000000000:endpoint/APNS/app/1", Message="x"),
         "Invalid parameter: TargetArn Reason: ARN specifies an invalid endpointId: UUID must be encoded in exactly "
         "36 characters."),
        (dict(TopicArn=topic, Message="x", MessageDeduplicationId="d"), None),
    ]
    for kwargs, message in cases:
        with pytest.raises(ClientError) as exc:
            sns.publish(**kwargs)
        code, text = error(exc.value)
        assert code == "InvalidParameter", (kwargs.keys(), code, text)
        assert message is None or text == message
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message="x", MessageAttributes={"a": {"DataType": "Number", "StringValue": "z"}})
    assert error(exc.value)[0] == "ParameterValueInvalid"
    # exactly at the limit is fine
    sns.publish(TopicArn=topic, Message="x" * (256 * 1024))


def test_fifo_publish_batch_without_ids_fails_whole(sns):
    # https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html: a FIFO batch entry without its group
    # id (or its deduplication id, where the topic derives none) fails the whole request.
    topic = sns.create_topic(Name="b.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    for entries, message in (
        ([{"Id": "1", "Message": "a", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
          {"Id": "2", "Message": "b"}], "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"),
        ([{"Id": "1", "Message": "a", "MessageGroupId": "g"}],
         "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
         "MessageDeduplicationId provided explicitly"),
    ):
        with pytest.raises(ClientError) as exc:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert error(exc.value) == ("InvalidParameter", message)
    with pytest.raises(ClientError) as exc:
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": str(i), "Message": "x" * 30000, "MessageGroupId": "g", "MessageDeduplicationId": str(i)}
            for i in range(9)])
    assert error(exc.value) == ("BatchRequestTooLong",
                                "The length of all the messages put together is more than the limit.")


def test_publish_batch(sns, subscribed, receive):
    topic = sns.create_topic(Name="t")["TopicArn"]
    url, _ = subscribed(topic, "q", RawMessageDelivery="true")
    result = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one"}, {"Id": "b", "Message": ""}, {"Id": "c", "Message": "three"}])
    assert [s["Id"] for s in result["Successful"]] == ["a", "c"]
    assert result["Failed"] == [{"Id": "b", "Code": "InvalidParameter", "Message": "Invalid parameter: Empty message",
                                 "SenderFault": True}]
    assert sorted(m["Body"] for m in receive(url, 2)) == ["one", "three"]
    for entries, code in (([], "EmptyBatchRequest"),
                          ([{"Id": str(i), "Message": "m"} for i in range(11)], "TooManyEntriesInBatchRequest"),
                          ([{"Id": "x", "Message": "m"}, {"Id": "x", "Message": "n"}], "BatchEntryIdsNotDistinct")):
        with pytest.raises(ClientError) as exc:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert error(exc.value)[0] == code


def test_fifo_publish_answers_once_its_queues_hold_it(sns, sqs, subscribed):
    # Read-your-write, as for standard topics: the message is in the FIFO queue when Publish answers.
    topic = sns.create_topic(Name="now.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, _ = subscribed(topic, "now.fifo", RawMessageDelivery="true")
    sns.publish(TopicArn=topic, Message="m", MessageGroupId="g", MessageDeduplicationId="d")
    [got] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0,
                                MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"])["Messages"]
    assert (got["Body"], got["Attributes"]) == ("m", {"MessageGroupId": "g", "MessageDeduplicationId": "d"})


def test_fifo_topic_keeps_group_order_and_deduplicates(sns, sqs, subscribed, receive, advance):
    topic = sns.create_topic(Name="jobs.fifo", Attributes={"FifoTopic": "true",
                                                           "ContentBasedDeduplication": "true"})["TopicArn"]
    url, _ = subscribed(topic, "jobs.fifo", RawMessageDelivery="true")
    seqs = []
    for i in range(12):
        seqs.append(sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g")["SequenceNumber"])
    assert seqs == sorted(seqs) and len(set(seqs)) == 12
    again = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")
    assert again["SequenceNumber"] == seqs[0]  # a duplicate within 5 minutes
    got = []
    while len(got) < 12:  # one group: each receive must be deleted before the next is visible
        got.extend(receive(url))
    assert [m["Body"] for m in got] == [f"m{i}" for i in range(12)]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"g"}
    advance(301)
    sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")  # window over: delivered again
    assert receive(url)[0]["Body"] == "m0"
    with pytest.raises(ClientError) as exc:
        sns.publish(TopicArn=topic, Message="no group")
    assert error(exc.value)[0] == "InvalidParameter"


def test_fifo_envelope_has_sequence_number(sns, subscribed, receive):
    topic = sns.create_topic(Name="e.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, _ = subscribed(topic, "e.fifo")
    seq = sns.publish(TopicArn=topic, Message="x", MessageGroupId="g",
                      MessageDeduplicationId="d1")["SequenceNumber"]
    doc = body(receive(url)[0])
    assert list(doc)[:3] == ["Type", "MessageId", "SequenceNumber"] and doc["SequenceNumber"] == seq
    with pytest.raises(ClientError):
        sns.publish(TopicArn=topic, Message="x", MessageGroupId="g")  # no dedup id, no content dedup


def test_fan_out_to_ten_costs_less_than_three_times_one(tmp_path):
    """Measured in-process (publish acknowledged + every queue written + outbox row deleted), so client
    round trips do not hide the server's work."""

    async def run() -> tuple[float, float]:
        app = App(Config(data_dir=tmp_path, port=0, auth="off"))
        await app.start()
        try:
            sqs, sns = await app.services.use("sqs"), await app.services.use("sns")
            ctx = SimpleNamespace(account_id="000000000000", region="us-east-1", base_url="http://x", principal=None)
            topics = {}
            for fan in (1, 10):
                topics[fan] = (await sns.handler("CreateTopic")(ctx, {"Name": f"fan{fan}"}))["TopicArn"]
                for i in range(fan):
                    q = await sqs.catalog.create_queue("000000000000", "us-east-1", f"f{fan}-{i}", {}, {})
                    await sns.handler("Subscribe")(ctx, {"TopicArn": topics[fan], "Protocol": "sqs",
                                                         "Endpoint": q.arn})
            samples: dict[int, list[float]] = {1: [], 10: []}
            for _ in range(30):  # interleaved, so disk hiccups hit both sides alike
                for fan, topic in topics.items():
                    started = time.perf_counter()
                    await sns.publish_internal(topic, "x")
                    while sns.dispatcher.tasks:
                        await asyncio.gather(*list(sns.dispatcher.tasks))
                    samples[fan].append(time.perf_counter() - started)
            assert all(sqs.engine.counters(q)["visible"] == 30 for q in sqs.catalog.queues.values())
            return statistics.median(samples[1]), statistics.median(samples[10])
        finally:
            await app.stop()

    cost_one, cost_ten = asyncio.run(run())
    assert cost_ten < 3 * cost_one, (cost_one, cost_ten)


def test_cli_create_subscribe_publish(aws, queue, receive):
    topic = aws("sns", "create-topic", "--name", "cli-topic")["TopicArn"]
    url, qarn = queue("cli-q")
    sub = aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", qarn,
              "--attributes", "RawMessageDelivery=true")["SubscriptionArn"]
    assert sub.startswith(topic)
    out = aws("sns", "publish", "--topic-arn", topic, "--message", "from the cli",
              "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert out["MessageId"]
    (message,) = receive(url)
    assert message["Body"] == "from the cli" and message["MessageAttributes"]["k"]["StringValue"] == "v"
    listed = aws("sns", "list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [sub]


def test_publish_answers_once_every_queue_holds_the_message(sns, sqs, subscribed):
    """Standard topics deliver to SQS before Publish answers: a receive right after finds it everywhere."""
    topic = sns.create_topic(Name="sync")["TopicArn"]
    urls = [subscribed(topic, f"sync{i}")[0] for i in range(10)]
    message_id = sns.publish(TopicArn=topic, Message="here already")["MessageId"]
    for url in urls:
        (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
        assert body(message)["MessageId"] == message_id


def test_deleted_queue_sends_to_the_subscription_dlq_and_spares_the_others(sns, sqs, subscribed, queue, receive):
    topic = sns.create_topic(Name="t")["TopicArn"]
    dlq_url, dlq_arn = queue("sub-dlq")
    gone_url, gone_sub = subscribed(topic, "gone", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn}))
    kept_url, _ = subscribed(topic, "kept")
    sqs.delete_queue(QueueUrl=gone_url)
    message_id = sns.publish(TopicArn=topic, Message="orphan")["MessageId"]
    assert body(receive(kept_url)[0])["MessageId"] == message_id
    dead = body(receive(dlq_url)[0])
    assert dead["MessageId"] == message_id and dead["Message"] == "orphan"
    assert gone_sub in dead["UnsubscribeURL"]


def test_a_deleted_fifo_topic_takes_its_deduplication_ids_with_it(sns, subscribed, receive):
    """DeleteTopic deletes the topic's stored deduplication window, so the running server forgets it too: a
    topic made again under the name delivers what it is given, as it would after a restart."""
    attrs = {"FifoTopic": "true"}
    topic = sns.create_topic(Name="again.fifo", Attributes=attrs)["TopicArn"]
    url, _ = subscribed(topic, "again.fifo", RawMessageDelivery="true")
    first = sns.publish(TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="d1")
    assert receive(url)[0]["Body"] == "one"
    sns.delete_topic(TopicArn=topic)
    assert sns.create_topic(Name="again.fifo", Attributes=attrs)["TopicArn"] == topic
    # (a new queue: the first one keeps its own window for the id SNS passes on)
    url, _ = subscribed(topic, "again-2.fifo", RawMessageDelivery="true")
    second = sns.publish(TopicArn=topic, Message="two", MessageGroupId="g", MessageDeduplicationId="d1")
    assert second["MessageId"] != first["MessageId"]
    assert receive(url)[0]["Body"] == "two"


@contextlib.asynccontextmanager
async def fifo_topic_on_manual_clock(tmp_path: Any, name: str) -> AsyncIterator[tuple[Any, ManualClock, Any, str]]:
    """A server in process on the manual clock with the FIFO topic `name`: (the SNS service, the clock, a
    caller's context, the topic's ARN)."""
    clock = ManualClock(1_700_000_000.0)
    app = App(Config(data_dir=tmp_path, port=0, auth="off"), clock=clock)
    await app.start()
    try:
        sns = await app.services.use("sns")
        ctx = SimpleNamespace(account_id="000000000000", region="us-east-1", base_url="http://x", principal=None)
        created = await sns.handler("CreateTopic")(ctx, {"Name": name, "Attributes": {"FifoTopic": "true"}})
        yield sns, clock, ctx, created["TopicArn"]
    finally:
        await app.stop()


def test_a_fifo_topic_forgets_deduplication_ids_whose_window_has_passed(tmp_path):
    """Memory holds a FIFO topic's deduplication ids for their 5 minutes only, as its store does, so a
    long-running topic does not keep every id it was ever given."""

    async def run() -> None:
        async with fifo_topic_on_manual_clock(tmp_path, "ids.fifo") as (sns, clock, ctx, arn):

            async def publish(text: str, dedup_id: str) -> str:
                answer = await sns.handler("Publish")(ctx, {"TopicArn": arn, "Message": text, "MessageGroupId": "g",
                                                            "MessageDeduplicationId": dedup_id})
                return answer["MessageId"]

            first = [await publish(f"m{i}", f"d{i}") for i in range(50)]
            assert len(sns.registry.topics[arn].dedup) == 50
            clock.advance(301)
            assert await publish("later", "d0") != first[0]  # not a duplicate any more
            assert list(sns.registry.topics[arn].dedup) == ["d0"]

    asyncio.run(run())


def test_a_fifo_publish_forgets_expired_deduplication_rows_through_an_index(tmp_path):
    """Each FIFO publish deletes its topic's expired deduplication rows. The store finds them by expiry,
    not by reading the topic's whole 5-minute window (30,000 rows at 100 publishes/s), and still leaves
    exactly the live ones."""

    async def run() -> None:
        async with fifo_topic_on_manual_clock(tmp_path, "rows.fifo") as (sns, clock, ctx, arn):
            for i in range(20):
                await sns.handler("Publish")(ctx, {"TopicArn": arn, "Message": f"m{i}", "MessageGroupId": "g",
                                                   "MessageDeduplicationId": f"old{i}"})
            clock.advance(301)
            await sns.handler("Publish")(ctx, {"TopicArn": arn, "Message": "new", "MessageGroupId": "g",
                                               "MessageDeduplicationId": "new"})
            db = sns.store.db
            assert [row[0] for row in db.query("SELECT dedup_id FROM dedup WHERE topic_arn = ?", (arn,))] == ["new"]
            plan = " ".join(str(row[3]) for row in db.query("EXPLAIN QUERY PLAN " + FORGET_EXPIRED_DEDUP, (arn, 0.0)))
            assert "USING INDEX dedup_expiry (topic_arn=? AND expires<?)" in plan, plan

    asyncio.run(run())
