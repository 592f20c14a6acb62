"""A GET or HEAD reads its object's row once, on a bucket with ACLs enabled too, where the bucket owner's
access to an object another account owns is judged on that same row (tests/s3/test_cross_account.py has
the judgement itself)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.helpers import served_in_process
from tests.s3.conftest import client

from conveyor.services.s3.api import S3Service


def test_get_and_head_on_a_bucket_with_acls_read_the_object_once(tmp_path: Path) -> None:
    async def main() -> None:
        async with served_in_process(tmp_path) as (app, endpoint):
            s3 = client(endpoint)
            await asyncio.to_thread(s3.create_bucket, Bucket="acls")
            await asyncio.to_thread(s3.put_bucket_ownership_controls, Bucket="acls", OwnershipControls={
                "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
            await asyncio.to_thread(s3.put_object, Bucket="acls", Key="k", Body=b"body")
            service = await app.services.use("s3")
            assert isinstance(service, S3Service)
            store = service.store
            reads: list[tuple[Any, ...]] = []
            read = store.object

            def counted(*args: Any, **options: Any) -> Any:
                reads.append(args)
                return read(*args, **options)

            store.object = counted  # type: ignore[method-assign]
            got = await asyncio.to_thread(s3.get_object, Bucket="acls", Key="k")
            assert got["Body"].read() == b"body"
            assert len(reads) == 1
            head = await asyncio.to_thread(s3.head_object, Bucket="acls", Key="k")
            assert head["ContentLength"] == 4
            assert len(reads) == 2

    asyncio.run(main())
