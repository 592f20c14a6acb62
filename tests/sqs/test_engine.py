"""The in-process engine API other services use (no HTTP)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from conveyor.clock import ManualClock
from conveyor.services.sqs.state import SqsState
from conveyor.services.sqs.store import MIGRATIONS
from conveyor.storage.db import Database

ACCOUNT, REGION = "000000000000", "us-east-1"


def run(coro):
    return asyncio.run(coro)


async def until(condition, seconds: float = 10.0) -> None:
    """Wait (in real time: the writes commit on their own thread) until `condition()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def open_engine(path: Path, clock: ManualClock) -> SqsState:
    """SQS's store, catalog, engine and move tasks, restored from `path`, with no server around them."""
    sqs = SqsState(clock, path)
    sqs.open()
    return sqs


def test_send_receive_delete_and_counters(tmp_path):
    async def main():
        clock = ManualClock(1_700_000_000.0)
        sqs = open_engine(tmp_path / "sqs.db", clock)
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "jobs", {"VisibilityTimeout": "10"}, None)
        r = await sqs.engine.send(q.arn, "hello", account=ACCOUNT, region=REGION)
        assert r["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
        await sqs.engine.send(q, "delayed", delay=5)
        clock.advance(3)
        assert sqs.engine.counters(q) == {"visible": 1, "inflight": 0, "delayed": 1, "oldest_age": 3.0}
        [m] = await sqs.engine.receive(q, 10)
        assert m.body == "hello" and m.receive_count == 1
        assert sqs.engine.counters(q)["inflight"] == 1
        await sqs.engine.delete(q, sqs.engine.receipt_handle(q, m))
        clock.advance(3)
        [d] = await sqs.engine.receive(q, 10)
        assert d.body == "delayed"
        sqs.close()

    run(main())


def test_long_poll_parks_until_send(tmp_path):
    async def main():
        clock = ManualClock()
        sqs = open_engine(tmp_path / "sqs.db", clock)
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "park", None, None)
        waiter = asyncio.ensure_future(sqs.engine.receive(q, 1, wait=20))
        await asyncio.sleep(0.01)
        assert not waiter.done() and len(q.waiters) == 1
        await sqs.engine.send(q, "wake")
        [m] = await asyncio.wait_for(waiter, 2)
        assert m.body == "wake"
        # and a parked receive ends when the (manual) clock passes its deadline
        waiter = asyncio.ensure_future(sqs.engine.receive(q, 1, wait=5))
        await asyncio.sleep(0.01)
        clock.advance(6)
        assert await asyncio.wait_for(waiter, 2) == []
        sqs.close()

    run(main())


def test_restart_restores_move_tasks(tmp_path):
    async def main():
        clock = ManualClock()
        sqs = open_engine(tmp_path / "sqs.db", clock)
        dlq = await sqs.catalog.create_queue(ACCOUNT, REGION, "dlq", None, None)
        policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})
        src = await sqs.catalog.create_queue(ACCOUNT, REGION, "src", {"RedrivePolicy": policy}, None)
        for i in range(3):
            await sqs.engine.send(dlq, f"b{i}")
        task = await sqs.moves.start(dlq.arn, src.arn, 1)
        await until(lambda: task.moved == 1)
        sqs.close()
        sqs = open_engine(tmp_path / "sqs.db", clock)
        [task] = sqs.moves.tasks
        await until(lambda: task.moved == 2)
        assert task.status == "RUNNING"
        assert sqs.engine.counters(sqs.catalog.by_arn[src.arn])["visible"] == 2
        sqs.close()

    run(main())


def test_a_woken_receive_that_is_cancelled_passes_the_wake_on(tmp_path):
    """A long poll woken for a message whose client then leaves must not strand the other parked polls."""

    async def main():
        clock = ManualClock()
        sqs = open_engine(tmp_path / "sqs.db", clock)
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "handoff", None, None)
        first = asyncio.ensure_future(sqs.engine.receive(q, 1, wait=20))
        second = asyncio.ensure_future(sqs.engine.receive(q, 1, wait=20))
        await asyncio.sleep(0.01)
        assert len(q.waiters) == 2
        await sqs.engine.send(q, "only one")  # wakes `first`, which has not run yet...
        first.cancel()  # ...and its client goes away before it takes the message
        [m] = await asyncio.wait_for(second, 2)
        assert m.body == "only one"
        sqs.close()

    run(main())


def test_queued_messages_keep_only_their_index_in_memory(tmp_path):
    """Bodies and attributes live in SQLite only: a queued (or restored, or dead-lettered) message holds no
    content in memory, and a receive reads it back whole, before and after a restart."""

    async def main():
        clock = ManualClock()
        sqs = open_engine(tmp_path / "sqs.db", clock)
        dlq = await sqs.catalog.create_queue(ACCOUNT, REGION, "index-dlq", None, None)
        policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "index", {"RedrivePolicy": policy}, None)
        attrs = {"n": {"DataType": "Number", "StringValue": "7"}, "b": {"DataType": "Binary", "BinaryValue": b"\0\1"}}
        trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}}
        sent = await sqs.engine.send(q, "x" * 1024, attrs, trace, sender_id="AIDA1")
        assert not q.messages and len(q.backlog) == 1  # no object at all: packed in the backlog's columns

        [m] = await sqs.engine.receive(q, 10, visibility=5)
        assert (m.body, m.attrs, m.sys_attrs, m.sender_id) == ("x" * 1024, attrs, trace, "AIDA1")
        assert (m.md5_body, m.md5_attrs) == (sent["MD5OfMessageBody"], sent["MD5OfMessageAttributes"])
        sqs.engine.release([m])
        assert m.content is None
        sqs.close()

        sqs = open_engine(tmp_path / "sqs.db", clock)  # restart: the index comes back, the bytes stay on disk
        q, dlq = sqs.catalog.by_arn[q.arn], sqs.catalog.by_arn[dlq.arn]
        assert [m.content for m in q.messages.values()] == [None]
        clock.advance(6)
        assert await sqs.engine.receive(q, 10) == []  # received once already: it goes to the dead-letter queue
        [moved] = dlq.messages.values()
        assert moved.content is None
        [d] = await sqs.engine.receive(dlq, 10)
        assert (d.body, d.attrs, d.source_arn, d.receive_count) == ("x" * 1024, attrs, q.arn, 2)
        sqs.close()

    run(main())


def test_a_batch_of_deletes_or_visibility_changes_is_one_commit(tmp_path):
    """DeleteMessageBatch and ChangeMessageVisibilityBatch commit their entries together: a consumer's
    batch waits for one fsync, not for ten queued one behind the other (behind producers' writes), nor
    behind one of the receive's own."""

    async def main():
        clock = ManualClock()
        sqs = open_engine(tmp_path / "sqs.db", clock)
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "batches", None, None)
        for i in range(10):
            await sqs.engine.send(q, f"m{i}")
        db = sqs.store.db
        db.behind_delay = 30.0  # (real seconds: nothing but another write commits the receive's here)
        before = db.commits
        msgs = await sqs.engine.receive(q, 10)
        handles = [sqs.engine.receipt_handle(q, m) for m in msgs]
        bodies = [m.body for m in msgs]
        await asyncio.sleep(0.1)
        assert db.commits == before  # the receive's write waits to ride another commit
        outcomes = await sqs.engine.change_visibility_batch(q, [(h, 0) for h in handles[:5]] + [("bad", 0)])
        assert db.commits == before + 1  # the receive's own write (behind its answer) rode this commit
        assert outcomes[:5] == [None] * 5 and outcomes[5] is not None and outcomes[5].code == "ReceiptHandleIsInvalid"
        assert sqs.engine.counters(q)["visible"] == 5
        before = db.commits
        assert await sqs.engine.delete_batch(q, handles[5:]) == [None] * 5
        assert db.commits == before + 1
        assert sqs.engine.counters(q) == {"visible": 5, "inflight": 0, "delayed": 0, "oldest_age": 0.0}
        sqs.close()
        sqs = open_engine(tmp_path / "sqs.db", clock)  # the deletions and the changes are durable
        again = sorted(m.body for m in await sqs.engine.receive(sqs.catalog.by_arn[q.arn], 10))
        assert again == sorted(bodies[:5])
        sqs.close()

    run(main())


def test_a_store_of_the_earlier_schema_is_upgraded_with_its_messages(tmp_path):
    """Stores written before bodies moved to their own table open with every message whole."""

    async def main():
        clock = ManualClock(1_700_000_000.0)
        sqs = open_engine(tmp_path / "sqs.db", clock)
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "old", None, None)
        sqs.close()
        Database(tmp_path / "old.db", MIGRATIONS[:1]).close()  # the earlier schema, empty
        conn = sqlite3.connect(tmp_path / "old.db")
        conn.execute("ATTACH ? AS new", (str(tmp_path / "sqs.db"),))
        conn.execute("INSERT INTO queues SELECT * FROM new.queues")
        conn.execute("INSERT INTO messages (id, queue_id, seq, body, attrs, md5_body, sent, sender_id, visible_at, "
                     "receive_count) VALUES ('m-1', ?, 1, 'old body', ?, 'md5', ?, 'AIDA', ?, 0)",
                     (q.id, '{"a":{"DataType":"String","StringValue":"v"}}', clock.now(), clock.now()))
        conn.commit()
        conn.close()
        sqs = open_engine(tmp_path / "old.db", clock)
        [m] = await sqs.engine.receive(sqs.catalog.by_arn[q.arn], 10)
        assert (m.id, m.body, m.attrs, m.sender_id) == ("m-1", "old body", {"a": {"DataType": "String",
                                                                                  "StringValue": "v"}}, "AIDA")
        sqs.close()

    run(main())


def test_a_restored_backlog_costs_memory_by_its_count_not_its_bytes(tmp_path):
    """20,000 queued 1 KiB messages, restored: the server holds under 100 bytes a message (its index entry,
    packed in columns), not their 20 MiB of bodies."""
    import tracemalloc

    async def fill():
        sqs = open_engine(tmp_path / "sqs.db", ManualClock())
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "backlog", None, None)
        for i in range(0, 20_000, 2_000):
            await sqs.engine.enqueue(q, [sqs.engine.prepare(q, f"{i + j:08d}" + "z" * 1016) for j in range(2_000)])
        sqs.close()

    run(fill())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sqs = open_engine(tmp_path / "sqs.db", ManualClock())
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    [q] = sqs.catalog.queues.values()
    assert q.n_available == 20_000 and not q.messages  # every one packed in the backlog's columns
    assert held / 20_000 < 100, f"{held / 20_000:.0f} bytes a message"
    sqs.close()
