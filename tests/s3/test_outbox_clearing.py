"""The outbox's delivered rows are deleted by a write that rides the next commit (Database.write_behind), not by
a commit (and an fsync) of their own; until it commits they are not delivered again, and a crash before it
delivers them once more at the next start (at least once, as S3 promises), never loses them."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from tests.s3.test_store import Delivered, body, make_bucket, notify_queue, request, run, wait_for

from conveyor.services.s3.core import Core
from conveyor.services.s3.store import S3Store
from conveyor.services.s3.versions import Versions


def rows_on_disk(store: S3Store) -> int:
    count: int = store.db.query("SELECT count(*) FROM outbox")[0][0]
    return count


def test_delivered_events_are_cleared_by_the_next_commit_not_one_of_their_own(tmp_path: Path) -> None:
    async def test(store: S3Store, core: Core, versions: Versions, delivered: Delivered) -> None:
        store.db.behind_delay = 30.0  # (real seconds: only another write commits the clearing here)
        await make_bucket(store)
        await notify_queue(core, "photos")
        await versions.put(request(core.clock), "photos", "k", body(b"1"), "etag", {}, "s3:ObjectCreated:Put")
        await wait_for(delivered, 1)
        await asyncio.sleep(0.2)  # the outbox has handled the round
        commits = store.db.commits
        assert rows_on_disk(store) == 1  # delivered, its deletion waiting for a commit to ride
        assert store.counts() == (1, 0)  # ... and not counted as pending
        assert store._outbox is not None
        store._outbox.kick()
        await asyncio.sleep(0.2)
        assert len(delivered) == 1  # not delivered again
        assert store.db.commits == commits  # no commit of its own

        await make_bucket(store, "other")  # the next write's commit carries the deletion
        assert rows_on_disk(store) == 0
        assert store.db.commits == commits + 1
        assert len(delivered) == 1

        # Later events are still found past the rows already handled.
        await notify_queue(core, "other")
        await versions.put(request(core.clock), "other", "k2", body(b"2"), "etag", {}, "s3:ObjectCreated:Put")
        await wait_for(delivered, 2)
        assert json.loads(delivered[1][2])["Records"][0]["s3"]["object"]["key"] == "k2"

    run(tmp_path, test)


def test_a_crash_before_the_clearing_commits_delivers_the_event_again_once(tmp_path: Path) -> None:
    crashed = tmp_path / "crashed"

    async def test(store: S3Store, core: Core, versions: Versions, delivered: Delivered) -> None:
        store.db.behind_delay = 30.0
        await make_bucket(store)
        await notify_queue(core, "photos")
        await versions.put(request(core.clock), "photos", "k", body(b"1"), "etag", {}, "s3:ObjectCreated:Put")
        await wait_for(delivered, 1)
        await asyncio.sleep(0.2)
        assert rows_on_disk(store) == 1
        # The files as kill -9 would leave them now: what is committed (the database and its WAL), nothing
        # of the write left behind, which lives in memory until a commit carries it.
        shutil.copytree(tmp_path / "s3", crashed, ignore=shutil.ignore_patterns("*-shm"))

        again: Delivered = []

        async def deliver(kind: str, target: str, bodies: Sequence[str]) -> None:
            again.extend((kind, target, text) for text in bodies)

        restarted = S3Store(crashed)
        restarted.open(deliver)
        try:
            await wait_for(again, 1)
            await asyncio.sleep(0.3)
            assert again == delivered  # the same event, once more: at least once, never lost
            await make_bucket(restarted, "next")  # a commit to carry the clearing
            assert rows_on_disk(restarted) == 0
        finally:
            await restarted.close()

    run(tmp_path, test)
