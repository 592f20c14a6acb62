"""DeleteStack of a stack still being created: the creation stops (no further resource starts; those under way
finish), then the stack is deleted with what it made so far, DELETE_IN_PROGRESS "User Initiated" to
DELETE_COMPLETE; and so after a kill -9 right after DeleteStack answered.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
"""

from __future__ import annotations

import json
from typing import Any

from tests.cloudformation.test_deploy import settled
from tests.helpers import wait_for

QUEUES = 60


def _chain(prefix: str) -> str:
    """Queues made one after another (each depends on the one before): a creation that takes a while."""
    resources: dict[str, Any] = {}
    for i in range(QUEUES):
        resource: dict[str, Any] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{prefix}-{i}"}}
        if i:
            resource["DependsOn"] = f"Q{i - 1}"
        resources[f"Q{i}"] = resource
    return json.dumps({"Resources": resources})


def _started(cf: Any, name: str, count: int = 1) -> None:
    """Wait until the creation has made `count` queues, so that DeleteStack finds it under way."""
    def made() -> bool:
        resources = cf.describe_stack_resources(StackName=name)["StackResources"]
        return sum(r["ResourceStatus"] == "CREATE_COMPLETE" for r in resources) >= count
    wait_for(made, timeout=30, what=f"stack {name} makes its first resource")


def _stack_events(cf: Any, stack_id: str) -> list[tuple[str, str]]:
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [(e["ResourceStatus"], e.get("ResourceStatusReason", "")) for e in reversed(events)
            if e["ResourceType"] == "AWS::CloudFormation::Stack"]


def _queues(sqs: Any, prefix: str) -> list[str]:
    return sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])


def test_deleting_a_stack_being_created_stops_the_creation_and_deletes_what_it_made(client) -> None:  # type: ignore[no-untyped-def]
    cf, sqs = client("cloudformation"), client("sqs")
    stack_id = cf.create_stack(StackName="stopped", TemplateBody=_chain("stopped"))["StackId"]
    _started(cf, "stopped")
    cf.delete_stack(StackName="stopped")
    cf.delete_stack(StackName="stopped")  # again while it stops: accepted, as for a stack being deleted
    final = settled(cf, stack_id)
    assert final["StackStatus"] == "DELETE_COMPLETE"
    # The stack never completed its creation: it went from creating to deleting.
    assert _stack_events(cf, stack_id) == [("CREATE_IN_PROGRESS", "User Initiated"),
                                           ("DELETE_IN_PROGRESS", "User Initiated"), ("DELETE_COMPLETE", "")]
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"]
    created = {e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "CREATE_COMPLETE"
               and e["ResourceType"] == "AWS::SQS::Queue"}
    deleted = {e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "DELETE_COMPLETE"
               and e["ResourceType"] == "AWS::SQS::Queue"}
    assert created and len(created) < QUEUES  # it stopped part way
    assert created <= deleted
    assert _queues(sqs, "stopped") == []
    assert cf.describe_stacks()["Stacks"] == []


def test_a_deletion_requested_during_creation_is_finished_after_kill_9(start_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = start_server(tmp_path / "data", "--bare")
    cf = server.client("cloudformation")
    stack_id = cf.create_stack(StackName="cut", TemplateBody=_chain("cut"))["StackId"]
    _started(cf, "cut", 20)  # enough made that their deletion is likely still under way at the kill
    cf.delete_stack(StackName="cut")
    server.kill()  # DeleteStack answered: its request is on disk, whatever the creation had reached

    server = start_server(tmp_path / "data", "--bare", port=server.port)
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    assert settled(cf, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    statuses = [status for status, _ in _stack_events(cf, stack_id)]
    assert "CREATE_COMPLETE" not in statuses and statuses[-2:] == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    # Every queue the stack recorded making is gone.
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"]
    made = {e["PhysicalResourceId"] for e in events if e["ResourceType"] == "AWS::SQS::Queue"
            and e["ResourceStatus"] == "CREATE_COMPLETE"}
    assert made and not made & set(_queues(sqs, "cut"))
