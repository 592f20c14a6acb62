"""benchmarks/db_writer.py measures the database writer alone: every row of its table is there with a CPU
figure, lone writes take a commit each, and eight concurrent writers share their commits (group commit)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "db_writer.py"
SOURCE = Path(__file__).resolve().parent.parent / "src"


def test_db_writer_reports_each_way_of_writing() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--src", str(SOURCE)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = {m.group(1): (float(m.group(2).replace(",", "")), float(m.group(3)))
            for m in re.finditer(r"\| [^|]+ \| ([^|]+?) \| [\d,.]+ \| ([\d,.]+) \| ([\d.]+) \|", out.stdout)}
    assert set(rows) == {f"{way} {sync}" for way in ("inline", "write x1", "write x8") for sync in ("FULL", "OFF")}
    assert all(cpu > 0 for cpu, _ in rows.values()), out.stdout
    for sync in ("FULL", "OFF"):
        assert rows[f"inline {sync}"][1] == rows[f"write x1 {sync}"][1] == 1.0, out.stdout
        assert rows[f"write x8 {sync}"][1] <= 0.5, out.stdout  # eight writers ride shared commits
