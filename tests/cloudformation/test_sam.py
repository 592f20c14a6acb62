"""The SAM transform: examples/sam-architecture.yaml deploys through `aws cloudformation deploy` and runs the lab
(POST /presign, the presigned PUT, processed/); S3, Schedule and SNS events, policy templates and Globals expand
into the resources SAM makes; what the transform does not expand is refused with SAM's error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from tests.cloudformation.test_deploy import settled
from tests.helpers import wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sam-architecture.yaml"


def test_the_sam_architecture_deploys_and_runs_the_lab(aws, client, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    out = aws("cloudformation", "deploy", "--template-file", str(EXAMPLE), "--stack-name", "sam-lab",
              "--capabilities", "CAPABILITY_IAM", "--parameter-overrides", "BucketName=sam-uploads")
    assert "Successfully created/updated stack - sam-lab" in out
    cf, s3 = client("cloudformation"), client("s3")
    resources = {r["LogicalResourceId"]: r for r in cf.list_stack_resources(StackName="sam-lab")["StackResourceSummaries"]}
    # The resources SAM generates, by the logical ids SAM gives them.
    assert {resources[name]["ResourceType"] for name in ("Mover", "MoverRole", "MoverUploads", "Presign",
                                                          "PresignPresignPermission", "WebApi",
                                                          "WebApiApiGatewayDefaultStage", "AlarmLoggerAlarms")} == {
        "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Lambda::EventSourceMapping", "AWS::Lambda::Permission",
        "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::SNS::Subscription"}
    iam = client("iam")
    role = resources["MoverRole"]["PhysicalResourceId"]
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == {"AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole"}
    [inline] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=inline)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert "arn:aws:s3:::sam-uploads/*" in document["Statement"][0]["Resource"]
    function = client("lambda").get_function_configuration(FunctionName=resources["Mover"]["PhysicalResourceId"])
    assert (function["Runtime"], function["Timeout"], function["Environment"]["Variables"]) == (
        "python3.12", 10, {"BUCKET": "sam-uploads"})  # from Globals

    api_id = resources["WebApi"]["PhysicalResourceId"]
    port = endpoint.rsplit(":", 1)[1]
    answer = requests.post(f"{endpoint}/presign", headers={"Host": f"{api_id}.execute-api.localhost:{port}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    upload = answer.json()
    assert requests.put(upload["uploadUrl"], data=b"pixels", timeout=30).status_code == 200
    moved = "processed/" + upload["s3Key"].removeprefix("uploads/")
    wait_for(lambda: [o for o in s3.list_objects_v2(Bucket="sam-uploads", Prefix="processed/").get("Contents", [])
                      if o["Key"] == moved], timeout=60, what="the upload is processed")

    aws("s3", "rm", "s3://sam-uploads", "--recursive")
    aws("cloudformation", "delete-stack", "--stack-name", "sam-lab")
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "sam-lab")
    assert client("lambda").list_functions()["Functions"] == []
    assert client("apigatewayv2").get_apis()["Items"] == []


EVENTS = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Photos:
    Type: AWS::S3::Bucket
    Properties: {BucketName: sam-photos}
  Thumbs:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Policies: [AmazonS3FullAccess, {SQSPollerPolicy: {QueueName: some-queue}}]
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Photos
            Events: s3:ObjectCreated:*
            Filter: {S3Key: {Rules: [{Name: prefix, Value: raw/}]}}
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(5 minutes), Input: '{"tick": true}'}
      InlineCode: |
        import boto3
        def handler(event, context):
            for record in event.get("Records", []):
                key = record["s3"]["object"]["key"]
                boto3.client("s3").put_object(Bucket="sam-photos", Key="thumbs/" + key[4:], Body=b"small")
"""


