"""The contents of messages sent lately are received from memory (conveyor.services.sqs.recent), within a
fixed budget, and never where SQLite no longer holds the message: a receive that takes a message after a
purge or a queue deletion committed, but before the queue forgot it, still finds no row and takes nothing.

Where a test must know which way a receive went, it removes a body row behind the server's back (a second
connection): a receive that still answers with the body read it from memory.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from tests.helpers import write_lock

from conveyor.clock import ManualClock
from conveyor.services.sqs.state import SqsState

ACCOUNT, REGION = "000000000000", "us-east-1"
ATTRS = {"colour": {"DataType": "String", "StringValue": "blue"},
         "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"}}


def forget_body(path: Path, message_id: str) -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("DELETE FROM message_bodies WHERE key IN (SELECT key FROM messages WHERE id = ?)",
                         (message_id,))
    finally:
        conn.close()


def opened(tmp_path: Path) -> SqsState:
    sqs = SqsState(ManualClock(1_700_000_000.0), tmp_path / "sqs.db")
    sqs.open()
    return sqs


def wait_for_commits(sqs: SqsState, count: int) -> None:
    """Block (the event loop too: nothing the commit resolves runs meanwhile) until `count` commits are done."""
    deadline = time.monotonic() + 10
    while sqs.store.db.commits < count:
        assert time.monotonic() < deadline, "the commit did not come"
        time.sleep(0.005)


def test_a_message_received_soon_after_its_send_comes_from_memory(tmp_path):
    async def main() -> None:
        sqs = opened(tmp_path)
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "hot", None, None)
        sent = await sqs.engine.send(q, "hello", ATTRS)
        forget_body(tmp_path / "sqs.db", sent["MessageId"])
        [m] = await sqs.engine.receive(q, 10)
        assert (m.id, m.body, m.md5_body, m.attrs) == (sent["MessageId"], "hello", sent["MD5OfMessageBody"], ATTRS)
        assert m.md5_attrs == sent["MD5OfMessageAttributes"]
        assert len(sqs.engine.recent) == 0 and sqs.engine.recent.bytes == 0  # taken: forgotten
        sqs.close()

    asyncio.run(main())


def test_what_the_budget_cannot_hold_is_read_from_sqlite(tmp_path):
    async def main() -> None:
        sqs = opened(tmp_path)
        sqs.engine.recent.budget = 4000
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "backlog", None, None)
        bodies = {}
        for i in range(40):
            body = f"message {i} " + "x" * 200
            bodies[(await sqs.engine.send(q, body))["MessageId"]] = body
        recent = sqs.engine.recent
        assert 0 < len(recent) < 40 and recent.bytes <= recent.budget
        got = {}
        while batch := await sqs.engine.receive(q, 10):
            got |= {m.id: m.body for m in batch}
            sqs.engine.release(batch)
        assert got == bodies  # the oldest from SQLite, the latest from memory
        assert len(recent) == 0 and recent.bytes == 0
        sqs.close()

    asyncio.run(main())


def test_the_budget_drops_the_oldest_first_and_a_consumer_that_keeps_up_leaves_nothing_behind(tmp_path):
    async def main() -> None:
        sqs = opened(tmp_path)
        recent = sqs.engine.recent
        recent.budget = 4000
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "evicting", None, None)
        sent = [(await sqs.engine.send(q, f"message {i} " + "x" * 200))["MessageId"] for i in range(40)]
        for mid in sent:
            forget_body(tmp_path / "sqs.db", mid)  # what is received now comes from memory only
        got = []
        for _ in range(4):  # (each takes 10 in order; those whose content was not kept come back empty-handed)
            batch = await sqs.engine.receive(q, 10, 120)
            got += [m.id for m in batch]
            sqs.engine.release(batch)
        assert 0 < len(got) < 40 and sorted(got) == sorted(sent[-len(got):])  # the newest were kept
        # A consumer that takes each message as it comes: what the order of keeping remembers stays bounded.
        for i in range(3000):
            await sqs.engine.send(q, f"m{i}")
            assert [m.body for m in await sqs.engine.receive(q, 10, 120)] == [f"m{i}"]
        assert len(recent) == 0 and len(recent._order) <= 1024
        sqs.close()

    asyncio.run(main())


def test_a_receive_between_a_purge_commit_and_its_end_takes_nothing(tmp_path):
    async def main() -> None:
        sqs = opened(tmp_path)
        # This test blocks the loop until the writer thread commits: a lone write committed on the loop's own
        # thread (storage/db.py, while one client alone is served) would never come.
        sqs.store.db.commit_lone_writes_here = False
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "purged", None, None)
        await sqs.engine.send(q, "before the purge")
        commits = sqs.store.db.commits
        with write_lock(tmp_path / "sqs.db"):
            purge = asyncio.ensure_future(sqs.engine.purge(q))
            await asyncio.sleep(0)  # queued, waiting for the lock
        wait_for_commits(sqs, commits + 1)  # committed; the purge has not resumed yet
        assert q.held == 1
        assert await sqs.engine.receive(q, 10) == []  # its row is gone: not answered from memory
        await purge
        assert q.held == 0
        sent = await sqs.engine.send(q, "after the purge")
        [m] = await sqs.engine.receive(q, 10)
        assert (m.id, m.body) == (sent["MessageId"], "after the purge")
        sqs.close()

    asyncio.run(main())


def test_a_receive_between_a_queue_deletion_commit_and_its_end_takes_nothing(tmp_path):
    async def main() -> None:
        sqs = opened(tmp_path)
        sqs.store.db.commit_lone_writes_here = False  # (as above)
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "deleted", None, None)
        await sqs.engine.send(q, "doomed")
        commits = sqs.store.db.commits
        with write_lock(tmp_path / "sqs.db"):
            deletion = asyncio.ensure_future(sqs.catalog.delete_queue(q))
            await asyncio.sleep(0)
        wait_for_commits(sqs, commits + 1)
        assert await sqs.engine.receive(q, 10) == []
        await deletion
        assert not sqs.catalog.holds(q)
        sqs.close()

    asyncio.run(main())


def test_a_dead_lettered_message_names_its_source_queue(tmp_path):
    async def main() -> None:
        sqs = opened(tmp_path)
        clock = sqs.engine.clock
        assert isinstance(clock, ManualClock)
        dlq = await sqs.catalog.create_queue(ACCOUNT, REGION, "dead", None, None)
        policy = f'{{"deadLetterTargetArn": "{dlq.arn}", "maxReceiveCount": 1}}'
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "work", {"RedrivePolicy": policy}, None)
        sent = await sqs.engine.send(q, "poison")
        [m] = await sqs.engine.receive(q, 10, visibility=5)
        assert m.source_arn is None
        sqs.engine.release([m])
        clock.advance(6)
        assert await sqs.engine.receive(q, 10) == []  # moved to the dead-letter queue
        [d] = await sqs.engine.receive(dlq, 10)
        assert (d.id, d.body, d.source_arn) == (sent["MessageId"], "poison", q.arn)
        sqs.close()

    asyncio.run(main())
