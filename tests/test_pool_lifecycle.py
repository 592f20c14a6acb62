"""Worker pools as a lab uses them: a user's plain print() worker, its output, relative commands, the
crash-loop back-off and a desired capacity set by hand (the shared server runs on the manual clock)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import wait_for
from tests.test_workers import call, workers_cli

# A user's worker as the labs write one: plain print(), no flush, no signal handling.
PRINTING_WORKER = [sys.executable, "-c", """
import os, time
me = os.environ["CONVEYOR_WORKER_ID"]
print("Worker started:", me)
n = 0
while True:
    n += 1
    print(f"Processing: uploads/{me}-{n}.jpg")
    time.sleep(0.2)
"""]
CRASHING = [sys.executable, "-c", "raise SystemExit(3)"]


def started(endpoint: str, pool: str) -> int:
    return sum(" started (pid " in e for e in call(endpoint, "GET", "pools")[pool]["events"])


def log_text(endpoint: str, pool: str) -> str:
    return Path(call(endpoint, "GET", "pools")[pool]["log"]).read_text()


def conveyor(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env)


def test_plain_print_worker_output_shows_at_once_and_survives_scale_in(endpoint: str) -> None:
    call(endpoint, "POST", "pools", {"name": "printers", "command": PRINTING_WORKER, "min": 1, "max": 2,
                                     "desired": 2, "warmup": 0, "drain_timeout": 5})
    first, second = wait_for(lambda: (lambda ws: ws if len(ws) == 2 else None)(call(endpoint, "GET", "workers")))
    # Unbuffered: each line is in workers.log while the worker still runs (a pipe would hold 8 KiB back).
    for worker in (first, second):
        wait_for(lambda w=worker: f"{w['id']} | Processing: uploads/{w['id']}-3.jpg" in log_text(endpoint, "printers"))
        assert f"{worker['id']} | Worker started: {worker['id']}" in log_text(endpoint, "printers")
    assert b"PYTHONUNBUFFERED=1" in Path(f"/proc/{first['pid']}/environ").read_bytes().split(b"\0")

    scaled = workers_cli(endpoint, "scale", "printers", "1")  # scale-in: SIGTERM to the newest
    assert scaled.returncode == 0, scaled.stderr
    wait_for(lambda: f"{second['id']} stopped" in log_text(endpoint, "printers"))
    text = log_text(endpoint, "printers")
    # Everything it printed before the SIGTERM is in the log, before the line that says it stopped.
    last_line = max(text.rindex(line) for line in text.splitlines() if line.startswith(f"{second['id']} | "))
    assert last_line < text.index(f"pool printers: {second['id']} stopped")
    assert [w["id"] for w in call(endpoint, "GET", "workers")] == [first["id"]]


def test_crash_loop_back_off_holds_as_logged(endpoint: str, advance: Callable[[float], float]) -> None:
    call(endpoint, "POST", "pools", {"name": "crashing", "command": CRASHING, "min": 2, "max": 2, "warmup": 0})
    # Two start; the first quick exit is replaced at once, the next ones hold every launch back.
    wait_for(lambda: call(endpoint, "GET", "pools")["crashing"]["replaced"] == 3)
    time.sleep(1.5)  # real time passes, the pool's clock does not: nothing starts (no evaluation sneaks one in)
    pool = call(endpoint, "GET", "pools")["crashing"]
    assert started(endpoint, "crashing") == 3 and pool["workers"] == []
    assert pool["state"] == "crash-looping" and pool["crash_loop"]["quick_exits"] == 3
    assert any("replacing it in 0.5 s (crash loop: 3 quick exits in a row)" in e for e in pool["events"])
    listing = workers_cli(endpoint)
    assert listing.returncode == 0 and "crashing" in listing.stdout
    assert "crash-looping (3 quick exits in a row, next start in 0.5 s)" in listing.stdout
    status = subprocess.run([sys.executable, "-m", "conveyor.cli", "status", "--endpoint", endpoint],
                            capture_output=True, text=True, timeout=60)
    assert "crashing: 0 workers (desired 2, min 2, max 2)" in status.stdout and "crash-looping (3 quick" in status.stdout

    advance(0.4)  # still inside the announced 0.5 s
    time.sleep(0.5)
    assert started(endpoint, "crashing") == 3
    advance(0.2)  # past it: both missing workers start, die, and the delay doubles (1 s, then 2 s)
    wait_for(lambda: call(endpoint, "GET", "pools")["crashing"]["replaced"] == 5)
    assert started(endpoint, "crashing") == 5
    events = call(endpoint, "GET", "pools")["crashing"]["events"]
    assert any("replacing it in 2 s (crash loop: 5 quick exits in a row)" in e for e in events)
    advance(1.8)
    time.sleep(0.5)
    assert started(endpoint, "crashing") == 5
    advance(0.3)
    wait_for(lambda: started(endpoint, "crashing") == 7)


def test_a_killed_worker_is_not_a_crash_loop(endpoint: str) -> None:
    idle = [sys.executable, "-c", "import time; time.sleep(600)"]
    call(endpoint, "POST", "pools", {"name": "drill", "command": idle, "min": 1, "max": 1, "warmup": 0})
    for _ in range(3):  # `conveyor workers kill` right after start, again and again: replaced at once each time
        [worker] = wait_for(lambda: call(endpoint, "GET", "workers"))
        assert workers_cli(endpoint, "kill", worker["id"]).returncode == 0
        wait_for(lambda w=worker: [x for x in call(endpoint, "GET", "workers") if x["id"] != w["id"]])
    assert call(endpoint, "GET", "pools")["drill"]["state"] == "ok"


def test_scale_by_hand_holds_for_the_scale_in_cooldown(endpoint: str, client: Any,
                                                       advance: Callable[[float], float]) -> None:
    url = client("sqs").create_queue(QueueName="quiet")["QueueUrl"]
    idle = [sys.executable, "-c", "import time; time.sleep(600)"]
    call(endpoint, "POST", "pools", {"name": "manual", "command": idle, "queue": url, "min": 1, "max": 3,
                                     "warmup": 0, "scale_in_cooldown": 15, "drain_timeout": 2})
    scaled = workers_cli(endpoint, "scale", "manual", "3")
    assert scaled.returncode == 0 and "held for the scale-in cooldown, 15 s" in scaled.stdout
    wait_for(lambda: len(call(endpoint, "GET", "workers")) == 3)
    for _ in range(14):  # the backlog is 0 all along: target tracking would want 1, but waits
        advance(1)
        time.sleep(0.02)
    pool = call(endpoint, "GET", "pools")["manual"]
    assert pool["desired"] == 3 and 0 < pool["manual_hold"] <= 1
    assert "desired set by hand" in workers_cli(endpoint).stdout
    # The hand-set capacity is not the pool's configuration.
    assert pool["spec"]["desired"] == 1

    def scaled_in() -> bool:
        advance(1)
        return call(endpoint, "GET", "pools")["manual"]["desired"] == 1

    wait_for(scaled_in)
    assert any("backlog 0 below target" in e for e in call(endpoint, "GET", "pools")["manual"]["events"])


def test_next_start_does_not_replay_a_hand_set_capacity(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    idle = [sys.executable, "-c", "import time; time.sleep(600)"]
    call(server.endpoint, "POST", "pools", {"name": "p", "command": idle, "min": 1, "max": 3, "warmup": 0,
                                            "drain_timeout": 2})
    assert workers_cli(server.endpoint, "scale", "p", "3").returncode == 0
    wait_for(lambda: len(call(server.endpoint, "GET", "workers")) == 3)
    assert server.stop() == 0
    again = start_server(tmp_path / "data")
    pool = call(again.endpoint, "GET", "pools")["p"]
    assert pool["desired"] == 1 and len(pool["workers"]) == 1  # its configuration, not the last hand-set value


def test_relative_command_runs_next_to_the_pipeline_file(endpoint: str, tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "worker.py").write_text("import os, time\nprint('running in', os.getcwd())\ntime.sleep(600)\n")
    (lab / "conveyor.yaml").write_text("queues:\n  - name: lab-jobs\npools:\n  - name: lab\n    queue: lab-jobs\n"
                                       f"    command: {Path(sys.executable).name} worker.py\n    drain_timeout: 2\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    applied = conveyor("apply", "--pipeline", str(lab / "conveyor.yaml"), "--endpoint", endpoint, cwd=elsewhere,
                       env=env)
    assert applied.returncode == 0, applied.stderr
    [worker] = wait_for(lambda: call(endpoint, "GET", "workers"))
    wait_for(lambda: f"{worker['id']} | running in {lab}" in log_text(endpoint, "lab"))
    assert call(endpoint, "GET", "pools")["lab"]["replaced"] == 0


def test_a_command_whose_script_is_missing_is_refused_at_apply(endpoint: str, tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text("queues:\n  - name: jobs\npools:\n  - name: p\n    queue: jobs\n"
                                            "    command: python3 worker.py\n")
    refused = conveyor("apply", "--pipeline", str(tmp_path / "conveyor.yaml"), "--endpoint", endpoint)
    assert refused.returncode == 2
    assert f"{tmp_path / 'conveyor.yaml'}:6: pools[0].command: the script worker.py does not exist" in refused.stderr
    assert call(endpoint, "GET", "pools") == {}  # nothing applied, nothing crash-looping


def test_a_pool_with_a_bad_region_or_directory_is_refused(endpoint: str, tmp_path: Path) -> None:
    import urllib.error

    from tests.conftest import post_json

    idle = [sys.executable, "-c", "import time; time.sleep(600)"]
    for settings, words in (({"region": "Ohio"}, "region 'Ohio' is not a region name"),
                            ({"workdir": str(tmp_path / "nowhere")}, "is not a directory")):
        try:
            post_json(f"{endpoint}/_conveyor/pools", {"name": "bad", "command": idle, **settings})
        except urllib.error.HTTPError as error:
            assert error.code == 400 and words in error.read().decode()
        else:
            raise AssertionError(f"{settings} was accepted")
    assert call(endpoint, "GET", "pools") == {}
