"""Another account's caller in EventBridge (with --auth off, a 12-digit access key ID other than the account's
is that account's root user), in every `--iam` mode: an event bus's policy (PutPermission) decides what it may
do with the bus, named by its ARN: put events there, and manage rules on it where the policy says so
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html); by name it reaches its own
account, which holds only its `default` bus here, with no rules.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from conveyor.app import App
from conveyor.config import Config
from conveyor.server import serve_in_thread
from tests.events.conftest import allow_events, receive_all
from tests.test_other_accounts import OTHER, OTHER_ROOT, _partner, _refused

OWNER = "000000000000"
DETAIL = json.dumps({"order": 7})


def _owner(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=BotoConfig(retries={"max_attempts": 1}))


def _bus_with_a_rule(endpoint: str) -> tuple[str, str, str, Callable[[], list[dict[str, Any]]]]:
    """A custom bus with a rule sending what it matches to a queue: its name, ARN, the rule's name, and
    a function returning the events the queue got."""
    events, sqs = _owner(endpoint, "events"), _owner(endpoint, "sqs")
    name = f"orders-{uuid.uuid4().hex[:6]}"
    arn = events.create_event_bus(Name=name)["EventBusArn"]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    rule = "shop-events"
    events.put_rule(Name=rule, EventBusName=name, EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule=rule, EventBusName=name, Targets=[{"Id": "q", "Arn": allow_events(sqs, url)}])
    return name, arn, rule, lambda: [json.loads(m["Body"]) for m in receive_all(sqs, url, 1, wait=2.0)]


def _put(client: Any, bus: str | None) -> dict[str, Any]:
    entry = {"Source": "shop", "DetailType": "Order Placed", "Detail": DETAIL}
    result: dict[str, Any] = client.put_events(Entries=[{**entry, "EventBusName": bus} if bus else entry])
    return result


def _events_across_accounts(endpoint: str) -> None:
    events, theirs = _owner(endpoint, "events"), _partner(endpoint, "events")
    name, arn, rule, delivered = _bus_with_a_rule(endpoint)
    # Without a policy on the bus: AccessDeniedException, which EventBridge sends with HTTP 400
    # (https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html).
    code, message, status = _refused(lambda: _put(theirs, arn))
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (f"User: {OTHER_ROOT} is not authorized to perform: events:PutEvents on resource: {arn} "
                       "because no resource-based policy allows the events:PutEvents action")
    # https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutPermission.html
    events.put_permission(EventBusName=name, Action="events:PutEvents", Principal=OTHER, StatementId="partner")
    put = _put(theirs, arn)
    assert put["FailedEntryCount"] == 0 and put["Entries"][0]["EventId"]
    # The event carries the sender's account (API_PutPermission.html: "Rules with an account field do not
    # match any events sent from other accounts").
    [event] = delivered()
    assert (event["account"], event["source"], event["detail"]) == (OTHER, "shop", {"order": 7})
    # The policy lets it put events, nothing more: the bus and its rules stay the account's.
    for call in (lambda: theirs.put_rule(Name="theirs", EventBusName=arn, EventPattern=json.dumps({"source": ["x"]})),
                 lambda: theirs.describe_rule(Name=rule, EventBusName=arn),
                 lambda: theirs.describe_event_bus(Name=arn),
                 lambda: theirs.list_rules(EventBusName=arn),
                 lambda: theirs.tag_resource(ResourceARN=arn, Tags=[{"Key": "k", "Value": "v"}])):
        assert _refused(call)[0] == "AccessDeniedException"
    # PutPermission names a bus of the caller's own account only (its EventBusName takes no ARN).
    assert _refused(lambda: theirs.put_permission(EventBusName=name, Action="events:PutEvents", Principal="*",
                                                  StatementId="all"))[0] == "ResourceNotFoundException"
    events.remove_permission(EventBusName=name, StatementId="partner")
    assert _refused(lambda: _put(theirs, arn))[0] == "AccessDeniedException"
    # An organization's accounts (Principal "*" with aws:PrincipalOrgID): Conveyor serves no organizations,
    # so no caller is in one; "*" alone lets every account in.
    events.put_permission(EventBusName=name, Action="events:PutEvents", Principal="*", StatementId="org", Condition={
        "Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-a1b2c3d4e5"})
    assert _refused(lambda: _put(theirs, arn))[0] == "AccessDeniedException"
    assert delivered() == []
    events.put_permission(EventBusName=name, Action="events:PutEvents", Principal="*", StatementId="everyone")
    assert _put(theirs, arn)["FailedEntryCount"] == 0
    assert [e["account"] for e in delivered()] == [OTHER]
    events.remove_permission(EventBusName=name, RemoveAllPermissions=True)
    assert _refused(lambda: _put(theirs, arn))[0] == "AccessDeniedException"
    # The owner is served as before; its events carry its own account.
    _put(events, name)
    assert [e["account"] for e in delivered()] == [OWNER]


def _own_account_holds_its_default_bus_alone(endpoint: str) -> None:
    events, theirs = _owner(endpoint, "events"), _partner(endpoint, "events")
    name, arn, rule, delivered = _bus_with_a_rule(endpoint)
    mine = f"arn:aws:events:us-east-1:{OTHER}:event-bus/default"
    assert theirs.list_event_buses()["EventBuses"] == [{"Name": "default", "Arn": mine}]
    assert theirs.list_event_buses(NamePrefix="orders")["EventBuses"] == []
    assert {k: v for k, v in theirs.describe_event_bus().items() if k != "ResponseMetadata"} == {
        "Name": "default", "Arn": mine}
    assert theirs.list_rules()["Rules"] == []
    assert theirs.list_rule_names_by_target(TargetArn="arn:aws:sqs:us-east-1:000000000000:q")["RuleNames"] == []
    # Names are its own account's: EventBridge's words for what does not exist
    # (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeRule.html).
    assert _refused(lambda: theirs.describe_event_bus(Name=name)) == (
        "ResourceNotFoundException", f"Event bus {name} does not exist.", 400)
    assert _refused(lambda: theirs.describe_rule(Name=rule, EventBusName=name))[:2] == (
        "ResourceNotFoundException", f"Event bus {name} does not exist.")
    assert _refused(lambda: theirs.describe_rule(Name=rule))[:2] == (
        "ResourceNotFoundException", f"Rule {rule} does not exist on EventBus default.")
    assert _refused(lambda: theirs.list_rules(EventBusName=name))[0] == "ResourceNotFoundException"
    assert _refused(lambda: theirs.disable_rule(Name=rule))[0] == "ResourceNotFoundException"
    theirs.delete_rule(Name=rule)  # deleting what does not exist succeeds, as on AWS
    theirs.delete_event_bus(Name=name)
    assert theirs.list_tags_for_resource(ResourceARN=mine)["Tags"] == []
    assert _refused(lambda: theirs.list_tags_for_resource(ResourceARN=mine.replace("/default", f"/{name}")))[:2] == (
        "ResourceNotFoundException", f"Event bus {name} does not exist.")
    # Making or changing anything there: AccessDenied (Conveyor holds one account).
    for call in (lambda: theirs.create_event_bus(Name="theirs"),
                 lambda: theirs.tag_resource(ResourceARN=mine, Tags=[{"Key": "k", "Value": "v"}]),
                 lambda: theirs.put_rule(Name="theirs", EventPattern=json.dumps({"source": ["x"]})),
                 lambda: theirs.put_permission(Action="events:PutEvents", Principal=OWNER, StatementId="s")):
        assert _refused(call)[0] == "AccessDeniedException"
    # Its events on its own default bus are taken and match nothing; a custom bus of its own is missing.
    put = _put(theirs, None)
    assert put["FailedEntryCount"] == 0 and put["Entries"][0]["EventId"]
    put = _put(theirs, name)
    assert put["Entries"] == [{"ErrorCode": "ResourceNotFoundException",
                               "ErrorMessage": f"Event bus {name} does not exist."}]
    assert delivered() == []
    # The owner's bus and rule are untouched.
    assert events.describe_rule(Name=rule, EventBusName=name)["State"] == "ENABLED"
    assert events.describe_event_bus(Name=name)["Arn"] == arn


def test_a_bus_policy_lets_another_account_put_events_and_nothing_else(endpoint):
    _events_across_accounts(endpoint)


def test_another_account_holds_only_its_default_bus(endpoint):
    _own_account_holds_its_default_bus_alone(endpoint)


def test_a_bus_policy_lets_another_account_manage_its_own_rules_on_the_bus(endpoint):
    events, theirs = _owner(endpoint, "events"), _partner(endpoint, "events")
    name, arn, rule, delivered = _bus_with_a_rule(endpoint)
    # The example policy of eb-event-bus-example-policy-same-account-creator.html: the other account manages
    # rules on the bus, only those it made itself.
    events.put_permission(EventBusName=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PartnerRules", "Effect": "Allow", "Principal": {"AWS": OTHER_ROOT},
        "Action": ["events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:DisableRule",
                   "events:EnableRule", "events:PutTargets", "events:RemoveTargets"],
        "Resource": f"arn:aws:events:us-east-1:{OWNER}:rule/{name}/*",
        "Condition": {"StringEqualsIfExists": {"events:creatorAccount": "${aws:PrincipalAccount}",
                                               "events:source": "partner"}}}]}))
    # Only rules matching its own source (the policy's `events:source`).
    assert _refused(lambda: theirs.put_rule(Name="snoop", EventBusName=arn, EventPattern=json.dumps(
        {"source": ["shop"]})))[0] == "AccessDeniedException"
    made = theirs.put_rule(Name="partner-rule", EventBusName=arn, EventPattern=json.dumps({"source": ["partner"]}))
    # The rule is the bus owner's (its ARN names that account); CreatedBy names the account that made it
    # (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeRule.html).
    assert made["RuleArn"] == f"arn:aws:events:us-east-1:{OWNER}:rule/{name}/partner-rule"
    described = theirs.describe_rule(Name="partner-rule", EventBusName=arn)
    assert (described["CreatedBy"], described["State"]) == (OTHER, "ENABLED")
    assert events.describe_rule(Name="partner-rule", EventBusName=name)["CreatedBy"] == OTHER
    assert events.describe_rule(Name=rule, EventBusName=name)["CreatedBy"] == OWNER
    theirs.disable_rule(Name="partner-rule", EventBusName=arn)
    assert events.describe_rule(Name="partner-rule", EventBusName=name)["State"] == "DISABLED"
    # The account's own rule: `events:creatorAccount` is the account's, so the policy does not cover it.
    code, message, _ = _refused(lambda: theirs.disable_rule(Name=rule, EventBusName=arn))
    assert code == "AccessDeniedException" and message.startswith(
        f"User: {OTHER_ROOT} is not authorized to perform: events:DisableRule on resource: "
        f"arn:aws:events:us-east-1:{OWNER}:rule/{name}/{rule}")
    assert _refused(lambda: theirs.put_rule(Name=rule, EventBusName=arn, EventPattern=json.dumps(
        {"source": ["partner"]})))[0] == "AccessDeniedException"
    assert events.describe_rule(Name=rule, EventBusName=name)["EventPattern"] == json.dumps({"source": ["shop"]})
    # Putting events is not among what the policy grants.
    assert _refused(lambda: _put(theirs, arn))[0] == "AccessDeniedException"
    theirs.delete_rule(Name="partner-rule", EventBusName=arn)
    assert [r["Name"] for r in events.list_rules(EventBusName=name)["Rules"]] == [rule]
    _put(events, name)
    assert len(delivered()) == 1


def test_with_iam_enforced_a_bus_policy_still_decides(tmp_path):
    app = App(Config(data_dir=tmp_path, port=0, clock="manual", auth="off", iam="enforce"))
    with serve_in_thread(app) as url:
        _events_across_accounts(url)
        _own_account_holds_its_default_bus_alone(url)


def test_the_account_that_made_a_rule_survives_a_kill(start_server):
    server = start_server(None, "--auth", "off")
    events = _owner(server.endpoint, "events")
    arn = events.create_event_bus(Name="shared")["EventBusArn"]
    events.put_permission(EventBusName="shared", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": ["events:PutRule", "events:DescribeRule",
                                                                  "events:EnableRule", "events:DisableRule"],
        "Resource": f"arn:aws:events:us-east-1:{OWNER}:rule/shared/*",
        "Condition": {"StringEqualsIfExists": {"events:creatorAccount": "${aws:PrincipalAccount}"}}}]}))
    _partner(server.endpoint, "events").put_rule(Name="theirs", EventBusName=arn,
                                                 EventPattern=json.dumps({"source": ["partner"]}))
    events.put_rule(Name="mine", EventBusName="shared", EventPattern=json.dumps({"source": ["shop"]}))
    server.kill()  # kill -9: the acknowledged rule, with the account that made it, is on disk
    server.start()
    events, theirs = _owner(server.endpoint, "events"), _partner(server.endpoint, "events")
    assert events.describe_rule(Name="theirs", EventBusName="shared")["CreatedBy"] == OTHER
    assert events.describe_rule(Name="mine", EventBusName="shared")["CreatedBy"] == OWNER
    theirs.disable_rule(Name="theirs", EventBusName=arn)
    assert _refused(lambda: theirs.disable_rule(Name="mine", EventBusName=arn))[0] == "AccessDeniedException"
    assert events.describe_event_bus(Name="shared")["Policy"]


def test_a_bus_policy_can_let_another_account_put_only_events_of_one_source(endpoint):
    events, theirs = _owner(endpoint, "events"), _partner(endpoint, "events")
    name, arn, _, delivered = _bus_with_a_rule(endpoint)
    # The example policy of eb-event-bus-example-policy-cross-account-custom-bus-source.html.
    events.put_permission(EventBusName=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "WebStoreCrossAccountPublish", "Effect": "Allow", "Action": ["events:PutEvents"],
        "Principal": {"AWS": OTHER_ROOT}, "Resource": arn,
        "Condition": {"ForAllValues:StringEquals": {"events:source": "shop",
                                                     "events:detail-type": "Order Placed"}}}]}))
    assert _put(theirs, arn)["FailedEntryCount"] == 0
    assert [e["detail-type"] for e in delivered()] == ["Order Placed"]
    other = {"Source": "shop", "DetailType": "Order Cancelled", "Detail": DETAIL, "EventBusName": arn}
    code, message, _ = _refused(lambda: theirs.put_events(Entries=[other]))
    assert (code, message) == ("AccessDeniedException", f"User: {OTHER_ROOT} is not authorized to perform: "
                               f"events:PutEvents on resource: {arn} because no resource-based policy allows the "
                               "events:PutEvents action")
    # One entry outside the policy refuses the request, nothing of it going in (AWS's pages do not say whether
    # such an entry would fail alone: the whole request is Conveyor's choice).
    both = [{"Source": "shop", "DetailType": "Order Placed", "Detail": DETAIL, "EventBusName": arn}, other]
    assert _refused(lambda: theirs.put_events(Entries=both))[0] == "AccessDeniedException"
    assert delivered() == []
