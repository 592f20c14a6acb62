"""Stopping `conveyor up` always ends it: in the pools' drain time plus a few seconds, exit code 0, and
no worker left behind (checked by PID), under load and whatever the workers do."""

from __future__ import annotations

import os
import random
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import CLI_ENV, ServerProcess
from tests.helpers import wait_for
from tests.test_workers import call

SERVERS = 20
AT_ONCE = 4
DRAIN = 30.0  # the default pipeline's pool keeps the default drain_timeout
GRACE = 5.0  # requests in progress after the pools stopped (server.GRACE_SECONDS)
FEW = 5.0


def alive(pid: int) -> bool:
    """Running (a zombie has finished: it only waits for its parent to collect it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def started_pids(console: Path) -> set[int]:
    return {int(pid) for pid in re.findall(r"started \(pid (\d+)\)", console.read_text(errors="replace"))}


def load_then_stop(server: ServerProcess, console: Path, seed: int, results: list[dict[str, Any]]) -> None:
    rng = random.Random(seed)
    wait_for(lambda: (call(server.endpoint, "GET", "pools").get("movers") or {}).get("workers"), timeout=60)
    s3 = server.client("s3")
    for i in range(rng.randint(20, 60)):
        s3.put_object(Bucket="conveyor-uploads", Key=f"uploads/file-{i}.txt", Body=b"x" * i)
    time.sleep(rng.uniform(0, 1.5))  # somewhere in the middle of moving them (and maybe scaling out)
    assert server.process is not None
    begun = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        code: int | str = server.process.wait(DRAIN + GRACE + FEW + 15)
    except Exception:
        code = "hung"
    took = time.monotonic() - begun
    results.append({"seed": seed, "code": code, "took": took, "workers": started_pids(console),
                    "console": console})


def test_sigterm_ends_twenty_loaded_servers(start_server: Any, tmp_path: Path) -> None:
    results: list[dict[str, Any]] = []
    env = {**os.environ, **CLI_ENV}
    for batch in range(SERVERS // AT_ONCE):
        threads = []
        for n in range(AT_ONCE):
            seed = batch * AT_ONCE + n
            home = tmp_path / f"server-{seed}"
            home.mkdir()
            console = home / "console.txt"
            # The default pipeline (no conveyor.yaml where it starts), as `conveyor up` runs it.
            server = start_server(home / "data", "--with-pipeline", env=env, cwd=home, console=console)
            threads.append(threading.Thread(target=load_then_stop, args=(server, console, seed, results)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == SERVERS
    slowest = max(r["took"] for r in results)
    print(f"\n{SERVERS} servers stopped by SIGTERM under load: slowest {slowest:.1f} s, "
          f"median {sorted(r['took'] for r in results)[SERVERS // 2]:.1f} s")
    for r in results:
        text = r["console"].read_text(errors="replace")
        assert r["code"] == 0, f"server {r['seed']} exit {r['code']}: {text[-2000:]}"
        assert r["took"] < DRAIN + GRACE + FEW, f"server {r['seed']} took {r['took']:.1f} s"
        assert r["workers"], f"server {r['seed']} never started a worker"
        left = [pid for pid in r["workers"] if alive(pid)]
        assert not left, f"server {r['seed']} left workers {left} behind"
        assert "Conveyor stopped." in text


# Ignores SIGTERM: only SIGKILL ends it.
STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('holding on', flush=True); time.sleep(600)"]


def test_a_worker_that_ignores_sigterm_is_killed_after_its_drain_time(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", console=console)
    call(server.endpoint, "POST", "pools", {"name": "stubborn", "command": STUBBORN, "min": 2, "max": 2,
                                            "drain_timeout": 2})
    wait_for(lambda: console.read_text().count("| holding on") == 2)
    pids = started_pids(console)
    begun = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - begun < 2 + GRACE + FEW
    assert not [pid for pid in pids if alive(pid)]
    assert "did not stop within 2 s of SIGTERM: SIGKILL" in console.read_text()


def test_a_second_signal_stops_at_once(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", console=console)
    call(server.endpoint, "POST", "pools", {"name": "stubborn", "command": STUBBORN, "min": 1, "max": 1,
                                            "drain_timeout": 300})
    wait_for(lambda: "| holding on" in console.read_text())
    pids = started_pids(console)
    assert server.process is not None
    server.process.send_signal(signal.SIGINT)  # Ctrl-C: the worker would have 300 s to finish...
    wait_for(lambda: "Ctrl-C again to stop at once" in console.read_text())
    begun = time.monotonic()
    server.process.send_signal(signal.SIGINT)  # ...Ctrl-C again: now
    assert server.process.wait(10) == 0
    assert time.monotonic() - begun < FEW
    # SIGKILL was sent before the exit; the kernel ends the process on its own time (soon, on a loaded machine).
    assert pids and wait_for(lambda: not [pid for pid in pids if alive(pid)], timeout=5, what="the workers gone")
    assert "the shutdown was interrupted: workers killed" in console.read_text()
