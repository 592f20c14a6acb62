"""The in-process API (what CloudFormation, DynamoDB exports and the load balancers call other services
through) answers as the served API does: a binary object's bytes come back as they were stored."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from conveyor.app import App
from conveyor.config import Config
from conveyor.server import HttpServer


def test_a_binary_object_read_in_process_is_its_bytes(tmp_path: Path) -> None:
    payload = bytes(range(256)) + os.urandom(4096)  # not UTF-8

    async def main() -> bytes:
        app = App(Config(data_dir=tmp_path, port=0, clock="manual", auth="off"))
        server = HttpServer(app)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await server.start(sock)
        try:
            api = app.ports.api
            assert api is not None
            await api.call("s3", "CreateBucket", {"Bucket": "bin"}, "us-east-1")
            await api.call("s3", "PutObject", {"Bucket": "bin", "Key": "k", "Body": payload}, "us-east-1")
            got = await api.call("s3", "GetObject", {"Bucket": "bin", "Key": "k"}, "us-east-1")
            assert got["ContentLength"] == len(payload)
            body: bytes = got["Body"]
            return body
        finally:
            server.stopped.set()
            await server.shutdown()

    assert asyncio.run(main()) == payload
