"""PartiQL through boto3: ExecuteStatement's SELECT (by partition, by IN, scans, indexes, projections,
ORDER BY, Limit and NextToken), INSERT/UPDATE/DELETE with their conditions, BatchExecuteStatement's
per-statement answers and ExecuteTransaction's all-or-nothing writes, with AWS's errors.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.html"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dynamodb.test_tables import error, make_table


@pytest.fixture
def ddb(client: Any) -> Any:
    ddb = client("dynamodb")
    make_table(ddb, "orders", more_attributes=[{"AttributeName": "status", "AttributeType": "S"}],
               GlobalSecondaryIndexes=[{"IndexName": "by-status", "Projection": {"ProjectionType": "ALL"},
                                        "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}]}])
    for pk, sk, status, total in (("a", 1, "open", 10), ("a", 2, "done", 25), ("a", 3, "open", 40),
                                  ("b", 1, "open", 5)):
        ddb.put_item(TableName="orders", Item={"pk": {"S": pk}, "sk": {"N": str(sk)}, "status": {"S": status},
                                               "total": {"N": str(total)}})
    ddb.put_item(TableName="orders", Item={"pk": {"S": "c"}, "sk": {"N": "1"}, "total": {"N": "1"}})
    return ddb


def run(ddb: Any, statement: str, *parameters: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"Statement": statement, **extra}
    if parameters:
        kwargs["Parameters"] = list(parameters)
    items: list[dict[str, Any]] = ddb.execute_statement(**kwargs)["Items"]
    return items


def keys(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(i["pk"]["S"], int(i["sk"]["N"])) for i in items]


def test_select(ddb: Any) -> None:
    assert sorted(keys(run(ddb, 'SELECT * FROM "orders"'))) == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("c", 1)]
    assert keys(run(ddb, "SELECT * FROM orders WHERE pk = ?", {"S": "a"})) == [("a", 1), ("a", 2), ("a", 3)]
    assert keys(run(ddb, "SELECT * FROM orders WHERE pk = 'a' ORDER BY sk DESC")) == [("a", 3), ("a", 2), ("a", 1)]
    assert keys(run(ddb, "SELECT * FROM orders WHERE pk IN ['b', 'a'] AND sk = 1")) == [("b", 1), ("a", 1)]
    assert keys(run(ddb, "SELECT * FROM orders WHERE pk = 'a' AND total BETWEEN 20 AND 40")) == [("a", 2), ("a", 3)]
    assert sorted(keys(run(ddb, "SELECT * FROM orders WHERE status IS MISSING OR total < 6"))) == [("b", 1), ("c", 1)]
    assert sorted(keys(run(ddb, "SELECT * FROM orders WHERE begins_with(status, 'do') OR contains(pk, 'c')"))) == \
        [("a", 2), ("c", 1)]
    assert run(ddb, "SELECT total, status FROM orders WHERE pk = 'c'") == [{"total": {"N": "1"}}]
    assert sorted(keys(run(ddb, 'SELECT * FROM "orders"."by-status" WHERE status = \'open\''))) == \
        [("a", 1), ("a", 3), ("b", 1)]
    assert run(ddb, "SELECT * FROM orders WHERE pk = 'zzz'") == []


def test_select_pages_with_limit_and_next_token(ddb: Any) -> None:
    seen: list[tuple[str, int]] = []
    token = None
    for _ in range(10):
        kwargs: dict[str, Any] = {"Statement": "SELECT * FROM orders WHERE pk IN ['a', 'b']", "Limit": 2}
        if token:
            kwargs["NextToken"] = token
        page = ddb.execute_statement(**kwargs)
        assert len(page["Items"]) <= 2
        seen += keys(page["Items"])
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [("a", 1), ("a", 2), ("a", 3), ("b", 1)]


def test_insert_update_delete(ddb: Any) -> None:
    assert run(ddb, "INSERT INTO orders VALUE {'pk': 'd', 'sk': 1, 'tags': <<'x', 'y'>>, 'doc': {'n': [1, ?]}}",
               {"BOOL": True}) == []
    got = ddb.get_item(TableName="orders", Key={"pk": {"S": "d"}, "sk": {"N": "1"}})["Item"]
    assert got["doc"] == {"M": {"n": {"L": [{"N": "1"}, {"BOOL": True}]}}} and sorted(got["tags"]["SS"]) == ["x", "y"]
    message = error(ddb.execute_statement, "DuplicateItemException", Statement="INSERT INTO orders VALUE {'pk': 'd', 'sk': 1}")
    assert message == "Duplicate primary key exists in table"

    updated = run(ddb, "UPDATE orders SET total = total + 5 SET tags = set_add(tags, <<'z'>>) REMOVE doc "
                       "WHERE pk = 'a' AND sk = 1 RETURNING ALL NEW *")
    assert updated[0]["total"] == {"N": "15"} and "doc" not in updated[0]
    # UPDATE is not an upsert, and the rest of the WHERE must hold for the item.
    assert error(ddb.execute_statement, "ConditionalCheckFailedException",
                 Statement="UPDATE orders SET total = 1 WHERE pk = 'nope' AND sk = 1") == "The conditional request failed"
    error(ddb.execute_statement, "ConditionalCheckFailedException",
          Statement="UPDATE orders SET total = 1 WHERE pk = 'a' AND sk = 1 AND status = 'done'")
    assert error(
        ddb.execute_statement, "ValidationException", Statement="UPDATE orders SET total = 1 WHERE pk = 'a'") == "Where clause does not contain a mandatory equality on all key attributes"

    assert run(ddb, "DELETE FROM orders WHERE pk = 'nope' AND sk = 9") == []  # a missing item: nothing to do
    error(ddb.execute_statement, "ConditionalCheckFailedException",
          Statement="DELETE FROM orders WHERE pk = 'a' AND sk = 2 AND total > 100")
    old = run(ddb, "DELETE FROM orders WHERE pk = 'a' AND sk = 2 RETURNING ALL OLD *")
    assert old[0]["total"] == {"N": "25"}
    assert "Item" not in ddb.get_item(TableName="orders", Key={"pk": {"S": "a"}, "sk": {"N": "2"}})


def test_errors(ddb: Any) -> None:
    assert error(ddb.execute_statement, "ValidationException", Statement="SELECT * FROM orders WHERE pk = ?") == \
        "Number of parameters in request and statement don't match."
    assert error(ddb.execute_statement, "ResourceNotFoundException", Statement="SELECT * FROM nowhere") == \
        "Requested resource not found"
    assert error(ddb.execute_statement, "ValidationException", Statement="SELECT * FROM orders.nope") == \
        "The table does not have the specified index"
    assert error(ddb.execute_statement, "ValidationException", Statement="SELEC * FROM orders").startswith(
        "Statement wasn't well formed, can't be processed:")
    assert "Must have WHERE clause" in error(ddb.execute_statement, "ValidationException",
                                             Statement="SELECT * FROM orders ORDER BY sk")


def test_batch_execute_statement(ddb: Any) -> None:
    answers = ddb.batch_execute_statement(Statements=[
        {"Statement": "SELECT total FROM orders WHERE pk = ? AND sk = ?", "Parameters": [{"S": "a"}, {"N": "1"}]},
        {"Statement": "SELECT * FROM orders WHERE pk = 'zz' AND sk = 1"},
        {"Statement": "SELECT * FROM orders WHERE status = 'open'"},
        {"Statement": "SELECT * FROM absent WHERE pk = 'a' AND sk = 1"},
        {"Statement": "INSERT INTO orders VALUE {'pk': 'a', 'sk': 1}"},
        {"Statement": "UPDATE orders SET total = 99 WHERE pk = 'b' AND sk = 1"},
    ])["Responses"]
    assert answers[0] == {"TableName": "orders", "Item": {"total": {"N": "10"}}}
    assert answers[1] == {"TableName": "orders"}
    assert answers[2] == {"TableName": "orders", "Error": {"Code": "ValidationError", "Message":
                          "Select statements within BatchExecuteStatement must specify the primary key in the "
                          "where clause."}}
    assert answers[3] == {"Error": {"Code": "ResourceNotFound", "Message": "Requested resource not found"}}
    assert answers[4] == {"TableName": "orders", "Error": {"Code": "DuplicateItem",
                                                          "Message": "Duplicate primary key exists in table"}}
    assert answers[5] == {"TableName": "orders"}
    assert ddb.get_item(TableName="orders", Key={"pk": {"S": "b"}, "sk": {"N": "1"}})["Item"]["total"] == {"N": "99"}


def test_execute_transaction(ddb: Any) -> None:
    reads = ddb.execute_transaction(TransactStatements=[
        {"Statement": "SELECT * FROM orders WHERE pk = 'a' AND sk = 3"},
        {"Statement": "SELECT * FROM orders WHERE pk = 'zz' AND sk = 3"}])["Responses"]
    assert reads[0]["Item"]["total"] == {"N": "40"} and reads[1] == {}
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "EXISTS(SELECT * FROM orders WHERE pk = 'b' AND sk = 1 AND status = 'open')"},
        {"Statement": "UPDATE orders SET status = 'done' WHERE pk = 'a' AND sk = 3"},
        {"Statement": "INSERT INTO orders VALUE {'pk': 'e', 'sk': 1}"}])
    assert run(ddb, "SELECT status FROM orders WHERE pk = 'a' AND sk = 3") == [{"status": {"S": "done"}}]
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as caught:
        ddb.execute_transaction(TransactStatements=[
            {"Statement": "DELETE FROM orders WHERE pk = 'e' AND sk = 1"},
            {"Statement": "INSERT INTO orders VALUE {'pk': 'a', 'sk': 1}"}])
    reasons = caught.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "DuplicateItem"]
    assert run(ddb, "SELECT * FROM orders WHERE pk = 'e'") != []  # nothing of the cancelled transaction applied
    assert "all read statements or all write statements" in error(
        ddb.execute_transaction, "ValidationException", TransactStatements=[
            {"Statement": "SELECT * FROM orders WHERE pk = 'a' AND sk = 3"},
            {"Statement": "DELETE FROM orders WHERE pk = 'e' AND sk = 1"}])
