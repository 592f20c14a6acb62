"""benchmarks/small_requests.py measures server CPU per small request against a live `conveyor up`: every
request of each kind it sends is answered 200 (unsigned with auth off, and really signed with --auth sigv4),
and the table names each source tree with a figure per request kind."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "small_requests.py"
SOURCE = Path(__file__).resolve().parent.parent / "src"


@pytest.mark.parametrize("signed", [False, True])
def test_small_requests_answers_every_kind_and_reports_cpu_per_request(signed: bool) -> None:
    args = [sys.executable, str(SCRIPT), "--quick", "--ops", "ddb_limits,ddb_put,sqs_send,s3_get", "--src", str(SOURCE)]
    # (unsigned with two clients, signed with the default four)
    out = subprocess.run(args + (["--signed"] if signed else ["--clients", "2"]), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    errors = re.findall(r"errors=(\d+)", text)
    assert len(errors) == 4 and set(errors) == {"0"}, text
    assert ("signed, --auth sigv4; 4 clients" if signed else "unsigned, auth off; 2 clients") in text
    for label in ("DynamoDB DescribeLimits", "DynamoDB PutItem", "SQS SendMessage", "S3 GET 4 KiB"):
        row = re.search(rf"\| {re.escape(label)}[^|]* \| ([\d,.]+) \|", text)
        assert row is not None and float(row.group(1).replace(",", "")) > 0, text
