"""The database writer alone (conveyor.storage.db): what a durable write costs around its SQL.

    python benchmarks/db_writer.py [--quick] [--src DIR ...]

Per source tree (`--src DIR`, default the conveyor the interpreter imports; each measured in a child process
with DIR first on its path, trees alternating, so a branch and main are compared in the same minutes), on a
fresh database in a temporary directory, the same one-row INSERT:
  * inline: BEGIN IMMEDIATE, INSERT, COMMIT on one thread: SQLite and the fsync alone;
  * Database.write awaited by 1 task, then by 8 concurrent tasks, on uvloop as the server runs it;
each with synchronous=FULL (as served: every commit fsynced) and synchronous=OFF (no fsync: what is left over
the inline row is the hand-off: the writer thread's wake-up, the GIL, the event loop's wake-up). Printed:
writes/s, CPU µs per write (the process's user + system), commits per write, latency p50 / p99 in µs.
On a shared machine trust the CPU column; everything is bounded by a count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SCHEMA = ["CREATE TABLE t (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, body TEXT)"]
INSERT = "INSERT INTO t (id, seq, body) VALUES (?, ?, ?)"
BODY = "x" * 200


def _summary(latencies: list[float], cpu: float, wall: float, commits: float) -> dict[str, float]:
    latencies.sort()
    n = len(latencies)
    return {"rate": n / wall, "cpu_us": cpu / n * 1e6, "commits": commits / n,
            "p50_us": latencies[n // 2] * 1e6, "p99_us": latencies[min(n - 1, n * 99 // 100)] * 1e6}


def inline(directory: Path, sync: str, count: int) -> dict[str, float]:
    from conveyor.storage.db import connect

    conn = connect(directory / "inline.db")
    conn.execute(f"PRAGMA synchronous={sync}")
    conn.execute(SCHEMA[0])
    warm = min(200, count)  # as the writer's rows: statement cache, WAL
    ids = [str(uuid.uuid4()) for _ in range(warm + count)]
    latencies: list[float] = []
    cpu0 = wall0 = 0.0
    for i in range(warm + count):
        if i == warm:
            latencies.clear()
            cpu0, wall0 = time.process_time(), time.perf_counter()
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT, (ids[i], i, BODY))
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - start)
    result = _summary(latencies, time.process_time() - cpu0, time.perf_counter() - wall0, count)
    conn.close()
    return result


async def through_writer(directory: Path, sync: str, count: int, tasks: int) -> dict[str, float]:
    from conveyor.storage.db import Database

    db = Database(directory / f"writer-{tasks}.db", SCHEMA)
    try:
        # (before any write, while the writer thread waits: the connection is never used by two at once)
        db._writer.execute(f"PRAGMA synchronous={sync}")
        latencies: list[float] = []

        async def one_task(n: int) -> None:
            ids = [str(uuid.uuid4()) for _ in range(n)]
            for i in range(n):
                start = time.perf_counter()
                await db.execute(INSERT, (ids[i], i, BODY))
                latencies.append(time.perf_counter() - start)

        await one_task(min(200, count))  # warm: statement cache, WAL
        latencies.clear()
        commits0, cpu0, wall0 = db.commits, time.process_time(), time.perf_counter()
        await asyncio.gather(*(one_task(count // tasks) for _ in range(tasks)))
        return _summary(latencies, time.process_time() - cpu0, time.perf_counter() - wall0, db.commits - commits0)
    finally:
        db.close()


def child(count: int) -> None:
    import uvloop

    results: dict[str, Any] = {}
    for sync in ("FULL", "OFF"):
        with tempfile.TemporaryDirectory(prefix="conveyor-dbw-") as tmp:
            directory = Path(tmp)
            results[f"inline {sync}"] = inline(directory, sync, count)
            for tasks in (1, 8):
                results[f"write x{tasks} {sync}"] = uvloop.run(through_writer(directory, sync, count, tasks))
    print(json.dumps(results))


def measure(src: str | None, count: int) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(count)], env=env,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{src or 'conveyor'}: {out.stderr.strip()}")
    answer: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, for smoke tests")
    parser.add_argument("--src", action="append", help="a source tree to measure (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=0, help="runs per tree, the lowest CPU kept (default 3, quick 1)")
    parser.add_argument("--child", type=int, metavar="COUNT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    count = 400 if args.quick else 3000
    trees = args.src or [None]
    best: dict[tuple[str, str], dict[str, float]] = {}
    for _ in range(args.rounds or (1 if args.quick else 3)):
        for src in trees:
            for row, figures in measure(src, count).items():
                key = (src or "conveyor", row)
                if key not in best or figures["cpu_us"] < best[key]["cpu_us"]:
                    best[key] = figures
    print(f"\n{count} one-row writes per row; the run with the lowest CPU per write of each")
    print("| tree | writes | per second | CPU µs per write | commits per write | p50 µs | p99 µs |")
    print("|---|---|---|---|---|---|---|")
    for (tree, row), f in best.items():
        print(f"| {tree} | {row} | {f['rate']:,.0f} | {f['cpu_us']:.1f} | {f['commits']:.2f} | "
              f"{f['p50_us']:,.0f} | {f['p99_us']:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
