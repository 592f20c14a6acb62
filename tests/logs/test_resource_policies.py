"""CloudWatch Logs resource policies through boto3: put (replace by name), describe with pages, delete,
AWS's limit of 10 per region and its errors; kept across a kill -9."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

EVENTS_WRITE = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/events/*:*"}]})


@pytest.fixture
def logs(client: Callable[..., Any]) -> Any:
    return client("logs")


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_put_describe_replace_delete(logs: Any) -> None:
    put = logs.put_resource_policy(policyName="events", policyDocument=EVENTS_WRITE)["resourcePolicy"]
    assert put["policyName"] == "events" and put["policyDocument"] == EVENTS_WRITE
    assert put["policyScope"] == "ACCOUNT" and isinstance(put["lastUpdatedTime"], int)
    (listed,) = logs.describe_resource_policies()["resourcePolicies"]
    assert listed == put
    # The same name replaces the document; policies are per region.
    replaced = logs.put_resource_policy(policyName="events", policyDocument='{"Statement": []}')["resourcePolicy"]
    assert replaced["policyDocument"] == '{"Statement": []}'
    assert len(logs.describe_resource_policies()["resourcePolicies"]) == 1
    assert client_in(logs, "eu-west-1").describe_resource_policies()["resourcePolicies"] == []
    logs.delete_resource_policy(policyName="events")
    assert logs.describe_resource_policies()["resourcePolicies"] == []
    with pytest.raises(ClientError) as missing:
        logs.delete_resource_policy(policyName="events")
    assert _error(missing) == ("ResourceNotFoundException", "Policy with name [events] does not exist")


def client_in(logs: Any, region: str) -> Any:
    import boto3

    return boto3.client("logs", region_name=region, endpoint_url=logs.meta.endpoint_url,
                        aws_access_key_id="test", aws_secret_access_key="test")


def test_ten_per_region_and_pages(logs: Any) -> None:
    for n in range(10):
        logs.put_resource_policy(policyName=f"p{n}", policyDocument=EVENTS_WRITE)
    with pytest.raises(ClientError) as eleventh:
        logs.put_resource_policy(policyName="p10", policyDocument=EVENTS_WRITE)
    assert _error(eleventh) == ("LimitExceededException", "Resource limit exceeded.")
    assert eleventh.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    logs.put_resource_policy(policyName="p3", policyDocument=EVENTS_WRITE)  # replacing one is no new one
    first = logs.describe_resource_policies(limit=4)
    assert [p["policyName"] for p in first["resourcePolicies"]] == ["p0", "p1", "p2", "p3"]
    names = [p["policyName"] for p in first["resourcePolicies"]]
    token = first["nextToken"]
    while token:
        page = logs.describe_resource_policies(limit=4, nextToken=token)
        names += [p["policyName"] for p in page["resourcePolicies"]]
        token = page.get("nextToken")
    assert names == [f"p{n}" for n in range(10)]
    paginated = [p["policyName"] for page in logs.get_paginator("describe_resource_policies").paginate()
                 for p in page["resourcePolicies"]]
    assert paginated == names


def test_bad_input(logs: Any) -> None:
    with pytest.raises(ClientError) as not_json:
        logs.put_resource_policy(policyName="p", policyDocument="{not json")
    assert _error(not_json)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as too_long:
        logs.put_resource_policy(policyName="p", policyDocument=" " * 51_201)
    code, message = _error(too_long)
    assert code == "InvalidParameterException" and "51200" in message
    with pytest.raises(ClientError) as no_name:
        logs.put_resource_policy(policyDocument=EVENTS_WRITE)
    assert _error(no_name)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as scoped:
        logs.put_resource_policy(policyName="p", policyDocument=EVENTS_WRITE,
                                 resourceArn="arn:aws:logs:us-east-1:000000000000:log-group:g")
    assert _error(scoped)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as token:
        logs.describe_resource_policies(nextToken="nope")
    assert _error(token) == ("InvalidParameterException", "The specified nextToken is invalid.")
    assert logs.describe_resource_policies()["resourcePolicies"] == []


def test_policies_survive_kill_9(start_server: Callable[..., Any]) -> None:
    server = start_server()
    server.client("logs").put_resource_policy(policyName="events", policyDocument=EVENTS_WRITE)
    server.kill()
    server.start()
    (policy,) = server.client("logs").describe_resource_policies()["resourcePolicies"]
    assert policy["policyName"] == "events" and policy["policyDocument"] == EVENTS_WRITE
