"""DynamoDB survives kill -9: every acknowledged transaction is complete after a restart, and none is
half-applied; items and index entries come back together."""

from __future__ import annotations

import json
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


def test_sigkill_during_an_export_and_an_import_loses_neither(start_server: Any, tmp_path: Path) -> None:
    """An export and an import still running at kill -9 run again at the next start and complete, with the
    same objects and items as an uninterrupted run: never lost, never half-done silently."""
    server = start_server(tmp_path / "data")
    ddb, s3 = server.client("dynamodb"), server.client("s3")
    ddb.create_table(TableName="big", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.update_continuous_backups(TableName="big", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    for start in range(0, 3000, 25):
        ddb.batch_write_item(RequestItems={"big": [{"PutRequest": {"Item": {
            "pk": {"S": f"k{n:05d}"}, "pad": {"S": "x" * 200}}}} for n in range(start, start + 25)]})
    s3.create_bucket(Bucket="dumps")
    lines = "".join(f'{{"Item":{{"pk":{{"S":"i{n:05d}"}}}}}}\n' for n in range(3000))
    s3.put_object(Bucket="dumps", Key="in/items.json", Body=lines.encode())
    table_arn = ddb.describe_table(TableName="big")["Table"]["TableArn"]
    export = ddb.export_table_to_point_in_time(TableArn=table_arn, S3Bucket="dumps", S3Prefix="out")
    imported = ddb.import_table(S3BucketSource={"S3Bucket": "dumps", "S3KeyPrefix": "in/"},
                                InputFormat="DYNAMODB_JSON", TableCreationParameters={
                                    "TableName": "copy", "BillingMode": "PAY_PER_REQUEST",
                                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})
    server.kill()

    server.start()
    ddb = server.client("dynamodb")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = ddb.describe_export(ExportArn=export["ExportDescription"]["ExportArn"])["ExportDescription"]
        loaded = ddb.describe_import(ImportArn=imported["ImportTableDescription"]["ImportArn"])[
            "ImportTableDescription"]
        if done["ExportStatus"] != "IN_PROGRESS" and loaded["ImportStatus"] != "IN_PROGRESS":
            break
        time.sleep(0.1)
    assert done["ExportStatus"] == "COMPLETED" and done["ItemCount"] == 3000
    s3 = server.client("s3")
    folder = done["ExportManifest"].rsplit("/", 1)[0] + "/"
    manifest = s3.get_object(Bucket="dumps", Key=folder + "manifest-files.json")["Body"].read().decode()
    listed = {json.loads(line)["dataFileS3Key"] for line in manifest.splitlines()}
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket="dumps", Prefix=folder + "data/")["Contents"]}
    assert stored == listed  # the run again overwrote the interrupted run's files: no strays
    assert loaded["ImportStatus"] == "COMPLETED" and loaded["ImportedItemCount"] == 3000
    assert ddb.describe_table(TableName="copy")["Table"]["ItemCount"] == 3000
    assert ddb.describe_table(TableName="copy")["Table"]["TableStatus"] == "ACTIVE"
