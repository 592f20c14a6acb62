"""A new global secondary index and the writes that race its backfill (UpdateTable with a Create); a TTL
being enabled and the writes that race it (UpdateTimeToLive stores every item's expiry).

Every write ends up in the new index as its item stands, whether it was queued before the backfill read
the table or after, while the index change was still on its way to disk. The overlap is real: the store's
write lock is held from a second SQLite connection, so the writes and the index change stay in flight
together until it is let go.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import post_json
from tests.dynamodb.test_transaction_conflicts import write_lock
from tests.helpers import wait_for

TABLE = "backfill"
INDEX = "by_g"


def in_flight(ddb: Any, key: str, deadline: float, table: str = TABLE) -> None:
    """Wait until a write of item `key` is in flight: a TransactGetItems of an item a write holds is cancelled."""
    while True:
        try:
            ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": {"id": {"S": key}}}}])
        except ClientError as error:
            assert error.response["Error"]["Code"] == "TransactionCanceledException", error.response
            return
        assert time.monotonic() < deadline, f"the write of {key} never came in flight"
        time.sleep(0.01)


def index_pairs(ddb: Any) -> set[tuple[str, str]]:
    pages = ddb.get_paginator("scan").paginate(TableName=TABLE, IndexName=INDEX)
    return {(i["id"]["S"], i["g"]["S"]) for page in pages for i in page["Items"]}


def table_pairs(ddb: Any) -> set[tuple[str, str]]:
    pages = ddb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True)
    return {(i["id"]["S"], i["g"]["S"]) for page in pages for i in page["Items"] if "g" in i}


def answer_in_thread(answers: dict[str, Any], name: str, call: Any, **kwargs: Any) -> threading.Thread:
    """Run `call(**kwargs)` in a thread of its own; its answer, or the error response it got, goes to
    answers[name]."""
    def go() -> None:
        try:
            answers[name] = call(**kwargs)
        except ClientError as error:
            answers[name] = error.response
    thread = threading.Thread(target=go)
    thread.start()
    return thread


def run_in_thread(errors: list[BaseException], call: Any, **kwargs: Any) -> threading.Thread:
    """`call(**kwargs)` started in a thread of its own; what it raises goes to `errors`, reported by the test."""
    def go() -> None:
        try:
            call(**kwargs)
        except BaseException as error:  # reported by the test
            errors.append(error)
    thread = threading.Thread(target=go)
    thread.start()
    return thread


def test_writes_racing_a_new_index_backfill_all_land_in_the_index(start_server: Any) -> None:
    server = start_server()
    ddb = server.client("dynamodb")
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    for n in range(30):
        ddb.put_item(TableName=TABLE, Item={"id": {"S": f"k{n}"}, "g": {"S": f"old{n}"}})

    errors: list[BaseException] = []
    refused: list[dict[str, Any]] = []

    run = functools.partial(run_in_thread, errors)

    def put(key: str, g: str) -> threading.Thread:
        return run(ddb.put_item, TableName=TABLE, Item={"id": {"S": key}, "g": {"S": g}})

    def set_g(key: str, g: str) -> threading.Thread:
        return run(ddb.update_item, TableName=TABLE, Key={"id": {"S": key}}, UpdateExpression="SET g = :g",
                   ExpressionAttributeValues={":g": {"S": g}})

    def refused_put(**kwargs: Any) -> None:
        try:
            ddb.put_item(TableName=TABLE, **kwargs)
        except ClientError as error:
            refused.append(error.response["Error"])

    threads = []
    with write_lock(server.data_dir):
        deadline = time.monotonic() + 3
        # Queued before the index change: the backfill must see them although they were not committed
        # when UpdateTable was asked.
        threads += [put("new-before", "b1"), set_g("k1", "moved-before"),
                    run(ddb.delete_item, TableName=TABLE, Key={"id": {"S": "k2"}})]
        for key in ("new-before", "k1", "k2"):
            in_flight(ddb, key, deadline)
        threads.append(run(ddb.update_table, TableName=TABLE,
                           AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
                           GlobalSecondaryIndexUpdates=[{"Create": {
                               "IndexName": INDEX, "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                               "Projection": {"ProjectionType": "ALL"}}}]))
        # (no request shows that UpdateTable has reached its commit: give it the time to; were it late, the
        # writes below would only be queued before it, which the first ones cover already)
        time.sleep(0.5)
        # Asked after it, while it waits for its commit: they must write the new index's entries.
        threads += [put("new-after", "a1"), set_g("k3", "moved-after"),
                    run(ddb.delete_item, TableName=TABLE, Key={"id": {"S": "k4"}}),
                    run(ddb.batch_write_item, RequestItems={TABLE: [
                        {"PutRequest": {"Item": {"id": {"S": "batch-after"}, "g": {"S": "a2"}}}}]}),
                    run(ddb.transact_write_items, TransactItems=[{"Update": {
                        "TableName": TABLE, "Key": {"id": {"S": "k5"}}, "UpdateExpression": "SET g = :g",
                        "ExpressionAttributeValues": {":g": {"S": "moved-in-transaction"}}}}])]
        # (a g of another type than the new index's: refused, as a write is once the index exists)
        threads.append(run(refused_put, Item={"id": {"S": "bad-after"}, "g": {"N": "1"}}))
        for key in ("new-after", "k3", "k4", "batch-after", "k5", "bad-after"):
            in_flight(ddb, key, deadline)
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert refused == [{"Code": "ValidationException", "Message": "One or more parameter values were invalid: Type "
                        "mismatch for Index Key g Expected: S Actual: N IndexName: by_g"}]
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={"id": {"S": "bad-after"}}, ConsistentRead=True)

    expected = table_pairs(ddb)
    assert {("new-before", "b1"), ("k1", "moved-before"), ("new-after", "a1"), ("k3", "moved-after"),
            ("batch-after", "a2"), ("k5", "moved-in-transaction")} <= expected
    assert not {key for key, _ in expected} & {"k2", "k4"}
    assert index_pairs(ddb) == expected
    found = ddb.query(TableName=TABLE, IndexName=INDEX, KeyConditionExpression="g = :g",
                      ExpressionAttributeValues={":g": {"S": "a1"}})["Items"]
    assert [i["id"]["S"] for i in found] == ["new-after"]
    assert ddb.query(TableName=TABLE, IndexName=INDEX, KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "old1"}})["Items"] == []
    [index] = ddb.describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"]
    assert (index["IndexStatus"], index["ItemCount"]) == ("ACTIVE", len(expected))

    # and so it stays across a restart (the entries are on disk, not only in what the server holds)
    server.stop()
    server.start()
    assert index_pairs(server.client("dynamodb")) == expected


def test_writes_racing_a_ttl_being_enabled_expire_all_the_same(start_server: Any) -> None:
    """UpdateTimeToLive stores each item's expiry with the setting (the sweeper finds expired items by it):
    a write queued before it is counted in, one asked while it is on its way to disk carries its own."""
    server = start_server(None, "--clock", "manual")
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="ttl-race", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    now = post_json(f"{server.endpoint}/_conveyor/clock", {"advance": 0})["now"]
    soon = {"N": str(int(now) + 30)}
    ddb.put_item(TableName="ttl-race", Item={"id": {"S": "settled"}, "exp": soon})
    errors: list[BaseException] = []

    run = functools.partial(run_in_thread, errors)

    def put(key: str) -> threading.Thread:
        return run(ddb.put_item, TableName="ttl-race", Item={"id": {"S": key}, "exp": soon})

    def keys() -> set[str]:
        return {i["id"]["S"] for i in ddb.scan(TableName="ttl-race", ConsistentRead=True)["Items"]}

    with write_lock(server.data_dir):
        deadline = time.monotonic() + 3
        threads = [put("before")]
        in_flight(ddb, "before", deadline, table="ttl-race")
        threads.append(run(ddb.update_time_to_live, TableName="ttl-race",
                           TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}))
        time.sleep(0.5)  # (as above: UpdateTimeToLive late would only put the write below before it)
        threads.append(put("after"))
        in_flight(ddb, "after", deadline, table="ttl-race")
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert keys() == {"settled", "before", "after"}
    post_json(f"{server.endpoint}/_conveyor/clock", {"advance": 60})
    wait_for(lambda: not keys(), 10, what="the sweep of every expired item")


def test_a_write_racing_the_deletion_of_its_table_is_refused_and_leaves_nothing(start_server: Any) -> None:
    """A write asked while DeleteTable is on its way to disk finds the table gone (ResourceNotFoundException);
    stored after the deletion, its item would outlive the table and show up in the next table that is
    given the same id (after a restart, the first one created)."""
    server = start_server()
    ddb = server.client("dynamodb")

    def create() -> None:
        ddb.create_table(TableName="doomed", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")

    create()
    answers: dict[str, Any] = {}

    run = functools.partial(answer_in_thread, answers)

    with write_lock(server.data_dir):
        deadline = time.monotonic() + 3
        threads = [run("before", ddb.put_item, TableName="doomed", Item={"id": {"S": "before"}})]
        in_flight(ddb, "before", deadline, table="doomed")
        threads.append(run("delete", ddb.delete_table, TableName="doomed"))
        time.sleep(0.5)  # (as above: DeleteTable late would only put the write below before it)
        threads.append(run("after", ddb.put_item, TableName="doomed", Item={"id": {"S": "after"}}))
        in_flight(ddb, "after", deadline, table="doomed")
    for thread in threads:
        thread.join(timeout=30)
    assert answers["delete"]["TableDescription"]["TableStatus"] == "DELETING"
    assert answers["after"]["Error"] == {"Code": "ResourceNotFoundException", "Message": "Requested resource not found"}
    server.stop()
    server.start()
    ddb = server.client("dynamodb")
    create()
    assert ddb.scan(TableName="doomed", ConsistentRead=True)["Items"] == []
