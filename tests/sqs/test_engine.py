"""The in-process engine API other services use (no HTTP)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from conveyor.clock import ManualClock
from conveyor.services.sqs.engine import SqsEngine
from conveyor.services.sqs.moves import MoveTasks

ACCOUNT, REGION = "000000000000", "us-east-1"


def run(coro):
    return asyncio.run(coro)


def open_engine(path: Path, clock: ManualClock) -> SqsEngine:
    engine = SqsEngine(clock, path)
    engine.open()
    engine.moves = MoveTasks(engine)
    engine.moves.load()
    return engine


def test_send_receive_delete_and_counters(tmp_path):
    async def main():
        clock = ManualClock(1_700_000_000.0)
        eng = open_engine(tmp_path / "sqs.db", clock)
        q = await eng.create_queue(ACCOUNT, REGION, "jobs", {"VisibilityTimeout": "10"}, None)
        r = await eng.send(q.arn, "hello", account=ACCOUNT, region=REGION)
        assert r["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
        await eng.send(q, "delayed", delay=5)
        clock.advance(3)
        assert eng.counters(q) == {"visible": 1, "inflight": 0, "delayed": 1, "oldest_age": 3.0}
        [m] = await eng.receive(q, 10)
        assert m.body == "hello" and m.receive_count == 1
        assert eng.counters(q)["inflight"] == 1
        await eng.delete(q, eng.receipt_handle(q, m))
        clock.advance(3)
        [d] = await eng.receive(q, 10)
        assert d.body == "delayed"
        eng.close()

    run(main())


def test_long_poll_parks_until_send(tmp_path):
    async def main():
        clock = ManualClock()
        eng = open_engine(tmp_path / "sqs.db", clock)
        q = await eng.create_queue(ACCOUNT, REGION, "park", None, None)
        waiter = asyncio.ensure_future(eng.receive(q, 1, wait=20))
        await asyncio.sleep(0.01)
        assert not waiter.done() and len(q.waiters) == 1
        await eng.send(q, "wake")
        [m] = await asyncio.wait_for(waiter, 2)
        assert m.body == "wake"
        # and a parked receive ends when the (manual) clock passes its deadline
        waiter = asyncio.ensure_future(eng.receive(q, 1, wait=5))
        await asyncio.sleep(0.01)
        clock.advance(6)
        assert await asyncio.wait_for(waiter, 2) == []
        eng.close()

    run(main())


def test_restart_restores_move_tasks(tmp_path):
    async def main():
        clock = ManualClock()
        eng = open_engine(tmp_path / "sqs.db", clock)
        dlq = await eng.create_queue(ACCOUNT, REGION, "dlq", None, None)
        policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})
        src = await eng.create_queue(ACCOUNT, REGION, "src", {"RedrivePolicy": policy}, None)
        for i in range(3):
            await eng.send(dlq, f"b{i}")
        task = await eng.moves.start(dlq.arn, src.arn, 1)
        await asyncio.sleep(0.05)
        assert task.moved == 1
        eng.close()
        eng = open_engine(tmp_path / "sqs.db", clock)
        await asyncio.sleep(0.05)
        [task] = eng.moves.tasks
        assert task.status == "RUNNING" and task.moved == 2
        assert eng.counters(eng.by_arn[src.arn])["visible"] == 2
        eng.close()

    run(main())


def test_a_woken_receive_that_is_cancelled_passes_the_wake_on(tmp_path):
    """A long poll woken for a message whose client then leaves must not strand the other parked polls."""

    async def main():
        clock = ManualClock()
        eng = open_engine(tmp_path / "sqs.db", clock)
        q = await eng.create_queue(ACCOUNT, REGION, "handoff", None, None)
        first = asyncio.ensure_future(eng.receive(q, 1, wait=20))
        second = asyncio.ensure_future(eng.receive(q, 1, wait=20))
        await asyncio.sleep(0.01)
        assert len(q.waiters) == 2
        await eng.send(q, "only one")  # wakes `first`, which has not run yet...
        first.cancel()  # ...and its client goes away before it takes the message
        [m] = await asyncio.wait_for(second, 2)
        assert m.body == "only one"
        eng.close()

    run(main())
