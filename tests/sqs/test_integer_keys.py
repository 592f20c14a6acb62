"""Messages keyed by an integer in SQLite (schema version 3), and the upgrade of a version-2 store in place.

A state directory written before the upgrade (message rows keyed by their TEXT message id) must open with
every message, body, attribute, receive count, receipt and deduplication id kept, and be served: handles
issued before the upgrade still delete, a deduplication id still deduplicates, a dead-lettered message still
names its source. The version-2 rows below are written in the layout and the value shapes that version wrote
them in (the message ids of time-ordered UUIDs, receipts of 32 hex digits, attributes as compact JSON with
binary values in base64).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sqlite3
import time
from pathlib import Path

from conveyor.clock import ManualClock
from conveyor.services.sqs.state import SqsState
from conveyor.services.sqs.store import MIGRATIONS
from conveyor.storage.db import Database

ACCOUNT, REGION = "000000000000", "us-east-1"
ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}"
QUEUE_ATTRS = {"DelaySeconds": "0", "MaximumMessageSize": "1048576", "MessageRetentionPeriod": "345600",
               "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30", "SqsManagedSseEnabled": "true"}
FIFO_ATTRS = {**QUEUE_ATTRS, "FifoQueue": "true", "ContentBasedDeduplication": "false",
              "DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"}
ATTRS_JSON = ('{"colour":{"DataType":"String","StringValue":"blue"},'
              '"blob":{"DataType":"Binary","BinaryValue":{"b64":"AAEC"}}}')
ATTRS_MD5 = "14cc9e6fb7501ed689114a3c8d75aa3f"  # (the digest of those two attributes)
RECEIPT = "4c6f196576bbd70b041063271d06ac05"


def _id(n: int) -> str:
    return f"01a25222-{n:04x}-43a3-983a-4d8373db07e3"


def _md5(body: str) -> str:
    return hashlib.md5(body.encode()).hexdigest()


def write_version_2(path: Path, now: float) -> None:
    """A store as schema version 2 left it: queues `dead`, `work` (dead-lettering to `dead`) and
    `orders.fifo`; in `work` a plain message, one with attributes, one in flight, one delayed; in `dead`
    one dead-lettered from `work`; in `orders.fifo` two messages of one group with their dedup ids."""
    db = Database(path, MIGRATIONS[:2])
    seq = int((now - 10) * 1_000_000)
    queues = [(1, "dead", QUEUE_ATTRS), (2, "work", {**QUEUE_ATTRS, "RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": f"{ARN}:dead", "maxReceiveCount": 2})}), (3, "orders.fifo", FIFO_ATTRS)]
    # (id, queue, seq, sent, group, receive_count, first_receive, visible_at, receipt), then the body row's
    # (body, attrs, md5_attrs, dedup_id, source_arn)
    messages = [
        ((_id(1), 2, seq + 1, now - 10, None, 0, None, now - 10, None), ("plain", None, None, None, None)),
        ((_id(2), 2, seq + 2, now - 9, None, 0, None, now - 9, None), ("with attributes", ATTRS_JSON, ATTRS_MD5,
                                                                        None, None)),
        ((_id(3), 2, seq + 3, now - 8, None, 1, now - 5, now + 600, RECEIPT), ("in flight", None, None, None, None)),
        ((_id(4), 2, seq + 4, now - 7, None, 0, None, now + 600, None), ("delayed", None, None, None, None)),
        ((_id(5), 1, seq + 5, now - 6, None, 3, now - 4, now - 3, None), ("dead", None, None, None, f"{ARN}:work")),
        ((_id(6), 3, seq + 6, now - 5, "g", 0, None, now - 5, None), ("f1", None, None, "d1", None)),
        ((_id(7), 3, seq + 7, now - 4, "g", 0, None, now - 4, None), ("f2", None, None, "d2", None)),
    ]

    def run(c: sqlite3.Connection) -> None:
        for qid, name, attrs in queues:
            c.execute("INSERT INTO queues (id, account, region, name, attrs, tags, created, modified) "
                      "VALUES (?, ?, ?, ?, ?, '{}', ?, ?)", (qid, ACCOUNT, REGION, name, json.dumps(attrs), now - 60,
                                                             now - 60))
        for index, (body, attrs, md5_attrs, dedup_id, source_arn) in messages:
            c.execute("INSERT INTO messages (id, queue_id, seq, sent, group_id, receive_count, first_receive, "
                      "visible_at, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", index)
            c.execute("INSERT INTO message_bodies (id, body, attrs, sys_attrs, md5_body, md5_attrs, md5_sys, "
                      "sender_id, dedup_id, source_arn) VALUES (?, ?, ?, NULL, ?, ?, NULL, ?, ?, ?)",
                      (index[0], body, attrs, _md5(body), md5_attrs, ACCOUNT, dedup_id, source_arn))
        for n, dedup_id in ((6, "d1"), (7, "d2")):
            c.execute("INSERT INTO dedup VALUES (3, '', ?, ?, ?, ?)", (dedup_id, now + 290, _id(n), seq + n))

    db.write_sync(run)
    db.close()


def handle(queue_id: int, message_id: str, receipt: str) -> str:
    """A receipt handle as both versions write it."""
    return base64.urlsafe_b64encode(f"{queue_id}:{message_id}:{receipt}".encode()).decode()


def test_a_version_2_store_is_upgraded_in_place_and_served(start_server, tmp_path):
    data = tmp_path / "data"
    (data / "sqs").mkdir(parents=True)
    db_path = data / "sqs" / "sqs.db"
    write_version_2(db_path, time.time())
    server = start_server(data)
    sqs = server.client("sqs")
    work, dead, fifo = (sqs.get_queue_url(QueueName=n)["QueueUrl"] for n in ("work", "dead", "orders.fifo"))
    counts = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"],
            counts["ApproximateNumberOfMessagesDelayed"]) == ("2", "1", "1")

    got = sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                              AttributeNames=["All"])["Messages"]
    assert [(m["MessageId"], m["Body"], m["MD5OfBody"]) for m in got] == [
        (_id(1), "plain", _md5("plain")), (_id(2), "with attributes", _md5("with attributes"))]
    assert got[1]["MD5OfMessageAttributes"] == ATTRS_MD5
    assert got[1]["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\x02"
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    # The handle issued before the upgrade still names its message and deletes it.
    sqs.delete_message(QueueUrl=work, ReceiptHandle=handle(2, _id(3), RECEIPT))
    sqs.delete_message_batch(QueueUrl=work, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                     for i, m in enumerate(got)])
    counts = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"],
            counts["ApproximateNumberOfMessagesDelayed"]) == ("0", "0", "1")

    [d] = sqs.receive_message(QueueUrl=dead, AttributeNames=["All"])["Messages"]
    assert (d["Body"], d["Attributes"]["ApproximateReceiveCount"],
            d["Attributes"]["DeadLetterQueueSourceArn"]) == ("dead", "4", f"{ARN}:work")

    again = sqs.send_message(QueueUrl=fifo, MessageBody="f1 again", MessageGroupId="g", MessageDeduplicationId="d1")
    assert again["MessageId"] == _id(6)  # deduplicated: the id it was sent with before the upgrade
    fresh = sqs.send_message(QueueUrl=fifo, MessageBody="f3", MessageGroupId="g", MessageDeduplicationId="d3")
    fresh_plain = sqs.send_message(QueueUrl=work, MessageBody="after the upgrade")
    server.kill()  # kill -9: what was acknowledged after the upgrade is there too
    server.start()
    bodies = []
    while m := sqs.receive_message(QueueUrl=fifo).get("Messages"):
        bodies.append(m[0]["Body"])
        sqs.delete_message(QueueUrl=fifo, ReceiptHandle=m[0]["ReceiptHandle"])
    assert bodies == ["f1", "f2", "f3"]
    [m] = sqs.receive_message(QueueUrl=work)["Messages"]
    assert (m["MessageId"], m["Body"]) == (fresh_plain["MessageId"], "after the upgrade")
    assert fresh["MessageId"] not in {_id(n) for n in range(1, 8)}
    server.stop()

    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 4
        # No index on the message id in either hot table (the key is the rowid), nor by queue (version 4).
        assert conn.execute("PRAGMA index_list(messages)").fetchall() == []
        assert conn.execute("PRAGMA index_list(message_bodies)").fetchall() == []
        # Every index row has its body and no body is left without one.
        assert conn.execute("SELECT count(*) FROM messages m JOIN message_bodies b USING (key)").fetchone()[0] == \
            conn.execute("SELECT count(*) FROM messages").fetchone()[0] == \
            conn.execute("SELECT count(*) FROM message_bodies").fetchone()[0] == 3  # (delayed, dead, work's new)
    finally:
        conn.close()


def test_a_message_moved_to_a_fifo_dead_letter_queue_keeps_its_key(tmp_path):
    """A move to a FIFO dead-letter queue gives the message a new sequence number; its rows keep their key,
    so after a restart (where it is held as an object, its key not being its sequence number) its delete
    removes both rows."""
    async def main() -> None:
        path = tmp_path / "sqs.db"
        clock = ManualClock(1_700_000_000.0)
        sqs = SqsState(clock, path)
        sqs.open()
        dlq = await sqs.catalog.create_queue(ACCOUNT, REGION, "dlq.fifo", {"FifoQueue": "true"}, None)
        src = await sqs.catalog.create_queue(ACCOUNT, REGION, "src.fifo", {
            "FifoQueue": "true", "VisibilityTimeout": "5",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})}, None)
        [prepared] = [sqs.engine.prepare(src, "poison", group_id="g", dedup_id="p")]
        await sqs.engine.enqueue(src, [prepared])
        assert [m.body for m in await sqs.engine.receive(src, 1)] == ["poison"]
        clock.advance(6)
        assert await sqs.engine.receive(src, 1) == []  # moved at this receive
        [moved] = dlq.messages.values()
        assert moved.seq != moved.key
        sqs.close()

        sqs = SqsState(clock, path)
        sqs.open()
        dlq = sqs.catalog.by_id[dlq.id]
        [got] = await sqs.engine.receive(dlq, 1)
        assert (got.body, got.source_arn, got.key, got.seq) == ("poison", src.arn, moved.key, moved.seq)
        await sqs.engine.delete(dlq, sqs.engine.receipt_handle(dlq, got))
        assert sqs.store.db.query("SELECT count(*) FROM messages")[0][0] == 0
        assert sqs.store.db.query("SELECT count(*) FROM message_bodies")[0][0] == 0
        sqs.close()

    asyncio.run(main())


def test_a_restart_restores_queues_whose_rows_interleave_across_blocks(tmp_path):
    """Rows are read back in key order (no index by queue, schema version 4), in blocks of 4,096: three
    queues sent to together (as an SNS fan-out sends) interleave row by row across several blocks. Each
    comes back whole, a FIFO queue's groups in their order, in-flight messages still in flight, and the
    sequence numbers go on after the largest stored."""
    async def main() -> None:
        path = tmp_path / "sqs.db"
        clock = ManualClock(1_700_000_000.0)
        sqs = SqsState(clock, path)
        sqs.open()
        plain = await sqs.catalog.create_queue(ACCOUNT, REGION, "plain", None, None)
        fifo = await sqs.catalog.create_queue(ACCOUNT, REGION, "ordered.fifo", {"FifoQueue": "true"}, None)
        other = await sqs.catalog.create_queue(ACCOUNT, REGION, "other", None, None)
        eng = sqs.engine
        for i in range(2000):
            await eng.enqueue_many([
                (plain, [eng.prepare(plain, f"p{i}")]),
                (fifo, [eng.prepare(fifo, f"f{i}", group_id=f"g{i % 2}", dedup_id=f"d{i}")]),
                (other, [eng.prepare(other, f"o{i}-{k}") for k in range(2)])])
        in_flight = {m.id for m in await eng.receive(plain, 10, 600)}
        last = eng._last_seq
        sqs.close()

        sqs = SqsState(clock, path)
        sqs.open()
        eng = sqs.engine
        plain, fifo, other = (sqs.catalog.by_id[q.id] for q in (plain, fifo, other))
        assert (plain.n_available, plain.n_inflight, fifo.n_available, other.n_available) == (1990, 10, 2000, 4000)
        assert set(plain.messages) >= in_flight and all(plain.messages[m].receipt for m in in_flight)
        by_group: dict[str, list[str]] = {"g0": [], "g1": []}
        while got := await eng.receive(fifo, 10, 600):
            for m in got:
                by_group[m.group].append(m.body)
            await eng.delete_many(fifo, got)
        assert by_group == {g: [f"f{i}" for i in range(2000) if f"g{i % 2}" == g] for g in by_group}
        bodies = []
        while got := await eng.receive(other, 10, 600):
            bodies += [m.body for m in got]
        assert sorted(bodies) == sorted(f"o{i}-{k}" for i in range(2000) for k in range(2))
        await eng.send(plain, "after")
        assert eng._last_seq > last
        sqs.close()

    asyncio.run(main())
