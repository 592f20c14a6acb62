"""The resource types beyond the lab's core, each made by a stack through boto3 and checked through its own
service's API (and, where it serves traffic, used): API Gateway v2, EventBridge rules, Kinesis streams, Lambda
versions and aliases, IAM managed policies and instance profiles, CloudFront, launch templates, Auto Scaling
groups and policies. Updates in place keep the physical ids; `delete-stack` leaves nothing behind."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.cloudformation.test_deploy import settled
from tests.ec2.conftest import AMI
from tests.helpers import wait_for

EDGE = """
Resources:
  EchoRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Echo:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt EchoRole.Arn
      Code:
        ZipFile: |
          import json
          def handler(event, context):
              return {"statusCode": 200, "body": json.dumps({"path": event["rawPath"]})}
  HttpApi:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: edge-api, ProtocolType: HTTP, Tags: {team: edge}}
  EchoIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref HttpApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Echo.Arn
      PayloadFormatVersion: "2.0"
  EchoRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref HttpApi
      RouteKey: POST /echo
      Target: !Sub integrations/${EchoIntegration}
  DefaultStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref HttpApi, StageName: !Ref StageName, AutoDeploy: true}
  EchoPermission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Echo
      Principal: apigateway.amazonaws.com
      SourceArn: !Sub arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*/*
  Inbox:
    Type: AWS::SQS::Queue
  InboxPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Inbox]
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sqs:SendMessage,
                     Resource: !GetAtt Inbox.Arn}]
  Orders:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [!Ref Source]}
      Targets: [{Id: inbox, Arn: !GetAtt Inbox.Arn}]
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: !Ref Shards, RetentionPeriodHours: !Ref Retention}
  Site:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: edge-site
      BucketEncryption:
        ServerSideEncryptionConfiguration: [{ServerSideEncryptionByDefault: {SSEAlgorithm: AES256},
                                             BucketKeyEnabled: true}]
  SiteAccess:
    Type: AWS::CloudFront::OriginAccessControl
    Properties:
      OriginAccessControlConfig: {Name: edge-site, OriginAccessControlOriginType: s3, SigningBehavior: always,
                                  SigningProtocol: sigv4}
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Comment: !Ref Comment
        DefaultRootObject: index.html
        Origins:
          - Id: site
            DomainName: !GetAtt Site.RegionalDomainName
            S3OriginConfig: {}
            OriginAccessControlId: !GetAtt SiteAccess.Id
        DefaultCacheBehavior:
          TargetOriginId: site
          ViewerProtocolPolicy: redirect-to-https
          CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
Parameters:
  Shards: {Type: Number, Default: 1}
  Retention: {Type: Number, Default: 24}
  Comment: {Type: String, Default: first}
  Source: {Type: String, Default: edge.orders}
  StageName: {Type: String, Default: $default}
Outputs:
  Endpoint: {Value: !GetAtt HttpApi.ApiEndpoint}
  StreamArn: {Value: !GetAtt Clicks.Arn}
  CdnDomain: {Value: !GetAtt Cdn.DomainName}
"""


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def physical(cf: Any, stack: str) -> dict[str, str]:
    return {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]}


def test_edge_types_are_made_used_updated_in_place_and_deleted(client, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    cf = client("cloudformation")
    cf.create_stack(StackName="edge", TemplateBody=EDGE, Capabilities=["CAPABILITY_IAM"])
    stack = settled(cf, "edge")
    assert stack["StackStatus"] == "CREATE_COMPLETE", cf.describe_stack_events(StackName="edge")["StackEvents"][:3]
    ids = physical(cf, "edge")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    # The HTTP API answers through the stack's route, integration, stage and permission.
    gw = client("apigatewayv2")
    api = gw.get_api(ApiId=ids["HttpApi"])
    assert api["Tags"] == {"team": "edge"} and outputs["Endpoint"] == api["ApiEndpoint"]
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=ids["HttpApi"])["Items"]] == ["POST /echo"]
    assert ids["DefaultStage"] == "$default" and ids["EchoRoute"] == gw.get_routes(ApiId=ids["HttpApi"])["Items"][0][
        "RouteId"]
    port = endpoint.rsplit(":", 1)[1]
    answer = requests.post(f"{endpoint}/echo", headers={"Host": f"{ids['HttpApi']}.execute-api.localhost:{port}"},
                           data=b"{}", timeout=60)
    assert answer.status_code == 200 and answer.json() == {"path": "/echo"}

    # The rule delivers matching events to its target queue.
    client("events").put_events(Entries=[{"Source": "edge.orders", "DetailType": "order", "Detail": "{\"n\": 1}"}])
    messages = wait_for(lambda: client("sqs").receive_message(QueueUrl=ids["Inbox"], WaitTimeSeconds=1).get(
        "Messages"), timeout=30, what="the rule delivers")
    assert json.loads(messages[0]["Body"])["detail"] == {"n": 1}
    rule = client("events").describe_rule(Name=ids["Orders"])
    assert json.loads(rule["EventPattern"]) == {"source": ["edge.orders"]} and rule["State"] == "ENABLED"

    kinesis = client("kinesis")
    summary = kinesis.describe_stream_summary(StreamName=ids["Clicks"])["StreamDescriptionSummary"]
    assert summary["StreamARN"] == outputs["StreamArn"] and summary["OpenShardCount"] == 1
    assert summary["RetentionPeriodHours"] == 24

    [rule] = client("s3").get_bucket_encryption(Bucket="edge-site")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"} and rule["BucketKeyEnabled"]
    cloudfront = client("cloudfront")
    distribution = cloudfront.get_distribution(Id=ids["Cdn"])["Distribution"]
    assert distribution["DomainName"] == outputs["CdnDomain"]
    config = distribution["DistributionConfig"]
    assert config["Origins"]["Items"][0]["OriginAccessControlId"] == ids["SiteAccess"]
    assert config["Origins"]["Items"][0]["DomainName"] == "edge-site.s3.us-east-1.amazonaws.com"
    assert sorted(config["DefaultCacheBehavior"]["AllowedMethods"]["Items"]) == ["GET", "HEAD"]
    assert config["Comment"] == "first" and config["DefaultRootObject"] == "index.html"

    # In place: the stream's shards and retention, the distribution's comment; the same physical ids.
    cf.update_stack(StackName="edge", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                    Parameters=params(Shards="2", Retention="48", Comment="second", Source="edge.returns",
                                      StageName="v2"))
    assert settled(cf, "edge")["StackStatus"] == "UPDATE_COMPLETE"
    # The stage's name requires replacement (a new stage, the old one deleted); the rest is in place.
    replaced = physical(cf, "edge")
    assert replaced.pop("DefaultStage") == "v2" and replaced == {k: v for k, v in ids.items() if k != "DefaultStage"}
    assert [s["StageName"] for s in gw.get_stages(ApiId=ids["HttpApi"])["Items"]] == ["v2"]
    assert json.loads(client("events").describe_rule(Name=ids["Orders"])["EventPattern"]) == {
        "source": ["edge.returns"]}
    summary = kinesis.describe_stream_summary(StreamName=ids["Clicks"])["StreamDescriptionSummary"]
    assert (summary["OpenShardCount"], summary["RetentionPeriodHours"]) == (2, 48)
    assert cloudfront.get_distribution(Id=ids["Cdn"])["Distribution"]["DistributionConfig"]["Comment"] == "second"

    cf.delete_stack(StackName="edge")
    cf.get_waiter("stack_delete_complete").wait(StackName="edge", WaiterConfig={"Delay": 1})
    assert ids["HttpApi"] not in [a["ApiId"] for a in gw.get_apis()["Items"]]
    assert ids["Orders"] not in [r["Name"] for r in client("events").list_rules()["Rules"]]
    assert ids["Clicks"] not in kinesis.list_streams()["StreamNames"]
    assert ids["Cdn"] not in [d["Id"] for d in cloudfront.list_distributions()["DistributionList"].get("Items", [])]
    assert ids["SiteAccess"] not in [c["Id"] for c in cloudfront.list_origin_access_controls()[
        "OriginAccessControlList"].get("Items", [])]


COMPUTE = """
Parameters:
  InstanceType: {Type: String, Default: t3.micro}
  MaxSize: {Type: Number, Default: 2}
  Actions: {Type: CommaDelimitedList, Default: "sqs:ReceiveMessage"}
  LiveVersion: {Type: String, Default: "1"}
Conditions:
  Broken: !Equals [!Ref LiveVersion, "7"]
Resources:
  WorkerRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]
  WorkerPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      Description: what workers may do
      PolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: !Ref Actions, Resource: "*"}]
      Roles: [!Ref WorkerRole]
  WorkerProfile:
    Type: AWS::IAM::InstanceProfile
    Properties: {Roles: [!Ref WorkerRole]}
  Workers:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        ImageId: AMI_ID
        InstanceType: !Ref InstanceType
        IamInstanceProfile: {Arn: !GetAtt WorkerProfile.Arn}
  Pool:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MinSize: "0"
      MaxSize: !Ref MaxSize
      DesiredCapacity: "0"
      AvailabilityZones: !GetAZs ""
      LaunchTemplate: {LaunchTemplateId: !Ref Workers, Version: !GetAtt Workers.LatestVersionNumber}
  ScaleOut:
    Type: AWS::AutoScaling::ScalingPolicy
    Properties:
      AutoScalingGroupName: !Ref Pool
      PolicyType: SimpleScaling
      AdjustmentType: ChangeInCapacity
      ScalingAdjustment: "1"
  FnRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt FnRole.Arn
      Code: {ZipFile: "def handler(event, context):\\n    return 'one'\\n"}
  FnVersion:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !Ref Fn, Description: first}
  Live:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !Ref Fn, Name: live, FunctionVersion: !If [Broken, "7", !GetAtt FnVersion.Version]}
Outputs:
  PolicyArn: {Value: !Ref WorkerPolicy}
  VersionArn: {Value: !Ref FnVersion}
  Version: {Value: !GetAtt FnVersion.Version}
  AliasArn: {Value: !Ref Live}
  ScaleOutArn: {Value: !Ref ScaleOut}
""".replace("AMI_ID", AMI)


def test_compute_and_identity_types_are_made_updated_in_place_and_deleted(client) -> None:  # type: ignore[no-untyped-def]
    cf, iam, ec2, asg, lam = (client(s) for s in ("cloudformation", "iam", "ec2", "autoscaling", "lambda"))
    cf.create_stack(StackName="compute", TemplateBody=COMPUTE, Capabilities=["CAPABILITY_IAM"])
    stack = settled(cf, "compute")
    assert stack["StackStatus"] == "CREATE_COMPLETE", cf.describe_stack_events(StackName="compute")["StackEvents"][:3]
    ids = physical(cf, "compute")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    policy = iam.get_policy(PolicyArn=ids["WorkerPolicy"])["Policy"]
    assert policy["Arn"] == outputs["PolicyArn"] and policy["Description"] == "what workers may do"
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ids["WorkerRole"])[
        "AttachedPolicies"]] == [policy["Arn"]]
    profile = iam.get_instance_profile(InstanceProfileName=ids["WorkerProfile"])["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [ids["WorkerRole"]]

    template = ec2.describe_launch_templates(LaunchTemplateIds=[ids["Workers"]])["LaunchTemplates"][0]
    assert (template["LatestVersionNumber"], template["DefaultVersionNumber"]) == (1, 1)
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[ids["Pool"]])["AutoScalingGroups"]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 2, 0)
    assert group["LaunchTemplate"]["LaunchTemplateId"] == ids["Workers"]
    [scaling] = asg.describe_policies(AutoScalingGroupName=ids["Pool"])["ScalingPolicies"]
    assert scaling["PolicyARN"] == outputs["ScaleOutArn"] == ids["ScaleOut"] and scaling["ScalingAdjustment"] == 1

    assert outputs["Version"] == "1" and outputs["VersionArn"].endswith(f"{ids['Fn']}:1")
    alias = lam.get_alias(FunctionName=ids["Fn"], Name="live")
    assert alias["AliasArn"] == outputs["AliasArn"] and alias["FunctionVersion"] == "1"

    # In place: a new default launch template version (and the group follows it through GetAtt), the group's
    # MaxSize, the managed policy's document as its new default version.
    cf.update_stack(StackName="compute", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                    Parameters=params(InstanceType="t3.small", MaxSize="4", Actions="sqs:ReceiveMessage,sqs:DeleteMessage",
                                      LiveVersion="1"))
    assert settled(cf, "compute")["StackStatus"] == "UPDATE_COMPLETE"
    assert physical(cf, "compute") == ids
    template = ec2.describe_launch_templates(LaunchTemplateIds=[ids["Workers"]])["LaunchTemplates"][0]
    assert (template["LatestVersionNumber"], template["DefaultVersionNumber"]) == (2, 2)
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[ids["Pool"]])["AutoScalingGroups"]
    assert group["MaxSize"] == 4 and group["LaunchTemplate"]["Version"] == "2"
    policy = iam.get_policy(PolicyArn=ids["WorkerPolicy"])["Policy"]
    assert policy["DefaultVersionId"] == "v2"
    document = iam.get_policy_version(PolicyArn=ids["WorkerPolicy"], VersionId="v2")["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"][0]["Action"] == ["sqs:ReceiveMessage", "sqs:DeleteMessage"]

    # An alias pointing at a version that does not exist fails the update, which rolls back.
    cf.update_stack(StackName="compute", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                    Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in ("InstanceType", "MaxSize",
                                                                                        "Actions")]
                    + params(LiveVersion="7"))
    stack = settled(cf, "compute")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    failed = [e for e in cf.describe_stack_events(StackName="compute")["StackEvents"]
              if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Live" and "Status Code: 404" in failed[0]["ResourceStatusReason"]
    assert lam.get_alias(FunctionName=ids["Fn"], Name="live")["FunctionVersion"] == "1"

    cf.delete_stack(StackName="compute")
    cf.get_waiter("stack_delete_complete").wait(StackName="compute", WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError):
        iam.get_policy(PolicyArn=ids["WorkerPolicy"])
    with pytest.raises(ClientError):
        iam.get_instance_profile(InstanceProfileName=ids["WorkerProfile"])
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[ids["Pool"]])["AutoScalingGroups"] == []
    assert ids["Workers"] not in [t["LaunchTemplateId"] for t in ec2.describe_launch_templates()["LaunchTemplates"]]
    assert ids["Fn"] not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]


def test_an_unsupported_type_fails_the_stack_with_its_reason(client) -> None:  # type: ignore[no-untyped-def]
    cf = client("cloudformation")
    cf.create_stack(StackName="fleet", TemplateBody="""
Resources:
  Fleet:
    Type: AWS::GameLift::Fleet
    Properties: {Name: f}
""")
    assert settled(cf, "fleet")["StackStatus"] == "ROLLBACK_COMPLETE"
    [failed] = [e for e in cf.describe_stack_events(StackName="fleet")["StackEvents"]
                if e["ResourceStatus"] == "CREATE_FAILED"]
    assert "does not support the resource type AWS::GameLift::Fleet" in failed["ResourceStatusReason"]
    cf.delete_stack(StackName="fleet")


PARALLEL = """
Resources:
  A: {Type: AWS::SQS::Queue}
  B: {Type: AWS::SQS::Queue}
  C: {Type: AWS::SNS::Topic}
  D: {Type: AWS::SQS::Queue}
  Last:
    Type: AWS::SQS::Queue
    DependsOn: [A, B, C, D]
"""


def test_independent_resources_are_made_at_once_and_dependents_after_them(client) -> None:  # type: ignore[no-untyped-def]
    cf = client("cloudformation")
    cf.create_stack(StackName="parallel", TemplateBody=PARALLEL)
    assert settled(cf, "parallel")["StackStatus"] == "CREATE_COMPLETE"
    events = [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
              for e in reversed(cf.describe_stack_events(StackName="parallel")["StackEvents"])
              if e["ResourceType"] != "AWS::CloudFormation::Stack"]
    started = [i for i, (_, status, reason) in enumerate(events) if status == "CREATE_IN_PROGRESS" and not reason]
    completed = {name: i for i, (name, status, _) in enumerate(events) if status == "CREATE_COMPLETE"}
    # All four independent ones start before any of them is done; Last starts after all four are.
    assert {events[i][0] for i in started[:4]} == {"A", "B", "C", "D"}
    assert max(started[:4]) < min(completed[name] for name in "ABCD")
    assert started[4] > max(completed[name] for name in "ABCD") and events[started[4]][0] == "Last"
    cf.delete_stack(StackName="parallel")
    cf.get_waiter("stack_delete_complete").wait(StackName="parallel", WaiterConfig={"Delay": 1})


def test_a_property_of_the_wrong_shape_fails_the_resource_and_rolls_back(client) -> None:  # type: ignore[no-untyped-def]
    cf = client("cloudformation")
    cf.create_stack(StackName="shape", TemplateBody="""
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: a, ProtocolType: HTTP, Tags: [1, 2]}
""")
    assert settled(cf, "shape")["StackStatus"] == "ROLLBACK_COMPLETE"
    [failed] = [e for e in cf.describe_stack_events(StackName="shape")["StackEvents"]
                if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed["ResourceStatusReason"].startswith("Properties validation failed for resource Api with message:")
    assert client("apigatewayv2").get_apis()["Items"] == []
    cf.delete_stack(StackName="shape")
