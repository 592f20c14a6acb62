"""A write whose commit fails leaves the in-memory queues exactly as they were — but for a plain receive,
which answers before its commit: a restart then makes what it took receivable again.

The failure is SQLite's own "database or disk is full" (SQLITE_FULL), caused for real by capping the
database's size with `PRAGMA max_page_count`: a receive then cannot store its receipt handles.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from tests.sqs.test_engine import ACCOUNT, REGION, open_engine

from conveyor.clock import ManualClock
from conveyor.services.sqs.queue import Queue
from conveyor.services.sqs.state import SqsState
from conveyor.storage.disk import DiskFull, DiskGuard

UNCAPPED = 1_073_741_823


def cap(sqs: SqsState) -> None:
    """No page beyond those the database has now: any write that needs one fails with SQLITE_FULL."""
    assert sqs.store.db is not None
    pages = sqs.store.db._writer.execute("PRAGMA page_count").fetchone()[0]
    sqs.store.db._writer.execute(f"PRAGMA max_page_count = {pages}")


def uncap(sqs: SqsState) -> None:
    assert sqs.store.db is not None
    sqs.store.db._writer.execute(f"PRAGMA max_page_count = {UNCAPPED}")


def stored_in_flight(sqs: SqsState, q: Queue) -> int:
    assert sqs.store.db is not None
    return sqs.store.db.query("SELECT count(*) FROM messages WHERE queue_id = ? AND receipt IS NOT NULL", (q.id,))[0][0]


async def fill_pages(sqs: SqsState, q: Queue) -> None:
    """Under a cap, fill what room the pages have left with ever smaller (delayed) messages."""
    for size in (400, 100, 40, 10, 1):
        with pytest.raises(DiskFull):
            for _ in range(10_000):
                await sqs.engine.send(q, "f" * size, delay=900)


async def settled(sqs: SqsState) -> None:
    """Wait for the writes queued so far (receives commit behind their answer): the one writer runs them
    in order, so a no-op write queued now settles after them (failing with them when their commit fails)."""
    assert sqs.store.db is not None
    with contextlib.suppress(DiskFull):
        await sqs.store.db.write(lambda conn: None, grows=False)


def stored_in_flight_ids(sqs: SqsState, q: Queue) -> set[str]:
    assert sqs.store.db is not None
    return {r[0] for r in sqs.store.db.query("SELECT id FROM messages WHERE queue_id = ? AND receipt IS NOT NULL",
                                              (q.id,))}


def test_a_receive_whose_commit_fails_is_received_again_after_a_restart(tmp_path: Path) -> None:
    """A receive answers before its commit: when that commit fails (here for want of pages to store the
    receipt handles), memory is ahead of the disk until a restart, which makes the messages whose receive
    was not stored receivable again (at-least-once). Deletes still work on a full disk."""
    async def main() -> None:
        clock = ManualClock(1_700_000_000.0)
        guard = DiskGuard(tmp_path / "disk", reserve_bytes=64 * 1024)
        guard.open()
        sqs = SqsState(clock, tmp_path / "sqs.db", guard)
        sqs.open()
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "capped", {"VisibilityTimeout": "600"}, None)
        for i in range(200):
            await sqs.engine.send(q, f"m{i}")
        cap(sqs)
        received: list[str] = []
        while batch := await sqs.engine.receive(q, 10):
            received += [m.id for m in batch]
            await settled(sqs)
        assert sorted(received) == sorted(q.messages) and len(received) == 200  # each answered once
        stored = stored_in_flight_ids(sqs, q)
        assert 0 < len(stored) < 200  # some receives' commits failed
        assert guard.full and not guard.reserve_path.exists()  # the reserve was given up for deletes
        # stored receives and unstored ones (ids are random, so the first five may be unstored too: no repeats)
        deleted = received[:5] + sorted(set(received) - stored - set(received[:5]))[:5]
        for mid in deleted:
            await sqs.engine.delete(q, sqs.engine.receipt_handle(q, q.messages[mid]))
        sqs.close()
        sqs = SqsState(clock, tmp_path / "sqs.db", guard)  # a restart: the disk's word
        sqs.open()
        q = sqs.catalog.by_arn[q.arn]
        counters = sqs.engine.counters(q)
        assert counters["inflight"] == len(stored - set(deleted))
        assert counters["visible"] == 200 - len(deleted) - counters["inflight"]
        again = [m.id for m in await sqs.engine.receive(q, 10)]
        assert again and not set(again) & (stored | set(deleted))
        guard.check_room()  # the real disk has room: the reserve comes back
        assert not guard.full and guard.reserve_path.exists()
        sqs.close()

    asyncio.run(main())


def test_a_move_to_the_dead_letter_queue_whose_commit_fails_is_undone(tmp_path: Path) -> None:
    async def main() -> None:
        clock = ManualClock(1_700_000_000.0)
        sqs = open_engine(tmp_path / "sqs.db", clock)
        dlq = await sqs.catalog.create_queue(ACCOUNT, REGION, "dead", None, None)
        policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})
        src = await sqs.catalog.create_queue(ACCOUNT, REGION, "src", {"RedrivePolicy": policy}, None)
        for i in range(200):
            await sqs.engine.send(src, f"m{i}")
        for _ in range(20):  # each received once (and visible again at once): the next receive moves it
            assert len(await sqs.engine.receive(src, 10, visibility=0)) == 10
        assert sqs.engine.counters(dlq)["visible"] == 0
        assert sqs.store.db is not None
        # Every write now fails in SQLite. (Capping the pages, as the test above does, no longer fails a move
        # for sure: a message's index row, which the move updates, is small, and its page may have room.)
        sqs.store.db._writer.execute("PRAGMA query_only = 1")
        failures = 0
        for _ in range(3):
            try:
                await sqs.engine.receive(src, 10)
            except sqlite3.OperationalError:
                failures += 1
                assert sqs.engine.counters(dlq)["visible"] == 0  # nothing entered the DLQ in memory...
        assert failures == 3
        assert sqs.engine.counters(src)["visible"] == 200  # ...and what the moves took is back where it was
        sqs.store.db._writer.execute("PRAGMA query_only = 0")
        assert sqs.store.db is not None
        assert await sqs.engine.receive(src, 10) == []  # with room again, the moves go through
        stored = sqs.store.db.query("SELECT count(*) FROM messages WHERE queue_id = ?", (dlq.id,))[0][0]
        assert stored == sqs.engine.counters(dlq)["visible"] == 200
        assert sqs.engine.counters(src)["visible"] == 0
        sqs.close()

    asyncio.run(main())


def test_a_purge_whose_commit_fails_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        clock = ManualClock(1_700_000_000.0)
        sqs = open_engine(tmp_path / "sqs.db", clock)
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "unpurged", None, None)
        for i in range(20):
            await sqs.engine.send(q, f"m{i}")
        assert sqs.store.db is not None
        sqs.store.db._writer.execute("PRAGMA query_only = 1")  # every write now fails in SQLite
        with pytest.raises(Exception, match="readonly"):
            await sqs.engine.purge(q)
        sqs.store.db._writer.execute("PRAGMA query_only = 0")
        assert sqs.engine.counters(q)["visible"] == 20
        await sqs.engine.purge(q)  # not "a purge is already in progress": the failed one did not count
        assert sqs.engine.counters(q)["visible"] == 0
        sqs.close()

    asyncio.run(main())
