"""A stack operation that breaks off on an error of ours, not a resource's, ends as CloudFormation ends an internal
failure ("Internal Failure" in the failed resource's event): a create rolls back, a deletion ends DELETE_FAILED.
Nothing stays *_IN_PROGRESS while the server runs (before, such a stack waited for a restart: a client polling
DescribeStacks, or `aws cloudformation wait`, waited for ever).

The error is real: CloudFormation's store is held from a second SQLite connection past its busy timeout while a
resource's creation (or deletion) lands, so the commit that records it fails with StoreBusy. SQS's store is held
first, so that the queue's call is under way when CloudFormation's store is taken.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from tests import helpers
from tests.cloudformation.test_interrupted_creation import store
from tests.helpers import wait_for

# Two queues made at once, and one that waits for the first: it never starts.
TEMPLATE = json.dumps({"Resources": {
    "First": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "first"}},
    "Second": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "second"}},
    "After": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "after"}, "DependsOn": "First"}}})
ONE_QUEUE = json.dumps({"Resources": {"Only": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "only"}}}})


def seen(cf: Any, stack_id: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) of the stack's events, oldest first."""
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
            for e in reversed(cf.describe_stack_events(StackName=stack_id)["StackEvents"])]


def settles(cf: Any, stack_id: str) -> dict[str, Any]:
    """The stack once out of *_IN_PROGRESS: bounded well past the busy timeout (5 s) and the rollback."""
    def done() -> dict[str, Any] | None:
        stack: dict[str, Any] = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
        return None if stack["StackStatus"].endswith("_IN_PROGRESS") else stack
    return wait_for(done, timeout=25, what="the stack leaves *_IN_PROGRESS")


@contextlib.contextmanager
def commit_refused(server: Any, console: Path, under_way: Any) -> Any:
    """Hold SQS's store until `under_way()` (the queue call waits on it), then CloudFormation's store until one of
    its commits has given up (StoreBusy, logged by the store); the SQS call lands in between."""
    with contextlib.ExitStack() as cloudformation_held:
        with helpers.write_lock(store(server.data_dir, "sqs")):
            yield
            wait_for(under_way, timeout=4, what="the queue call is under way")
            cloudformation_held.enter_context(helpers.write_lock(store(server.data_dir, "cloudformation")))
        wait_for(lambda: "cloudformation.db" in console.read_text() and "group commit failed" in console.read_text(),
                 timeout=15, what="a commit of CloudFormation's store gives up")


def test_a_create_that_cannot_record_a_resource_rolls_back_as_an_internal_failure(start_server: Any,
                                                                                   tmp_path: Path) -> None:
    console = tmp_path / "console.log"
    server = start_server(tmp_path / "data", "--bare", console=console)
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    assert "QueueUrls" not in sqs.list_queues() and cf.list_stacks()["StackSummaries"] == []  # (both stores open)
    box: dict[str, str] = {}

    def both_started() -> bool:
        return {("First", "CREATE_IN_PROGRESS", ""), ("Second", "CREATE_IN_PROGRESS", "")} <= set(
            seen(cf, box["id"]))
    with commit_refused(server, console, both_started):
        box["id"] = cf.create_stack(StackName="cut", TemplateBody=TEMPLATE)["StackId"]

    stack = settles(cf, box["id"])
    events = seen(cf, box["id"])
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", events
    failed = [logical for logical, status, reason in events if status == "CREATE_FAILED"]
    assert failed and set(failed) <= {"First", "Second"}, events
    assert all(reason == "Internal Failure" for _, status, reason in events if status == "CREATE_FAILED"), events
    rolling = [reason for logical, status, reason in events if status == "ROLLBACK_IN_PROGRESS"]
    assert rolling == [f"The following resource(s) failed to create: [{failed[0]}]. Rollback requested by user."]
    # Both queues were under way: both finished, and both went with the rollback. The third never started.
    deleted = {logical for logical, status, _ in events if status == "DELETE_COMPLETE"}
    assert {"First", "Second"} <= deleted, events
    assert not [e for e in events if e[0] == "After"], events
    assert "QueueUrls" not in sqs.list_queues(), "the rollback left a queue the stack made"
    resources = {r["LogicalResourceId"]: (r["ResourceStatus"], r["PhysicalResourceId"].rsplit("/", 1)[-1])
                 for r in cf.describe_stack_resources(StackName=box["id"])["StackResources"]}
    assert resources == {"First": ("DELETE_COMPLETE", "first"), "Second": ("DELETE_COMPLETE", "second")}


