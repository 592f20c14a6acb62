"""`conveyor logs FN` and `conveyor functions` against a live server."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.helpers import wait_for

PRINTER = """
import sys
def lambda_handler(event, context):
    print("to stdout", event)
    print("to stderr", event, file=sys.stderr)
    return event
"""


def _conveyor(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args, "--endpoint", endpoint],
                          capture_output=True, text=True, timeout=60)


def test_logs_prints_history_and_follows(lam: Any, make_function: Any, endpoint: str) -> None:
    make_function("chatty", PRINTER)
    rid = lam.invoke(FunctionName="chatty", Payload=b'"first"')["ResponseMetadata"]["RequestId"]
    done = _conveyor(endpoint, "logs", "chatty", "-n", "100")
    assert done.returncode == 0, done.stderr
    assert "to stdout first" in done.stdout and "to stderr first" in done.stdout
    assert f"START RequestId: {rid}" in done.stdout and f"REPORT RequestId: {rid}" in done.stdout
    assert _conveyor(endpoint, "logs", "chatty", "-n", "1").stdout.startswith("REPORT RequestId")

    follower = subprocess.Popen([sys.executable, "-m", "conveyor.cli", "logs", "chatty", "-n", "1", "--follow",
                                 "--for", "8", "--endpoint", endpoint], stdout=subprocess.PIPE, text=True)
    try:
        # Its last line printed, the follower follows from there (however long its start took on a busy
        # machine): the second invocation's lines are all new to it.
        assert follower.stdout is not None and follower.stdout.readline().startswith("REPORT RequestId")
        lam.invoke(FunctionName="chatty", Payload=b'"second"')
        out, _ = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert "to stdout second" in out and "first" not in out

    missing = _conveyor(endpoint, "logs", "nobody")
    assert missing.returncode != 0 and "Function not found" in missing.stderr


def test_functions_command_shows_concurrency(lam: Any, make_function: Any, endpoint: str) -> None:
    make_function("shown", PRINTER, Runtime="python3.11")
    lam.invoke(FunctionName="shown", Payload=b"1")
    lam.invoke(FunctionName="shown", Payload=b"2")
    listed = json.loads(_conveyor(endpoint, "functions", "--json").stdout)
    (fn,) = listed
    assert fn["name"] == "shown" and fn["runtime"] == "python3.11"
    assert fn["cold_starts"] == 1 and fn["invocations"] == 2 and fn["busy"] == 0 and fn["idle"] == 1
    table = wait_for(lambda: _conveyor(endpoint, "functions").stdout)
    assert "shown" in table and "python3.11" in table
