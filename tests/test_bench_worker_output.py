"""benchmarks/worker_output.py measures server CPU per line a pool worker prints against a live `conveyor up`:
every line reaches the pool's CloudWatch Logs stream, and the table names the source tree with its figure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "worker_output.py"
SOURCE = Path(__file__).resolve().parent.parent / "src"


def test_worker_output_stores_every_line_and_reports_cpu_per_line() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--src", str(SOURCE)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert "1000 lines stored" in text, text
    assert f"| measure | {SOURCE} |" in text, text
    row = re.search(r"\| per line \| ([\d,.]+) \|", text)
    assert row is not None, text  # "-" when the lines did not all arrive
