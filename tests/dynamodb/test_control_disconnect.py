"""Control-plane changes whose callers go away while the change waits for its commit: every change whose
commit lands is in the tables the server holds too, so the running server and a restart agree.

The overlap is real: the store's write lock is held from a second SQLite connection while the requests
wait, then goes. Two kinds of callers go away: HTTP clients that hang up (the server lets their requests
finish: conveyor.waiting cancels only parked waits), and in-process callers (what CloudFormation and the
other services call through) whose calls are cancelled, which reaches the handler itself.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials

from conveyor.app import App
from conveyor.config import Config
from conveyor.server import HttpServer
from tests.conftest import CREDENTIALS
from tests.dynamodb.test_transaction_conflicts import write_lock

CREATE = {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
          "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}


def make(ddb: Any, name: str) -> None:
    ddb.create_table(TableName=name, **CREATE)


def changes(kept_arn: str) -> list[tuple[str, dict[str, Any]]]:
    """One change of each kind, in the order they are asked."""
    return [
        ("CreateTable", {"TableName": "made", **CREATE}),
        ("UpdateTable", {"TableName": "kept",
                         "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}}),
        ("UpdateTable", {"TableName": "made", "DeletionProtectionEnabled": True}),
        ("TagResource", {"ResourceArn": kept_arn, "Tags": [{"Key": "team", "Value": "uploads"}]}),
        ("UpdateTimeToLive", {"TableName": "kept", "TimeToLiveSpecification": {"Enabled": True,
                                                                             "AttributeName": "exp"}}),
        ("UpdateContinuousBackups", {"TableName": "kept",
                                     "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}),
        ("DeleteTable", {"TableName": "gone"}),
    ]


def assert_all_applied(running: dict[str, Any]) -> None:
    assert running["tables"] == ["barrier", "kept", "made"]
    assert running["made"]["TableStatus"] == "ACTIVE"
    assert running["kept"]["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    assert running["made"]["DeletionProtectionEnabled"] is True
    assert running["tags"] == [{"Key": "team", "Value": "uploads"}]
    assert running["ttl"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    assert running["pitr"] == "ENABLED"


def send_and_hang_up(endpoint: str, operation: str, params: dict[str, Any]) -> None:
    """A signed DynamoDB request sent whole on a socket of its own, closed before any answer (the change has
    had the time to reach its commit, or its turn at the control plane's lock)."""
    request = AWSRequest("POST", endpoint + "/", data=json.dumps(params).encode(),
                         headers={"Content-Type": "application/x-amz-json-1.0",
                                  "X-Amz-Target": f"DynamoDB_20120810.{operation}"})
    SigV4Auth(Credentials("test", "test"), "dynamodb", "us-east-1").add_auth(request)
    body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
    address = urlsplit(endpoint)
    head = ["POST / HTTP/1.1", f"Host: {address.netloc}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in ("host", "content-length")]
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        time.sleep(0.2)


def snapshot(ddb: Any, arn: str) -> dict[str, Any]:
    """What the control plane says of the tables."""
    def described(name: str) -> dict[str, Any]:
        table = ddb.describe_table(TableName=name)["Table"]
        return {k: table.get(k) for k in ("TableStatus", "StreamSpecification", "LatestStreamArn",
                                          "DeletionProtectionEnabled")}

    backups = ddb.describe_continuous_backups(TableName="kept")["ContinuousBackupsDescription"]
    return {"tables": ddb.list_tables()["TableNames"], "made": described("made"), "kept": described("kept"),
            "tags": ddb.list_tags_of_resource(ResourceArn=arn)["Tags"],
            "ttl": ddb.describe_time_to_live(TableName="kept")["TimeToLiveDescription"],
            "pitr": backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]}


def test_changes_whose_clients_hang_up_are_held_as_stored(start_server: Any) -> None:
    server = start_server()
    ddb = server.client("dynamodb")
    for name in ("kept", "gone", "barrier"):
        make(ddb, name)
    arn = ddb.describe_table(TableName="kept")["Table"]["TableArn"]
    with write_lock(server.data_dir):
        for operation, params in changes(arn):
            send_and_hang_up(server.endpoint, operation, params)
    # The control plane takes changes one at a time, in turn: once this one is answered, those before it are over.
    ddb.tag_resource(ResourceArn=ddb.describe_table(TableName="barrier")["Table"]["TableArn"],
                     Tags=[{"Key": "after", "Value": "all"}])
    running = snapshot(ddb, arn)
    assert_all_applied(running)

    server.stop()
    server.start()
    assert snapshot(server.client("dynamodb"), arn) == running

def test_changes_whose_in_process_calls_are_cancelled_are_held_as_stored(tmp_path: Path) -> None:
    async def serve() -> tuple[App, HttpServer, Any]:
        app = App(Config(data_dir=tmp_path, port=0, clock="manual", auth="off"))
        server = HttpServer(app)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await server.start(sock)
        ddb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{sock.getsockname()[1]}", **CREDENTIALS,
                           config=BotoConfig(retries={"max_attempts": 1}))
        return app, server, ddb

    async def stop(server: HttpServer) -> None:
        server.stopped.set()
        await server.shutdown()

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        app, server, ddb = await serve()
        api = app.ports.api
        assert api is not None
        for name in ("kept", "gone", "barrier"):
            await api.call("dynamodb", "CreateTable", {"TableName": name, **CREATE}, "us-east-1")
        arn = (await api.call("dynamodb", "DescribeTable", {"TableName": "kept"}, "us-east-1"))["Table"]["TableArn"]
        with write_lock(tmp_path):
            calls = [asyncio.ensure_future(api.call("dynamodb", operation, params, "us-east-1"))
                     for operation, params in changes(arn)]
            await asyncio.sleep(0.3)  # each waits for the commit, or for its turn at the control plane's lock
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
        barrier = (await api.call("dynamodb", "DescribeTable", {"TableName": "barrier"}, "us-east-1"))["Table"]
        await api.call("dynamodb", "TagResource", {"ResourceArn": barrier["TableArn"],
                                                   "Tags": [{"Key": "after", "Value": "all"}]}, "us-east-1")
        running = await asyncio.to_thread(snapshot, ddb, arn)
        await stop(server)
        app, server, ddb = await serve()
        try:
            return running, await asyncio.to_thread(snapshot, ddb, arn)
        finally:
            await stop(server)

    running, restarted = asyncio.run(main())
    assert restarted == running
    assert_all_applied(running)
