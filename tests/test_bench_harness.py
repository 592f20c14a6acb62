"""The benchmark scripts' shared driver (benchmarks/harness.py): a script built on `bench_main` runs
against a live `conveyor up`, with its own count option, session, report and problems, prints the table
and records the run as JSON; and the counted loop every load worker runs stops as it promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from harness import counted_ops  # noqa: E402

SCRIPT = """
import sys
from contextlib import contextmanager

sys.path.insert(0, {benchmarks!r})
from harness import CountOption, bench_main, http_ops, measure_load, problem
from peers import Http

def w_health(phase, idx, endpoint, count, seconds, state=None):
    if phase == "setup":
        return Http(endpoint)
    return http_ops(state, count, seconds, lambda h, i: h.request("GET", "/_conveyor/health")[0] == 200)

@contextmanager
def session(counts):
    counts["session"] = "open"
    print("session entered")
    yield
    print("session left")

def run(srv, counts, values, notes):
    r = measure_load(srv, values, notes, "health", "health", w_health, 2, (srv.endpoint, counts["n"] // 2, 30.0),
                     30.0, cpu_key="health_cpu")
    values[(srv.name, "ops")] = r.ops
    problem(notes, srv.name, "a noted problem")

def report(servers, counts, values):
    return f"report: session {{counts['session']}}, {{values[('conveyor', 'ops')]}} ops"

sys.exit(bench_main("Harness", None, ["conveyor"], {{"n": 4}}, {{"n": 1000}}, "health checks",
                    lambda counts: [("health", "health GETs/s", True), ("ops", f"ops of {{counts['n']}}", True),
                                    ("health_cpu", "server CPU µs/op", False)],
                    run, options=[CountOption("--n-tens", "n", "tens of calls", 10)], session=session,
                    report=report))
"""


def test_a_script_on_bench_main_measures_reports_and_records_its_run(tmp_path: Path) -> None:
    script = tmp_path / "harness_check.py"
    script.write_text(textwrap.dedent(SCRIPT.format(benchmarks=str(BENCHMARKS))))
    results = tmp_path / "results"
    env = {**os.environ, "CONVEYOR_BENCH_RESULTS": str(results)}
    out = subprocess.run([sys.executable, str(script), "--quick", "--only", "conveyor", "--n-tens", "3"],
                         capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    # The session wraps the servers' whole run, and the report sees what it and the run left.
    assert text.index("session entered") < text.index("conveyor: up at") < text.index("session left")
    assert "report: session open, 30 ops" in text
    assert "| ops of 30 ↑ | 30.0 |" in text  # --n-tens 3 scaled by 10 overrides the quick count
    assert "Problems:\n- conveyor: a noted problem" in text
    (record,) = results.glob("harness_check-*.json")
    run = json.loads(record.read_text())
    assert run["servers"] == {"conveyor": "up"}
    assert run["argv"] == ["--quick", "--only", "conveyor", "--n-tens", "3"]
    assert run["metrics"]["ops"]["values"]["conveyor"] == 30
    assert run["metrics"]["health"]["values"]["conveyor"] > 0
    assert run["metrics"]["health_cpu"]["higher_is_better"] is False


def test_counted_ops_stops_at_the_count() -> None:
    seen: list[int] = []
    assert counted_ops(7, 30, lambda i: seen.append(i) is None) == (7, 0)
    assert seen == list(range(7))


def test_counted_ops_gives_up_on_a_server_that_refuses_everything() -> None:
    def refuse(i: int) -> bool:
        raise ConnectionError("refused")

    # More than 50 failures, and more failures than successes: the loop stops long before its count.
    assert counted_ops(10_000, 30, refuse) == (0, 51)
    assert counted_ops(10_000, 30, lambda i: i < 60) == (60, 61)


def test_counted_ops_stops_at_the_deadline() -> None:
    started = time.monotonic()

    def slow(i: int) -> bool:
        time.sleep(0.01)
        return True

    done, errors = counted_ops(10_000, 0.2, slow)
    assert errors == 0 and 1 <= done <= 21  # each call takes at least 10 ms: at most 20 fit, plus the one running
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("give_up", [0, 10])
def test_counted_ops_give_up_threshold_is_the_callers(give_up: int) -> None:
    assert counted_ops(1000, 30, lambda i: False, give_up) == (0, give_up + 1)
