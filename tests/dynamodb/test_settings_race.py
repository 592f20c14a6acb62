"""Writes racing a change to what a table keeps of them: a stream turned on or off (UpdateTable's
StreamSpecification) and point-in-time recovery turned on (UpdateContinuousBackups).

A write queued before the change commits before it, under the old settings; a write asked while the change
is on its way to disk commits after it and must be made under the new ones: a stream record (with the image
it replaced, though a plain PutItem did not read it) once the stream is on, none once it is off, a history
row once recovery is on. The overlap is real: the store's write lock is held from a second SQLite
connection, so the writes and the change stay in flight together until it is let go.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import post_json
from tests.dynamodb.test_index_backfill import in_flight, run_in_thread
from tests.dynamodb.test_streams import read_all
from tests.dynamodb.test_transaction_conflicts import write_lock

TABLE = "settings-race"


def make_table(ddb: Any) -> None:
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    for n in range(6):
        ddb.put_item(TableName=TABLE, Item={"id": {"S": f"k{n}"}, "v": {"N": "0"}})


class Writes:
    """Each kind of write, each in a thread of its own; what one raises is reported by the test."""

    def __init__(self, ddb: Any) -> None:
        self.ddb = ddb
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self._run: Callable[..., threading.Thread] = functools.partial(run_in_thread, self.errors)

    def start(self, call: Any, **kwargs: Any) -> None:
        self.threads.append(self._run(call, **kwargs))

    def put(self, key: str, v: str = "1") -> None:
        self.start(self.ddb.put_item, TableName=TABLE, Item={"id": {"S": key}, "v": {"N": v}})

    def set_v(self, key: str) -> None:
        self.start(self.ddb.update_item, TableName=TABLE, Key={"id": {"S": key}}, UpdateExpression="SET v = :v",
                   ExpressionAttributeValues={":v": {"N": "1"}})

    def delete(self, key: str) -> None:
        self.start(self.ddb.delete_item, TableName=TABLE, Key={"id": {"S": key}})

    def batch_put(self, key: str) -> None:
        self.start(self.ddb.batch_write_item, RequestItems={TABLE: [
            {"PutRequest": {"Item": {"id": {"S": key}, "v": {"N": "1"}}}}]})

    def transact_set_v(self, key: str) -> None:
        self.start(self.ddb.transact_write_items, TransactItems=[{"Update": {
            "TableName": TABLE, "Key": {"id": {"S": key}}, "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": {"N": "1"}}}}])

    def one_of_each_in_flight(self, deadline: float) -> None:
        """A put of a new item, an update of k1 and a delete of k2, each queued behind the held write lock."""
        self.put("new-before")
        self.set_v("k1")
        self.delete("k2")
        for key in ("new-before", "k1", "k2"):
            in_flight(self.ddb, key, deadline, table=TABLE)

    def every_kind_in_flight(self, deadline: float) -> None:
        """One write of each kind, each queued behind the held write lock: a put of a new item, a plain
        PutItem over k0 (its old image although it never read it), an update of k3, a delete of k4, a
        BatchWriteItem put and a transaction's update of k5."""
        self.put("new-after")
        self.put("k0", "7")
        self.set_v("k3")
        self.delete("k4")
        self.batch_put("batch-after")
        self.transact_set_v("k5")
        for key in ("new-after", "k0", "k3", "k4", "batch-after", "k5"):
            in_flight(self.ddb, key, deadline, table=TABLE)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)
        assert not self.errors, self.errors


