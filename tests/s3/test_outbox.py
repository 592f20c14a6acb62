"""S3's event outbox in-process, on a real store: a burst for one queue goes over in batches (one write
each at the destination), rows are delivered once even while their delete waits to ride a later commit,
and a failed batch is retried without repeating what went before it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.helpers import write_lock
from tests.s3.test_store import ACCOUNT, QUEUE, body, make_bucket, notify_queue, request

from conveyor.clock import ManualClock
from conveyor.services.s3.core import Core
from conveyor.services.s3.outbox import BATCH, batches
from conveyor.services.s3.store import S3Store
from conveyor.services.s3.versions import Versions
from conveyor.storage.db import StoreBusy

TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:events"


@dataclass
class Destination:
    """Stands in for SQS and SNS: records each delivery call; `hold` keeps the first one waiting, `failures`
    makes that many calls fail (after `hold` is released)."""

    calls: list[tuple[str, str, list[str]]] = field(default_factory=list)
    attempts: int = 0
    failures: int = 0
    hold: asyncio.Event | None = None

    async def deliver(self, kind: str, target: str, bodies: Sequence[str]) -> None:
        self.attempts += 1
        await asyncio.sleep(0)  # as a write would: the loop runs meanwhile
        if self.hold is not None:
            await self.hold.wait()
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the destination is down")
        self.calls.append((kind, target, list(bodies)))

    @property
    def bodies(self) -> list[str]:
        return [b for _, _, bs in self.calls for b in bs]


def run(tmp_path: Path, test: Callable[[S3Store, Versions, Destination], Awaitable[None]]) -> None:
    async def main() -> None:
        destination = Destination()
        store = S3Store(tmp_path / "s3")
        store.open(destination.deliver)
        core = Core(store, ManualClock(1_700_000_000.0), ACCOUNT)
        try:
            await make_bucket(store)
            await notify_queue(core, "photos")
            await test(store, Versions(core), destination)
        finally:
            await store.close()

    asyncio.run(main())


async def put(versions: Versions, *keys: str) -> None:
    ctx = request(versions.core.clock)
    await asyncio.gather(*(versions.put(ctx, "photos", key, body(b"1"), "etag", {}, "s3:ObjectCreated:Put")
                           for key in keys))


async def delivered(destination: Destination, n: int) -> None:
    for _ in range(300):
        if len(destination.bodies) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(destination.bodies)} of {n} events delivered")


def waiting_rows(store: S3Store) -> int:
    return int(store.db.query("SELECT count(*) FROM outbox")[0][0])


def test_runs_for_one_target_are_cut_into_batches() -> None:
    rows = [(i, "sqs", QUEUE, str(i)) for i in range(1, 24)]
    rows[11] = (12, "sns", TOPIC, "12")  # another destination ends a run
    rows[12] = (13, "lambda", "arn:aws:lambda:us-east-1:000000000000:function:f", "13")
    rows[13] = (14, "lambda", "arn:aws:lambda:us-east-1:000000000000:function:f", "14")  # functions go alone
    cut = [[row[0] for row in run] for run in batches(rows)]
    assert cut == [list(range(1, 11)), [11], [12], [13], [14], list(range(15, 24))]
    assert max(len(run) for run in cut) == BATCH


def test_a_burst_for_one_queue_goes_over_in_batches_each_event_once(tmp_path: Path) -> None:
    async def test(store: S3Store, versions: Versions, destination: Destination) -> None:
        destination.hold = asyncio.Event()
        await put(versions, "first")
        while not destination.attempts:  # the first event's delivery is under way, and held
            await asyncio.sleep(0.01)
        keys = [f"k{i:02d}" for i in range(25)]
        await put(versions, *keys)
        destination.hold.set()
        await delivered(destination, 26)
        assert [len(bodies) for _, _, bodies in destination.calls] == [1, 10, 10, 5]
        assert {(kind, target) for kind, target, _ in destination.calls} == {("sqs", QUEUE)}
        got = [b.split('"key":"')[1].split('"')[0] for b in destination.bodies]
        assert sorted(got) == sorted(["first", *keys])  # each once

    run(tmp_path, test)


def test_rows_are_delivered_once_while_their_delete_waits_for_a_commit_to_ride(tmp_path: Path) -> None:
    async def test(store: S3Store, versions: Versions, destination: Destination) -> None:
        store.db.behind_delay = 30.0  # no commit of its own for the delete: it waits for the next write
        await put(versions, "a", "b")
        await delivered(destination, 2)
        await asyncio.sleep(0.1)  # (more rounds would run now if the cursor let them read the rows again)
        assert waiting_rows(store) == 2  # delivered, their delete not yet committed
        await put(versions, "c")  # its commit carries the delete
        await delivered(destination, 3)
        assert len(destination.bodies) == 3
        assert waiting_rows(store) == 1  # "c"'s own row, until a commit carries its delete too

    run(tmp_path, test)


def test_a_failed_batch_is_retried_and_what_went_before_it_is_not(tmp_path: Path) -> None:
    async def test(store: S3Store, versions: Versions, destination: Destination) -> None:
        destination.hold = asyncio.Event()
        await put(versions, "first")
        while not destination.attempts:
            await asyncio.sleep(0.01)
        await put(versions, *(f"k{i:02d}" for i in range(15)))
        destination.failures = 1  # the held delivery of "first" fails once
        destination.hold.set()
        await delivered(destination, 16)
        assert [len(bodies) for _, _, bodies in destination.calls] == [10, 6]  # "first" again, with the rest
        assert len(set(destination.bodies)) == 16
        assert destination.attempts == 3

    run(tmp_path, test)


def test_rows_whose_delete_failed_are_cleared_again_not_delivered_again(tmp_path: Path) -> None:
    """A delete of delivered rows lost with its commit (here: another connection holds the write lock past
    the busy timeout) leaves them in the outbox, delivered: the next round clears them again, and nothing
    goes out twice while the server runs (a restart before that would deliver them once more)."""

    async def test(store: S3Store, versions: Versions, destination: Destination) -> None:
        store.db.behind_delay = 30.0  # the delete waits for the next commit...
        await put(versions, "a")
        await delivered(destination, 1)
        with write_lock(store.db.path), pytest.raises(StoreBusy):  # ... which fails, and takes the delete with it
            await put(versions, "b")
        assert waiting_rows(store) == 1  # "a", delivered, its delete lost
        await put(versions, "c")  # its round clears "a" again with its own rows
        await delivered(destination, 2)
        await asyncio.sleep(0.1)
        assert [b.split('"key":"')[1].split('"')[0] for b in destination.bodies] == ["a", "c"]
        await put(versions, "d")  # its commit carries the deletes left behind
        await delivered(destination, 3)
        assert waiting_rows(store) <= 1  # only "d"'s own row may wait for the next commit

    run(tmp_path, test)
