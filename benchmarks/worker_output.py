"""Server CPU per line a pool worker prints: the console, workers.log and CloudWatch Logs path around it.

    python benchmarks/worker_output.py [--quick] [--lines N] [--src DIR ...] [--rounds N]

The built-in mover prints two lines per file it moves, each flushed on its own; the server copies every
line to its console, to the pool's workers.log and into CloudWatch Logs (/conveyor/pools/POOL). Here a
pool of one worker prints N lines the same way (bursts of 10, 2 ms apart), and the server's CPU
(utime+stime of its own process, /proc) is read from the pool's creation until the worker's log stream
holds every line, less the CPU of starting a pool whose worker prints nothing (read over 1 s).

Each `--src DIR` (default: the conveyor the interpreter imports) is a source tree put first on the
server's PYTHONPATH; with two trees the rounds alternate between them, in the same minutes.
Everything talks to 127.0.0.1; every wait is bounded by a deadline, and the pools are deleted after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import aws_client  # noqa: E402
from peers import Server, fmt, log, stop  # noqa: E402
from small_requests import print_by_tree, start  # noqa: E402
from small_requests import user_system as _user_system  # noqa: E402

BURST = 10
PAUSE = 0.002  # between bursts, as a mover's lines come per batch


def printer(lines: int) -> list[str]:
    """A worker that prints `lines` numbered lines in bursts, flushing each, then idles."""
    script = (f"import sys, time\nfor b in range({lines} // {BURST}):\n"
              f"    for i in range({BURST}):\n        print(f'Moved to: processed/file-{{b}}-{{i}}.bin', flush=True)\n"
              f"    time.sleep({PAUSE})\ntime.sleep(600)\n")
    return [sys.executable, "-c", script]


def _internal(srv: Server, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{srv.endpoint}/_conveyor/{path}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def stored(logs: Any, pool: str) -> int:
    """Events in the pool's log group so far."""
    group, total = f"/conveyor/pools/{pool}", 0
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return 0
    for stream in streams:
        token: dict[str, str] = {}
        for _ in range(1000):
            page = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                       startFromHead=True, **token)
            if not page["events"]:
                break
            total += len(page["events"])
            token = {"nextToken": page["nextForwardToken"]}
    return total


def cpu(srv: Server) -> float:
    assert srv.pid is not None
    return sum(_user_system(srv.pid))


def measure(srv: Server, pool: str, lines: int, deadline_s: float) -> float | None:
    """Server CPU seconds from the pool's creation until its stream holds `lines` lines (none: 1 s)."""
    logs = aws_client("logs", srv.endpoint or "", retries=3)
    cpu0 = cpu(srv)
    _internal(srv, "POST", "pools", {"name": pool, "command": printer(lines), "min": 1, "max": 1})
    deadline = time.monotonic() + deadline_s
    try:
        if not lines:
            time.sleep(1.0)
            return cpu(srv) - cpu0
        while time.monotonic() < deadline:
            if stored(logs, pool) >= lines:
                return cpu(srv) - cpu0
            time.sleep(0.1)
        log(f"  {srv.name}: {pool} did not store {lines} lines within {deadline_s:g} s")
        return None
    finally:
        _internal(srv, "DELETE", f"pools/{pool}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run, for smoke tests")
    parser.add_argument("--src", action="append", help="a source tree to serve from (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=0, help="measurements per tree (default 3, quick 1)")
    parser.add_argument("--lines", type=int, default=0, help="lines the worker prints (default 20,000, quick 1,000)")
    args = parser.parse_args()
    lines = args.lines or (1_000 if args.quick else 20_000)
    rounds = args.rounds or (1 if args.quick else 3)
    servers = [start(src, signed=False) for src in (args.src or [None])]
    try:
        for srv in servers:
            if not srv.up:
                log(f"{srv.name}: {srv.error}")
                return 1
            log(f"{srv.name}: up at {srv.endpoint} pid {srv.pid}")
        per_line: dict[str, list[float]] = {}
        for r in range(rounds):
            for srv in servers:
                silent = measure(srv, f"silent{r}", 0, 60)  # a pool's start, and the idle server around it
                busy = measure(srv, f"printer{r}", lines, 120)
                if silent is None or busy is None:
                    continue
                us = max(0.0, busy - silent) / lines * 1e6
                per_line.setdefault(srv.name, []).append(us)
                log(f"  {srv.name}: {lines} lines stored, server CPU {busy:.2f}s (a silent pool {silent:.2f}s): "
                    f"{us:.1f} µs per line")
        names = [srv.name for srv in servers]
        print_by_tree(f"Server CPU µs per line a worker prints ({lines} lines, bursts of {BURST}; lowest of {rounds})",
                      "measure", names, [("per line", [fmt(min(per_line[n])) if per_line.get(n) else "-" for n in names])])
    finally:
        for srv in servers:
            stop(srv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