def test_writes_racing_a_stream_being_turned_on_and_off_are_recorded_as_it_stands(start_server: Any) -> None:
    server = start_server()
    ddb = server.client("dynamodb")
    streams = server.client("dynamodbstreams")
    make_table(ddb)

    writes = Writes(ddb)
    with write_lock(server.data_dir):
        deadline = time.monotonic() + 3
        # Queued before the stream is on: committed before it, no record.
        writes.one_of_each_in_flight(deadline)
        writes.start(ddb.update_table, TableName=TABLE,
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        # (no request shows that UpdateTable has reached its commit: give it the time to; were it late, the
        # writes below would only be queued before it, and the records asserted below would be missing)
        time.sleep(0.5)
        # Asked while it is on its way to disk: each must be in the stream, with the image it replaced.
        writes.every_kind_in_flight(deadline)
    writes.join()

    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    records = read_all(streams, arn)

    def seen(records: list[dict[str, Any]]) -> dict[str, tuple[str, Any, Any]]:
        return {r["dynamodb"]["Keys"]["id"]["S"]: (r["eventName"], (r["dynamodb"].get("OldImage") or {}).get("v"),
                                                   (r["dynamodb"].get("NewImage") or {}).get("v"))
                for r in records}

    assert seen(records) == {
        "new-after": ("INSERT", None, {"N": "1"}), "k0": ("MODIFY", {"N": "0"}, {"N": "7"}),
        "k3": ("MODIFY", {"N": "0"}, {"N": "1"}), "k4": ("REMOVE", {"N": "0"}, None),
        "batch-after": ("INSERT", None, {"N": "1"}), "k5": ("MODIFY", {"N": "0"}, {"N": "1"})}
    assert len(records) == 6

    # Turned off while writes are on their way: those asked after it add nothing to the stream.
    writes = Writes(ddb)
    with write_lock(server.data_dir):
        deadline = time.monotonic() + 3
        writes.set_v("k0")
        in_flight(ddb, "k0", deadline, table=TABLE)
        writes.start(ddb.update_table, TableName=TABLE, StreamSpecification={"StreamEnabled": False})
        time.sleep(0.5)
        writes.put("off-after")
        writes.delete("k1")
        for key in ("off-after", "k1"):
            in_flight(ddb, key, deadline, table=TABLE)
    writes.join()
    later = read_all(streams, arn)
    assert seen(later[6:]) == {"k0": ("MODIFY", {"N": "7"}, {"N": "1"})}
    assert ddb.get_item(TableName=TABLE, Key={"id": {"S": "off-after"}}, ConsistentRead=True)["Item"]

    # and a restart reads the same stream from disk
    server.stop()
    server.start()
    assert read_all(server.client("dynamodbstreams"), arn) == later


def test_writes_racing_point_in_time_recovery_being_enabled_are_undone_by_a_restore(start_server: Any) -> None:
    """A restore to a time before a write undoes it by the write's history row: a write asked while
    UpdateContinuousBackups is on its way to disk, committed after it, must have one."""
    server = start_server(None, "--clock", "manual")
    ddb = server.client("dynamodb")
    make_table(ddb)

    def advance(seconds: float) -> float:
        return float(post_json(f"{server.endpoint}/_conveyor/clock", {"advance": seconds})["now"])

    enabled_at = advance(0)
    writes = Writes(ddb)
    with write_lock(server.data_dir):
        deadline = time.monotonic() + 3
        # Queued before recovery is on: part of the table from its first restorable moment.
        writes.one_of_each_in_flight(deadline)
        writes.start(ddb.update_continuous_backups, TableName=TABLE,
                     PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        time.sleep(0.5)  # (as above: late, it would only put the writes below before it)
        advance(10)  # the writes below come 10 s later: a restore to 5 s after enabling undoes them
        writes.every_kind_in_flight(deadline)
    writes.join()
    advance(60)

    def items(table: str) -> dict[str, str]:
        return {i["id"]["S"]: i["v"]["N"] for i in ddb.scan(TableName=table, ConsistentRead=True)["Items"]}

    now = items(TABLE)
    assert now == {"k0": "7", "k1": "1", "k3": "1", "k5": "1", "new-before": "1", "new-after": "1",
                   "batch-after": "1"}
    ddb.restore_table_to_point_in_time(SourceTableName=TABLE, TargetTableName="then",
                                       RestoreDateTime=enabled_at + 5)
    assert items("then") == {"k0": "0", "k1": "1", "k3": "0", "k4": "0", "k5": "0", "new-before": "1"}
    ddb.restore_table_to_point_in_time(SourceTableName=TABLE, TargetTableName="latest", UseLatestRestorableTime=True)
    assert items("latest") == now


def test_ttl_deletions_racing_a_stream_being_turned_on_are_recorded_as_the_service(start_server: Any) -> None:
    """The TTL sweeper's deletions go through the same commit as every write: a sweep that waits for an
    item's lock while the stream is turned on commits its deletions after the stream is on, each with its
    REMOVE record naming the service in userIdentity.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html"""
    server = start_server(None, "--clock", "manual")
    ddb = server.client("dynamodb")
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})

    def advance(seconds: float) -> float:
        return float(post_json(f"{server.endpoint}/_conveyor/clock", {"advance": seconds})["now"])

    now = advance(0)
    for key in ("x1", "x2", "x3"):
        ddb.put_item(TableName=TABLE, Item={"id": {"S": key}, "exp": {"N": str(int(now) + 30)}, "v": {"N": "1"}})
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "live"}, "exp": {"N": str(int(now) + 10**6)}})

    writes = Writes(ddb)
    with write_lock(server.data_dir):
        deadline = time.monotonic() + 3
        # x1's lock is held by a write in flight (still expired after it), so the sweep waits for it...
        writes.start(ddb.put_item, TableName=TABLE,
                     Item={"id": {"S": "x1"}, "exp": {"N": str(int(now) + 30)}, "v": {"N": "2"}})
        in_flight(ddb, "x1", deadline, table=TABLE)
        advance(60)  # the sweep is due
        time.sleep(0.3)
        # ...while the stream is turned on
        writes.start(ddb.update_table, TableName=TABLE,
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        time.sleep(0.5)
    writes.join()

    def keys() -> set[str]:
        return {i["id"]["S"] for i in ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]}

    deadline = time.monotonic() + 10
    while keys() != {"live"}:
        assert time.monotonic() < deadline, keys()
        time.sleep(0.05)
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    records = read_all(server.client("dynamodbstreams"), arn)
    assert sorted((r["eventName"], r["dynamodb"]["Keys"]["id"]["S"], r["dynamodb"]["OldImage"]["v"]["N"],
                   r["userIdentity"]["PrincipalId"], r["userIdentity"]["Type"]) for r in records) == [
        ("REMOVE", key, "2" if key == "x1" else "1", "dynamodb.amazonaws.com", "Service")
        for key in ("x1", "x2", "x3")]