def test_a_deletion_that_cannot_record_a_resource_ends_delete_failed_and_may_be_retried(start_server: Any,
                                                                                       tmp_path: Path) -> None:
    console = tmp_path / "console.log"
    server = start_server(tmp_path / "data", "--bare", console=console)
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_id = cf.create_stack(StackName="gone", TemplateBody=ONE_QUEUE)["StackId"]
    assert settles(cf, stack_id)["StackStatus"] == "CREATE_COMPLETE"

    with commit_refused(server, console, lambda: ("Only", "DELETE_IN_PROGRESS", "") in seen(cf, stack_id)):
        cf.delete_stack(StackName=stack_id)

    stack = settles(cf, stack_id)
    events = seen(cf, stack_id)
    assert stack["StackStatus"] == "DELETE_FAILED", events
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Only]. "
    assert ("Only", "DELETE_FAILED", "Internal Failure") in events
    # DeleteStack again finishes the job (the queue itself is already gone).
    cf.delete_stack(StackName=stack_id)
    assert settles(cf, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert "QueueUrls" not in sqs.list_queues()


def test_an_update_that_cannot_record_a_new_resource_rolls_back_and_deletes_it(start_server: Any,
                                                                              tmp_path: Path) -> None:
    console = tmp_path / "console.log"
    server = start_server(tmp_path / "data", "--bare", console=console)
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_id = cf.create_stack(StackName="grows", TemplateBody=ONE_QUEUE)["StackId"]
    assert settles(cf, stack_id)["StackStatus"] == "CREATE_COMPLETE"
    grown = json.loads(ONE_QUEUE)
    grown["Resources"]["Added"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "added"}}

    with commit_refused(server, console, lambda: ("Added", "CREATE_IN_PROGRESS", "") in seen(cf, stack_id)):
        cf.update_stack(StackName=stack_id, TemplateBody=json.dumps(grown))

    stack = settles(cf, stack_id)
    events = seen(cf, stack_id)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", events
    assert ("Added", "CREATE_FAILED", "Internal Failure") in events
    assert [reason for _, status, reason in events if status == "UPDATE_ROLLBACK_IN_PROGRESS"] == [
        "The following resource(s) failed to create: [Added]. "]
    assert ("Added", "DELETE_COMPLETE", "") in events
    assert [url.rsplit("/", 1)[-1] for url in sqs.list_queues()["QueueUrls"]] == ["only"]
    assert [r["LogicalResourceId"] for r in cf.describe_stack_resources(StackName=stack_id)["StackResources"]] == [
        "Only"]


# An output whose Fn::Select index is no number: evaluating the outputs (after every resource is made) raises an
# error of ours, not a template error, outside any resource.
BAD_OUTPUT = {"Value": {"Fn::Select": ["first", ["a"]]}}


def test_an_error_outside_the_resources_rolls_back_a_create_and_an_update(client: Any) -> None:
    cf, sqs = client("cloudformation"), client("sqs")
    body = json.loads(ONE_QUEUE)
    body["Outputs"] = {"Picked": BAD_OUTPUT}
    stack_id = cf.create_stack(StackName="picks", TemplateBody=json.dumps(body))["StackId"]
    stack = settles(cf, stack_id)
    events = seen(cf, stack_id)
    assert (stack["StackStatus"], stack["StackStatusReason"]) == ("ROLLBACK_COMPLETE", "Internal Failure"), events
    assert ("picks", "ROLLBACK_IN_PROGRESS", "Internal Failure") in events
    assert [status for logical, status, _ in events if logical == "Only"] == [
        "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    assert "QueueUrls" not in sqs.list_queues()

    # (another queue name: SQS refuses a deleted queue's name for 60 seconds)
    kept = ONE_QUEUE.replace('"only"', '"kept"')
    stack_id = cf.create_stack(StackName="later", TemplateBody=kept)["StackId"]
    assert settles(cf, stack_id)["StackStatus"] == "CREATE_COMPLETE"
    grown = json.loads(kept)
    grown["Resources"]["Added"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "added"}}
    grown["Outputs"] = {"Picked": BAD_OUTPUT}
    cf.update_stack(StackName=stack_id, TemplateBody=json.dumps(grown))
    stack = settles(cf, stack_id)
    events = seen(cf, stack_id)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", events
    assert ("later", "UPDATE_ROLLBACK_IN_PROGRESS", "Internal Failure") in events
    assert ("Added", "DELETE_COMPLETE", "") in events
    assert [url.rsplit("/", 1)[-1] for url in sqs.list_queues()["QueueUrls"]] == ["kept"]
