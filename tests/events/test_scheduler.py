"""EventBridge Scheduler through boto3 and the AWS CLI, on the manual clock: one-time and recurring schedules,
time zones, start and end dates, flexible windows, ActionAfterCompletion, groups, targets invoked as the
execution role, retries into a dead-letter queue, and a restart that neither repeats nor loses a run."""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.request
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from tests.conftest import lambda_role, post_json
from tests.events.conftest import RECORDER, allow_events, receive_all, recorded
from tests.helpers import wait_for
from tests.lambda_.conftest import make_zip

ACCOUNT = "000000000000"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
OFF = {"Mode": "OFF"}
SLACK = 0.001  # past a due time by a hair: sums of float seconds may land a rounding error short of it


def now(endpoint: str) -> float:
    with urllib.request.urlopen(f"{endpoint}/_conveyor/clock", timeout=10) as response:
        return float(json.load(response)["now"])


def health(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_conveyor/health", timeout=10) as response:
        return dict(json.load(response)["services"]["scheduler"])


@pytest.fixture
def scheduler(client: Any) -> Any:
    return client("scheduler")


@pytest.fixture
def role(client: Any) -> str:
    return str(client("iam").create_role(RoleName="scheduler-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_one_time_schedule_in_a_time_zone_deletes_itself(scheduler: Any, sqs: Any, role: str, advance: Any,
                                                          endpoint: str) -> None:
    url, arn = queue(sqs, "once")
    zone = ZoneInfo("America/New_York")
    local = (dt.datetime.fromtimestamp(now(endpoint), zone) + dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    created = scheduler.create_schedule(
        Name="once", ScheduleExpression=f"at({local.strftime('%Y-%m-%dT%H:%M:%S')})",
        ScheduleExpressionTimezone="America/New_York", FlexibleTimeWindow=OFF, ActionAfterCompletion="DELETE",
        Target={"Arn": arn, "RoleArn": role, "Input": '{"run": "<aws.scheduler.scheduled-time>"}'})
    assert created["ScheduleArn"] == f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/once"
    got = scheduler.get_schedule(Name="once")
    assert got["ScheduleExpressionTimezone"] == "America/New_York" and got["State"] == "ENABLED"
    assert got["Target"]["Arn"] == arn and got["ActionAfterCompletion"] == "DELETE"
    due = local.timestamp() - now(endpoint)
    advance(due - 1)
    assert receive_all(sqs, url, 0, wait=0.5) == []
    advance(1 + SLACK)
    (message,) = receive_all(sqs, url, 1)
    utc = local.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert json.loads(message["Body"]) == {"run": utc}
    wait_for(lambda: health(endpoint)["schedules"] == 0)  # completed: deleted
    with pytest.raises(ClientError) as err:
        scheduler.get_schedule(Name="once")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_rate_schedule_within_start_and_end_dates(scheduler: Any, client: Any, role: str, advance: Any,
                                                  endpoint: str, tmp_path: Any) -> None:
    out = tmp_path / "runs.jsonl"
    fn = client("lambda").create_function(
        FunctionName="job", Role=lambda_role(client("iam")),
        Runtime="python3.12", Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip(RECORDER)},
        Environment={"Variables": {"OUT": str(out)}})["FunctionArn"]
    start = now(endpoint) + 600
    scheduler.create_schedule(
        Name="job", ScheduleExpression="rate(5 minutes)", StartDate=dt.datetime.fromtimestamp(start, dt.UTC),
        EndDate=dt.datetime.fromtimestamp(start + 1200, dt.UTC), FlexibleTimeWindow=OFF,
        Target={"Arn": fn, "RoleArn": role, "Input": '{"attempt": "<aws.scheduler.attempt-number>"}'})
    for _ in range(12):  # an hour, five minutes at a time
        advance(300)
    # At the start date, then 5, 10 and 15 minutes later; 20 minutes later is the end date, "before which"
    # the schedule invokes its target.
    wait_for(lambda: len(recorded(out)) == 4)
    assert recorded(out) == [{"attempt": "1"}] * 4
    assert health(endpoint)["invocations"] == 4


def test_cron_with_a_flexible_window(scheduler: Any, sqs: Any, role: str, advance: Any, endpoint: str) -> None:
    url, arn = queue(sqs, "flex")
    scheduler.create_schedule(Name="hourly", ScheduleExpression="cron(0 * * * ? *)",
                              FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10},
                              Target={"Arn": arn, "RoleArn": role})
    start = now(endpoint)
    top = (dt.datetime.fromtimestamp(start, dt.UTC) + dt.timedelta(hours=1)).replace(minute=0, second=0,
                                                                                       microsecond=0)
    advance(top.timestamp() - start + SLACK)
    wait_for(lambda: health(endpoint)["invocations"] == 1)
    advance(600)  # the whole window
    (message,) = receive_all(sqs, url, 1)
    assert json.loads(message["Body"]) == {}


def test_failed_invocations_go_to_the_dead_letter_queue(scheduler: Any, sqs: Any, client: Any, role: str,
                                                        advance: Any, endpoint: str) -> None:
    dlq_url, dlq = queue(sqs, "dlq")
    missing = f"arn:aws:sqs:us-east-1:{ACCOUNT}:gone"
    scheduler.create_schedule(Name="s", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=OFF,
                              Target={"Arn": missing, "RoleArn": role, "DeadLetterConfig": {"Arn": dlq}})
    # A rate schedule without a start date runs at once.
    (dead,) = receive_all(sqs, dlq_url, 1)
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException" and attributes["TARGET_ARN"] == missing
    assert attributes["SCHEDULE_ARN"] == f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/s"
    assert attributes["RETRY_ATTEMPTS"] == "0" and attributes["EXECUTION_ID"]  # a missing target is not retried
    # A role Scheduler may not assume: the invocation fails too.
    url, arn = queue(sqs, "q")
    lambda_only = lambda_role(client("iam"), "other")
    scheduler.update_schedule(Name="s", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=OFF,
                              Target={"Arn": arn, "RoleArn": lambda_only, "DeadLetterConfig": {"Arn": dlq}})
    (denied,) = receive_all(sqs, dlq_url, 1)
    assert denied["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "AccessDeniedException"
    assert receive_all(sqs, url, 0, wait=0) == []


def test_event_bus_target(scheduler: Any, client: Any, sqs: Any, role: str) -> None:
    events = client("events")
    url, _ = queue(sqs, "from-bus")
    arn = allow_events(sqs, url)
    events.put_rule(Name="r", EventPattern='{"source": ["my.scheduler"]}')
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn}])
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    scheduler.create_schedule(Name="s", ScheduleExpression="rate(10 minutes)", FlexibleTimeWindow=OFF, Target={
        "Arn": bus, "RoleArn": role, "Input": '{"job": "report"}',
        "EventBridgeParameters": {"Source": "my.scheduler", "DetailType": "Report Due"}})
    (message,) = receive_all(sqs, url, 1)
    event = json.loads(message["Body"])
    assert event["source"] == "my.scheduler" and event["detail-type"] == "Report Due"
    assert event["detail"] == {"job": "report"}
    assert event["resources"] == [f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/s"]


def test_groups_listing_and_errors(scheduler: Any, sqs: Any, role: str) -> None:
    _, arn = queue(sqs, "q")
    fifo_url, fifo = queue(sqs, "q.fifo", FifoQueue="true")
    group = scheduler.create_schedule_group(Name="reports", Tags=[{"Key": "team", "Value": "a"}])["ScheduleGroupArn"]
    assert group == f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule-group/reports"
    assert [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]] == ["default", "reports"]
    assert scheduler.list_tags_for_resource(ResourceArn=group)["Tags"] == [{"Key": "team", "Value": "a"}]
    target = {"Arn": arn, "RoleArn": role}
    scheduler.create_schedule(Name="a", GroupName="reports", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF,
                              Target=target)
    scheduler.create_schedule(Name="b", ScheduleExpression="cron(0 9 ? * MON-FRI *)", FlexibleTimeWindow=OFF,
                              Target=target, State="DISABLED")
    listed = scheduler.list_schedules()["Schedules"]
    assert [(s["GroupName"], s["Name"], s["State"]) for s in listed] == [("default", "b", "DISABLED"),
                                                                           ("reports", "a", "ENABLED")]
    assert [s["Name"] for s in scheduler.list_schedules(GroupName="reports")["Schedules"]] == ["a"]
    assert [s["Name"] for s in scheduler.list_schedules(State="DISABLED")["Schedules"]] == ["b"]

    def error(**kwargs: Any) -> dict[str, Any]:
        with pytest.raises(ClientError) as err:
            scheduler.create_schedule(**{"Name": "x", "ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": OFF,
                                         "Target": target, **kwargs})
        return {**err.value.response["Error"], "Status": err.value.response["ResponseMetadata"]["HTTPStatusCode"]}

    assert error(Name="a", GroupName="reports")["Code"] == "ConflictException"
    assert error(Name="a", GroupName="reports")["Status"] == 409
    # A retry of a create with its ClientToken answers the same schedule; another token, or the same token
    # with other settings, is the conflict.
    once = {"Name": "c", "ScheduleExpression": "rate(2 hours)", "FlexibleTimeWindow": OFF, "Target": target,
            "ClientToken": "retry-1"}
    created = scheduler.create_schedule(**once)["ScheduleArn"]
    assert scheduler.create_schedule(**once)["ScheduleArn"] == created
    assert error(**{**once, "ClientToken": "retry-2"})["Code"] == "ConflictException"
    assert error(**{**once, "ScheduleExpression": "rate(3 hours)"})["Code"] == "ConflictException"
    scheduler.delete_schedule(Name="c")
    assert error(GroupName="nope") == {"Code": "ResourceNotFoundException", "Status": 404,
                                       "Message": "Schedule group nope does not exist."}
    assert error(ScheduleExpression="rate(1 minutes)")["Message"] == "Invalid Schedule Expression rate(1 minutes)."
    assert error(ScheduleExpressionTimezone="Mars/Olympus")["Code"] == "ValidationException"
    assert error(FlexibleTimeWindow={"Mode": "FLEXIBLE"})["Code"] == "ValidationException"
    assert error(Target={"Arn": fifo, "RoleArn": role})["Code"] == "ValidationException"
    assert "is not supported by Conveyor" in error(Target={
        "Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage", "RoleArn": role})["Message"]
    scheduler.delete_schedule_group(Name="reports")  # with its schedules
    assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["b"]
    with pytest.raises(ClientError) as err:
        scheduler.delete_schedule_group(Name="default")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert receive_all(sqs, fifo_url, 0, wait=0) == []


