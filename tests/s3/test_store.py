"""S3's store and its write engine in-process, without a socket: a write computed from a bucket's state
is checked against it inside the commit (and computed again when it changed), event records get their
sequencer inside the write, conditional PUTs and multipart completions are judged in the commit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from conveyor.clock import Clock, ManualClock
from conveyor.services.s3.blobs import BlobInfo
from conveyor.services.s3.conditions import WritePrecondition
from conveyor.services.s3.core import Core
from conveyor.services.s3.schema import SEQUENCER_PLACEHOLDER, BucketRow, NewVersion, PartRow
from conveyor.services.s3.store import BucketChanged, S3Store
from conveyor.services.s3.versions import Versions
from conveyor.wire import Headers, HttpRequest, RequestContext, ServiceError

ACCOUNT = "000000000000"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:events"
Delivered = list[tuple[str, str, str]]


def request(clock: Clock) -> RequestContext:
    return RequestContext(HttpRequest("PUT", "/b/k", "", Headers([("host", "127.0.0.1")]), ("10.0.0.7", 5000)),
                          clock, "REQ1", ACCOUNT, "us-east-1")


def run(tmp_path: Path, test: Callable[[S3Store, Core, Versions, Delivered], Awaitable[None]]) -> None:
    """Run `test` against a fresh store whose events are delivered into a list."""

    async def main() -> None:
        delivered: Delivered = []

        async def deliver(kind: str, target: str, bodies: Sequence[str]) -> None:
            delivered.extend((kind, target, body) for body in bodies)

        store = S3Store(tmp_path / "s3")
        store.open(deliver)
        core = Core(store, ManualClock(1_700_000_000.0), ACCOUNT)
        try:
            await test(store, core, Versions(core), delivered)
        finally:
            await store.close()

    asyncio.run(main())


async def make_bucket(store: S3Store, name: str = "photos") -> BucketRow:
    await store.create_bucket(name, "us-east-1", 1.0, "owner", "private", "{}")
    row = store.bucket(name)
    assert row is not None
    return row


def body(data: bytes) -> BlobInfo:
    return BlobInfo("", len(data), b"\0" * 16, {}, data)


async def notify_queue(core: Core, bucket: str, config_id: str = "to-queue") -> None:
    await core.update_setting(bucket, "notification", {"QueueConfigurations": [
        {"Id": config_id, "QueueArn": QUEUE, "Events": ["s3:ObjectCreated:*"]}]})


async def wait_for(delivered: Delivered, n: int) -> None:
    for _ in range(200):
        if len(delivered) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(delivered)} of {n} events delivered")


def test_a_write_computed_from_a_stale_bucket_row_is_refused(tmp_path: Path) -> None:
    async def test(store: S3Store, core: Core, versions: Versions, delivered: Delivered) -> None:
        stale = await make_bucket(store)
        await store.set_versioning("photos", "Enabled")
        version = NewVersion("photos", "k", "null", False, None, 1, "e", 2.0, "{}", b"x")
        with pytest.raises(BucketChanged):
            await store.put_version(stale, version, [])
        assert store.object("photos", "k") is None
        with pytest.raises(BucketChanged):
            await store.remove_version(stale, "k", "null", [])
        await store.delete_bucket("photos")
        with pytest.raises(ServiceError) as gone:
            await store.put_version(stale, version, [])
        assert gone.value.code == "NoSuchBucket"

    run(tmp_path, test)


def test_a_write_is_computed_again_from_the_bucket_as_it_changed(tmp_path: Path) -> None:
    async def test(store: S3Store, core: Core, versions: Versions, delivered: Delivered) -> None:
        await make_bucket(store)
        seen: list[str] = []

        async def attempt(row: BucketRow) -> str:
            seen.append(row.versioning)
            if len(seen) == 1:  # the bucket changes after this attempt read it
                await store.set_versioning("photos", "Enabled")
            version_id = "v1" if row.versioning == "Enabled" else "null"
            await store.put_version(row, NewVersion("photos", "k", version_id, False, None, 1, "e", 2.0, "{}", b"x"),
                                    [])
            return version_id

        assert await core.retrying("photos", attempt) == "v1"
        assert seen == ["", "Enabled"]
        stored = store.object("photos", "k")
        assert stored is not None and stored.version_id == "v1"

    run(tmp_path, test)


def test_the_sequencer_is_filled_in_by_the_write_and_nowhere_else(tmp_path: Path) -> None:
    async def test(store: S3Store, core: Core, versions: Versions, delivered: Delivered) -> None:
        await make_bucket(store)
        slot = f'"sequencer":"{SEQUENCER_PLACEHOLDER}"'
        await notify_queue(core, "photos", config_id=slot)  # a configuration id that looks like the slot
        ctx = request(core.clock)
        for key in ("a", slot, "c"):
            await versions.put(ctx, "photos", key, body(b"1"), "etag", {}, "s3:ObjectCreated:Put")
        await wait_for(delivered, 3)
        records = [json.loads(b)["Records"][0] for _, _, b in delivered]
        assert [r["s3"]["configurationId"] for r in records] == [slot] * 3
        assert records[1]["s3"]["object"]["key"] == "%22sequencer%22%3A%22%3F%22"
        sequencers = [r["s3"]["object"]["sequencer"] for r in records]
        assert all(len(s) == 18 for s in sequencers)
        assert [int(s, 16) for s in sequencers] == sorted(int(s, 16) for s in sequencers)
        assert len(set(sequencers)) == 3
        assert records[0]["requestParameters"] == {"sourceIPAddress": "10.0.0.7"}

    run(tmp_path, test)


def test_events_follow_the_configuration_the_write_commits_after(tmp_path: Path) -> None:
    async def test(store: S3Store, core: Core, versions: Versions, delivered: Delivered) -> None:
        await make_bucket(store)
        ctx = request(core.clock)
        # Both are computed before either commits; the PUT commits after the configuration, so it has an event.
        await asyncio.gather(notify_queue(core, "photos"),
                             versions.put(ctx, "photos", "k", body(b"1"), "etag", {}, "s3:ObjectCreated:Put"))
        await wait_for(delivered, 1)
        assert json.loads(delivered[0][2])["Records"][0]["eventName"] == "ObjectCreated:Put"

    run(tmp_path, test)


def test_racing_conditional_puts_cannot_both_succeed(tmp_path: Path) -> None:
    async def test(store: S3Store, core: Core, versions: Versions, delivered: Delivered) -> None:
        await make_bucket(store)
        ctx = request(core.clock)
        absent = WritePrecondition("k", absent=True)
        outcomes = await asyncio.gather(
            *(versions.put(ctx, "photos", "k", body(data), data.hex(), {}, "s3:ObjectCreated:Put",
                           precondition=absent) for data in (b"1", b"2")), return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, ServiceError)]
        assert len(failed) == 1 and failed[0].code == "PreconditionFailed"
        stored = store.object("photos", "k", with_body=True)
        assert stored is not None and stored.body == b"1"

    run(tmp_path, test)


def test_a_multipart_upload_completes_once(tmp_path: Path) -> None:
    async def test(store: S3Store, core: Core, versions: Versions, delivered: Delivered) -> None:
        await make_bucket(store)

        async def chunks(data: bytes) -> AsyncIterator[bytes]:
            yield data

        part = await store.blobs.write(chunks(b"part"))
        await store.create_upload("u1", "photos", "big", 1.0, "{}")
        await store.save_part("u1", PartRow(1, part.blob_id, part.size, part.md5.hex(), 1.0, {}), "{}")
        ctx = request(core.clock)
        objects = [await store.blobs.write(chunks(b"part")) for _ in range(2)]
        outcomes = await asyncio.gather(
            *(versions.put(ctx, "photos", "big", info, "etag-1", {}, "s3:ObjectCreated:CompleteMultipartUpload",
                           completes="u1") for info in objects), return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, ServiceError)]
        assert len(failed) == 1 and failed[0].code == "NoSuchUpload"
        assert store.upload("u1", "photos", "big") is None
        stored = store.object("photos", "big")
        assert stored is not None
        # The part's file and the losing completion's file are gone; the object's stays.
        assert store.blobs.all_ids() == {stored.blob}

    run(tmp_path, test)


def test_the_writer_frees_deleted_bodies_without_writing_them_again(tmp_path: Path) -> None:
    """SECURE_DELETE (on in Debian's SQLite) would write a deleted 4 KiB body's page again as zeros; the
    writer's connection runs with FAST, which zeroes only within pages it writes anyway."""

    async def test(store: S3Store, core: Core, versions: Versions, delivered: Delivered) -> None:
        mode = await store.db.write(lambda conn: conn.execute("PRAGMA secure_delete").fetchone()[0])
        assert mode == 2  # FAST

    run(tmp_path, test)
