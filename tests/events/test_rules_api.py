"""Buses, rules, targets, permissions, tags and PutEvents' answers through boto3, errors included (code,
status and message as EventBridge sends them)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.events.conftest import allow_events

ACCOUNT = "000000000000"


def error(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as err:
        call()
    return {**err.value.response["Error"], "Status": err.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def test_rules_lifecycle(events: Any) -> None:
    arn = events.put_rule(Name="uploads", EventPattern='{"source": ["my.app"]}', Description="d",
                          Tags=[{"Key": "team", "Value": "a"}])["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/uploads"
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 2 * * ? *)", State="DISABLED")
    described = events.describe_rule(Name="uploads")
    assert {k: described[k] for k in ("Name", "Arn", "EventPattern", "State", "Description", "EventBusName",
                                      "CreatedBy")} == {
        "Name": "uploads", "Arn": arn, "EventPattern": '{"source": ["my.app"]}', "State": "ENABLED",
        "Description": "d", "EventBusName": "default", "CreatedBy": ACCOUNT}
    assert [r["Name"] for r in events.list_rules()["Rules"]] == ["nightly", "uploads"]
    assert [r["Name"] for r in events.list_rules(NamePrefix="up")["Rules"]] == ["uploads"]
    first = events.list_rules(Limit=1)
    assert [r["Name"] for r in first["Rules"]] == ["nightly"]
    assert [r["Name"] for r in events.list_rules(Limit=1, NextToken=first["NextToken"])["Rules"]] == ["uploads"]
    events.enable_rule(Name="nightly")
    assert events.describe_rule(Name="nightly")["State"] == "ENABLED"
    events.disable_rule(Name="uploads")
    assert events.describe_rule(Name="uploads")["State"] == "DISABLED"
    # An update keeps the rule's tags and targets.
    events.put_targets(Rule="uploads", Targets=[{"Id": "t", "Arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:x"}])
    events.put_rule(Name="uploads", EventPattern='{"source": ["other"]}')
    assert events.describe_rule(Name="uploads")["State"] == "ENABLED"
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="uploads")["Targets"]] == ["t"]
    assert events.list_rule_names_by_target(TargetArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:x")["RuleNames"] == ["uploads"]
    assert error(lambda: events.delete_rule(Name="uploads")) == {
        "Code": "ValidationException", "Message": "Rule can't be deleted since it has targets.", "Status": 400}
    events.remove_targets(Rule="uploads", Ids=["t"])
    events.delete_rule(Name="uploads")
    events.delete_rule(Name="uploads")  # deleting twice is fine
    assert error(lambda: events.describe_rule(Name="uploads")) == {
        "Code": "ResourceNotFoundException", "Message": "Rule uploads does not exist on EventBus default.",
        "Status": 400}


@pytest.mark.parametrize("expression", [
    "rate(10 seconds)", "rate(10 years)", "rate(1 minutes)", "rate(1 hours)", "rate(1 days)", "rate(10 minute)",
    "rate(10 hour)", "rate(10 day)", "rate()", "rate(10)", "rate(foo minutes)", "rate(0 minutes)",
    "rate(-10 minutes)", "rate(10 MINUTES)", "rate( 10 minutes )", " rate(10 minutes)",
    "cron(0 12 * * * *)", "cron(0 12 ? * ? *)", "cron(0 12 * * ?)", "cron(60 12 * * ? *)", "cron(0 24 * * ? *)",
    "cron(0 12 32 * ? *)", "cron(0 12 ? * 8 *)", "cron(0 12 ? * 3#6 *)", "cron(0 12 * 13 ? *)",
])
def test_schedule_expressions_refused(events: Any, expression: str) -> None:
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
    assert error(lambda: events.put_rule(Name="r", ScheduleExpression=expression)) == {
        "Code": "ValidationException", "Message": "Parameter ScheduleExpression is not valid.", "Status": 400}


@pytest.mark.parametrize("expression", [
    "rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)", "rate(7 days)",
    "cron(0 10 * * ? *)", "cron(15 12 * * ? *)", "cron(0 18 ? * MON-FRI *)", "cron(0 8 1 * ? *)",
    "cron(0/15 * * * ? *)", "cron(0/5 8-17 ? * MON-FRI *)", "cron(0 9 ? * 2#1 *)", "cron(0 9 L * ? *)",
    "cron(0 9 ? * 6L *)", "cron(0 9 15W * ? *)", "cron(0 0 1 JAN,JUL ? 2030-2035)",
])
def test_schedule_expressions_accepted(events: Any, expression: str) -> None:
    events.put_rule(Name="r", ScheduleExpression=expression)
    assert events.describe_rule(Name="r")["ScheduleExpression"] == expression


def test_rule_errors(events: Any) -> None:
    assert error(lambda: events.put_rule(Name="r")) == {
        "Code": "ValidationException", "Message": "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        "Status": 400}
    events.create_event_bus(Name="orders")
    assert error(lambda: events.put_rule(Name="r", EventBusName="orders", ScheduleExpression="rate(1 minute)")) == {
        "Code": "ValidationException", "Message": "ScheduleExpression is supported only on the default event bus.",
        "Status": 400}
    assert error(lambda: events.put_rule(Name="r", EventBusName="nope", EventPattern='{"a": ["b"]}')) == {
        "Code": "ResourceNotFoundException", "Message": "Event bus nope does not exist.", "Status": 400}
    bad_name = error(lambda: events.put_rule(Name="a b", EventPattern='{"a": ["b"]}'))
    assert bad_name["Code"] == "ValidationException" and bad_name["Message"].startswith(
        "1 validation error detected: Value 'a b' at 'name' failed to satisfy constraint")
    assert error(lambda: events.enable_rule(Name="nope"))["Code"] == "ResourceNotFoundException"
    assert error(lambda: events.put_targets(Rule="nope", Targets=[{"Id": "t", "Arn": "arn:aws:sns:us-east-1:1:x"}]))[
        "Message"] == "Rule nope does not exist on EventBus default."


def test_buses(events: Any) -> None:
    created = events.create_event_bus(Name="orders", Description="orders bus", Tags=[{"Key": "k", "Value": "v"}])
    arn = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/orders"
    assert created["EventBusArn"] == arn
    assert error(lambda: events.create_event_bus(Name="orders")) == {
        "Code": "ResourceAlreadyExistsException", "Message": "Event bus orders already exists.", "Status": 400}
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default", "orders"]
    assert [b["Name"] for b in events.list_event_buses(NamePrefix="or")["EventBuses"]] == ["orders"]
    described = events.describe_event_bus(Name=arn)
    assert described["Name"] == "orders" and described["Description"] == "orders bus" and "CreationTime" in described
    assert events.describe_event_bus()["Arn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    events.put_rule(Name="r", EventBusName="orders", EventPattern='{"source": ["shop"]}')
    assert events.describe_rule(Name="r", EventBusName="orders")["Arn"] == \
        f"arn:aws:events:us-east-1:{ACCOUNT}:rule/orders/r"
    assert error(lambda: events.delete_event_bus(Name="default")) == {
        "Code": "ValidationException", "Message": "Cannot delete event bus default.", "Status": 400}
    events.delete_event_bus(Name="orders")
    assert error(lambda: events.describe_event_bus(Name="orders")) == {
        "Code": "ResourceNotFoundException", "Message": "Event bus orders does not exist.", "Status": 400}
    assert error(lambda: events.create_event_bus(Name="x", KmsKeyIdentifier="k"))["Code"] == "ValidationException"


def test_bus_permissions(events: Any) -> None:
    events.put_permission(Action="events:PutEvents", Principal="111122223333", StatementId="partner")
    events.put_permission(Action="events:PutEvents", Principal="*", StatementId="org", Condition={
        "Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-123"})
    policy = json.loads(events.describe_event_bus()["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["partner", "org"]
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert policy["Statement"][1]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}
    events.remove_permission(StatementId="partner")
    assert [s["Sid"] for s in json.loads(events.describe_event_bus()["Policy"])["Statement"]] == ["org"]
    assert error(lambda: events.remove_permission(StatementId="nope")) == {
        "Code": "ResourceNotFoundException", "Message": "Statement with the provided id does not exist.",
        "Status": 400}
    events.remove_permission(RemoveAllPermissions=True)
    assert "Policy" not in events.describe_event_bus()


def test_tags(events: Any) -> None:
    arn = events.put_rule(Name="r", EventPattern='{"a": ["b"]}')["RuleArn"]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    events.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    assert error(lambda: events.list_tags_for_resource(
        ResourceARN=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nope"))["Message"] == \
        "Rule nope does not exist on EventBus default."


def test_put_events_answers_entry_by_entry(events: Any) -> None:
    answer = events.put_events(Entries=[
        {"Source": "my.app", "DetailType": "t", "Detail": '{"a": 1}'},
        {"DetailType": "t", "Detail": "{}"},
        {"Source": "my.app", "Detail": "{}"},
        {"Source": "my.app", "DetailType": "t"},
        {"Source": "my.app", "DetailType": "t", "Detail": "[1, 2]"},
        {"Source": "my.app", "DetailType": "t", "Detail": "{}", "EventBusName": "nope"},
    ])
    assert answer["FailedEntryCount"] == 5
    assert set(answer["Entries"][0]) == {"EventId"}
    assert answer["Entries"][1:] == [
        {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required "
                                                         "argument."},
        {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter DetailType is not valid. Reason: DetailType is a "
                                                         "required argument."},
        {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required "
                                                         "argument."},
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
        {"ErrorCode": "ResourceNotFoundException", "ErrorMessage": "Event bus nope does not exist."},
    ]
    too_many = error(lambda: events.put_events(Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}] * 11))
    assert too_many["Code"] == "ValidationException" and "at 'entries' failed to satisfy constraint: Member must " \
        "have length less than or equal to 10" in too_many["Message"]
    big = "x" * (200 * 1024)
    assert error(lambda: events.put_events(Entries=[{"Source": "s", "DetailType": "t",
                                                     "Detail": json.dumps({"a": big})}] * 2)) == {
        "Code": "ValidationException", "Message": "Total size of the entries in the request is over the limit.",
        "Status": 400}


def test_put_targets_checks(events: Any, sqs: Any) -> None:
    events.put_rule(Name="r", EventPattern='{"source": ["a"]}')
    fifo = sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    fifo_arn = allow_events(sqs, fifo)
    assert error(lambda: events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": fifo_arn}])) == {
        "Code": "ValidationException", "Message": "Parameter(s) SqsParameters must be specified for target: q.",
        "Status": 400}
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/other"
    assert error(lambda: events.put_targets(Rule="r", Targets=[{"Id": "b", "Arn": bus}])) == {
        "Code": "ValidationException", "Message": f"RoleArn is required for target {bus}.", "Status": 400}
    assert error(lambda: events.put_targets(Rule="r", Targets=[{"Id": "x", "Arn": "not-an-arn"}]))["Message"] == \
        "Provided Arn is not in correct format."
    assert "is not supported by Conveyor" in error(lambda: events.put_targets(Rule="r", Targets=[
        {"Id": "k", "Arn": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s"}]))["Message"]
    assert error(lambda: events.put_targets(Rule="r", Targets=[
        {"Id": "t", "Arn": fifo_arn, "Input": "{}", "InputPath": "$.detail",
         "SqsParameters": {"MessageGroupId": "g"}}]))["Message"] == \
        "Only one of Input, InputPath, or InputTransformer must be provided for target t."
    events.put_targets(Rule="r", Targets=[{"Id": str(i), "Arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t{i}"}
                                          for i in range(5)])
    assert error(lambda: events.put_targets(Rule="r", Targets=[{"Id": "6", "Arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:x"}]
                                            )) == {"Code": "LimitExceededException", "Status": 400,
                                                   "Message": "The requested resource exceeds the maximum number allowed."}
    retry = error(lambda: events.put_targets(Rule="r", Targets=[{"Id": "0", "Arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:x",
                                                                 "RetryPolicy": {"MaximumRetryAttempts": 186}}]))
    assert retry["Code"] == "ValidationException" and "Member must have value less than or equal to 185" in \
        retry["Message"]


def test_archives_and_api_destinations_are_not_served(events: Any) -> None:
    refused = error(lambda: events.list_archives())
    assert refused["Code"] == "NotImplemented" and refused["Status"] == 501
