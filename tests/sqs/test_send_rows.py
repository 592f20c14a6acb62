"""What a send writes is what a restart and a receive read back: messages of every shape (plain, with
attributes, delayed, FIFO), sent together, in batches and in fan-outs of more rows than one statement
inserts, each stored whole and in its queue's order."""

from __future__ import annotations

import asyncio
import hashlib

from conveyor.clock import ManualClock
from conveyor.services.sqs.state import SqsState

ACCOUNT, REGION = "000000000000", "us-east-1"


def test_a_killed_server_gives_back_every_entry_of_mixed_batches(start_server, tmp_path):
    """SendMessageBatch entries with and without attributes, committed together, come back after kill -9
    with the bodies, attributes and MD5s the send answered with."""
    server = start_server(tmp_path / "data", "--bare")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="mixed")["QueueUrl"]
    answered: dict[str, dict[str, str]] = {}
    for batch in range(3):
        entries = []
        for i in range(10):
            entry = {"Id": f"e{i}", "MessageBody": f"body {batch}-{i} " + "z" * (i * 37)}
            if i % 3 == 1:
                entry["MessageAttributes"] = {"n": {"DataType": "Number", "StringValue": str(i)},
                                              "b": {"DataType": "Binary", "BinaryValue": bytes([batch, i, 0])}}
            entries.append(entry)
        reply = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not reply.get("Failed")
        for ok in reply["Successful"]:
            entry = entries[int(ok["Id"][1:])]
            assert ok["MD5OfMessageBody"] == hashlib.md5(entry["MessageBody"].encode()).hexdigest()
            answered[entry["MessageBody"]] = ok
    server.kill()

    server = start_server(tmp_path / "data", "--bare", port=server.port)
    sqs = server.client("sqs")
    got = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                   VisibilityTimeout=600).get("Messages", [])
        if not msgs:
            break
        got += msgs
    assert sorted(m["Body"] for m in got) == sorted(answered)
    for m in got:
        sent = answered[m["Body"]]
        assert m["MessageId"] == sent["MessageId"]
        assert m["MD5OfBody"] == sent["MD5OfMessageBody"]
        assert m.get("MD5OfMessageAttributes") == sent.get("MD5OfMessageAttributes")
        if "MD5OfMessageAttributes" in sent:
            batch, i = (int(x) for x in m["Body"].split()[1].split("-"))
            assert m["MessageAttributes"]["n"]["StringValue"] == str(i)
            assert m["MessageAttributes"]["b"]["BinaryValue"] == bytes([batch, i, 0])
        else:
            assert "MessageAttributes" not in m


def test_a_fan_out_of_many_rows_is_stored_whole_and_in_order(tmp_path):
    """One enqueue_many into several queues (an SNS fan-out) with more messages than one statement holds,
    plain ones among delayed ones, ones with attributes and FIFO ones: after a restart each queue gives
    back its own, in the order sent, bodies and attributes intact."""

    async def main() -> None:
        clock = ManualClock(1_700_000_000.0)
        sqs = SqsState(clock, tmp_path / "sqs.db")
        sqs.open()
        plain = await sqs.catalog.create_queue(ACCOUNT, REGION, "plain", None, None)
        mixed = await sqs.catalog.create_queue(ACCOUNT, REGION, "mixed", None, None)
        fifo = await sqs.catalog.create_queue(ACCOUNT, REGION, "f.fifo", {"FifoQueue": "true"}, None)
        attrs = {"k": {"DataType": "String", "StringValue": "v"}}
        engine = sqs.engine
        plain_msgs = [engine.prepare(plain, f"p{i}", sender_id=ACCOUNT) for i in range(23)]
        mixed_msgs = [engine.prepare(mixed, f"m{i}", attrs if i % 2 else None, delay=5 if i % 3 == 0 else None,
                                     sender_id=ACCOUNT) for i in range(14)]
        fifo_msgs = [engine.prepare(fifo, f"f{i}", group_id=f"g{i % 2}", dedup_id=f"d{i}", sender_id=ACCOUNT)
                     for i in range(12)]
        await engine.enqueue_many([(plain, plain_msgs), (mixed, mixed_msgs), (fifo, fifo_msgs)])
        sqs.close()

        sqs = SqsState(clock, tmp_path / "sqs.db")
        sqs.open()
        plain, mixed, fifo = (sqs.catalog.by_arn[q.arn] for q in (plain, mixed, fifo))
        clock.advance(10)  # the delayed ones are due
        got = [m for _ in range(3) for m in await sqs.engine.receive(plain, 10)]
        assert [m.body for m in got] == [f"p{i}" for i in range(23)]
        got = [m for _ in range(2) for m in await sqs.engine.receive(mixed, 10)]
        assert sorted((m.body, m.attrs) for m in got) == sorted(
            (f"m{i}", attrs if i % 2 else None) for i in range(14))
        taken: list[tuple[str | None, str, str | None]] = []
        while len(taken) < 12:  # a group's messages in flight hold back the rest of that group
            batch = await sqs.engine.receive(fifo, 10)
            assert batch
            taken += [(m.group_id, m.body, m.dedup_id) for m in batch]
            await sqs.engine.delete_many(fifo, batch)
        assert sorted(taken) == sorted((f"g{i % 2}", f"f{i}", f"d{i}") for i in range(12))
        for g in ("g0", "g1"):
            assert [body for group, body, _ in taken if group == g] == [f"f{i}" for i in range(12) if i % 2 == int(g[1])]
        sqs.close()

    asyncio.run(main())
