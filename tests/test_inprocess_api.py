"""The in-process API (what CloudFormation, DynamoDB exports and the load balancers call other services
through) answers as the served API does: a binary object's bytes come back as they were stored."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.helpers import served_in_process


def test_a_binary_object_read_in_process_is_its_bytes(tmp_path: Path) -> None:
    payload = bytes(range(256)) + os.urandom(4096)  # not UTF-8

    async def main() -> bytes:
        async with served_in_process(tmp_path) as (app, _):
            api = app.ports.api
            assert api is not None
            await api.call("s3", "CreateBucket", {"Bucket": "bin"}, "us-east-1")
            await api.call("s3", "PutObject", {"Bucket": "bin", "Key": "k", "Body": payload}, "us-east-1")
            got = await api.call("s3", "GetObject", {"Bucket": "bin", "Key": "k"}, "us-east-1")
            assert got["ContentLength"] == len(payload)
            body: bytes = got["Body"]
            return body

    assert asyncio.run(main()) == payload
