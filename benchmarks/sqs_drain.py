"""SQS's consumer side, source tree against source tree: the drain and the mixed phase of benchmarks/sqs.py,
on one `conveyor up --bare` server per tree, the trees taking turns in the same minutes.

    python benchmarks/sqs_drain.py [--src DIR ...] [--rounds N] [--fill N] [--seconds S] [--profile OUT]

Each `--src DIR` (default: the conveyor the interpreter imports) is put first on its server's PYTHONPATH.
Per round and tree: a queue is filled with FILL messages of about 200 bytes (SendMessageBatch, 8 clients),
then drained by 8 clients (ReceiveMessage of 10, VisibilityTimeout 120, + DeleteMessageBatch); then 2
producers (SendMessageBatch) and 2 consumers (receive 10 + delete-batch) share a fresh queue for SECONDS.
Printed per tree: drained msgs/s and server CPU µs per drained message (utime+stime of the server's
process tree, /proc), and the mixed phase's consumed msgs/s, CPU per consumed message and backlog left.
On a shared machine only CPU per message compares well between runs; the trees alternate so both see
the same load. `--profile OUT` records the first tree's server with py-spy during one more drain and
mixed phase, twice each (collapsed stacks of the GIL holder to OUT.drain.gil and OUT.mixed.gil,
of every busy thread to OUT.drain.wall and OUT.mixed.wall).
Everything talks to 127.0.0.1; every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peers import Server, fmt, log, median, profile_load, run_load, stop  # noqa: E402
from small_requests import start  # noqa: E402
from sqs import boto_sqs, w_drain, w_mixed, w_send_batch  # noqa: E402

PROBLEMS: list[str] = []  # what went wrong in any phase: listed under the table, and the exit status is 1


def drain(srv: Server, fill: int, tag: str) -> tuple[float, float]:
    """Fill a fresh queue, then drain it with 8 clients: (msgs/s, server CPU µs per message)."""
    assert srv.endpoint is not None
    url = boto_sqs(srv.endpoint).create_queue(QueueName=f"drain-{tag}")["QueueUrl"]
    filled = run_load(srv, w_send_batch, 8, (srv.endpoint, url, fill // 8, 60.0), 60.0)
    per = (filled.ops + 7) // 8 + 10
    r = run_load(srv, w_drain, 8, (srv.endpoint, url, per, 60.0), 60.0)
    if r.errors or r.failure or filled.errors or filled.failure or r.ops < filled.ops:
        PROBLEMS.append(f"{srv.name}: sent {filled.ops} (errors={filled.errors}), drained {r.ops} "
                        f"(errors={r.errors}) {r.failure or filled.failure or ''}")
    return r.rate, (r.cpu / r.ops * 1e6 if r.ops else float("nan"))


def mixed(srv: Server, seconds: float, tag: str) -> tuple[float, float, int]:
    """2 producers + 2 consumers on a fresh queue: (consumed/s, CPU µs per consumed message, backlog left)."""
    assert srv.endpoint is not None
    client = boto_sqs(srv.endpoint)
    url = client.create_queue(QueueName=f"mixed-{tag}")["QueueUrl"]
    r = run_load(srv, w_mixed, 4, (srv.endpoint, url, 2, seconds), seconds * 2)
    if r.errors or r.failure or not r.ops:
        PROBLEMS.append(f"{srv.name}: mixed phase consumed {r.ops}, errors={r.errors} {r.failure or ''}")
    left = client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return r.rate, (r.cpu / r.ops * 1e6 if r.ops else float("nan")), int(left["Attributes"]["ApproximateNumberOfMessages"])


def profile(srv: Server, out: str, fill: int, seconds: float) -> None:
    assert srv.endpoint is not None
    endpoint = srv.endpoint
    url = boto_sqs(endpoint).create_queue(QueueName="drain-profile")["QueueUrl"]

    def fill_queue() -> None:
        run_load(srv, w_send_batch, 8, (endpoint, url, fill // 8, 60.0), 60.0)

    profile_load(srv, f"{out}.drain", seconds, f"drain on {srv.name}",
                 lambda: run_load(srv, w_drain, 8, (endpoint, url, fill // 8 + 10, seconds), seconds),
                 prepare=fill_queue)
    mixed_url = boto_sqs(endpoint).create_queue(QueueName="mixed-profile")["QueueUrl"]
    profile_load(srv, f"{out}.mixed", seconds, f"mixed on {srv.name}",
                 lambda: run_load(srv, w_mixed, 4, (endpoint, mixed_url, 2, seconds), seconds * 2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", action="append", help="a source tree (its src/ directory) to measure")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fill", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=6.0, help="length of the mixed phase")
    ap.add_argument("--profile", metavar="OUT")
    args = ap.parse_args()
    trees: list[str | None] = args.src or [None]
    servers = [start(t, signed=False) for t in trees]
    results: dict[str, list[tuple[float, ...]]] = {s.name: [] for s in servers}
    try:
        for s in servers:
            if not s.up:
                log(f"{s.name}: {s.error}")
                return 1
        for n in range(args.rounds):
            for s in servers:
                d_rate, d_cpu = drain(s, args.fill, f"{n}")
                m_rate, m_cpu, left = mixed(s, args.seconds, f"{n}")
                results[s.name].append((d_rate, d_cpu, m_rate, m_cpu, left))
                log(f"round {n} {s.name}: drain {fmt(d_rate)}/s {fmt(d_cpu, 1)} µs/msg; mixed consumed "
                    f"{fmt(m_rate)}/s {fmt(m_cpu, 1)} µs/msg, backlog left {left}")
        if args.profile:
            profile(servers[0], args.profile, args.fill, args.seconds)
    finally:
        for s in servers:
            stop(s)
    print(f"\n## SQS consumer side by source tree ({args.rounds} rounds, medians; fill {args.fill}, "
          f"mixed {args.seconds:.0f} s; load average at end {os.getloadavg()[0]:.2f})\n")
    print("| tree | drain msgs/s, 8 clients | CPU µs/drained msg | mixed consumed/s | CPU µs/consumed msg "
          "| mixed backlog left |")
    print("|---|---|---|---|---|---|")
    for name, rows in results.items():
        cols = [median([r[i] for r in rows]) for i in range(5)]
        print(f"| {name} | {fmt(cols[0])} | {fmt(cols[1], 1)} | {fmt(cols[2])} | {fmt(cols[3], 1)} | {fmt(cols[4])} |")
    if PROBLEMS:
        print("\nProblems:\n" + "\n".join(f"- {p}" for p in PROBLEMS))
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
