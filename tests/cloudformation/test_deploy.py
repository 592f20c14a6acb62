"""`aws cloudformation deploy` of the architecture's template (examples/architecture.yaml) against Conveyor:
the lab runs through what the stack made, and `delete-stack` leaves nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "architecture.yaml"


def settled(cf: Any, name: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        stack: dict[str, Any] = cf.describe_stacks(StackName=name)["Stacks"][0]
        return None if stack["StackStatus"].endswith("_IN_PROGRESS") else stack
    return wait_for(done, timeout=60, what=f"stack {name} settles")


def test_deploy_the_architecture_run_the_lab_and_delete_it(aws, client) -> None:  # type: ignore[no-untyped-def]
    out = aws("cloudformation", "deploy", "--template-file", str(EXAMPLE), "--stack-name", "lab",
              "--capabilities", "CAPABILITY_IAM", "--parameter-overrides", "BucketName=lab-uploads")
    assert "Successfully created/updated stack - lab" in out
    cf, s3 = client("cloudformation"), client("s3")
    stack = cf.describe_stacks(StackName="lab")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o for o in stack["Outputs"]}
    assert outputs["BucketName"]["OutputValue"] == "lab-uploads"
    assert outputs["QueueUrl"]["ExportName"] == "lab-queue-url"
    resources = {r["LogicalResourceId"]: r for r in cf.list_stack_resources(StackName="lab")["StackResourceSummaries"]}
    assert {r["ResourceStatus"] for r in resources.values()} == {"CREATE_COMPLETE"}
    queue_url = resources["UploadsQueue"]["PhysicalResourceId"]
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"
    assert outputs["DeadLetterQueueArn"]["OutputValue"] in attributes["RedrivePolicy"]
    assert client("cloudformation").list_exports()["Exports"][0]["Value"] == queue_url

    # The lab: an upload is moved to processed/ by the function, through the topic and the queue.
    s3.put_object(Bucket="lab-uploads", Key="uploads/photo one.jpg", Body=b"pixels")
    wait_for(lambda: [o for o in s3.list_objects_v2(Bucket="lab-uploads").get("Contents", [])
                      if o["Key"] == "processed/photo one.jpg"], timeout=60, what="the upload is processed")
    assert s3.get_object(Bucket="lab-uploads", Key="processed/photo one.jpg")["Body"].read() == b"pixels"

    # A bucket that still holds objects is not deleted (S3's BucketNotEmpty), as on AWS: empty it first.
    wait_for(lambda: "Contents" not in s3.list_objects_v2(Bucket="lab-uploads", Prefix="uploads/"), timeout=30)
    aws("s3", "rm", "s3://lab-uploads", "--recursive")
    aws("cloudformation", "delete-stack", "--stack-name", "lab")
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "lab")
    with pytest.raises(ClientError, match="Stack with id lab does not exist"):
        cf.describe_stacks(StackName="lab")
    assert "lab-uploads" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert client("sqs").list_queues().get("QueueUrls", []) == []
    assert client("sns").list_topics()["Topics"] == []
    assert client("lambda").list_functions()["Functions"] == []
    assert client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert [r for r in client("iam").list_roles()["Roles"] if r["RoleName"].startswith("lab-")] == []
    assert client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/lab-mover")["logGroups"] == []
    deleted = [s for s in cf.list_stacks()["StackSummaries"] if s["StackName"] == "lab"]
    assert deleted[0]["StackStatus"] == "DELETE_COMPLETE"
