"""DynamoDB survives kill -9: every acknowledged transaction is complete after a restart, and none is
half-applied; items and index entries come back together."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError


def _table(ddb: Any) -> None:
    ddb.create_table(TableName="ledger", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "grp", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     GlobalSecondaryIndexes=[{"IndexName": "by-grp", "Projection": {"ProjectionType": "ALL"},
                                              "KeySchema": [{"AttributeName": "grp", "KeyType": "HASH"}]}])


def test_sigkill_during_transactions_leaves_none_half_applied(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    _table(server.client("dynamodb"))
    acknowledged: list[str] = []
    attempted: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker: int) -> None:
        ddb = server.client("dynamodb", config=BotoConfig(retries={"max_attempts": 1}, connect_timeout=2,
                                                          read_timeout=5))
        for n in range(100_000):
            if stop.is_set():
                return
            name = f"w{worker}-{n}"
            with lock:
                attempted.append(name)
            try:  # three items of one transaction: all of them or none may be found after the crash
                ddb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": "ledger", "Item": {"pk": {"S": f"{name}-{part}"}, "grp": {"S": name}},
                             "ConditionExpression": "attribute_not_exists(pk)"}} for part in "abc"])
            except (ClientError, BotoCoreError):
                return
            with lock:
                acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(30)
    assert len(acknowledged) >= 200
    server.start()
    ddb = server.client("dynamodb")
    found: dict[str, int] = {}
    for page in ddb.get_paginator("scan").paginate(TableName="ledger"):
        for item in page["Items"]:
            found[item["grp"]["S"]] = found.get(item["grp"]["S"], 0) + 1
    assert all(count == 3 for count in found.values()), {k: v for k, v in found.items() if v != 3}
    assert set(acknowledged) <= set(found)  # every acknowledged transaction is there
    assert set(found) <= set(attempted)
    for name in acknowledged[:: max(1, len(acknowledged) // 20)]:  # and its index entries with it
        by_index = ddb.query(TableName="ledger", IndexName="by-grp", KeyConditionExpression="grp = :b",
                             ExpressionAttributeValues={":b": {"S": name}})
        assert by_index["Count"] == 3
