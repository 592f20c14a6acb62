"""Global secondary indexes with multi-attribute keys (up to four partition key and four sort key
attributes), through boto3: CreateTable and UpdateTable, the order of items, every key condition on every
sort key attribute checked against a model of DynamoDB's order, the query rules' errors, pages, sparse
entries, Scan, and a restart."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

from conveyor.services.dynamodb.tables import Table
from tests.dynamodb.test_tables import error

HASHES = [("tenant", "S"), ("part", "N")]
RANGES = [("round", "S"), ("score", "N"), ("bits", "B")]


def multi_gsi(name: str = "multi", hashes: list[tuple[str, str]] = HASHES,
              ranges: list[tuple[str, str]] = RANGES) -> dict[str, Any]:
    return {"IndexName": name,
            "KeySchema": [{"AttributeName": n, "KeyType": "HASH"} for n, _ in hashes]
            + [{"AttributeName": n, "KeyType": "RANGE"} for n, _ in ranges],
            "Projection": {"ProjectionType": "ALL"}}


def definitions(*keys: tuple[str, str]) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": t} for n, t in keys]


def create(ddb: Any, name: str, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=definitions(("id", "S"), *HASHES, *RANGES), BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[multi_gsi()], **extra)
    return result["TableDescription"]


# Values chosen to tell a tuple order from a concatenation: prefixes of each other, a NUL inside a string
# and inside binary, 0xff bytes, negative and fractional numbers.
ROUNDS = ["a", "a\x00", "ab", "b", "\x00"]
SCORES = ["-1.5", "0", "2", "10"]
BLOBS = [b"", b"\x00", b"\x00\xff", b"\xff", b"a"]


def sample_items() -> list[dict[str, Any]]:
    items = []
    for n, (r, s, b) in enumerate(itertools.product(ROUNDS, SCORES, BLOBS)):
        if not b:
            continue  # a key attribute is never empty
        items.append({"id": {"S": f"i{n:03d}"}, "tenant": {"S": "acme"}, "part": {"N": "1"},
                      "round": {"S": r}, "score": {"N": s}, "bits": {"B": b}})
    # other partitions: one attribute of the partition key differs
    items.append({"id": {"S": "x1"}, "tenant": {"S": "acme"}, "part": {"N": "2"}, "round": {"S": "a"},
                  "score": {"N": "0"}, "bits": {"B": b"a"}})
    items.append({"id": {"S": "x2"}, "tenant": {"S": "other"}, "part": {"N": "1"}, "round": {"S": "a"},
                  "score": {"N": "0"}, "bits": {"B": b"a"}})
    return items


def order_key(item: dict[str, Any]) -> tuple[Any, ...]:
    return (item["round"]["S"].encode(), Decimal(item["score"]["N"]), bytes(item["bits"]["B"]), item["id"]["S"])


def native(attr: str, value: dict[str, Any]) -> Any:
    kind, raw = next(iter(value.items()))
    return raw.encode() if kind == "S" else Decimal(raw) if kind == "N" else bytes(raw)


def holds(op: str, actual: Any, operands: list[Any]) -> bool:
    if op == "begins_with":
        return bool(actual.startswith(operands[0]))
    if op == "BETWEEN":
        return bool(operands[0] <= actual <= operands[1])
    return bool({"=": actual == operands[0], "<": actual < operands[0], "<=": actual <= operands[0],
                 ">": actual > operands[0], ">=": actual >= operands[0]}[op])


def query_all(ddb: Any, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("query").paginate(**kwargs):
        items += page["Items"]
    return items


def test_create_describe_and_the_order_of_an_index_partition(ddb: Any) -> None:
    described = create(ddb, "mak_order")
    [index] = described["GlobalSecondaryIndexes"]
    assert index["KeySchema"] == multi_gsi()["KeySchema"]
    assert ddb.describe_table(TableName="mak_order")["Table"]["GlobalSecondaryIndexes"][0]["KeySchema"] == \
        multi_gsi()["KeySchema"]
    items = sample_items()
    for item in items:
        ddb.put_item(TableName="mak_order", Item=item)
    partition = {":t": {"S": "acme"}, ":s": {"N": "1"}}
    got = query_all(ddb, TableName="mak_order", IndexName="multi", KeyConditionExpression="tenant = :t AND part = :s",
                    ExpressionAttributeValues=partition, PaginationConfig={"PageSize": 7})
    expected = sorted((i for i in items if i["id"]["S"].startswith("i")), key=order_key)
    assert [i["id"]["S"] for i in got] == [i["id"]["S"] for i in expected]
    backwards = query_all(ddb, TableName="mak_order", IndexName="multi", ScanIndexForward=False,
                          KeyConditionExpression="tenant = :t AND part = :s", ExpressionAttributeValues=partition,
                          PaginationConfig={"PageSize": 5})
    assert [i["id"]["S"] for i in backwards] == [i["id"]["S"] for i in reversed(expected)]
    first = ddb.query(TableName="mak_order", IndexName="multi", KeyConditionExpression="tenant = :t AND part = :s",
                      ExpressionAttributeValues=partition, Limit=1)
    assert set(first["LastEvaluatedKey"]) == {"id", "tenant", "part", "round", "score", "bits"}
    other = ddb.query(TableName="mak_order", IndexName="multi", KeyConditionExpression="part = :s AND tenant = :t",
                      ExpressionAttributeValues={":t": {"S": "acme"}, ":s": {"N": "2.0"}})
    assert [i["id"]["S"] for i in other["Items"]] == ["x1"]


def test_every_key_condition_on_every_sort_key_attribute_matches_the_model(ddb: Any) -> None:
    create(ddb, "mak_conditions")
    items = sample_items()
    for item in items:
        ddb.put_item(TableName="mak_conditions", Item=item)
    ours = sorted((i for i in items if i["id"]["S"].startswith("i")), key=order_key)
    operands = {"round": [{"S": v} for v in ROUNDS + ["a\x00\x00", "c", ""]],
                "score": [{"N": v} for v in SCORES + ["-3", "1", "11"]],
                "bits": [{"B": v} for v in BLOBS[1:] + [b"\x00\x00", b"\xff\xff"]]}
    prefixes = [{}, {"round": {"S": "a"}}, {"round": {"S": "a\x00"}, "score": {"N": "2"}}]
    checked = 0
    for prefix in prefixes:
        attr = [n for n, _ in RANGES][len(prefix)]
        for op in ["=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"]:
            if op == "begins_with" and attr == "score":
                continue
            values = operands[attr]
            pairs = [[a, b] for a in values for b in values] if op == "BETWEEN" else [[v] for v in values]
            for args in pairs:
                if op == "BETWEEN" and native(attr, args[0]) > native(attr, args[1]):
                    continue
                if op != "begins_with" and any(next(iter(a.values())) == "" for a in args):
                    continue
                names = {f"#{k}": k for k in [*prefix, attr]}
                vals: dict[str, Any] = {":t": {"S": "acme"}, ":s": {"N": "1"}}
                clauses = ["tenant = :t", "part = :s"]
                for k, v in prefix.items():
                    clauses.append(f"#{k} = :{k}")
                    vals[f":{k}"] = v
                for n, v in enumerate(args):
                    vals[f":v{n}"] = v
                clauses.append({"begins_with": f"begins_with(#{attr}, :v0)",
                                "BETWEEN": f"#{attr} BETWEEN :v0 AND :v1"}.get(op, f"#{attr} {op} :v0"))
                got = query_all(ddb, TableName="mak_conditions", IndexName="multi",
                                KeyConditionExpression=" AND ".join(clauses), ExpressionAttributeNames=names,
                                ExpressionAttributeValues=vals, PaginationConfig={"PageSize": 9})
                want = [i for i in ours if all(native(k, i[k]) == native(k, v) for k, v in prefix.items())
                        and holds(op, native(attr, i[attr]), [native(attr, a) for a in args])]
                assert [i["id"]["S"] for i in got] == [i["id"]["S"] for i in want], (prefix, op, args)
                checked += 1
    assert checked > 150


def test_legacy_key_conditions_on_a_multi_attribute_index(ddb: Any) -> None:
    create(ddb, "mak_legacy")
    for item in sample_items():
        ddb.put_item(TableName="mak_legacy", Item=item)
    got = ddb.query(TableName="mak_legacy", IndexName="multi", KeyConditions={
        "tenant": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "acme"}]},
        "part": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]},
        "round": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "b"}]},
        "score": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "0"}]}})
    assert {(i["score"]["N"], bytes(i["bits"]["B"])) for i in got["Items"]} == \
        {(s, b) for s in ("2", "10") for b in BLOBS[1:]}
    message = error(ddb.query, "ValidationException", TableName="mak_legacy", IndexName="multi", KeyConditions={
        "tenant": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "acme"}]},
        "part": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]},
        "score": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "0"}]}})
    assert message == ("RANGE key attributes round must have equality conditions specified in the query because "
                       "a condition is present on key attribute score")


def test_the_query_rules_of_multi_attribute_keys(ddb: Any) -> None:
    create(ddb, "mak_rules")
    base = {"TableName": "mak_rules", "IndexName": "multi"}
    values = {":t": {"S": "acme"}, ":s": {"N": "1"}, ":r": {"S": "a"}, ":n": {"N": "1"}}

    def refused(expression: str) -> str:
        used = {k: v for k, v in values.items() if k in expression}
        return error(ddb.query, "ValidationException", **base, KeyConditionExpression=expression,
                     ExpressionAttributeValues=used)

    assert refused("tenant = :t") == "Query condition missed key schema element: part"
    assert refused("part = :s") == "Query condition missed key schema element: tenant"
    assert refused("tenant = :t AND part > :s") == "Query key condition not supported"
    assert refused("tenant = :t AND part = :s AND score = :n") == (
        "RANGE key attributes round must have equality conditions specified in the query because a condition "
        "is present on key attribute score")
    assert refused("tenant = :t AND part = :s AND round > :r AND score = :n") == "Query key condition not supported"
    assert refused("tenant = :t AND part = :s AND kind = :r") == "Query condition missed key schema element: round"
    assert refused("tenant = :t AND part = :r") == ("One or more parameter values were invalid: Condition "
                                                     "parameter type does not match schema type")


def test_sparse_entries_need_every_key_attribute(ddb: Any) -> None:
    create(ddb, "mak_sparse")
    whole = {"tenant": {"S": "acme"}, "part": {"N": "1"}, "round": {"S": "a"}, "score": {"N": "1"},
             "bits": {"B": b"z"}}
    ddb.put_item(TableName="mak_sparse", Item={"id": {"S": "whole"}, **whole})
    for missing in whole:
        item = {k: v for k, v in whole.items() if k != missing}
        ddb.put_item(TableName="mak_sparse", Item={"id": {"S": f"no-{missing}"}, **item})
    got = ddb.query(TableName="mak_sparse", IndexName="multi", KeyConditionExpression="tenant = :t AND part = :s",
                    ExpressionAttributeValues={":t": {"S": "acme"}, ":s": {"N": "1"}})
    assert [i["id"]["S"] for i in got["Items"]] == ["whole"]
    scanned = ddb.scan(TableName="mak_sparse", IndexName="multi")
    assert [i["id"]["S"] for i in scanned["Items"]] == ["whole"]
    # an update that completes the key puts the item in the index, one that removes a part takes it out
    ddb.update_item(TableName="mak_sparse", Key={"id": {"S": "no-bits"}}, UpdateExpression="SET bits = :b",
                    ExpressionAttributeValues={":b": {"B": b"a"}})
    ddb.update_item(TableName="mak_sparse", Key={"id": {"S": "whole"}}, UpdateExpression="REMOVE score")
    got = ddb.query(TableName="mak_sparse", IndexName="multi", KeyConditionExpression="tenant = :t AND part = :s",
                    ExpressionAttributeValues={":t": {"S": "acme"}, ":s": {"N": "1"}})
    assert [i["id"]["S"] for i in got["Items"]] == ["no-bits"]
    message = error(ddb.put_item, "ValidationException", TableName="mak_sparse",
                    Item={"id": {"S": "bad"}, **whole, "score": {"S": "one"}})
    assert message == ("One or more parameter values were invalid: Type mismatch for Index Key score Expected: N "
                       "Actual: S IndexName: multi")


def test_scan_of_a_multi_attribute_index_in_pages_and_segments(ddb: Any) -> None:
    create(ddb, "mak_scan")
    items = sample_items()
    for item in items:
        ddb.put_item(TableName="mak_scan", Item=item)
    seen: list[str] = []
    for segment in range(3):
        for page in ddb.get_paginator("scan").paginate(TableName="mak_scan", IndexName="multi", Segment=segment,
                                                       TotalSegments=3, PaginationConfig={"PageSize": 4}):
            seen += [i["id"]["S"] for i in page["Items"]]
    assert sorted(seen) == sorted(i["id"]["S"] for i in items)


def test_update_table_creates_a_multi_attribute_index_over_existing_items(ddb: Any) -> None:
    ddb.create_table(TableName="mak_later", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=definitions(("id", "S")), BillingMode="PAY_PER_REQUEST")
    items = sample_items()
    for item in items:
        ddb.put_item(TableName="mak_later", Item=item)
    ddb.update_table(TableName="mak_later", AttributeDefinitions=definitions(("id", "S"), *HASHES, *RANGES),
                     GlobalSecondaryIndexUpdates=[{"Create": multi_gsi()}])
    got = query_all(ddb, TableName="mak_later", IndexName="multi",
                    KeyConditionExpression="tenant = :t AND part = :s AND #r = :r",
                    ExpressionAttributeNames={"#r": "round"},
                    ExpressionAttributeValues={":t": {"S": "acme"}, ":s": {"N": "1"}, ":r": {"S": "a\x00"}})
    want = sorted((i for i in items if i["id"]["S"].startswith("i") and i["round"]["S"] == "a\x00"), key=order_key)
    assert [i["id"]["S"] for i in got] == [i["id"]["S"] for i in want]


def test_key_schema_rules(ddb: Any) -> None:
    attrs = definitions(("id", "S"), ("a", "S"), ("b", "S"), ("c", "S"), ("d", "S"), ("e", "S"))

    def refused(**kwargs: Any) -> str:
        return error(ddb.create_table, "ValidationException", TableName="mak_bad", AttributeDefinitions=attrs,
                     BillingMode="PAY_PER_REQUEST", **kwargs)

    table_schema = [{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "a", "KeyType": "RANGE"},
                    {"AttributeName": "b", "KeyType": "RANGE"}]
    assert refused(KeySchema=table_schema) == (
        "1 validation error detected: Value '[KeySchemaElement(attributeName=id, keyType=HASH), "
        "KeySchemaElement(attributeName=a, keyType=RANGE), KeySchemaElement(attributeName=b, keyType=RANGE)]' "
        "at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2")
    key = [{"AttributeName": "id", "KeyType": "HASH"}]
    five_ranges = multi_gsi("five", [("id", "S")], [(n, "S") for n in "abcde"])
    assert refused(KeySchema=key, GlobalSecondaryIndexes=[five_ranges]) == (
        "One or more parameter values were invalid: The KeySchema exceeds the maximum allowed number of RANGE key "
        "attributes")
    five_hashes = multi_gsi("five", [(n, "S") for n in "abcde"], [])
    assert refused(KeySchema=key, GlobalSecondaryIndexes=[five_hashes]) == (
        "One or more parameter values were invalid: The KeySchema exceeds the maximum allowed number of HASH key "
        "attributes")
    mixed = multi_gsi("mixed", [("a", "S")], [("b", "S")])
    mixed["KeySchema"].append({"AttributeName": "c", "KeyType": "HASH"})
    assert refused(KeySchema=key, GlobalSecondaryIndexes=[mixed]) == (
        "One or more parameter values were invalid: All HASH key attributes must precede RANGE key attributes in the "
        "KeySchema")
    twice = multi_gsi("twice", [("a", "S"), ("b", "S")], [("a", "S")])
    assert refused(KeySchema=key, GlobalSecondaryIndexes=[twice]) == (
        "The KeySchema contains multiple key attributes with the same name")
    local = {"IndexName": "local", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"},
                           {"AttributeName": "c", "KeyType": "RANGE"}]}
    assert refused(KeySchema=[*key, {"AttributeName": "a", "KeyType": "RANGE"}],
                   LocalSecondaryIndexes=[local]).endswith(
        "at 'localSecondaryIndexes.1.member.keySchema' failed to satisfy constraint: Member must have length less "
        "than or equal to 2")
    four_and_four = multi_gsi("eight", [("id", "S"), ("a", "S"), ("b", "S"), ("c", "S")],
                              [("d", "S"), ("e", "S"), ("f", "S"), ("g", "S")])
    ddb.create_table(TableName="mak_eight", KeySchema=key, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=definitions(("id", "S"), *[(n, "S") for n in "abcdefg"]),
                     GlobalSecondaryIndexes=[four_and_four])
    item = {n: {"S": n.upper()} for n in ["id", *"abcdefg"]}
    ddb.put_item(TableName="mak_eight", Item=item)
    got = ddb.query(TableName="mak_eight", IndexName="eight",
                    KeyConditionExpression="id = :id AND a = :a AND b = :b AND c = :c AND d = :d AND e = :e AND "
                                           "f = :f AND begins_with(g, :g)",
                    ExpressionAttributeValues={f":{n}": v for n, v in item.items()})
    assert got["Items"] == [item]


def test_multi_attribute_index_survives_a_restart(start_server: Any) -> None:
    server = start_server()
    ddb = server.client("dynamodb")
    create(ddb, "mak_restart")
    items = sample_items()
    for item in items:
        ddb.put_item(TableName="mak_restart", Item=item)
    server.kill()
    server = start_server(server.data_dir)
    ddb = server.client("dynamodb")
    got = query_all(ddb, TableName="mak_restart", IndexName="multi", KeyConditionExpression="tenant = :t AND part = :s",
                    ExpressionAttributeValues={":t": {"S": "acme"}, ":s": {"N": "1"}})
    expected = sorted((i for i in items if i["id"]["S"].startswith("i")), key=order_key)
    assert [i["id"]["S"] for i in got] == [i["id"]["S"] for i in expected]


def test_an_index_stored_before_multi_attribute_keys_still_loads() -> None:
    """A table row written before multi-attribute keys names its index keys `hash` and `range`."""
    spec = {"hash": {"name": "pk", "type": "S"}, "range": None, "attributes": [{"name": "pk", "type": "S"}],
            "indexes": [{"name": "g", "is_global": True, "hash": {"name": "g", "type": "S"},
                         "range": {"name": "r", "type": "N"}, "projection_type": "ALL"}]}
    table = Table.from_row(1, "us-east-1", "old", 0.0, json.dumps(spec))
    [index] = table.indexes
    assert index.key_schema() == [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}]
    assert json.loads(table.to_spec())["indexes"][0]["hash_keys"] == [{"name": "g", "type": "S"}]
