"""AWS::Lambda::Url, AWS::Lambda::LayerVersion, AWS::Lambda::LayerVersionPermission and
AWS::Lambda::EventInvokeConfig, deployed with `aws cloudformation deploy` and checked through Lambda's API
and by use: the URL answers over HTTP with the function's code importing from the stack's layer, and a
failed asynchronous invocation reaches the configured on-failure queue. An update changes the URL and the
invocation settings in place and publishes a new layer version by replacement; `delete-stack` leaves
nothing behind."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from tests.cloudformation.test_deploy import settled
from tests.helpers import wait_for

TEMPLATE = """
Parameters:
  LayerNote: {Type: String, Default: first}
  Auth: {Type: String, Default: NONE}
  Retries: {Type: Number, Default: 0}
Conditions:
  Public: !Equals [!Ref Auth, NONE]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Greeting:
    Type: AWS::Lambda::LayerVersion
    Properties:
      LayerName: greeting
      Description: !Ref LayerNote
      CompatibleRuntimes: [python3.12]
      Content: {S3Bucket: layer-code, S3Key: greeting.zip}
  Shared:
    Type: AWS::Lambda::LayerVersionPermission
    Properties: {LayerVersionArn: !Ref Greeting, Action: lambda:GetLayerVersion, Principal: "111122223333"}
  Failures:
    Type: AWS::SQS::Queue
  Web:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Layers: [!Ref Greeting]
      Code:
        ZipFile: |
          import greeting
          def handler(event, context):
              if event.get("fail"):
                  raise ValueError("asked to fail")
              return {"statusCode": 200, "body": greeting.hello() + " " + event.get("rawPath", "")}
  WebUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Ref Web
      AuthType: !Ref Auth
      Cors: {AllowOrigins: ["https://example.com"], MaxAge: 300}
  UrlAccess:
    Type: AWS::Lambda::Permission
    Condition: Public
    Properties: {FunctionName: !Ref Web, Action: lambda:InvokeFunctionUrl, Principal: "*", FunctionUrlAuthType: NONE}
  UrlInvoke:
    Type: AWS::Lambda::Permission
    Condition: Public
    Properties: {FunctionName: !Ref Web, Action: lambda:InvokeFunction, Principal: "*", InvokedViaFunctionUrl: true}
  AsyncSettings:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Web
      Qualifier: $LATEST
      MaximumRetryAttempts: !Ref Retries
      MaximumEventAgeInSeconds: 600
      DestinationConfig: {OnFailure: {Destination: !GetAtt Failures.Arn}}
Outputs:
  Url: {Value: !GetAtt WebUrl.FunctionUrl}
  UrlRef: {Value: !Ref WebUrl}
  UrlFunction: {Value: !GetAtt WebUrl.FunctionArn}
  LayerArn: {Value: !GetAtt Greeting.LayerVersionArn}
  SharedId: {Value: !Ref Shared}
"""


def layer_zip(word: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/greeting.py", f"def hello():\n    return {word!r}\n")
    return buffer.getvalue()


def outputs(cf: Any, stack: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}


def physical(cf: Any, stack: str) -> dict[str, str]:
    return {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]}


def get(endpoint: str, function_url: str, path: str) -> requests.Response:
    """The URL reached on Conveyor's port by its id (`{url-id}.lambda-url.localhost` in the Host header)."""
    url_id = urlsplit(function_url).hostname.split(".")[0]  # type: ignore[union-attr]
    port = urlsplit(endpoint).port
    return requests.get(f"{endpoint}{path}", headers={"Host": f"{url_id}.lambda-url.localhost:{port}"}, timeout=60)


def deploy(aws: Any, template: Path, *overrides: str) -> None:
    out = aws("cloudformation", "deploy", "--template-file", str(template), "--stack-name", "fn",
              "--capabilities", "CAPABILITY_IAM", *(["--parameter-overrides", *overrides] if overrides else []))
    assert "Successfully created/updated stack - fn" in out


