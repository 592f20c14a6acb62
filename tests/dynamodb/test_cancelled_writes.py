"""Item writes whose in-process callers go away while the write waits for its commit (CloudFormation's
scheduler, PartiQL, a server stopping past its grace period): the write is queued, so it lands all the same,
and everything that rides its commit waits for it too. Its item's lock (a transaction's claims) is let go
only once the commit is over, so no other write judges its condition against the state the commit is about
to replace; the stream's last sequence number is raised and the stream's readers wake, so an iterator at
LATEST starts past its record.

The overlap is real: the store's write lock is held from a second SQLite connection while the write waits.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from conveyor.ports import ApiCaller
from conveyor.wire import ServiceError
from tests.conftest import CREDENTIALS
from tests.dynamodb.test_transaction_conflicts import write_lock
from tests.helpers import served_in_process

REGION = "us-east-1"
TABLE = "cancelled"


async def make_table(api: ApiCaller) -> str:
    """The table, with a stream; its stream's ARN."""
    made = await api.call("dynamodb", "CreateTable", {
        "TableName": TABLE, "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}}, REGION)
    return str(made["TableDescription"]["LatestStreamArn"])


async def cancelled_in_flight(api: ApiCaller, operation: str, params: dict[str, Any]) -> None:
    """Call the operation, let it reach its commit (which waits for the held write lock), then cancel it."""
    call = asyncio.ensure_future(api.call("dynamodb", operation, params, REGION))
    await asyncio.sleep(0.3)
    assert not call.done(), "the write did not wait for its commit"
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


async def item(api: ApiCaller, key: str) -> dict[str, Any] | None:
    found = await api.call("dynamodb", "GetItem", {"TableName": TABLE, "Key": {"id": {"S": key}}}, REGION)
    return found.get("Item")


async def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not await condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def test_a_write_cancelled_in_flight_keeps_its_item_until_its_commit_lands(tmp_path: Path) -> None:
    async def main() -> None:
        async with served_in_process(tmp_path) as (app, _):
            api = app.ports.api
            assert api is not None
            await make_table(api)
            with write_lock(tmp_path):
                await cancelled_in_flight(api, "PutItem", {"TableName": TABLE, "Item": {"id": {"S": "a"},
                                                                                        "v": {"S": "first"}}})
                # A conditional write of the same item asked now must judge the state the put leaves: it waits
                # for the put's commit rather than find the item absent and overwrite it.
                second = asyncio.ensure_future(api.call("dynamodb", "PutItem", {
                    "TableName": TABLE, "Item": {"id": {"S": "a"}, "v": {"S": "second"}},
                    "ConditionExpression": "attribute_not_exists(id)"}, REGION))
                await asyncio.sleep(0.2)
            with pytest.raises(ServiceError) as refused:
                await second
            assert refused.value.code == "ConditionalCheckFailedException"
            assert await item(api, "a") == {"id": {"S": "a"}, "v": {"S": "first"}}

    asyncio.run(main())


def test_a_transaction_cancelled_in_flight_keeps_its_claims_until_its_commit_lands(tmp_path: Path) -> None:
    async def main() -> None:
        async with served_in_process(tmp_path) as (app, _):
            api = app.ports.api
            assert api is not None
            await make_table(api)
            with write_lock(tmp_path):
                await cancelled_in_flight(api, "TransactWriteItems", {"ClientRequestToken": "once", "TransactItems": [
                    {"Put": {"TableName": TABLE, "Item": {"id": {"S": "t"}, "v": {"S": "transaction"}}}}]})
                # The transaction is still in flight: a write of its item conflicts with it, and the same
                # token is a transaction in progress.
                with pytest.raises(ServiceError) as conflict:
                    await api.call("dynamodb", "PutItem", {"TableName": TABLE,
                                                           "Item": {"id": {"S": "t"}, "v": {"S": "put"}}}, REGION)
                assert conflict.value.code == "TransactionConflictException"
                with pytest.raises(ServiceError) as again:
                    await api.call("dynamodb", "TransactWriteItems", {"ClientRequestToken": "once", "TransactItems": [
                        {"Put": {"TableName": TABLE, "Item": {"id": {"S": "t"}, "v": {"S": "transaction"}}}}]},
                        REGION)
                assert again.value.code == "TransactionInProgressException"
            await until(lambda: item(api, "t"), "the cancelled transaction never landed")
            assert await item(api, "t") == {"id": {"S": "t"}, "v": {"S": "transaction"}}
            # Landed, it lets go of its item.
            await until(lambda: _put_succeeds(api, "t"), "the transaction's claim outlived its commit")

    asyncio.run(main())


async def _put_succeeds(api: ApiCaller, key: str) -> bool:
    try:
        await api.call("dynamodb", "PutItem", {"TableName": TABLE, "Item": {"id": {"S": key}, "v": {"S": "put"}}},
                       REGION)
    except ServiceError as error:
        assert error.code == "TransactionConflictException", error
        return False
    return True


def test_a_write_cancelled_in_flight_raises_the_streams_last_number_and_wakes_its_readers(tmp_path: Path) -> None:
    async def main() -> None:
        async with served_in_process(tmp_path) as (app, endpoint):
            api, streams = app.ports.api, app.ports.table_streams
            assert api is not None and streams is not None
            arn = await make_table(api)
            woken = streams.changed(arn)
            assert woken is not None
            with write_lock(tmp_path):
                await cancelled_in_flight(api, "PutItem", {"TableName": TABLE, "Item": {"id": {"S": "s"}}})
            await until(lambda: _is_set(woken), "the stream's readers were not woken by the cancelled write's record")
            assert await item(api, "s") == {"id": {"S": "s"}}
            # A LATEST iterator taken now starts past the cancelled write's record: it reads the next write only.
            reader = await asyncio.to_thread(LatestReader, endpoint, arn)
            assert await asyncio.to_thread(reader.keys) == []
            await api.call("dynamodb", "PutItem", {"TableName": TABLE, "Item": {"id": {"S": "next"}}}, REGION)
            assert await asyncio.to_thread(reader.keys) == ["next"]

    asyncio.run(main())


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()


class LatestReader:
    """A shard iterator of the table's stream taken at LATEST, read on with boto3."""

    def __init__(self, endpoint: str, arn: str) -> None:
        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, **CREDENTIALS)
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                                        ShardIteratorType="LATEST")["ShardIterator"]

    def keys(self) -> list[str]:
        """The keys of the records past the iterator, which moves past them."""
        read = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = read["NextShardIterator"]
        return [r["dynamodb"]["Keys"]["id"]["S"] for r in read["Records"]]
