"""Log groups as rule targets, through boto3 and the AWS CLI: a matched event is written, as its JSON, into a
stream named by its id, only when a CloudWatch Logs resource policy lets EventBridge write; otherwise the
delivery fails (FailedInvocations) and nothing is written. S3 -> EventBridge -> log group end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.events.conftest import events_health
from tests.helpers import wait_for

ACCOUNT = "000000000000"
GROUP = "/aws/events/orders"
GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}"


def events_may_write(logs: Any, resource: str = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/events/*:*",
                     principal: str = "events.amazonaws.com") -> None:
    """The resource policy of the EventBridge user guide's CloudWatch Logs permissions section."""
    logs.put_resource_policy(policyName="TrustEventsToStoreLogEvent", policyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "TrustEventsToStoreLogEvent", "Effect": "Allow", "Principal": {"Service": principal},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": resource}]}))


def put(events: Any, detail: dict[str, Any]) -> str:
    answer = events.put_events(Entries=[{"Source": "shop", "DetailType": "order", "Detail": json.dumps(detail)}])
    assert answer["FailedEntryCount"] == 0, answer
    return str(answer["Entries"][0]["EventId"])


def settled(endpoint: str) -> bool:
    return events_health(endpoint)["pending_deliveries"] == 0


def logged(logs: Any, group: str = GROUP) -> list[dict[str, Any]]:
    return list(logs.filter_log_events(logGroupName=group)["events"])


@pytest.fixture
def logs(client: Callable[..., Any]) -> Any:
    return client("logs")


def test_the_event_is_written_to_a_stream_named_by_its_id(events: Any, logs: Any, endpoint: str) -> None:
    logs.create_log_group(logGroupName=GROUP)
    events_may_write(logs)
    events.put_rule(Name="orders", EventPattern='{"source": ["shop"]}')
    answer = events.put_targets(Rule="orders", Targets=[{"Id": "log", "Arn": GROUP_ARN}])
    assert answer["FailedEntryCount"] == 0
    event_id = put(events, {"total": 12})
    wait_for(lambda: len(logged(logs)) == 1)
    (written,) = logged(logs)
    assert written["logStreamName"] == event_id
    event = json.loads(written["message"])
    assert event["id"] == event_id and event["detail"] == {"total": 12} and event["source"] == "shop"
    assert event["account"] == ACCOUNT and event["detail-type"] == "order"
    event_ms = int(datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp() * 1000)
    assert written["timestamp"] == event_ms  # the event's time
    (stream,) = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert stream["logStreamName"] == event_id
    wait_for(lambda: settled(endpoint))


def test_an_event_older_than_logs_keep_is_not_written(events: Any, logs: Any, endpoint: str,
                                                      advance: Callable[[float], float]) -> None:
    logs.create_log_group(logGroupName=GROUP)
    events_may_write(logs)
    events.put_rule(Name="orders", EventPattern='{"source": ["shop"]}')
    events.put_targets(Rule="orders", Targets=[{"Id": "log", "Arn": GROUP_ARN}])
    now = advance(0)
    answer = events.put_events(Entries=[{"Source": "shop", "DetailType": "order", "Detail": "{}",
                                         "Time": datetime.fromtimestamp(now - 15 * 86400)}])
    old_id = answer["Entries"][0]["EventId"]
    fresh_id = put(events, {"fresh": True})
    wait_for(lambda: len(logged(logs)) == 1)
    wait_for(lambda: settled(endpoint))
    (written,) = logged(logs)
    assert written["logStreamName"] == fresh_id  # PutLogEvents keeps nothing over 14 days old
    streams = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=GROUP)["logStreams"]}
    assert streams == {old_id, fresh_id}  # the stream was made all the same


def test_input_path_and_the_log_form_of_an_input_transformer(events: Any, logs: Any) -> None:
    logs.create_log_group(logGroupName=GROUP)
    events_may_write(logs, principal="delivery.logs.amazonaws.com")  # the other principal AWS's example names
    events.put_rule(Name="orders", EventPattern='{"source": ["shop"]}')
    events.put_targets(Rule="orders", Targets=[
        {"Id": "path", "Arn": GROUP_ARN, "InputPath": "$.detail"},
        {"Id": "shaped", "Arn": GROUP_ARN, "InputTransformer": {
            "InputPathsMap": {"t": "$.time", "total": "$.detail.total"},
            "InputTemplate": '{"timestamp": <t>, "message": "order of <total>"}'}}])
    put(events, {"total": 7})
    wait_for(lambda: len(logged(logs)) == 2)
    assert sorted(e["message"] for e in logged(logs)) == ["order of 7", '{"total":7}']


