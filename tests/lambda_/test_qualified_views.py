"""What a qualifier shows: a configuration read through $LATEST names it in its FunctionArn, as the $LATEST
entries of ListVersionsByFunction and ListFunctions(FunctionVersion=ALL) do; read unqualified, it does not.
And the event invoke configs are listed (https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctionEventInvokeConfigs.html)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_.conftest import make_zip, wait_for

ARN = "arn:aws:lambda:us-east-1:000000000000:function"
HANDLER = "def lambda_handler(event, context):\n    return event\n"


def test_latest_read_through_its_qualifier(lam: Any, make_function: Callable[..., Any]) -> None:
    # CreateFunction with Publish answers version 1 under the unqualified ARN; UpdateFunctionCode with
    # Publish the new version under its own (measured against Lambda: floci-io/floci#2825).
    created = make_function("fn", HANDLER, Publish=True)
    assert (created["Version"], created["FunctionArn"]) == ("1", f"{ARN}:fn")
    republished = lam.update_function_code(FunctionName="fn", ZipFile=make_zip(HANDLER + "# 2\n"), Publish=True)
    assert (republished["Version"], republished["FunctionArn"]) == ("2", f"{ARN}:fn:2")
    lam.delete_function(FunctionName="fn", Qualifier="2")
    assert lam.get_function(FunctionName="fn")["Configuration"]["FunctionArn"] == f"{ARN}:fn"
    assert lam.get_function(FunctionName="fn", Qualifier="$LATEST")["Configuration"]["FunctionArn"] == \
        f"{ARN}:fn:$LATEST"
    assert lam.get_function_configuration(FunctionName="fn:$LATEST")["FunctionArn"] == f"{ARN}:fn:$LATEST"
    assert lam.get_function_configuration(FunctionName="fn", Qualifier="1")["FunctionArn"] == f"{ARN}:fn:1"
    versions = lam.list_versions_by_function(FunctionName="fn")["Versions"]
    assert [(v["Version"], v["FunctionArn"]) for v in versions] == [("$LATEST", f"{ARN}:fn:$LATEST"),
                                                                    ("1", f"{ARN}:fn:1")]
    assert [f["FunctionArn"] for f in lam.list_functions()["Functions"]] == [f"{ARN}:fn"]
    assert [f["FunctionArn"] for f in lam.list_functions(FunctionVersion="ALL")["Functions"]] == [
        f"{ARN}:fn:$LATEST", f"{ARN}:fn:1"]


def test_lists_leave_the_state_fields_to_get_function(lam: Any, make_function: Callable[..., Any]) -> None:
    # https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html: the list answers a subset of the
    # configuration; State, LastUpdateStatus and their reasons come from GetFunction only.
    make_function("fn", HANDLER, Publish=True)
    state_fields = {"State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
                    "LastUpdateStatusReasonCode", "RuntimeVersionConfig"}
    listed = [*lam.list_functions()["Functions"], *lam.list_functions(FunctionVersion="ALL")["Functions"],
              *lam.list_versions_by_function(FunctionName="fn")["Versions"]]
    assert len(listed) == 5
    for config in listed:
        assert state_fields.isdisjoint(config), config
        assert config["RevisionId"] and config["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}
    for qualifier in ("$LATEST", "1"):
        config = lam.get_function(FunctionName="fn", Qualifier=qualifier)["Configuration"]
        assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")


def test_event_invoke_configs_are_listed(lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("fn", HANDLER)
    assert lam.list_function_event_invoke_configs(FunctionName="fn")["FunctionEventInvokeConfigs"] == []
    lam.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=1)
    listed = lam.list_function_event_invoke_configs(FunctionName="fn")["FunctionEventInvokeConfigs"]
    assert [(c["FunctionArn"], c["MaximumRetryAttempts"]) for c in listed] == [(f"{ARN}:fn:$LATEST", 1)]


def test_an_alias_shows_its_version(lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("fn", HANDLER, Publish=True)
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    for config in (lam.get_function(FunctionName="fn:live")["Configuration"],
                   lam.get_function_configuration(FunctionName="fn", Qualifier="live")):
        assert (config["FunctionArn"], config["Version"]) == (f"{ARN}:fn:1", "1")


def test_the_deprecated_invoke_async_queues_an_event(endpoint: str, lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("fn", "def lambda_handler(event, context):\n    print('got', event)\n")
    answer = lam.invoke_async(FunctionName="fn", InvokeArgs=b'{"k": "v"}')
    assert answer["Status"] == 202 and answer["ResponseMetadata"]["HTTPStatusCode"] == 202

    def logged() -> bool:
        with urllib.request.urlopen(f"{endpoint}/_conveyor/functions/fn/logs?lines=50", timeout=10) as response:
            return "got {'k': 'v'}" in json.load(response)["text"]

    wait_for(logged)


def test_each_qualifier_has_its_own_event_invoke_config(lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("fn", HANDLER, Publish=True)
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    lam.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=0)
    lam.put_function_event_invoke_config(FunctionName="fn:live", MaximumRetryAttempts=2)
    assert lam.get_function_event_invoke_config(FunctionName="fn", Qualifier="live")["MaximumRetryAttempts"] == 2
    assert lam.get_function_event_invoke_config(FunctionName="fn")["MaximumRetryAttempts"] == 0
    with pytest.raises(ClientError) as caught:
        lam.get_function_event_invoke_config(FunctionName="fn", Qualifier="1")
    assert caught.value.response["Error"]["Message"] == f"The function {ARN}:fn:1 doesn't have an EventInvokeConfig"
    with pytest.raises(ClientError) as caught:
        lam.put_function_event_invoke_config(FunctionName="fn", Qualifier="7", MaximumRetryAttempts=1)
    assert caught.value.response["Error"]["Message"] == f"Function not found: {ARN}:fn:7"
    listed = lam.list_function_event_invoke_configs(FunctionName="fn")["FunctionEventInvokeConfigs"]
    assert [(c["FunctionArn"], c["MaximumRetryAttempts"]) for c in listed] == [(f"{ARN}:fn:$LATEST", 0),
                                                                               (f"{ARN}:fn:live", 2)]
    lam.delete_function_event_invoke_config(FunctionName="fn", Qualifier="live")
    assert len(lam.list_function_event_invoke_configs(FunctionName="fn")["FunctionEventInvokeConfigs"]) == 1


def test_an_alias_event_invoke_config_is_honoured(lam: Any, client: Callable[..., Any],
                                                  make_function: Callable[..., Any]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="done")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_function("fn", HANDLER, Publish=True)
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    lam.put_function_event_invoke_config(FunctionName="fn", Qualifier="live",
                                         DestinationConfig={"OnSuccess": {"Destination": queue}})
    lam.invoke(FunctionName="fn", InvocationType="Event", Payload=b'{"via": "latest"}')
    lam.invoke(FunctionName="fn:live", InvocationType="Event", Payload=b'{"via": "alias"}')
    record = json.loads(wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"))[0]["Body"])
    assert record["requestPayload"] == {"via": "alias"} and record["requestContext"]["functionArn"] == f"{ARN}:fn:live"
