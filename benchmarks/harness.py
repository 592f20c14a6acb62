"""What every benchmark script shares above the plumbing in peers.py: the counted, deadline-bounded
loop a load worker runs, a boto3 client for a server, and the whole run (`bench_main`: options,
servers, the table with its ratios, the script's own report, the problems, the JSON record).

A script supplies only what it measures; the hooks of `bench_main` carry what differs between them
(more options, a profile phase, work before the servers start, lines after the table).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from peers import CREDS, Http, LoadResult, Server, fmt, log, run_load, servers_running, table

Row = tuple[str, str, bool]  # (key, label, higher is better)
Values = dict[tuple[str, str], Any]  # (server, key) -> number
Notes = dict[tuple[str, str], Any]  # (server, key) -> text in the cell; ("_problems", server) -> [text]
Counts = dict[str, Any]  # the run's sizes (quick or full), adjusted by the options


def aws_client(service: str, endpoint: str, retries: int = 2, read_timeout: float = 60) -> Any:
    """A boto3 client for a benchmarked server (path-style S3: the servers answer on 127.0.0.1)."""
    return boto3.client(service, endpoint_url=endpoint, aws_access_key_id=CREDS["aws_access_key_id"],  # type: ignore[call-overload]
                        aws_secret_access_key=CREDS["aws_secret_access_key"], region_name=CREDS["region_name"],
                        config=BotoConfig(retries={"max_attempts": retries}, read_timeout=read_timeout,
                                          connect_timeout=5, s3={"addressing_style": "path"}))


def problem(notes: Notes, server: str, text: str) -> None:
    """Note something that went wrong on `server`; bench_main lists it under the table."""
    notes.setdefault(("_problems", server), []).append(text)


def counted_ops(count: int, seconds: float, op: Callable[[int], bool], give_up: int = 50) -> tuple[int, int]:
    """Run op(0..count-1) until the deadline: (succeeded, failed). An exception counts as a failure;
    the loop gives up once more than `give_up` failed and failures outnumber successes (a server that
    refuses everything must not hold the run for its whole deadline)."""
    done = errors = 0
    deadline = time.monotonic() + seconds
    for i in range(count):
        if time.monotonic() > deadline:
            break
        try:
            ok = op(i)
        except Exception:
            ok = False
        if ok:
            done += 1
        else:
            errors += 1
            if errors > give_up and errors > done:
                break
    return done, errors


def http_ops(h: Http, count: int, seconds: float, op: Callable[[Http, int], bool],
             give_up: int = 50) -> tuple[int, int]:
    """counted_ops over one keep-alive connection, closed at the end: a load worker's "run" phase."""
    try:
        return counted_ops(count, seconds, lambda i: op(h, i), give_up)
    finally:
        h.close()


def measure_load(srv: Server, values: Values, notes: Notes, key: str, what: str, fn: Callable[..., Any],
                 clients: int, args: tuple[Any, ...], seconds: float, cpu_key: str | None = None) -> LoadResult:
    """One load row: run_load's ops/s into `key`, server CPU µs per op into `cpu_key`, errors noted."""
    r = run_load(srv, fn, clients, args, seconds)
    values[(srv.name, key)] = r.rate if r.ops else None
    cpu = r.cpu / r.ops * 1e6 if r.ops else None
    if cpu_key is not None:
        values[(srv.name, cpu_key)] = cpu
    log(f"  {srv.name} {what}: {r.ops} in {r.seconds:.2f}s = {fmt(r.rate)}/s, server CPU {fmt(cpu, 1)} µs/op"
        f"{' errors=' + str(r.errors) if r.errors else ''}{' FAILURE: ' + r.failure if r.failure else ''}")
    if r.errors or r.failure:
        problem(notes, srv.name, f"{what}: errors={r.errors} {r.failure or ''}")
    return r


@dataclass(frozen=True)
class CountOption:
    """A command-line option that overrides one of the run's counts: `--big-mib 64` -> big = 64 MiB."""

    flag: str
    key: str
    help: str
    scale: int = 1


def bench_main(title: str, doc: str | None, peers: Sequence[str], quick: Counts, full: Counts,
               setting: str | Callable[[Counts], str], rows: list[Row] | Callable[[Counts], list[Row]],
               run: Callable[[Server, Counts, Values, Notes], None], *,
               options: Sequence[CountOption] = (), bare: bool = True,
               profile: Callable[[Server, Counts, str], None] | None = None,
               session: Callable[[Counts], contextlib.AbstractContextManager[None]] | None = None,
               report: Callable[[list[Server], Counts, Values], str] | None = None) -> int:
    """A benchmark script's whole run: `--quick`/`--only` (and `options`), each server started and
    measured by `run(server, counts, values, notes)` (a failure is noted, the others go on), the table
    with ratios, `report`'s lines and the problems. `setting` says what was measured (item sizes, ...).

    Hooks: `bare=False` starts Conveyor with its default pipeline; `profile` adds `--profile OUT` and
    runs after Conveyor's measured phases; `session(counts)` wraps the servers' whole run (work on the
    machine before they start, cleaned up after; it may add to counts for `run` and `report`)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts, for smoke tests")
    ap.add_argument("--only", default=",".join(peers), help="comma-separated servers to run")
    for opt in options:
        ap.add_argument(opt.flag, dest=opt.key, type=int, metavar="N", help=opt.help)
    if profile is not None:
        ap.add_argument("--profile", metavar="OUT",
                        help="py-spy extra Conveyor phases after the measured ones; collapsed stacks to OUT.*")
    args = ap.parse_args()
    counts = dict(quick if args.quick else full)
    for opt in options:
        if getattr(args, opt.key) is not None:
            counts[opt.key] = getattr(args, opt.key) * opt.scale
    kind = "quick" if args.quick else "full"
    names = [n for n in args.only.split(",") if n]
    values: Values = {}
    notes: Notes = {}
    started = time.monotonic()
    log(f"{title} benchmark ({kind}) on {os.cpu_count()} CPUs; servers: {', '.join(names)}")
    with session(counts) if session is not None else contextlib.nullcontext(), \
            servers_running(names, bare=bare) as servers:
        for srv in (s for s in servers if s.up):
            try:
                run(srv, counts, values, notes)
                if profile is not None and args.profile and srv.name == "conveyor":
                    profile(srv, counts, args.profile)
            except Exception as exc:
                log(f"{srv.name}: benchmark aborted: {type(exc).__name__}: {exc}")
                problem(notes, srv.name, f"aborted: {type(exc).__name__}: {exc}")
        what = setting(counts) if callable(setting) else setting
        measured_rows = rows(counts) if callable(rows) else rows
        print()
        print(f"## {title} ({kind} run, {os.cpu_count()} CPUs, {what}; clients share the CPUs with the server; "
              f"load average at end {os.getloadavg()[0]:.2f}: other work on the machine skews the numbers)\n")
        print(table(measured_rows, servers, values, {k: v for k, v in notes.items() if k[0] != "_problems"}))
        extra = report(servers, counts, values) if report is not None else ""
        if extra:
            print(extra)
        problems = {k[1]: v for k, v in notes.items() if k[0] == "_problems"}
        if problems:
            print("\nProblems:")
            for n, items in problems.items():
                for it in items:
                    print(f"- {n}: {it}")
    log(f"done in {time.monotonic() - started:.0f}s")
    return 0

