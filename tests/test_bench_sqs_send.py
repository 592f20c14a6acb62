"""benchmarks/sqs_send.py measures SQS's send rows against a live `conveyor up` per source tree: every
message of each row is acknowledged, and the table gives each row msgs/s and server CPU per message."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "sqs_send.py"
SOURCE = Path(__file__).resolve().parent.parent / "src"


def test_sqs_send_rows_acknowledge_every_message_and_report_cpu_per_message() -> None:
    args = [sys.executable, str(SCRIPT), "--quick", "--src", str(SOURCE)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout + out.stderr
    errors = re.findall(r"errors=(\d+)", text)
    assert len(errors) == 4 and set(errors) == {"0"}, text
    for label in ("SendMessage, 1 client", "SendMessage, 8 clients", "SendMessageBatch, 8 clients",
                  "SendMessageBatch with 2 attributes a message, 8 clients"):
        row = re.search(rf"\| {re.escape(label)} \| ([\d,]+) / ([\d.]+) \|", text)
        assert row is not None, text
        assert int(row.group(1).replace(",", "")) > 0 and float(row.group(2)) > 0, text
