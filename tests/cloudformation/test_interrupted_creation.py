"""A DynamoDB table whose creation a stack had under way when the server went away (kill -9, or a stop past its
grace period, which cancels the stack's work): the table's name is committed with the stack before
CreateTable is sent, so the rollback that follows the restart deletes the table, although the stack never
recorded its creation as done.

The overlap is real: DynamoDB's store is held from a second SQLite connection while CreateTable waits for its
commit, then CloudFormation's store while the table is made, so the stack cannot record it before the kill.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests import helpers
from tests.cloudformation.test_deploy import settled
from tests.helpers import wait_for

# The table, and beside it a queue that fails at once: the stack is failing while the table is being made.
TEMPLATE = json.dumps({"Resources": {
    "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": "interrupted", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
    "Broken": {"Type": "AWS::SQS::Queue", "Properties": {"NoSuchProperty": "1"}}}})


def store(data_dir: Path, name: str) -> Path:
    [path] = list(data_dir.rglob(f"{name}.db"))
    return path


def table_exists(ddb: Any) -> bool:
    try:
        ddb.describe_table(TableName="interrupted")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException", error.response
        return False
    return True


def test_a_table_made_while_the_server_died_is_deleted_by_the_rollback_after_restart(start_server: Any,
                                                                                       tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--bare")
    cf, ddb = server.client("cloudformation"), server.client("dynamodb")
    assert ddb.list_tables()["TableNames"] == [] and cf.list_stacks()["StackSummaries"] == []  # (both stores open)
    with contextlib.ExitStack() as cloudformation_held:
        with helpers.write_lock(store(server.data_dir, "dynamodb")):
            stack_id = cf.create_stack(StackName="cut-short", TemplateBody=TEMPLATE)["StackId"]

            def creating() -> bool:
                seen = {(e["LogicalResourceId"], e["ResourceStatus"])
                        for e in cf.describe_stack_events(StackName=stack_id)["StackEvents"]}
                return {("Table", "CREATE_IN_PROGRESS"), ("Broken", "CREATE_FAILED")} <= seen
            wait_for(creating, timeout=3, what="the table's creation starts and the queue fails")
            time.sleep(0.5)  # (CreateTable reaches its commit, which waits for the lock)
            # From here the stack cannot record what CreateTable makes.
            cloudformation_held.enter_context(helpers.write_lock(store(server.data_dir, "cloudformation")))
        wait_for(lambda: table_exists(ddb), timeout=4, what="CreateTable lands")
        server.kill()

    server = start_server(tmp_path / "data", "--bare", port=server.port)
    cf, ddb = server.client("cloudformation"), server.client("dynamodb")
    assert settled(cf, stack_id)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert not table_exists(ddb), "the rollback left the table the stack had been making"
    assert ddb.list_tables()["TableNames"] == []
    deleted = [e for e in cf.describe_stack_events(StackName=stack_id)["StackEvents"]
               if e["LogicalResourceId"] == "Table" and e["ResourceStatus"] == "DELETE_COMPLETE"]
    assert [e["PhysicalResourceId"] for e in deleted] == ["interrupted"]
