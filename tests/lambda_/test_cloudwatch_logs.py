"""A function's invocations in CloudWatch Logs, as on AWS: /aws/lambda/NAME, a stream per execution
environment named YYYY/MM/DD/[$LATEST]hex, START / END / REPORT lines; read with `aws logs tail`
(AWS CLI v2, which has the command: Debian's awscli package) and boto3."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from typing import Any

import pytest

from tests.conftest import CLI_ENV
from tests.helpers import wait_for

PRINTER = """
def lambda_handler(event, context):
    print("handling", event)
    return event
"""


def _cli_v2() -> str | None:
    """An AWS CLI v2 (`aws logs tail` is a v2 command); the pip-installed `aws` is v1."""
    for candidate in ("/usr/bin/aws", shutil.which("aws")):
        if candidate and os.path.exists(candidate):
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True).stdout
            if version.startswith("aws-cli/2"):
                return candidate
    return None


CLI_V2 = _cli_v2()


def test_invocation_lines_in_the_function_log_group(lam: Any, make_function: Any, client: Any) -> None:
    make_function("logged", PRINTER, MemorySize=256)
    rid = lam.invoke(FunctionName="logged", Payload=b'"one"')["ResponseMetadata"]["RequestId"]
    logs = client("logs")

    def messages() -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName="/aws/lambda/logged")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []  # the group comes with the first lines, which a busy machine writes a moment later
        return [e["message"] for e in events]

    lines = wait_for(lambda: (m := messages()) and m[-1].startswith("REPORT") and m)
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert "handling one" in lines
    assert f"END RequestId: {rid}" in lines
    report = lines[-1]
    assert re.fullmatch(rf"REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB"
                        r"\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms", report), report
    [stream] = logs.describe_log_streams(logGroupName="/aws/lambda/logged")["logStreams"]
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", stream["logStreamName"])
    lam.invoke(FunctionName="logged", Payload=b'"two"')  # warm: the same environment, the same stream
    wait_for(lambda: sum(m.startswith("REPORT") for m in messages()) == 2)
    second = messages()[-1]
    assert "Init Duration" not in second  # only cold starts have one
    assert len(logs.describe_log_streams(logGroupName="/aws/lambda/logged")["logStreams"]) == 1


@pytest.mark.skipif(CLI_V2 is None, reason="`aws logs tail` needs AWS CLI v2 (Debian's awscli package)")
def test_aws_logs_tail_shows_and_follows_invocations(lam: Any, make_function: Any, endpoint: str) -> None:
    assert CLI_V2 is not None
    make_function("tailed", PRINTER)
    rid = lam.invoke(FunctionName="tailed", Payload=b'"first"')["ResponseMetadata"]["RequestId"]
    env = {**os.environ, **CLI_ENV}
    command = [CLI_V2, "--endpoint-url", endpoint, "logs", "tail", "/aws/lambda/tailed"]

    def tail() -> str:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60).stdout

    printed = wait_for(lambda: (out := tail()) and "REPORT" in out and out)
    assert f"START RequestId: {rid} Version: $LATEST" in printed and "handling first" in printed
    assert re.search(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32} START", printed)  # the stream, then the message

    follower = subprocess.Popen([*command, "--follow", "--since", "1m"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.0)  # the follower has read what there is and polls (every 5 s)
        lam.invoke(FunctionName="tailed", Payload=b'"second"')
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()
        wait_for(lambda: any("handling second" in line for line in lines), timeout=30)
        seen = "".join(lines)
        assert seen.count("handling first") == 1  # printed once, not again at each poll
    finally:
        follower.kill()
        follower.wait(10)
        follower.stdout.close()  # type: ignore[union-attr]  # a pipe: stdout=PIPE


GROUP_TELLER = """
import os
def lambda_handler(event, context):
    print("logged to", os.environ["AWS_LAMBDA_LOG_GROUP_NAME"])
    return os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
"""


def test_logging_config_names_the_log_group(lam: Any, make_function: Any, client: Any) -> None:
    # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html: a function may log
    # to a group of its choosing (LoggingConfig.LogGroup); its environment names it in AWS_LAMBDA_LOG_GROUP_NAME.
    created = make_function("teller", GROUP_TELLER, LoggingConfig={"LogGroup": "/orders/teller"})
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/orders/teller"}
    logs = client("logs")

    def messages(group: str) -> list[str]:
        try:
            return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        except logs.exceptions.ResourceNotFoundException:
            return []

    answer = lam.invoke(FunctionName="teller", Payload=b"{}")["Payload"].read()
    assert answer == b'"/orders/teller"'
    wait_for(lambda: any(m.startswith("REPORT") for m in messages("/orders/teller")))
    assert "logged to /orders/teller" in messages("/orders/teller")
    assert messages("/aws/lambda/teller") == []
    # Back to the default group: the next environment logs there.
    updated = lam.update_function_configuration(FunctionName="teller", LoggingConfig={"LogFormat": "Text"})
    assert updated["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/teller"}
    assert lam.invoke(FunctionName="teller", Payload=b"{}")["Payload"].read() == b'"/aws/lambda/teller"'
    wait_for(lambda: "logged to /aws/lambda/teller" in messages("/aws/lambda/teller"))
    # The JSON format (which rewrites the runtime's lines and filters them by level) is refused, not ignored.
    for config in ({"LogFormat": "JSON"}, {"LogFormat": "Text", "ApplicationLogLevel": "WARN"}):
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lam.update_function_configuration(FunctionName="teller", LoggingConfig=config)
    assert lam.get_function_configuration(FunctionName="teller")["LoggingConfig"]["LogGroup"] == "/aws/lambda/teller"
