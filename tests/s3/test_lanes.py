"""Lanes (conveyor.services.s3.lanes): the ordered work streams a large body is hashed and written in."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from conveyor.services.s3.lanes import Lane


def test_a_lane_runs_its_batches_in_order_one_at_a_time() -> None:
    seen: list[bytes] = []
    running = threading.Lock()

    def work(batch: list[bytes]) -> None:
        assert running.acquire(blocking=False), "two batches of one lane ran at once"
        try:
            time.sleep(0.001)  # long enough for the loop to push more meanwhile
            seen.extend(batch)
        finally:
            running.release()

    async def main() -> None:
        lane = Lane(work)
        for i in range(50):
            lane.push([bytes([i])], 1)
        await lane.drained()
        assert lane.backlog == 0 and lane.idle

    asyncio.run(main())
    assert seen == [bytes([i]) for i in range(50)]


def test_below_waits_until_the_lane_has_caught_up() -> None:
    release = threading.Event()

    def work(batch: list[bytes]) -> None:
        release.wait(5)

    async def main() -> None:
        lane = Lane(work)
        for _ in range(4):
            lane.push([b"x" * 10], 10)
        waiting = asyncio.ensure_future(lane.below(10))
        await asyncio.sleep(0.05)
        assert not waiting.done() and lane.backlog == 40
        release.set()
        await asyncio.wait_for(waiting, 5)
        assert lane.backlog <= 10
        await lane.drained()

    asyncio.run(main())


def test_drained_waits_for_a_batch_of_no_bytes_still_running() -> None:
    # A lane of work without bytes (an fdatasync) is done only once the work has returned: the file it
    # works on must not be closed under it.
    finished = threading.Event()

    def work(batch: list[bytes]) -> None:
        time.sleep(0.05)
        finished.set()

    async def main() -> None:
        lane = Lane(work)
        lane.push([], 0)
        await lane.drained()
        assert finished.is_set()

    asyncio.run(main())


def test_a_failure_is_kept_and_drops_the_batches_after_it() -> None:
    seen: list[bytes] = []

    def work(batch: list[bytes]) -> None:
        if batch == [b"bad"]:
            raise OSError(28, "No space left on device")
        seen.extend(batch)

    async def main() -> None:
        lane = Lane(work)
        for data in (b"a", b"bad", b"c"):
            lane.push([data], 1)
        with pytest.raises(OSError):
            await lane.drained()
        lane.push([b"d"], 1)  # ignored: the lane has failed
        with pytest.raises(OSError):
            await lane.drained()

    asyncio.run(main())
    assert seen == [b"a"]


def test_cancel_drops_what_has_not_started() -> None:
    started = threading.Event()
    release = threading.Event()
    seen: list[bytes] = []

    def work(batch: list[bytes]) -> None:
        started.set()
        release.wait(5)
        seen.extend(batch)

    async def main() -> None:
        lane = Lane(work)
        for data in (b"a", b"b", b"c"):
            lane.push([data], 1)
        await asyncio.to_thread(started.wait, 5)
        lane.cancel()
        release.set()
        await lane.drained()
        assert lane.backlog == 0

    asyncio.run(main())
    assert seen == [b"a"]
