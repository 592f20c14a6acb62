"""benchmarks/sqs_drain.py measures SQS's consumer side against a live `conveyor up` per source tree: every
message it sends is drained with no error, and the table gives drained msgs/s, server CPU per drained
message and the mixed phase's consumption and backlog."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "sqs_drain.py"
SOURCE = Path(__file__).resolve().parent.parent / "src"


def test_sqs_drain_rows_drain_every_message_and_report_cpu_per_message() -> None:
    args = [sys.executable, str(SCRIPT), "--rounds", "1", "--fill", "400", "--seconds", "1", "--src", str(SOURCE)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text  # (a phase with errors, or a drain short of what was sent, fails it)
    row = re.search(rf"\| {re.escape(str(SOURCE))} \| ([\d,]+) \| ([\d.]+) \| ([\d,]+) \| ([\d.]+) \| ([\d,]+) \|", text)
    assert row is not None, text
    drained, cpu, consumed, cpu_consumed = (float(row.group(i).replace(",", "")) for i in range(1, 5))
    assert drained > 0 and cpu > 0 and consumed > 0 and cpu_consumed > 0, text