def test_function_urls_layers_and_async_settings_deploy_update_and_delete(  # type: ignore[no-untyped-def]
        aws, client, endpoint: str, tmp_path: Path) -> None:
    cf, lam, s3, sqs = (client(s) for s in ("cloudformation", "lambda", "s3", "sqs"))
    s3.create_bucket(Bucket="layer-code")
    s3.put_object(Bucket="layer-code", Key="greeting.zip", Body=layer_zip("hello"))
    template = tmp_path / "fn.yaml"
    template.write_text(TEMPLATE)
    deploy(aws, template)
    ids, out = physical(cf, "fn"), outputs(cf, "fn")
    function_arn = lam.get_function(FunctionName=ids["Web"])["Configuration"]["FunctionArn"]

    # The URL: Ref and FunctionArn give the function's ARN, FunctionUrl the URL Lambda lists.
    config = lam.get_function_url_config(FunctionName=ids["Web"])
    assert out["Url"] == config["FunctionUrl"] and out["UrlRef"] == out["UrlFunction"] == function_arn
    assert ids["WebUrl"] == function_arn and config["AuthType"] == "NONE"
    assert config["Cors"] == {"AllowOrigins": ["https://example.com"], "MaxAge": 300}
    answer = get(endpoint, out["Url"], "/hi")
    assert answer.status_code == 200 and answer.text == "hello /hi"  # the code imports from the stack's layer

    # The layer version and its policy statement, named as CloudFormation names them.
    layer = lam.get_layer_version_by_arn(Arn=out["LayerArn"])
    assert out["LayerArn"].endswith(":layer:greeting:1") and layer["Description"] == "first"
    assert layer["CompatibleRuntimes"] == ["python3.12"]
    assert [x["Arn"] for x in lam.get_function_configuration(FunctionName=ids["Web"])["Layers"]] == [out["LayerArn"]]
    version_arn, _, statement = out["SharedId"].partition("#")
    [granted] = json.loads(lam.get_layer_version_policy(LayerName="greeting", VersionNumber=1)["Policy"])["Statement"]
    assert version_arn == out["LayerArn"] and granted["Sid"] == statement
    assert granted["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}

    # The asynchronous settings: no retry, and a failed event goes to the on-failure queue.
    settings = lam.get_function_event_invoke_config(FunctionName=ids["Web"], Qualifier="$LATEST")
    assert (settings["MaximumRetryAttempts"], settings["MaximumEventAgeInSeconds"]) == (0, 600)
    assert settings["DestinationConfig"]["OnFailure"]["Destination"] == sqs.get_queue_attributes(
        QueueUrl=ids["Failures"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert ids["AsyncSettings"] == f"{ids['Web']}|$LATEST"
    lam.invoke(FunctionName=ids["Web"], InvocationType="Event", Payload=b'{"fail": true}')
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=ids["Failures"], WaitTimeSeconds=1).get("Messages"),
                        timeout=60, what="the failed event reaches the on-failure queue")
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted" and record["requestPayload"] == {"fail": True}

    # In place: the URL's auth type (the same URL) and the retries; by replacement: a new layer version, which
    # the function and the permission follow, the old version deleted.
    s3.put_object(Bucket="layer-code", Key="greeting.zip", Body=layer_zip("welcome"))
    deploy(aws, template, "LayerNote=second", "Auth=AWS_IAM", "Retries=2")
    changed, out2 = physical(cf, "fn"), outputs(cf, "fn")
    assert (changed["WebUrl"], changed["AsyncSettings"], changed["Web"]) == (ids["WebUrl"], ids["AsyncSettings"],
                                                                             ids["Web"])
    assert out2["Url"] == out["Url"] and lam.get_function_url_config(FunctionName=ids["Web"])["AuthType"] == "AWS_IAM"
    assert "UrlAccess" not in changed and get(endpoint, out["Url"], "/hi").status_code == 403
    assert lam.get_function_event_invoke_config(FunctionName=ids["Web"], Qualifier="$LATEST")[
        "MaximumRetryAttempts"] == 2
    assert out2["LayerArn"].endswith(":layer:greeting:2") and out2["SharedId"].startswith(out2["LayerArn"] + "#")
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="greeting")["LayerVersions"]] == [2]
    assert [x["Arn"] for x in lam.get_function_configuration(FunctionName=ids["Web"])["Layers"]] == [out2["LayerArn"]]
    answer = lam.invoke(FunctionName=ids["Web"], Payload=b'{"rawPath": "/x"}')
    assert json.loads(answer["Payload"].read())["body"] == "welcome /x"

    aws("cloudformation", "delete-stack", "--stack-name", "fn")
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "fn")
    assert lam.list_layer_versions(LayerName="greeting")["LayerVersions"] == []
    assert lam.list_functions()["Functions"] == []
    with pytest.raises(ClientError):
        lam.get_function_url_config(FunctionName=ids["Web"])
    s3.delete_object(Bucket="layer-code", Key="greeting.zip")
    s3.delete_bucket(Bucket="layer-code")


def test_a_url_and_async_settings_for_an_alias_go_with_it(client) -> None:  # type: ignore[no-untyped-def]
    """Qualifier names an alias: the URL's ARN carries it, and removing the resources (not the function)
    deletes the URL configuration and the settings through Lambda's API."""
    cf, lam = client("cloudformation"), client("lambda")
    resources: dict[str, Any] = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"}}},
        "V1": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
        "Live": {"Type": "AWS::Lambda::Alias", "Properties": {"FunctionName": {"Ref": "Fn"}, "Name": "live",
                                                                 "FunctionVersion": {"Fn::GetAtt": ["V1", "Version"]}}}}
    extras = {
        "LiveUrl": {"Type": "AWS::Lambda::Url", "DependsOn": "Live", "Properties": {
            "TargetFunctionArn": {"Ref": "Fn"}, "Qualifier": "live", "AuthType": "AWS_IAM"}},
        "LiveAsync": {"Type": "AWS::Lambda::EventInvokeConfig", "DependsOn": "Live", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "Qualifier": "live", "MaximumRetryAttempts": 1}}}
    cf.create_stack(StackName="alias-url", TemplateBody=json.dumps({"Resources": {**resources, **extras}}),
                    Capabilities=["CAPABILITY_IAM"])
    assert settled(cf, "alias-url")["StackStatus"] == "CREATE_COMPLETE"
    ids = physical(cf, "alias-url")
    assert ids["LiveUrl"].endswith(f":function:{ids['Fn']}:live")
    assert lam.get_function_url_config(FunctionName=ids["Fn"], Qualifier="live")["FunctionArn"] == ids["LiveUrl"]
    assert lam.get_function_event_invoke_config(FunctionName=ids["Fn"], Qualifier="live")["MaximumRetryAttempts"] == 1

    cf.update_stack(StackName="alias-url", TemplateBody=json.dumps({"Resources": resources}),
                    Capabilities=["CAPABILITY_IAM"])
    assert settled(cf, "alias-url")["StackStatus"] == "UPDATE_COMPLETE"
    assert lam.list_function_url_configs(FunctionName=ids["Fn"])["FunctionUrlConfigs"] == []
    assert lam.list_function_event_invoke_configs(FunctionName=ids["Fn"])["FunctionEventInvokeConfigs"] == []
    cf.delete_stack(StackName="alias-url")
    cf.get_waiter("stack_delete_complete").wait(StackName="alias-url", WaiterConfig={"Delay": 1})
