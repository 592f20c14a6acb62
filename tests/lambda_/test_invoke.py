"""Invocations: warm environments, errors, timeouts, crashes, throttling, async retries and destinations."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import wait_for
from tests.lambda_.conftest import health

CONTEXT = """
import os
def lambda_handler(event, context):
    if event.get("fail"):
        raise ValueError("boom")
    print("handled", event)
    return {"pid": os.getpid(), "request": context.aws_request_id, "name": context.function_name,
            "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(), "group": context.log_group_name,
            "region": os.environ["AWS_REGION"], "endpoint": os.environ["AWS_ENDPOINT_URL"],
            "mine": os.environ["MINE"]}
"""


def test_sync_invoke_context_warm_errors_and_tail(lam: Any, make_function: Any, endpoint: str) -> None:
    make_function("ctx", CONTEXT, Environment={"Variables": {"MINE": "yes"}}, MemorySize=256)
    first = lam.invoke(FunctionName="ctx", Payload=b'{"a": 1}', LogType="Tail")
    body = json.loads(first["Payload"].read())
    assert first["StatusCode"] == 200 and "FunctionError" not in first
    assert body["name"] == "ctx" and body["memory"] == 256 and body["group"] == "/aws/lambda/ctx"
    assert body["arn"].endswith(":function:ctx") and 0 < body["remaining"] <= 3000
    assert body["endpoint"] == endpoint and body["mine"] == "yes" and body["region"] == "us-east-1"
    tail = base64.b64decode(first["LogResult"]).decode()
    assert "handled {'a': 1}" in tail and f"START RequestId: {body['request']}" in tail and "REPORT" in tail
    second = json.loads(lam.invoke(FunctionName="ctx", Payload=b"{}")["Payload"].read())
    assert second["pid"] == body["pid"]  # warm: the same environment

    failed = lam.invoke(FunctionName="ctx", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "boom" and error["stackTrace"]
    assert lam.invoke(FunctionName="ctx", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="ctx", Payload=b"{not json")
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_timeout_kills_and_crash_only_ends_its_environment(lam: Any, make_function: Any) -> None:
    make_function("slow", """
        import os, time
        def lambda_handler(event, context):
            if event == "crash":
                os._exit(3)
            if event == "sleep":
                time.sleep(30)
            return os.getpid()
    """, Timeout=1)
    pid = json.loads(lam.invoke(FunctionName="slow", Payload=b'"hi"')["Payload"].read())
    timed_out = lam.invoke(FunctionName="slow", Payload=b'"sleep"')
    assert timed_out["FunctionError"] == "Unhandled"
    error = json.loads(timed_out["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout" and "Task timed out after 1.00 seconds" in error["errorMessage"]
    after = json.loads(lam.invoke(FunctionName="slow", Payload=b'"hi"')["Payload"].read())
    assert after != pid  # the timed-out environment was killed; a new one served this
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)
    crashed = lam.invoke(FunctionName="slow", Payload=b'"crash"')
    assert json.loads(crashed["Payload"].read())["errorType"] == "Runtime.ExitError"
    assert isinstance(json.loads(lam.invoke(FunctionName="slow", Payload=b'"hi"')["Payload"].read()), int)


def test_reserved_concurrency_throttles_sync_invokes(lam: Any, make_function: Any, client: Any,
                                                    tmp_path: Path) -> None:
    make_function("one", "import pathlib, time\ndef lambda_handler(e, c):\n    if e:\n"
                         "        pathlib.Path(e).touch()\n        time.sleep(1.5)\n    return 'ok'\n")
    lam.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=1)
    lam.invoke(FunctionName="one", Payload=b"0")  # warm up
    other = client("lambda")
    started = tmp_path / "started"
    done: list[Any] = []
    payload = json.dumps(str(started)).encode()
    thread = threading.Thread(target=lambda: done.append(other.invoke(FunctionName="one", Payload=payload)))
    thread.start()
    try:
        wait_for(started.exists, timeout=10)  # the only execution slot is busy now
        with pytest.raises(ClientError) as exc:
            lam.invoke(FunctionName="one", Payload=b"0")
        assert exc.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert exc.value.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    finally:
        thread.join()
    assert done[0]["StatusCode"] == 200
    lam.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="one", Payload=b"0")
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"


def test_async_invoke_retries_then_on_failure_destination(lam: Any, make_function: Any, client: Any,
                                                          advance: Any, tmp_path: Path, endpoint: str) -> None:
    sqs = client("sqs")
    dest = sqs.create_queue(QueueName="failures")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="fn-dlq")["QueueUrl"]
    dest_arn = sqs.get_queue_attributes(QueueUrl=dest, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attempts = tmp_path / "attempts"
    make_function("flaky", """
        import os
        def lambda_handler(event, context):
            with open(os.environ["ATTEMPTS"], "a") as fh:
                fh.write(context.aws_request_id + "\\n")
            raise RuntimeError("always")
    """, Environment={"Variables": {"ATTEMPTS": str(attempts)}}, DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(FunctionName="flaky",
                                         DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    assert lam.invoke(FunctionName="flaky", InvocationType="Event", Payload=b'{"n": 7}')["StatusCode"] == 202

    def count() -> int:
        return len(attempts.read_text().splitlines()) if attempts.exists() else 0

    def settled() -> bool:  # the attempt returned and its retry is scheduled
        return health(endpoint)["async_running"] == 0

    wait_for(lambda: count() == 1 and settled())
    advance(59)
    assert count() == 1
    advance(1)  # first retry one minute later
    wait_for(lambda: count() == 2 and settled())
    advance(119)
    assert count() == 2
    advance(1)  # second retry two minutes after that
    wait_for(lambda: count() == 3)
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=dest).get("Messages"))
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"n": 7}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "always"
    dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"]).get("Messages"))
    assert json.loads(dead[0]["Body"]) == {"n": 7}
    assert dead[0]["MessageAttributes"]["ErrorMessage"]["StringValue"] == "always"
    advance(600)
    assert count() == 3


def test_async_on_success_destination_and_no_retries(lam: Any, make_function: Any, client: Any,
                                                     endpoint: str, tmp_path: Path) -> None:
    sqs = client("sqs")
    ok = sqs.create_queue(QueueName="successes")["QueueUrl"]
    ok_arn = sqs.get_queue_attributes(QueueUrl=ok, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bad = sqs.create_queue(QueueName="failures")["QueueUrl"]
    bad_arn = sqs.get_queue_attributes(QueueUrl=bad, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    make_function("half", "def lambda_handler(e, c):\n    if e.get('fail'):\n        raise KeyError('k')\n"
                          "    return {'doubled': e['n'] * 2}\n")
    conf = lam.put_function_event_invoke_config(
        FunctionName="half", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": ok_arn}, "OnFailure": {"Destination": bad_arn}})
    assert conf["MaximumRetryAttempts"] == 0 and conf["DestinationConfig"]["OnSuccess"]["Destination"] == ok_arn
    invoked = lam.invoke(FunctionName="half", InvocationType="Event", Payload=b'{"n": 4}')
    record = json.loads(wait_for(lambda: sqs.receive_message(QueueUrl=ok).get("Messages"))[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == invoked["ResponseMetadata"]["RequestId"]
    assert record["requestPayload"] == {"n": 4} and record["responsePayload"] == {"doubled": 8}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    lam.invoke(FunctionName="half", InvocationType="Event", Payload=b'{"fail": true}')
    failure = json.loads(wait_for(lambda: sqs.receive_message(QueueUrl=bad).get("Messages"))[0]["Body"])
    assert failure["requestContext"]["approximateInvokeCount"] == 1  # MaximumRetryAttempts=0: no retry
    assert failure["responsePayload"]["errorType"] == "KeyError"
    with pytest.raises(ClientError) as err:
        lam.put_function_event_invoke_config(FunctionName="half", MaximumRetryAttempts=3)
    assert err.value.response["Error"]["Code"] in ("ValidationException", "InvalidParameterValueException")


def test_tail_is_the_last_4_kb_and_context_names_the_stream(lam: Any, make_function: Any) -> None:
    make_function("loud", """
        def lambda_handler(event, context):
            for i in range(2000):
                print(f"line {i:05d}")
            return {"stream": context.log_stream_name, "version": context.function_version}
    """, Publish=True)
    out = lam.invoke(FunctionName="loud", Qualifier="1", LogType="Tail")
    tail = base64.b64decode(out["LogResult"])
    assert len(tail) <= 4096 and tail.decode().rstrip().splitlines()[-1].startswith("REPORT RequestId")
    assert b"line 01999" in tail and b"line 00000" not in tail
    body = json.loads(out["Payload"].read())
    assert body["version"] == "1" and out["ExecutedVersion"] == "1"
    assert "/[1]" in body["stream"]


def test_memory_size_is_enforced_and_client_context_arrives(lam: Any, make_function: Any) -> None:
    make_function("hungry", """
        import os
        hoard = []
        def lambda_handler(event, context):
            if event.get("mb"):
                hoard.append(bytearray(event["mb"] * 1024 * 1024))
            cc = context.client_context
            return {"pid": os.getpid(), "custom": cc.custom if cc else None,
                    "app": cc.client.app_title if cc and cc.client else None}
    """)  # MemorySize 128
    cc = base64.b64encode(json.dumps({"custom": {"k": "v"}, "client": {"app_title": "t"}}).encode()).decode()
    ok = json.loads(lam.invoke(FunctionName="hungry", Payload=b"{}", ClientContext=cc)["Payload"].read())
    assert ok["custom"] == {"k": "v"} and ok["app"] == "t"
    boom = lam.invoke(FunctionName="hungry", Payload=b'{"mb": 160}', LogType="Tail")
    assert boom["FunctionError"] == "Unhandled"
    assert json.loads(boom["Payload"].read())["errorType"] == "Runtime.OutOfMemory"
    assert "Error Type: Runtime.OutOfMemory" in base64.b64decode(boom["LogResult"]).decode()
    after = json.loads(lam.invoke(FunctionName="hungry", Payload=b"{}")["Payload"].read())
    assert after["pid"] != ok["pid"] and after["custom"] is None  # a fresh environment
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="hungry", Payload=b"{}", ClientContext=base64.b64encode(b"[1]").decode())
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"