def test_without_a_policy_nothing_is_written_and_the_rule_counts_a_failed_invocation(
        events: Any, logs: Any, client: Callable[..., Any], endpoint: str,
        advance: Callable[[float], float]) -> None:
    cloudwatch = client("cloudwatch")
    cloudwatch.list_metrics(Namespace="AWS/Events")  # CloudWatch runs: the minute below is its own
    started = advance(0)
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_group(logGroupName="/elsewhere")
    events_may_write(logs)  # covers /aws/events/* only
    events.put_rule(Name="orders", EventPattern='{"source": ["shop"]}')
    events.put_targets(Rule="orders", Targets=[
        {"Id": "uncovered", "Arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/elsewhere"},
        {"Id": "missing", "Arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/events/gone"},
        {"Id": "fine", "Arn": GROUP_ARN}])
    put(events, {"total": 1})
    wait_for(lambda: settled(endpoint))
    assert len(logged(logs)) == 1
    assert logged(logs, "/elsewhere") == []
    assert logs.describe_log_streams(logGroupName="/elsewhere")["logStreams"] == []

    def total(metric: str, dimensions: list[dict[str, str]]) -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Events", MetricName=metric, Dimensions=dimensions, StartTime=started - 600,
            EndTime=started + 7200, Period=3600, Statistics=["Sum"])["Datapoints"]
        return float(sum(p["Sum"] for p in points))

    by_rule = [{"Name": "RuleName", "Value": "orders"}]
    wait_for(lambda: advance(60) and total("FailedInvocations", by_rule) == 2.0)
    assert total("Invocations", by_rule) == 3.0
    by_bus = [{"Name": "EventBusName", "Value": "default"}, {"Name": "RuleName", "Value": "orders"}]
    assert total("FailedInvocations", by_bus) == 2.0


def test_put_targets_refuses_an_arn_that_is_no_log_group(events: Any) -> None:
    events.put_rule(Name="orders", EventPattern='{"source": ["shop"]}')
    with pytest.raises(ClientError) as refused:
        events.put_targets(Rule="orders", Targets=[
            {"Id": "x", "Arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:destination:somewhere"}])
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_s3_events_reach_a_log_group_through_the_default_bus(client: Callable[..., Any], events: Any,
                                                             logs: Any) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_notification_configuration(Bucket="photos",
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    logs.create_log_group(logGroupName="/aws/events/uploads")
    events_may_write(logs)
    events.put_rule(Name="uploads", EventPattern=json.dumps({"source": ["aws.s3"],
                                                            "detail-type": ["Object Created"]}))
    # The ARN as CloudFormation's Fn::GetAtt LogGroup.Arn gives it, with ":*".
    events.put_targets(Rule="uploads", Targets=[
        {"Id": "log", "Arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/events/uploads:*"}])
    s3.put_object(Bucket="photos", Key="uploads/a.jpg", Body=b"12345")
    wait_for(lambda: len(logged(logs, "/aws/events/uploads")) == 1)
    (written,) = logged(logs, "/aws/events/uploads")
    event = json.loads(written["message"])
    assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
    assert event["resources"] == ["arn:aws:s3:::photos"]
    assert event["detail"]["object"]["key"] == "uploads/a.jpg" and event["detail"]["object"]["size"] == 5
    assert written["logStreamName"] == event["id"]


def test_the_cli(aws: Callable[..., Any]) -> None:
    aws("logs", "create-log-group", "--log-group-name", GROUP)
    aws("logs", "put-resource-policy", "--policy-name", "events", "--policy-document", json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{GROUP_ARN}:*"}]}))
    assert [p["policyName"] for p in aws("logs", "describe-resource-policies")["resourcePolicies"]] == ["events"]
    aws("events", "put-rule", "--name", "orders", "--event-pattern", '{"source": ["shop"]}')
    aws("events", "put-targets", "--rule", "orders", "--targets", json.dumps([{"Id": "log", "Arn": GROUP_ARN}]))
    aws("events", "put-events", "--entries",
        json.dumps([{"Source": "shop", "DetailType": "order", "Detail": '{"n": 1}'}]))

    def found() -> list[dict[str, Any]]:
        return list(aws("logs", "filter-log-events", "--log-group-name", GROUP)["events"])

    wait_for(lambda: len(found()) == 1)
    assert json.loads(found()[0]["message"])["detail"] == {"n": 1}
    aws("logs", "delete-resource-policy", "--policy-name", "events")
    assert aws("logs", "describe-resource-policies")["resourcePolicies"] == []


LOGGED_RULE = """
Resources:
  EventLog:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /aws/events/stack-orders}
  EventLogPolicy:
    Type: AWS::Logs::ResourcePolicy
    Properties:
      PolicyName: !Ref PolicyName
      PolicyDocument: !Sub '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "${EventLog.Arn}", "Sid": "${Sid}"}]}'
  Orders:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [shop]}
      Targets: [{Id: log, Arn: !GetAtt EventLog.Arn}]
Parameters:
  PolicyName: {Type: String, Default: stack-events}
  Sid: {Type: String, Default: first}
"""


def test_a_stack_makes_the_policy_cloudformation_users_write(client: Callable[..., Any], events: Any,
                                                            logs: Any) -> None:
    from tests.cloudformation.test_deploy import settled as stack_settled

    cf = client("cloudformation")
    cf.create_stack(StackName="logged", TemplateBody=LOGGED_RULE)
    assert stack_settled(cf, "logged")["StackStatus"] == "CREATE_COMPLETE"
    (policy,) = logs.describe_resource_policies()["resourcePolicies"]
    assert policy["policyName"] == "stack-events" and '"first"' in policy["policyDocument"]
    put(events, {"total": 3})
    wait_for(lambda: len(logged(logs, "/aws/events/stack-orders")) == 1)
    cf.update_stack(StackName="logged", TemplateBody=LOGGED_RULE,
                    Parameters=[{"ParameterKey": "Sid", "ParameterValue": "second"}])
    assert stack_settled(cf, "logged")["StackStatus"] == "UPDATE_COMPLETE"
    (policy,) = logs.describe_resource_policies()["resourcePolicies"]
    assert '"second"' in policy["policyDocument"]  # in place: the same name, a new document
    cf.delete_stack(StackName="logged")
    wait_for(lambda: not logs.describe_resource_policies()["resourcePolicies"])