def test_a_schedule_survives_kill_9(start_server: Any) -> None:
    server = start_server(None, "--clock", "manual")
    iam, sqs = server.client("iam"), server.client("sqs")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    url, arn = queue(sqs, "ticks")
    create = {"Name": "tick", "ScheduleExpression": "rate(10 minutes)", "FlexibleTimeWindow": OFF,
              "Target": {"Arn": arn, "RoleArn": role}, "ClientToken": "first"}
    created = server.client("scheduler").create_schedule(**create)["ScheduleArn"]
    start = now(server.endpoint)
    assert len(receive_all(sqs, url, 1)) == 1  # at once
    post_json(f"{server.endpoint}/_conveyor/clock", {"advance": 600})
    assert len(receive_all(sqs, url, 1)) == 1
    server.kill()
    # Down from minute 10 to minute 31: the run of minute 10 is not made again, those of minutes 20 and 30
    # are made once, at start.
    env = {**os.environ, "CONVEYOR_CLOCK_START": str(start + 1860)}
    restarted = start_server(server.data_dir, "--clock", "manual", port=server.port, env=env)
    sqs = restarted.client("sqs")
    assert len(receive_all(sqs, url, 1, wait=2)) == 1
    assert restarted.client("scheduler").create_schedule(**create)["ScheduleArn"] == created  # the token is kept
    post_json(f"{restarted.endpoint}/_conveyor/clock", {"advance": 540})  # minute 40
    assert len(receive_all(sqs, url, 1)) == 1


def test_the_cli(aws: Any, sqs: Any, role: str) -> None:
    _, arn = queue(sqs, "cli")
    created = aws("scheduler", "create-schedule", "--name", "nightly", "--schedule-expression", "cron(0 2 * * ? *)",
                  "--schedule-expression-timezone", "Europe/Paris", "--flexible-time-window", "Mode=OFF",
                  "--target", json.dumps({"Arn": arn, "RoleArn": role, "Input": "{}"}))
    assert created["ScheduleArn"].endswith(":schedule/default/nightly")
    assert aws("scheduler", "get-schedule", "--name", "nightly")["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert [s["Name"] for s in aws("scheduler", "list-schedules")["Schedules"]] == ["nightly"]
    aws("scheduler", "delete-schedule", "--name", "nightly")
    assert aws("scheduler", "list-schedules")["Schedules"] == []
