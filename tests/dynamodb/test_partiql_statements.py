"""PartiQL through boto3: ExecuteStatement (SELECT as Query or Scan, INSERT, UPDATE, DELETE, parameters,
paging), BatchExecuteStatement and ExecuteTransaction, with AWS's errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dynamodb.test_tables import error, gsi, make_table


def test_statements(ddb: Any) -> None:
    make_table(ddb, "music", GlobalSecondaryIndexes=[gsi("by-genre", "genre")],
               more_attributes=[{"AttributeName": "genre", "AttributeType": "S"}])
    for i in range(4):
        ddb.execute_statement(Statement=f"INSERT INTO \"music\" VALUE {{'pk': 'band', 'sk': {i}, 'genre': "
                                        f"'{'rock' if i % 2 else 'jazz'}', 'tags': <<'a', 'b'>>, 'meta': {{'n': [1, true, null]}}}}")
    item = ddb.get_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "1"}})["Item"]
    assert item == {"pk": {"S": "band"}, "sk": {"N": "1"}, "genre": {"S": "rock"}, "tags": {"SS": ["a", "b"]},
                    "meta": {"M": {"n": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}}}}
    assert error(ddb.execute_statement, "DuplicateItemException",
                 Statement="INSERT INTO music VALUE {'pk': 'band', 'sk': 1}") == "Duplicate primary key exists in table"
    every = ddb.execute_statement(Statement="SELECT * FROM music WHERE pk = ?", Parameters=[{"S": "band"}])
    assert [i["sk"]["N"] for i in every["Items"]] == ["0", "1", "2", "3"]
    some = ddb.execute_statement(Statement='SELECT sk FROM "music" WHERE pk = \'band\' AND sk >= 2')
    assert some["Items"] == [{"sk": {"N": "2"}}, {"sk": {"N": "3"}}]
    scanned = ddb.execute_statement(Statement="SELECT sk FROM music WHERE genre = 'rock' AND tags IS NOT MISSING")
    assert sorted(i["sk"]["N"] for i in scanned["Items"]) == ["1", "3"]
    by_index = ddb.execute_statement(Statement='SELECT sk FROM "music"."by-genre" WHERE genre = ?',
                                     Parameters=[{"S": "jazz"}])
    assert sorted(i["sk"]["N"] for i in by_index["Items"]) == ["0", "2"]
    paged = ddb.execute_statement(Statement="SELECT * FROM music", Limit=3)
    assert len(paged["Items"]) == 3 and "NextToken" in paged
    rest = ddb.execute_statement(Statement="SELECT * FROM music", Limit=3, NextToken=paged["NextToken"])
    assert len(rest["Items"]) == 1
    ddb.execute_statement(Statement="UPDATE music SET genre = 'pop', extra = ? REMOVE tags WHERE pk = 'band' AND sk = 0",
                          Parameters=[{"N": "5"}])
    item = ddb.get_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "0"}})["Item"]
    assert item["genre"] == {"S": "pop"} and item["extra"] == {"N": "5"} and "tags" not in item
    assert error(ddb.execute_statement, "ConditionalCheckFailedException",
                 Statement="UPDATE music SET genre = 'x' WHERE pk = 'band' AND sk = 99") == "The conditional request failed"
    ddb.execute_statement(Statement="DELETE FROM music WHERE pk = 'band' AND sk = 3")
    assert "Item" not in ddb.get_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "3"}})
    assert error(ddb.execute_statement, "ValidationException",
                 Statement="DELETE FROM music WHERE pk = 'band'").startswith("Where clause does not contain")
    assert error(ddb.execute_statement, "ResourceNotFoundException", Statement="SELECT * FROM nothing") == \
        "Requested resource not found"
    assert error(ddb.execute_statement, "ValidationException", Statement="SELECT * FROM music WHERE pk = ?") == \
        "Number of parameters in request and statement don't match."


def test_batches_and_transactions(ddb: Any) -> None:
    make_table(ddb, "users", range_key=False)
    answer = ddb.batch_execute_statement(Statements=[
        {"Statement": "INSERT INTO users VALUE {'pk': 'a', 'n': 1}"},
        {"Statement": "INSERT INTO users VALUE {'pk': 'b', 'n': 2}"},
        {"Statement": "INSERT INTO users VALUE {'pk': 'a', 'n': 3}"},
        {"Statement": "SELECT * FROM users WHERE pk = ?", "Parameters": [{"S": "b"}]}])["Responses"]
    assert answer[0] == {"TableName": "users"} and answer[1] == {"TableName": "users"}
    assert answer[2]["Error"]["Code"] == "DuplicateItem"
    assert answer[3]["Item"] == {"pk": {"S": "b"}, "n": {"N": "2"}}
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "UPDATE users SET n = 10 WHERE pk = 'a'"},
        {"Statement": "DELETE FROM users WHERE pk = 'b'"}])
    got = ddb.execute_transaction(TransactStatements=[
        {"Statement": "SELECT * FROM users WHERE pk = 'a'"}, {"Statement": "SELECT * FROM users WHERE pk = 'b'"}])
    assert got["Responses"] == [{"Item": {"pk": {"S": "a"}, "n": {"N": "10"}}}, {}]
    with pytest.raises(Exception) as cancelled:
        ddb.execute_transaction(TransactStatements=[
            {"Statement": "INSERT INTO users VALUE {'pk': 'c'}"},
            {"Statement": "UPDATE users SET n = 1 WHERE pk = 'missing'"}])
    assert "TransactionCanceledException" in str(cancelled.value)
    assert "Item" not in ddb.get_item(TableName="users", Key={"pk": {"S": "c"}})
