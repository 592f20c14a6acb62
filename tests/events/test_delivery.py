"""Matched events reach their targets through boto3: queues (FIFO ones in order, with their group), topics,
functions and other buses, each only when its resource policy (or role) lets EventBridge deliver; Input,
InputPath and InputTransformer; retries on the clock and the dead-letter queue."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import lambda_role
from tests.events.conftest import allow_events, events_health, receive_all, recorded, settled
from tests.helpers import wait_for

ACCOUNT = "000000000000"
EVENTS_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def put(events: Any, detail: dict[str, Any], source: str = "shop", bus: str | None = None) -> str:
    entry: dict[str, Any] = {"Source": source, "DetailType": "order", "Detail": json.dumps(detail)}
    if bus:
        entry["EventBusName"] = bus
    answer = events.put_events(Entries=[entry])
    assert answer["FailedEntryCount"] == 0, answer
    return str(answer["Entries"][0]["EventId"])


def test_queue_target_gets_the_event_only_with_a_policy(events: Any, sqs: Any, endpoint: str) -> None:
    rule = events.put_rule(Name="orders", EventPattern='{"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}')
    url = sqs.create_queue(QueueName="big-orders")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dlq_arn = allow_events(sqs, dlq, rule["RuleArn"])
    events.put_targets(Rule="orders", Targets=[{"Id": "q", "Arn": queue_arn, "DeadLetterConfig": {"Arn": dlq_arn}}])

    # No policy on the queue yet: not retried, straight to the dead-letter queue with AWS's attributes.
    first = put(events, {"total": 150})
    (dead,) = receive_all(sqs, dlq, 1)
    assert json.loads(dead["Body"])["id"] == first
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule["RuleArn"] and attributes["TARGET_ARN"] == queue_arn
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS" and attributes["RETRY_ATTEMPTS"] == "0"
    assert receive_all(sqs, url, 0, wait=0) == []

    allow_events(sqs, url, rule["RuleArn"])
    put(events, {"total": 50})  # does not match
    second = put(events, {"total": 150})
    (message,) = receive_all(sqs, url, 1, wait=5)
    body = json.loads(message["Body"])
    assert body["id"] == second and body["detail"] == {"total": 150}
    assert body["source"] == "shop" and body["detail-type"] == "order" and body["account"] == ACCOUNT
    assert body["region"] == "us-east-1" and body["version"] == "0" and body["resources"] == []
    wait_for(lambda: settled(endpoint))
    assert events_health(endpoint)["dead_lettered"] == 1


def test_fifo_queue_target_keeps_order_and_group(events: Any, sqs: Any) -> None:
    events.put_rule(Name="r", EventPattern='{"source": ["shop"]}')
    url = sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = allow_events(sqs, url)
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn, "SqsParameters": {"MessageGroupId": "orders"}}])
    ids = [put(events, {"n": n}) for n in range(5)]
    got = receive_all(sqs, url, 5)
    assert [json.loads(m["Body"])["id"] for m in got] == ids
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"orders"}
    assert [m["Attributes"]["MessageDeduplicationId"] for m in got] == ids  # the event id


def test_topic_target_fans_out(events: Any, sqs: Any, client: Any) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    events.put_rule(Name="r", EventPattern='{"source": ["shop"]}')
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": topic, "InputPath": "$.detail"}])
    put(events, {"alert": "denied"})  # the topic's default policy does not let EventBridge publish
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                                "Action": "sns:Publish", "Resource": topic}]}))
    put(events, {"alert": "fire"})
    (message,) = receive_all(sqs, url, 1, wait=5)
    assert json.loads(message["Body"]) == {"alert": "fire"}


def test_function_target_needs_its_permission(events: Any, client: Any, recorder: Any, endpoint: str) -> None:
    lam = client("lambda")
    arn, out = recorder("on-order")
    rule = events.put_rule(Name="r", EventPattern='{"source": ["shop"]}')["RuleArn"]
    events.put_targets(Rule="r", Targets=[{"Id": "f", "Arn": arn}])
    put(events, {"n": 1})
    wait_for(lambda: settled(endpoint))
    assert recorded(out) == [] and events_health(endpoint)["dropped"] == 1  # no permission: dropped
    lam.add_permission(FunctionName="on-order", StatementId="events", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule)
    second = put(events, {"n": 2})
    (event,) = wait_for(lambda: recorded(out))
    assert event["id"] == second and event["detail"] == {"n": 2}


def test_input_settings(events: Any, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = allow_events(sqs, url)
    rule = events.put_rule(Name="r", EventPattern='{"source": ["ec2"]}')["RuleArn"]
    transformer = {"InputPathsMap": {"instance": "$.detail.instance-id", "state": "$.detail.state",
                                     "missing": "$.detail.nothing", "first": "$.resources[0]"},
                   "InputTemplate": '{"instance": <instance>, "state": "<state>", "status": "instance \\"<instance>\\" '
                                    'is in <state>", "rule": <aws.events.rule-name>, "arn": "<aws.events.rule-arn>", '
                                    '"missing": <missing>, "first": <first>}'}
    events.put_targets(Rule="r", Targets=[
        {"Id": "fixed", "Arn": arn, "Input": '{"fixed": true}'},
        {"Id": "path", "Arn": arn, "InputPath": "$.detail.state"},
        {"Id": "template", "Arn": arn, "InputTransformer": transformer},
        {"Id": "text", "Arn": arn, "InputTransformer": {"InputPathsMap": {"s": "$.detail.state"},
                                                        "InputTemplate": '"instance is <s>"'}},
    ])
    events.put_events(Entries=[{"Source": "ec2", "DetailType": "change", "Resources": ["arn:x"],
                                "Detail": json.dumps({"instance-id": "i-1", "state": "RUNNING"})}])
    bodies = sorted(m["Body"] for m in receive_all(sqs, url, 4))
    assert '{"fixed": true}' in bodies
    assert '"RUNNING"' in bodies
    assert '"instance is RUNNING"' in bodies
    (template,) = [json.loads(b) for b in bodies if b.startswith('{"instance"')]
    assert template == {"instance": "i-1", "state": "RUNNING", "status": 'instance "i-1" is in RUNNING',
                        "rule": "r", "arn": rule, "missing": None, "first": "arn:x"}


def test_bus_to_bus_with_a_role(events: Any, sqs: Any, client: Any, endpoint: str) -> None:
    iam = client("iam")
    role = iam.create_role(RoleName="forwarder", AssumeRolePolicyDocument=EVENTS_TRUST)["Role"]["Arn"]
    other_role = lambda_role(iam, "not-for-events")  # trusts Lambda, not EventBridge
    bus = events.create_event_bus(Name="orders")["EventBusArn"]
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = allow_events(sqs, url)
    events.put_rule(Name="forward", EventPattern='{"source": ["shop"]}')
    events.put_targets(Rule="forward", Targets=[{"Id": "b", "Arn": bus, "RoleArn": role}])
    events.put_rule(Name="collect", EventBusName="orders", EventPattern='{"detail": {"n": [{"exists": true}]}}')
    events.put_targets(Rule="collect", EventBusName="orders", Targets=[{"Id": "q", "Arn": arn}])
    sent = put(events, {"n": 1})
    (message,) = receive_all(sqs, url, 1)
    assert json.loads(message["Body"])["id"] == sent
    events.put_targets(Rule="forward", Targets=[{"Id": "b", "Arn": bus, "RoleArn": other_role}])
    put(events, {"n": 2})
    wait_for(lambda: settled(endpoint))
    assert receive_all(sqs, url, 0, wait=0) == []


def test_retries_then_dead_letter_queue(events: Any, sqs: Any, advance: Any, endpoint: str) -> None:
    """A queue that refuses the message (over its MaximumMessageSize) fails retryably: retried on the clock
    per the RetryPolicy, then dead-lettered with the exhausted condition."""
    rule = events.put_rule(Name="r", EventPattern='{"source": ["shop"]}')["RuleArn"]
    url = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    arn = allow_events(sqs, url)
    dlq_arn = allow_events(sqs, (dlq := sqs.create_queue(QueueName="dlq")["QueueUrl"]), rule)
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn, "DeadLetterConfig": {"Arn": dlq_arn},
                                           "RetryPolicy": {"MaximumRetryAttempts": 3}}])
    sent = put(events, {"blob": "x" * 2000})
    for _ in range(3):  # each retry fails in turn
        wait_for(lambda: events_health(endpoint)["retrying"] == 1)
        assert receive_all(sqs, dlq, 0, wait=0) == []
        advance(60)
    (dead,) = receive_all(sqs, dlq, 1)
    assert json.loads(dead["Body"])["id"] == sent
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "3" and attributes["ERROR_CODE"] == "SDK_CLIENT_ERROR"

    # A retry that finds the target mended delivers.
    put(events, {"blob": "y" * 2000})
    wait_for(lambda: events_health(endpoint)["retrying"] == 1)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "262144"})
    advance(60)
    (message,) = receive_all(sqs, url, 1)
    assert json.loads(message["Body"])["detail"]["blob"].startswith("y")


def test_event_age_limit(events: Any, sqs: Any, advance: Any, endpoint: str) -> None:
    events.put_rule(Name="r", EventPattern='{"source": ["shop"]}')
    url = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    arn = allow_events(sqs, url)
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn, "RetryPolicy": {"MaximumEventAgeInSeconds": 60}}])
    put(events, {"blob": "x" * 2000})
    tries = 0
    while not events_health(endpoint)["dropped"]:
        wait_for(lambda: events_health(endpoint)["retrying"] == 1 or events_health(endpoint)["dropped"])
        advance(20)
        tries += 1
    assert 2 <= tries <= 4  # retried until the event was a minute old
    assert events_health(endpoint)["dropped"] == 1