def test_a_ttl_sweep_waiting_for_ttl_to_be_disabled_deletes_nothing(start_server: Any) -> None:
    """A sweep that found items expired while UpdateTimeToLive was turning TTL off, and so waits for that change
    to commit, deletes none of them once it has: DescribeTimeToLive says DISABLED as soon as the change is
    answered, and no TTL deletion comes after it (AWS, whose change may take an hour, says DISABLING meanwhile).
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html"""
    server = start_server(None, "--clock", "manual")
    ddb = server.client("dynamodb")
    make_table(ddb)
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})

    def advance(seconds: float) -> float:
        return float(post_json(f"{server.endpoint}/_conveyor/clock", {"advance": seconds})["now"])

    now = advance(0)
    for key in ("x1", "x2", "x3"):
        ddb.put_item(TableName=TABLE, Item={"id": {"S": key}, "exp": {"N": str(int(now) + 30)}})

    writes = Writes(ddb)
    with write_lock(server.data_dir):
        deadline = time.monotonic() + 3
        writes.start(ddb.update_time_to_live, TableName=TABLE,
                     TimeToLiveSpecification={"Enabled": False, "AttributeName": "exp"})
        time.sleep(0.5)  # (the change reaches its commit, which waits for the lock)
        advance(60)  # the sweep is due: it finds x1..x3 expired, holds their locks and waits for the change
        in_flight(ddb, "x1", deadline, table=TABLE)
    writes.join()

    assert ddb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    deadline = time.monotonic() + 10
    # The sweep is over once it lets go of its items' locks (a TransactGetItems of them is no longer cancelled).
    while True:
        try:
            found = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": {"id": {"S": key}}}}
                                                          for key in ("x1", "x2", "x3")])
            break
        except ClientError as error:
            assert error.response["Error"]["Code"] == "TransactionCanceledException", error.response
            assert time.monotonic() < deadline, "the sweep never let go of its items"
            time.sleep(0.05)
    assert [r["Item"]["id"]["S"] for r in found["Responses"]] == ["x1", "x2", "x3"]
    advance(60)  # and no later sweep deletes them either
    time.sleep(0.3)
    assert {i["id"]["S"] for i in ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]} >= {"x1", "x2", "x3"}
