"""`--iam enforce` for DynamoDB's PartiQL: each statement asks for its own action (dynamodb:PartiQLSelect,
PartiQLInsert, PartiQLUpdate, PartiQLDelete) on its table or index, not for ExecuteStatement.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html"""

from __future__ import annotations

from tests.authz.conftest import ACCOUNT, Server, allow, refused

TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/notes"


def test_statements_ask_for_their_partiql_action(server: Server) -> None:
    root = server.root("dynamodb")
    root.create_table(TableName="notes", BillingMode="PAY_PER_REQUEST",
                      AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    root.put_item(TableName="notes", Item={"id": {"S": "a"}})
    erin = server.user("erin", allow(["dynamodb:PartiQLSelect", "dynamodb:PartiQLInsert"], TABLE_ARN))("dynamodb")
    assert erin.execute_statement(Statement="SELECT * FROM notes WHERE id = 'a'")["Items"] == [{"id": {"S": "a"}}]
    erin.execute_statement(Statement="INSERT INTO notes VALUE {'id': 'b'}")
    code, message, _ = refused(lambda: erin.execute_statement(Statement="DELETE FROM notes WHERE id = 'a'"))
    assert code == "AccessDeniedException"
    assert f"is not authorized to perform: dynamodb:PartiQLDelete on resource: {TABLE_ARN}" in message
    # A transaction needs the action of each of its statements.
    code, message, _ = refused(lambda: erin.execute_transaction(TransactStatements=[
        {"Statement": "INSERT INTO notes VALUE {'id': 'c'}"},
        {"Statement": "UPDATE notes SET n = 1 WHERE id = 'a'"}]))
    assert "dynamodb:PartiQLUpdate" in message
    # The plain item API is another set of actions.
    code, _, _ = refused(lambda: erin.get_item(TableName="notes", Key={"id": {"S": "a"}}))
    assert code == "AccessDeniedException"
