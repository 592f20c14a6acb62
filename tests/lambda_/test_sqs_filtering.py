"""Event filtering on an SQS mapping (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html):
only the messages a filter matches reach the function, the others are deleted from the queue by Lambda; a
pattern that is an object under `body` matches the body parsed as JSON, plain values match the body as a
string; FilterCriteria is shown, replaced and removed through the API, and survives kill -9."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import lambda_role
from tests.helpers import wait_for
from tests.lambda_.conftest import ROLE, make_zip

# Each invocation appends the bodies it got, one line each, to OUT/bodies.
RECORDER = """
import json, os
def lambda_handler(event, context):
    with open(os.path.join(os.environ["OUT"], "bodies"), "a") as f:
        f.write("".join(json.dumps(r["body"]) + "\\n" for r in event["Records"]))
"""
CRITERIA = {"Filters": [
    {"Pattern": json.dumps({"body": {"kind": ["keep"], "size": [{"numeric": [">", 10]}]}})},
    {"Pattern": json.dumps({"body": [{"prefix": "plain-"}]})},
]}


def _bodies(out: Path) -> list[str]:
    path = out / "bodies"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _left(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _send_mixed(sqs: Any, url: str) -> None:
    for body in [json.dumps({"kind": "keep", "size": 50}), json.dumps({"kind": "keep", "size": 5}),
                 json.dumps({"kind": "drop", "size": 50}), "plain-text", "other text", "[1, 2]"]:
        sqs.send_message(QueueUrl=url, MessageBody=body)


def test_only_matching_messages_reach_the_function_and_the_rest_are_deleted(
        client: Any, make_function: Any, tmp_path: Path) -> None:
    sqs, lam = client("sqs"), client("lambda")
    url, arn = _queue(sqs, "filtered")
    make_function("recorder", RECORDER, Environment={"Variables": {"OUT": str(tmp_path)}})
    mapping = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, BatchSize=10,
                                              FilterCriteria=CRITERIA)
    assert mapping["FilterCriteria"] == CRITERIA
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["FilterCriteria"] == CRITERIA
    _send_mixed(sqs, url)
    wait_for(lambda: len(_bodies(tmp_path)) >= 2 and _left(sqs, url) == 0, timeout=30)
    assert sorted(_bodies(tmp_path)) == sorted([json.dumps({"kind": "keep", "size": 50}), "plain-text"])
    # The filters removed: every message reaches the function again.
    updated = lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria={})
    assert "FilterCriteria" not in updated
    assert "FilterCriteria" not in lam.get_event_source_mapping(UUID=mapping["UUID"])
    sqs.send_message(QueueUrl=url, MessageBody="other text")
    wait_for(lambda: "other text" in _bodies(tmp_path), timeout=30)


def test_filter_criteria_are_checked(client: Any, make_function: Any) -> None:
    sqs, lam = client("sqs"), client("lambda")
    _, arn = _queue(sqs, "checked")
    make_function("fn", "def lambda_handler(e, c):\n    pass\n")
    # https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html: patterns are EventBridge's
    # (a leaf is an array), at most five filters.
    for criteria in [{"Filters": [{"Pattern": "asdf"}]}, {"Filters": [{"Pattern": json.dumps({"body": "x"})}]},
                     {"Filters": [{"Pattern": json.dumps({"body": [f"v{i}"]})} for i in range(6)]}]:
        with pytest.raises(ClientError) as caught:
            lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn, FilterCriteria=criteria)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException", criteria
    assert lam.list_event_source_mappings(FunctionName="fn")["EventSourceMappings"] == []


def test_filters_survive_kill_9(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    lambda_role(server.client("iam"))
    sqs, lam = server.client("sqs"), server.client("lambda")
    url, arn = _queue(sqs, "durable")
    out = tmp_path / "out"
    out.mkdir()
    lam.create_function(FunctionName="recorder", Role=ROLE, Runtime="python3.12",
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip(RECORDER)},
                        Environment={"Variables": {"OUT": str(out)}})
    uuid = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, Enabled=False,
                                           FilterCriteria=CRITERIA)["UUID"]
    server.kill()
    server = start_server(tmp_path / "data")
    sqs, lam = server.client("sqs"), server.client("lambda")
    assert lam.get_event_source_mapping(UUID=uuid)["FilterCriteria"] == CRITERIA
    _send_mixed(sqs, url)
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_for(lambda: len(_bodies(out)) >= 2 and _left(sqs, url) == 0, timeout=30)
    assert sorted(_bodies(out)) == sorted([json.dumps({"kind": "keep", "size": 50}), "plain-text"])
    server.stop()
