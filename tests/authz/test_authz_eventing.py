"""`--iam enforce` through boto3 for EventBridge, EventBridge Scheduler and CloudFront: each names its
rules, buses, schedules, groups and distributions by ARN, iam:PassRole on the roles its targets run as,
and refuses in its own error shape."""

from __future__ import annotations

import uuid
from typing import Any

from tests.authz.conftest import ACCOUNT, Server, allow, policy, refused

REGION = "us-east-1"
NOT_ALLOWED = "because no identity-based policy allows the {} action"


def _role(server: Server, name: str, service: str) -> str:
    return str(server.root("iam").create_role(RoleName=name, AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}))["Role"]["Arn"])


def _denied(user: str, action: str, resource: str) -> str:
    return (f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: {action} on resource: "
            f"{resource} {NOT_ALLOWED.format(action)}")


def test_eventbridge_rules_buses_and_the_roles_targets_pass(server: Server) -> None:
    root = server.root("events")
    audit = root.create_event_bus(Name="audit")["EventBusArn"]
    role = _role(server, "forwarder", "events.amazonaws.com")
    other_role = _role(server, "other", "events.amazonaws.com")
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly"
    events = server.user("erin", allow(["events:PutRule", "events:PutTargets"], rule),
                         allow("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"),
                         allow("iam:PassRole", role,
                               Condition={"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}}))("events")
    assert events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")["RuleArn"] == rule
    # Another rule, and a rule of that name on another bus (`rule/BUS/NAME`), are other resources.
    code, message, status = refused(lambda: events.put_rule(Name="hourly", ScheduleExpression="rate(1 hour)"))
    # EventBridge's AccessDeniedException is a 400, as its other client errors.
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == _denied("erin", "events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/hourly")
    _, message, _ = refused(lambda: events.put_rule(Name="nightly", EventBusName="audit",
                                                    ScheduleExpression="rate(1 day)"))
    assert message == _denied("erin", "events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/audit/nightly")
    # A target's role is passed to EventBridge: iam:PassRole on it, for events.amazonaws.com.
    assert events.put_targets(Rule="nightly", Targets=[{"Id": "fwd", "Arn": audit, "RoleArn": role}])[
        "FailedEntryCount"] == 0
    code, message, _ = refused(lambda: events.put_targets(
        Rule="nightly", Targets=[{"Id": "fwd", "Arn": audit, "RoleArn": other_role}]))
    assert code == "AccessDeniedException"
    assert message == _denied("erin", "iam:PassRole", other_role)
    assert root.list_targets_by_rule(Rule="nightly")["Targets"][0]["RoleArn"] == role
    # PutEvents needs events:PutEvents on each bus its entries name.
    entry = {"Source": "app", "DetailType": "ping", "Detail": "{}"}
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    _, message, _ = refused(lambda: events.put_events(Entries=[entry, {**entry, "EventBusName": "audit"}]))
    assert message == _denied("erin", "events:PutEvents", audit)
    _, message, _ = refused(lambda: events.describe_event_bus(Name=audit))
    assert message == _denied("erin", "events:DescribeEventBus", audit)


def test_scheduler_schedules_groups_and_the_execution_role(server: Server) -> None:
    root = server.root("scheduler")
    root.create_schedule_group(Name="ops")
    queue = server.root("sqs").create_queue(QueueName="ticks")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:ticks"
    assert queue.endswith("/ticks")
    role = _role(server, "ticker", "scheduler.amazonaws.com")
    other_role = _role(server, "stranger", "scheduler.amazonaws.com")
    schedules = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/*"
    scheduler = server.user("sam", allow(["scheduler:CreateSchedule", "scheduler:GetSchedule"], schedules),
                            allow("iam:PassRole", role,
                                  Condition={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}))(
        "scheduler")

    def create(name: str, group: str | None = None, role_arn: str = role) -> Any:
        return scheduler.create_schedule(Name=name, ScheduleExpression="rate(1 hour)",
                                         FlexibleTimeWindow={"Mode": "OFF"},
                                         Target={"Arn": queue_arn, "RoleArn": role_arn},
                                         **({"GroupName": group} if group else {}))

    created = create("tick")["ScheduleArn"]
    assert created == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/tick"
    assert scheduler.get_schedule(Name="tick")["Target"]["RoleArn"] == role
    code, message, status = refused(lambda: create("tick", "ops"))
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == _denied("sam", "scheduler:CreateSchedule",
                              f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/ops/tick")
    _, message, _ = refused(lambda: create("tock", role_arn=other_role))
    assert message == _denied("sam", "iam:PassRole", other_role)
    _, message, _ = refused(lambda: scheduler.create_schedule_group(Name="mine"))
    assert message == _denied("sam", "scheduler:CreateScheduleGroup",
                              f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/mine")
    _, message, _ = refused(lambda: scheduler.delete_schedule(Name="tick"))
    assert message == _denied("sam", "scheduler:DeleteSchedule", created)
    assert [s["Name"] for s in root.list_schedules()["Schedules"]] == ["tick"]


def test_cloudfront_distributions_invalidations_and_policies(server: Server) -> None:
    root = server.root("cloudfront")

    def config() -> dict[str, Any]:
        return {"CallerReference": str(uuid.uuid4()), "Comment": "", "Enabled": True,
                "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": "site.s3.us-east-1.amazonaws.com",
                                                      "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
                "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                         "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}

    mine = root.create_distribution(DistributionConfig=config())["Distribution"]
    theirs = root.create_distribution(DistributionConfig=config())["Distribution"]
    cf = server.user("cleo", allow(["cloudfront:GetDistribution", "cloudfront:CreateInvalidation"],
                                   mine["ARN"]))("cloudfront")
    assert cf.get_distribution(Id=mine["Id"])["Distribution"]["ARN"] == mine["ARN"]
    assert mine["ARN"] == f"arn:aws:cloudfront::{ACCOUNT}:distribution/{mine['Id']}"
    code, message, status = refused(lambda: cf.get_distribution(Id=theirs["Id"]))
    # CloudFront's AccessDenied (403) in its XML ErrorResponse.
    assert (code, status) == ("AccessDenied", 403)
    assert message == _denied("cleo", "cloudfront:GetDistribution", theirs["ARN"])
    batch = {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "r1"}
    assert cf.create_invalidation(DistributionId=mine["Id"], InvalidationBatch=batch)["Invalidation"]["Id"]
    # An invalidation acts on its distribution.
    _, message, _ = refused(lambda: cf.create_invalidation(DistributionId=theirs["Id"], InvalidationBatch=batch))
    assert message == _denied("cleo", "cloudfront:CreateInvalidation", theirs["ARN"])
    _, message, _ = refused(lambda: cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": "oac", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"}))
    assert message == _denied("cleo", "cloudfront:CreateOriginAccessControl",
                              f"arn:aws:cloudfront::{ACCOUNT}:origin-access-control/*")
    _, message, _ = refused(lambda: cf.get_cache_policy(Id="658327ea-f89d-4fab-a63d-7e88639e58f6"))
    assert message == _denied("cleo", "cloudfront:GetCachePolicy",
                              f"arn:aws:cloudfront::{ACCOUNT}:cache-policy/658327ea-f89d-4fab-a63d-7e88639e58f6")
    _, message, _ = refused(lambda: cf.create_distribution(DistributionConfig=config()))
    assert message == _denied("cleo", "cloudfront:CreateDistribution", f"arn:aws:cloudfront::{ACCOUNT}:distribution/*")
    assert len(root.list_distributions()["DistributionList"]["Items"]) == 2
