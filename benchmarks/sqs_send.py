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
during two more runs of each row (collapsed stacks of the GIL holder to OUT.ROW.gil, of every busy
thread to OUT.ROW.wall).
Everything talks to 127.0.0.1; every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import aws_client  # noqa: E402
from peers import LoadResult, Server, fmt, log, profile_load, run_load, stop  # noqa: E402
from small_requests import chosen, print_by_tree, start, tree_comparison_parser  # noqa: E402
from sqs import w_send, w_send_batch  # noqa: E402

ATTRIBUTES = {"kind": {"DataType": "String", "StringValue": "upload"}, "size": {"DataType": "Number", "StringValue": "1234"}}


# row -> (label, the client loop of benchmarks/sqs.py, client processes, its arguments after the seconds)
ROWS: dict[str, tuple[str, Callable[..., Any], int, tuple[Any, ...]]] = {
    "send1": ("SendMessage, 1 client", w_send, 1, ()),
    "send8": ("SendMessage, 8 clients", w_send, 8, ()),
    "batch8": ("SendMessageBatch, 8 clients", w_send_batch, 8, ()),
    "batch8_attrs": ("SendMessageBatch with 2 attributes a message, 8 clients", w_send_batch, 8, (ATTRIBUTES,)),
}


def run_row(srv: Server, url: str, row: str, count: int, seconds: float) -> LoadResult:
    _, worker, clients, extra = ROWS[row]
    return run_load(srv, worker, clients, (srv.endpoint, url, count // clients, seconds, *extra), seconds)


def profile(srv: Server, url: str, row: str, out: str, count: int, seconds: float) -> None:
    profile_load(srv, f"{out}.{row}", seconds, f"{row} on {srv.name}", lambda: run_row(srv, url, row, count, seconds))


def main() -> int:
    parser = tree_comparison_parser(__doc__, "rows", list(ROWS))
    args = parser.parse_args()
    seconds, count = (2.0, 2_000) if args.quick else (6.0, 60_000)
    rounds = args.rounds or (1 if args.quick else 2)
    rows = chosen(parser, "rows", args.rows, list(ROWS))
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

        def cell(got: list[tuple[float, float]] | None) -> str:
            return f"{fmt(max(r for r, _ in got))} / {fmt(min(c for _, c in got), 1)}" if got else "-"

        print_by_tree(f"SQS send rows: msgs/s / server CPU µs per message (best of {rounds}; load average "
                      f"{os.getloadavg()[0]:.2f})", "row", names,
                      [(ROWS[row][0], [cell(results.get((n, row))) for n in names]) for row in rows])
    finally:
        for srv in servers:
            stop(srv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
