"""Stream sequence numbers are taken inside the commit that stores their records: a reader positioned
while a write is in flight (its commit held back by this test holding the store's write lock) still gets
that write's record once it commits, and a write lost to kill -9 leaves no number that a later record
would reuse behind a reader's position."""

from __future__ import annotations

import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from tests.dynamodb.test_transaction_conflicts import write_lock


def streamed_table(ddb: Any, name: str) -> str:
    table = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST",
                             StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    return str(table["TableDescription"]["LatestStreamArn"])


def iterator(streams: Any, arn: str, kind: str) -> str:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return str(streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)["ShardIterator"])


def keys(streams: Any, position: str) -> list[str]:
    return [r["dynamodb"]["Keys"]["id"]["S"] for r in streams.get_records(ShardIterator=position)["Records"]]


def put_in_flight(ddb: Any, table: str, name: str) -> threading.Thread:
    """Start a PutItem and return once it is in flight (a TransactGetItems of its item conflicts)."""

    def put() -> None:
        try:
            ddb.put_item(TableName=table, Item={"id": {"S": name}})
        except Exception:  # noqa: S110 - the server may be killed under it
            pass

    runner = threading.Thread(target=put)
    runner.start()
    deadline = time.monotonic() + 3
    while True:
        try:
            ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": {"id": {"S": name}}}}])
        except ClientError as error:
            assert error.response["Error"]["Code"] == "TransactionCanceledException"
            return runner
        assert time.monotonic() < deadline, "the write never came in flight"
        time.sleep(0.01)


def test_a_reader_positioned_during_a_write_in_flight_gets_its_record(start_server: Any) -> None:
    server = start_server()
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    arn = streamed_table(ddb, "seq_latest")
    ddb.put_item(TableName="seq_latest", Item={"id": {"S": "a"}})
    with write_lock(server.data_dir):
        runner = put_in_flight(ddb, "seq_latest", "b")
        latest = iterator(streams, arn, "LATEST")
        described = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        ending = described["SequenceNumberRange"].get("EndingSequenceNumber")
    runner.join(timeout=30)
    assert keys(streams, latest) == ["b"]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in
               streams.get_records(ShardIterator=iterator(streams, arn, "TRIM_HORIZON"))["Records"]]
    assert [int(n) for n in numbers] == [int(numbers[0]), int(numbers[0]) + 1]  # consecutive: no gap
    assert ending is None or int(ending) == int(numbers[0])  # what was committed when it was described


def test_a_write_lost_to_kill_leaves_no_number_behind_a_reader(start_server: Any) -> None:
    server = start_server()
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    arn = streamed_table(ddb, "seq_crash")
    ddb.put_item(TableName="seq_crash", Item={"id": {"S": "a"}})
    with write_lock(server.data_dir):
        runner = put_in_flight(ddb, "seq_crash", "lost")
        latest = iterator(streams, arn, "LATEST")
        server.kill()
    runner.join(timeout=30)
    server = start_server(server.data_dir)
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    assert "Item" not in ddb.get_item(TableName="seq_crash", Key={"id": {"S": "lost"}})
    ddb.put_item(TableName="seq_crash", Item={"id": {"S": "c"}})
    assert keys(streams, latest) == ["c"]  # the position taken before the crash is before c's record
    every = streams.get_records(ShardIterator=iterator(streams, arn, "TRIM_HORIZON"))["Records"]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in every] == ["a", "c"]
    assert int(every[1]["dynamodb"]["SequenceNumber"]) == int(every[0]["dynamodb"]["SequenceNumber"]) + 1
