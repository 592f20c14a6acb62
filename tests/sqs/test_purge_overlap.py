"""PurgeQueue overlapping sends on a real overlap: this test holds the SQS database's write lock from a
second connection (as a slow disk would hold the commits), so a send's commit and a purge's commit are in
flight together, in either order. Once the lock goes, what the queue holds in memory (what receives and
ApproximateNumberOfMessages see) is what is stored (what a restart restores), message for message and
deduplication id for deduplication id: a send asked for before the purge is purged in both, one asked for
after it survives in both.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_PurgeQueue.html
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from tests.helpers import write_lock

from conveyor.clock import ManualClock
from conveyor.services.sqs.queue import Queue
from conveyor.services.sqs.state import SqsState

ACCOUNT, REGION = "000000000000", "us-east-1"


def stored(path: Path, q: Queue) -> tuple[set[str], set[str]]:
    """The ids of the messages and the deduplication ids stored for `q`, read by a connection of our own."""
    conn = sqlite3.connect(path)
    try:
        messages = {r[0] for r in conn.execute("SELECT id FROM messages WHERE queue_id = ?", (q.id,))}
        dedup = {r[0] for r in conn.execute("SELECT dedup_id FROM dedup WHERE queue_id = ?", (q.id,))}
    finally:
        conn.close()
    return messages, dedup


async def held(sqs: SqsState, q: Queue) -> set[str]:
    """The ids of the messages `q` holds in memory (received, to read the packed ones too)."""
    got = await sqs.engine.receive(q, 10, visibility=600)
    ids = {m.id for m in got}
    while got:
        got = await sqs.engine.receive(q, 10, visibility=600)
        ids |= {m.id for m in got}
    return ids


def overlap(tmp_path: Path, fifo: bool, send_first: bool) -> None:
    async def main() -> None:
        path = tmp_path / "sqs.db"
        clock = ManualClock(1_700_000_000.0)
        sqs = SqsState(clock, path)
        sqs.open()
        attrs = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else None
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "overlap.fifo" if fifo else "overlap", attrs, None)
        kw: dict[str, Any] = {"group_id": "g"} if fifo else {}
        await sqs.engine.send(q, "before", **kw)  # committed before either
        with write_lock(path):
            first = asyncio.ensure_future(sqs.engine.send(q, "racing", **kw) if send_first else sqs.engine.purge(q))
            await asyncio.sleep(0)  # its commit is queued (and waits for the lock)
            second = asyncio.ensure_future(sqs.engine.purge(q) if send_first else sqs.engine.send(q, "racing", **kw))
            await asyncio.sleep(0)
            assert not first.done() and not second.done()
        sent = await (first if send_first else second)
        await (second if send_first else first)
        messages, dedup = stored(path, q)
        assert messages == ({sent["MessageId"]} if not send_first else set())  # purged with it, or after it
        if fifo:
            kept = {key[1] for key in q.dedup}
            assert kept == dedup and len(dedup) == (0 if send_first else 1)
            # a resend of what survived is deduplicated, as the stored window says
            again = await sqs.engine.send(q, "racing", **kw)
            assert (again["MessageId"] == sent["MessageId"]) == (not send_first)
            messages, _ = stored(path, q)
            assert len(messages) == 1
        assert q.held == len(messages)
        assert await held(sqs, q) == messages
        sqs.close()
        sqs = SqsState(clock, path)  # and a restart restores the same
        sqs.open()
        q = sqs.catalog.by_id[q.id]
        assert q.held == len(messages)
        sqs.close()

    asyncio.run(main())


def test_a_send_asked_for_before_the_purge_is_purged_in_memory_too(tmp_path: Path) -> None:
    overlap(tmp_path, fifo=False, send_first=True)


def test_a_send_asked_for_after_the_purge_survives_it(tmp_path: Path) -> None:
    overlap(tmp_path, fifo=False, send_first=False)


def test_a_fifo_send_before_the_purge_loses_its_deduplication_id_with_it(tmp_path: Path) -> None:
    overlap(tmp_path, fifo=True, send_first=True)


def test_a_fifo_send_after_the_purge_keeps_its_deduplication_id(tmp_path: Path) -> None:
    overlap(tmp_path, fifo=True, send_first=False)
