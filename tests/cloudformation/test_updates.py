"""Updates in place and by replacement, rollbacks with the failing resource's reason, Retain, capabilities and
template errors, through boto3 against a live server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.test_deploy import settled

QUEUE = """
Parameters:
  Visibility: {Type: Number, Default: 30}
  Bucket: {Type: String}
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: !Ref Visibility}
  Store:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !Ref Bucket}
Outputs:
  Url: {Value: !Ref Work}
  BucketArn: {Value: !GetAtt Store.Arn}
"""


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def test_an_update_changes_a_queue_in_place_and_renames_a_bucket_by_replacement(client) -> None:  # type: ignore[no-untyped-def]
    cf, sqs, s3 = client("cloudformation"), client("sqs"), client("s3")
    cf.create_stack(StackName="up", TemplateBody=QUEUE, Parameters=params(Bucket="first-bucket"))
    assert settled(cf, "up")["StackStatus"] == "CREATE_COMPLETE"
    url = cf.describe_stack_resource(StackName="up", LogicalResourceId="Work")["StackResourceDetail"][
        "PhysicalResourceId"]

    cf.update_stack(StackName="up", UsePreviousTemplate=True,
                    Parameters=[{"ParameterKey": "Visibility", "ParameterValue": "120"},
                                {"ParameterKey": "Bucket", "UsePreviousValue": True}])
    stack = settled(cf, "up")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "120"}
    # In place: the same queue (no interruption), and the bucket untouched.
    assert cf.describe_stack_resource(StackName="up", LogicalResourceId="Work")["StackResourceDetail"][
        "PhysicalResourceId"] == url
    events = cf.describe_stack_events(StackName="up")["StackEvents"]
    assert not [e for e in events if e["LogicalResourceId"] == "Store" and "UPDATE" in e["ResourceStatus"]]

    cf.update_stack(StackName="up", UsePreviousTemplate=True,
                    Parameters=params(Bucket="second-bucket", Visibility="120"))
    stack = settled(cf, "up")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "second-bucket" in names and "first-bucket" not in names  # the new one made, then the old deleted
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["BucketArn"] == "arn:aws:s3:::second-bucket"
    events = cf.describe_stack_events(StackName="up")["StackEvents"]
    replacing = [e for e in events if e["LogicalResourceId"] == "Store"
                 and e.get("ResourceStatusReason", "").startswith("Requested update requires the creation")]
    assert replacing and replacing[0]["ResourceStatus"] == "UPDATE_IN_PROGRESS"
    assert any(e["ResourceStatus"] == "DELETE_COMPLETE" and e["PhysicalResourceId"] == "first-bucket" for e in events)
    assert events[0]["ResourceStatus"] == "UPDATE_COMPLETE" and events[0]["LogicalResourceId"] == "up"

    with pytest.raises(ClientError, match="No updates are to be performed."):
        cf.update_stack(StackName="up", UsePreviousTemplate=True,
                        Parameters=params(Bucket="second-bucket", Visibility="120"))


def test_a_failing_resource_rolls_the_creation_back_with_its_reason(client) -> None:  # type: ignore[no-untyped-def]
    cf = client("cloudformation")
    body = json.dumps({"Resources": {
        "Fine": {"Type": "AWS::SNS::Topic"},
        "Broken": {"Type": "AWS::SQS::Queue", "DependsOn": "Fine", "Properties": {"VisibilityTimeout": 99999}}}})
    cf.create_stack(StackName="bad", TemplateBody=body)
    stack = settled(cf, "bad")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack["StackStatusReason"] == \
        "The following resource(s) failed to create: [Broken]. Rollback requested by user."
    failed = [e for e in cf.describe_stack_events(StackName="bad")["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Broken" and "VisibilityTimeout" in failed[0]["ResourceStatusReason"]
    assert client("sns").list_topics()["Topics"] == []  # what was made is deleted again
    with pytest.raises(ClientError, match="ROLLBACK_COMPLETE state and can not be updated"):
        cf.update_stack(StackName="bad", TemplateBody=body)


def test_a_failing_update_rolls_back_to_the_previous_template(client) -> None:  # type: ignore[no-untyped-def]
    cf, sqs = client("cloudformation"), client("sqs")
    cf.create_stack(StackName="roll", TemplateBody=QUEUE, Parameters=params(Bucket="roll-bucket"))
    assert settled(cf, "roll")["StackStatus"] == "CREATE_COMPLETE"
    url = cf.describe_stack_resource(StackName="roll", LogicalResourceId="Work")["StackResourceDetail"][
        "PhysicalResourceId"]
    broken = QUEUE.replace("  Store:", "  Extra:\n    Type: AWS::SQS::Queue\n    DependsOn: Work\n"
                           "    Properties: {DelaySeconds: 5000}\n  Store:")
    cf.update_stack(StackName="roll", TemplateBody=broken, Parameters=params(Bucket="roll-bucket", Visibility="45"))
    stack = settled(cf, "roll")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"][
        "VisibilityTimeout"] == "30"  # updated to 45, then back
    assert cf.get_template(StackName="roll")["TemplateBody"] == QUEUE
    assert len(sqs.list_queues()["QueueUrls"]) == 1


def test_unsupported_types_retain_capabilities_and_template_errors(client) -> None:  # type: ignore[no-untyped-def]
    cf = client("cloudformation")
    cf.create_stack(StackName="odd", TemplateBody=json.dumps({"Resources": {
        "Fleet": {"Type": "AWS::GameLift::Fleet", "Properties": {}}}}))
    stack = settled(cf, "odd")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    event = [e for e in cf.describe_stack_events(StackName="odd")["StackEvents"]
             if e["ResourceStatus"] == "CREATE_FAILED"][0]
    assert "does not support the resource type AWS::GameLift::Fleet" in event["ResourceStatusReason"]

    role = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "named", "AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}}}
    with pytest.raises(ClientError) as refused:
        cf.create_stack(StackName="iam", TemplateBody=json.dumps({"Resources": {"R": role}}),
                        Capabilities=["CAPABILITY_IAM"])
    assert refused.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
    assert refused.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_NAMED_IAM]"

    kept = {"Resources": {"Kept": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Retain",
                                   "Properties": {"TopicName": "kept"}}}}
    cf.create_stack(StackName="keep", TemplateBody=json.dumps(kept))
    assert settled(cf, "keep")["StackStatus"] == "CREATE_COMPLETE"
    cf.delete_stack(StackName="keep")
    stack_id = [s for s in cf.list_stacks()["StackSummaries"] if s["StackName"] == "keep"][0]["StackId"]
    assert settled(cf, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert [t["TopicArn"].rsplit(":", 1)[1] for t in client("sns").list_topics()["Topics"]] == ["kept"]

    with pytest.raises(ClientError, match="Template format error: Unresolved resource dependencies \\[Nope\\]"):
        cf.validate_template(TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue",
                                                                          "Properties": {"QueueName": {"Ref": "Nope"}}}}}))
    with pytest.raises(ClientError, match="Circular dependency between resources"):
        cf.validate_template(TemplateBody=json.dumps({"Resources": {
            "A": {"Type": "AWS::SQS::Queue", "DependsOn": "B"}, "B": {"Type": "AWS::SQS::Queue", "DependsOn": "A"}}}))
    summary: Any = cf.validate_template(TemplateBody="Parameters:\n  Secret: {Type: String, NoEcho: true}\n"
                                                     "Resources:\n  Q: {Type: AWS::SQS::Queue}\n")
    assert summary["Parameters"] == [{"ParameterKey": "Secret", "NoEcho": True}]


def test_settings_without_effect_here_are_refused_by_name(client) -> None:  # type: ignore[no-untyped-def]
    cfn = client("cloudformation")
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    for extra, named in [({"TimeoutInMinutes": 5}, "TimeoutInMinutes"),
                         ({"RoleARN": "arn:aws:iam::000000000000:role/cfn"}, "RoleARN"),
                         ({"NotificationARNs": ["arn:aws:sns:us-east-1:000000000000:t"]}, "NotificationARNs"),
                         ({"OnFailure": "DELETE"}, "OnFailure=DELETE")]:
        with pytest.raises(ClientError) as refused:
            cfn.create_stack(StackName="strict", TemplateBody=body, **extra)
        assert refused.value.response["Error"]["Code"] == "ValidationError"
        assert f"Conveyor does not honour {named} yet" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as rules:
        cfn.create_stack(StackName="strict", TemplateBody=json.dumps(
            {"Rules": {"R": {"Assertions": [{"Assert": {"Fn::Equals": ["a", "a"]}}]}},
             "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    assert "Rules section" in rules.value.response["Error"]["Message"]
    assert cfn.list_stacks()["StackSummaries"] == []
