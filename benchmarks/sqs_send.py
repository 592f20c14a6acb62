"""SQS's send rows, several source trees side by side in the same minutes.

    python benchmarks/sqs_send.py [--quick] [--rounds N] [--rows send1,send8,batch8] [--src DIR ...]
                                  [--profile OUT]

The send rows of `benchmarks/sqs.py` (the same client loops: raw HTTP, JSON protocol, bodies of about 200
bytes), for Conveyor only, against each `--src DIR` (a source tree put first on the server's PYTHONPATH;
default: the conveyor the interpreter imports), one row after the other, the trees alternating: on a
shared machine the rows' msgs/s move with the other work, their server CPU per message much less.
  * send1: SendMessage, 1 client
  * send8: SendMessage, 8 client processes
  * batch8: SendMessageBatch of 10, 8 client processes
  * batch8_attrs: the same, each message with two attributes (a String and a Number), as an application
    or an SNS fan-out tags them
Per tree and row it prints msgs/s and server CPU (utime+stime of the server process tree, /proc) in µs
per message, the best of the rounds for each. `--profile OUT`: py-spy records the first tree's server
(GIL holder only: Python CPU) during one more run of each row; collapsed stacks go to OUT.ROW.txt.
Everything talks to 127.0.0.1; every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import aws_client  # noqa: E402
from peers import Http, LoadResult, Server, fmt, log, run_load, stop, summarize_profile  # noqa: E402
from small_requests import start  # noqa: E402
from sqs import sqs_call, w_send, w_send_batch  # noqa: E402

ATTRIBUTES = {"kind": {"DataType": "String", "StringValue": "upload"}, "size": {"DataType": "Number", "StringValue": "1234"}}


def w_send_batch_attrs(phase: str, idx: int, endpoint: str, url: str, count: int, seconds: float,
                       state: Any = None) -> Any:
    """w_send_batch's loop with two message attributes on every message."""
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    done = errors = 0
    deadline = time.monotonic() + seconds
    for b in range((count + 9) // 10):
        if time.monotonic() > deadline:
            break
        entries = [{"Id": str(j), "MessageBody": f"{idx}-{b}-{j}-" + "y" * 200, "MessageAttributes": ATTRIBUTES}
                   for j in range(10)]
        status, resp = sqs_call(h, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
        if status == 200:
            done += len(resp.get("Successful") or [])
            errors += len(resp.get("Failed") or [])
        else:
            errors += 10
            if errors > 500 and errors > done:
                break
    h.close()
    return done, errors


# row -> (label, the client loop of benchmarks/sqs.py, client processes)
ROWS: dict[str, tuple[str, Callable[..., Any], int]] = {
    "send1": ("SendMessage, 1 client", w_send, 1),
    "send8": ("SendMessage, 8 clients", w_send, 8),
    "batch8": ("SendMessageBatch, 8 clients", w_send_batch, 8),
    "batch8_attrs": ("SendMessageBatch with 2 attributes a message, 8 clients", w_send_batch_attrs, 8),
}


def run_row(srv: Server, url: str, row: str, count: int, seconds: float) -> LoadResult:
    _, worker, clients = ROWS[row]
    return run_load(srv, worker, clients, (srv.endpoint, url, count // clients, seconds), seconds)


def profile(srv: Server, url: str, row: str, out: str, count: int, seconds: float) -> None:
    path = f"{out}.{row}.txt"
    spy = subprocess.Popen(["py-spy", "record", "-p", str(srv.pid), "-d", str(int(seconds) + 2), "-r", "250",
                            "-f", "raw", "-o", path, "--nonblocking", "--gil"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(1)
    r = run_row(srv, url, row, count, seconds)
    log(f"  under py-spy: {fmt(r.rate)} msgs/s")
    with contextlib.suppress(subprocess.TimeoutExpired):
        spy.wait(seconds + 30)
    if spy.returncode == 0:
        print(f"\n### {row} on {srv.name}: {path}")
        summarize_profile(path, top=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, for smoke tests")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {','.join(ROWS)}")
    parser.add_argument("--src", action="append", help="a source tree to serve from (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=0, help="measurements per row and tree (default 2, quick 1)")
    parser.add_argument("--profile", metavar="OUT", help="py-spy the first tree, one run per row")
    args = parser.parse_args()
    seconds, count = (2.0, 2_000) if args.quick else (6.0, 60_000)
    rounds = args.rounds or (1 if args.quick else 2)
    rows = [r for r in args.rows.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    servers = [start(src, signed=False) for src in (args.src or [None])]
    try:
        urls: dict[str, str] = {}
        for srv in servers:
            if not srv.up:
                log(f"{srv.name}: {srv.error}")
                return 1
            log(f"{srv.name}: up at {srv.endpoint} pid {srv.pid}")
            urls[srv.name] = aws_client("sqs", str(srv.endpoint)).create_queue(QueueName="send")["QueueUrl"]
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for row in rows:
            for _ in range(rounds):
                for srv in servers:
                    r = run_row(srv, urls[srv.name], row, count, seconds)
                    if not r.ops:
                        log(f"  {srv.name} {row}: nothing sent ({r.failure})")
                        continue
                    log(f"  {srv.name} {row}: {r.ops} msgs in {r.seconds:.1f}s, {fmt(r.rate)}/s, errors={r.errors}, "
                        f"{r.cpu / r.ops * 1e6:.1f} µs CPU/msg")
                    results.setdefault((srv.name, row), []).append((r.rate, r.cpu / r.ops * 1e6))
        if args.profile:
            for row in rows:
                profile(servers[0], urls[servers[0].name], row, args.profile, count * 2, seconds * 2)
        names = [srv.name for srv in servers]
        print(f"\nSQS send rows: msgs/s / server CPU µs per message (best of {rounds}; load average "
              f"{os.getloadavg()[0]:.2f})")
        print("| row | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for row in rows:
            cells = []
            for n in names:
                got = results.get((n, row))
                cells.append(f"{fmt(max(r for r, _ in got))} / {fmt(min(c for _, c in got), 1)}" if got else "-")
            print(f"| {ROWS[row][0]} | " + " | ".join(cells) + " |")
    finally:
        for srv in servers:
            stop(srv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