def test_s3_and_schedule_events_and_policy_templates_expand(client) -> None:  # type: ignore[no-untyped-def]
    cf, s3 = client("cloudformation"), client("s3")
    cf.create_stack(StackName="sam-events", TemplateBody=EVENTS, Capabilities=["CAPABILITY_IAM",
                                                                                "CAPABILITY_AUTO_EXPAND"])
    stack = settled(cf, "sam-events")
    assert stack["StackStatus"] == "CREATE_COMPLETE", cf.describe_stack_events(StackName="sam-events")["StackEvents"][:3]
    ids = {r["LogicalResourceId"]: r["PhysicalResourceId"]
           for r in cf.list_stack_resources(StackName="sam-events")["StackResourceSummaries"]}
    assert {"Thumbs", "ThumbsRole", "ThumbsUploadPermission", "ThumbsTick", "ThumbsTickPermission"} <= set(ids)
    arn = client("lambda").get_function(FunctionName=ids["Thumbs"])["Configuration"]["FunctionArn"]
    [configuration] = s3.get_bucket_notification_configuration(Bucket="sam-photos")["LambdaFunctionConfigurations"]
    assert configuration["LambdaFunctionArn"] == arn and configuration["Events"] == ["s3:ObjectCreated:*"]
    rule = client("events").describe_rule(Name=ids["ThumbsTick"])
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(5 minutes)", "ENABLED")
    [target] = client("events").list_targets_by_rule(Rule=ids["ThumbsTick"])["Targets"]
    assert (target["Arn"], target["Input"]) == (arn, '{"tick": true}')
    iam = client("iam")
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=ids["ThumbsRole"])["AttachedPolicies"]}
    assert attached == {"AWSLambdaBasicExecutionRole", "AmazonS3FullAccess"}
    [inline] = iam.list_role_policies(RoleName=ids["ThumbsRole"])["PolicyNames"]
    document = iam.get_role_policy(RoleName=ids["ThumbsRole"], PolicyName=inline)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"][0]["Resource"] == ["arn:aws:sqs:us-east-1:000000000000:some-queue"]
    assert "sqs:ReceiveMessage" in document["Statement"][0]["Action"]

    s3.put_object(Bucket="sam-photos", Key="raw/cat.jpg", Body=b"big")
    wait_for(lambda: s3.list_objects_v2(Bucket="sam-photos", Prefix="thumbs/").get("Contents"), timeout=60,
             what="the S3 event invokes the function")
    assert s3.get_object(Bucket="sam-photos", Key="thumbs/cat.jpg")["Body"].read() == b"small"
    aws_rm = [o["Key"] for o in s3.list_objects_v2(Bucket="sam-photos")["Contents"]]
    s3.delete_objects(Bucket="sam-photos", Delete={"Objects": [{"Key": k} for k in aws_rm]})
    cf.delete_stack(StackName="sam-events")
    cf.get_waiter("stack_delete_complete").wait(StackName="sam-events", WaiterConfig={"Delay": 1})


@pytest.mark.parametrize(("resource", "message"), [
    ("""  F:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: "def handler(e, c): pass"
      Events:
        Get: {Type: Api, Properties: {Path: /, Method: get}}""", "Conveyor serves HTTP APIs"),
    ("""  F:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, Handler: index.handler, CodeUri: src/}""",
     "'CodeUri' is not a valid S3 Uri"),
    ("""  T:
    Type: AWS::Serverless::SimpleTable""", "Conveyor does not expand AWS::Serverless::SimpleTable"),
])
def test_what_the_transform_does_not_expand_is_refused(client, resource: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        client("cloudformation").create_stack(StackName="sam-bad", TemplateBody=(
            f"Transform: AWS::Serverless-2016-10-31\nResources:\n{resource}\n"),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("Transform AWS::Serverless-2016-10-31 failed with: ") and message in error[
        "Message"]


def test_a_transform_is_acknowledged_on_a_direct_create_and_shown_processed(client) -> None:  # type: ignore[no-untyped-def]
    cf = client("cloudformation")
    body = "Transform: AWS::Serverless-2016-10-31\nResources:\n  Q: {Type: AWS::SQS::Queue}\n"
    # Made without a change set to review, a transformed template must acknowledge CAPABILITY_AUTO_EXPAND.
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName="sam-direct", TemplateBody=body)
    assert caught.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
    assert caught.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_AUTO_EXPAND]"
    assert cf.get_template_summary(TemplateBody=body)["DeclaredTransforms"] == ["AWS::Serverless-2016-10-31"]
    cf.create_stack(StackName="sam-direct", TemplateBody=EVENTS, Capabilities=["CAPABILITY_IAM",
                                                                                "CAPABILITY_AUTO_EXPAND"])
    assert settled(cf, "sam-direct")["StackStatus"] == "CREATE_COMPLETE"
    original = cf.get_template(StackName="sam-direct")["TemplateBody"]
    assert "AWS::Serverless::Function" in str(original)
    processed = cf.get_template(StackName="sam-direct", TemplateStage="Processed")["TemplateBody"]
    processed = json.loads(processed) if isinstance(processed, str) else processed
    assert processed["Resources"]["Thumbs"]["Type"] == "AWS::Lambda::Function" and "Transform" not in processed
    cf.delete_stack(StackName="sam-direct")
    cf.get_waiter("stack_delete_complete").wait(StackName="sam-direct", WaiterConfig={"Delay": 1})


@pytest.mark.parametrize("resource", [
    "  F: {Type: AWS::Serverless::Function, Properties: [1, 2]}",
    "  F: {Type: AWS::Serverless::Function, Properties: {InlineCode: x, Events: [1]}}",
    "  F: {Type: AWS::Serverless::Function, Properties: {InlineCode: x, Events: {E: {Type: SQS, Properties: 3}}}}",
    "  F: {Type: AWS::Serverless::Function, Properties: {InlineCode: x, Policies: [[1]]}}",
    "  F: {Type: AWS::Serverless::Function, Properties: {CodeUri: {Bucket: [1]}, Tags: [1]}}",
    "  F: {Type: AWS::Serverless::Function, Properties: {InlineCode: x, Events: {E: {Type: S3, Properties: "
    "{Bucket: {Ref: [1]}}}}}}",
    "  A: {Type: AWS::Serverless::HttpApi, Properties: 7}",
])
def test_a_malformed_serverless_resource_is_a_validation_error(client, resource: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        client("cloudformation").create_change_set(
            StackName="sam-malformed", ChangeSetName="c", ChangeSetType="CREATE",
            TemplateBody=f"Transform: AWS::Serverless-2016-10-31\nResources:\n{resource}\n")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
