"""Stacks, their resources, events and change sets survive kill -9 of the server."""

from __future__ import annotations

import json

from tests.cloudformation.test_deploy import settled


def test_a_stack_survives_kill_9_and_can_still_be_updated_and_deleted(start_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = start_server(tmp_path / "data", "--bare")
    cf = server.client("cloudformation")
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 40}}},
                       "Outputs": {"Url": {"Value": {"Ref": "Q"}}}})
    cf.create_stack(StackName="durable", TemplateBody=body)
    before = settled(cf, "durable")
    assert before["StackStatus"] == "CREATE_COMPLETE"
    events = cf.describe_stack_events(StackName="durable")["StackEvents"]
    server.kill()

    server = start_server(tmp_path / "data", "--bare", port=server.port)
    cf = server.client("cloudformation")
    after = cf.describe_stacks(StackName="durable")["Stacks"][0]
    assert after["StackStatus"] == "CREATE_COMPLETE" and after["Outputs"] == before["Outputs"]
    assert cf.describe_stack_events(StackName="durable")["StackEvents"] == events
    url = before["Outputs"][0]["OutputValue"]
    cf.update_stack(StackName="durable", TemplateBody=body.replace("40", "50"))
    assert settled(cf, "durable")["StackStatus"] == "UPDATE_COMPLETE"
    sqs = server.client("sqs")
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"][
        "VisibilityTimeout"] == "50"
    cf.delete_stack(StackName="durable")
    stack_id = after["StackId"]
    assert settled(cf, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert sqs.list_queues().get("QueueUrls", []) == []
