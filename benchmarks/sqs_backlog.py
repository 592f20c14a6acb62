"""A large SQS backlog at rest and at restart: RSS, time to healthy, and the cost of one operation on it.

    python benchmarks/sqs_backlog.py build DIR [--messages 1000000] [--fifo]
    python benchmarks/sqs_backlog.py serve DIR [--ops 2000]

`build` fills a data directory with N queued 1 KiB messages (one queue, `backlog` or `backlog.fifo` with
100 message groups) through the SQS engine in-process (the same rows a server writes, without N HTTP
round trips). `serve` copies nothing: it starts `conveyor up --bare` on DIR, times the start until SQS
answers with the backlog's count, reads the server's RSS, then sends `--ops` messages one by one and
receives(10) + delete-batches `--ops` messages, printing wall time and server CPU per message. The served
queue shrinks by what it drains, so build again (or copy DIR first) to repeat a run on the same backlog.
Run `serve` against two code versions on copies of one built directory to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peers import Http, Server, cpu_seconds, fake_auth, free_port, log, rss_mib, stop  # noqa: E402

ACCOUNT, REGION = "000000000000", "us-east-1"


def build(data_dir: Path, count: int, fifo: bool) -> None:
    from conveyor.clock import Clock
    from conveyor.services.sqs.state import SqsState

    async def run() -> None:
        state = SqsState(Clock(), data_dir / "sqs" / "sqs.db")
        (data_dir / "sqs").mkdir(parents=True, exist_ok=True)
        state.open()
        name = "backlog.fifo" if fifo else "backlog"
        attrs = {"FifoQueue": "true", "ContentBasedDeduplication": "false"} if fifo else {}
        q = await state.catalog.create_queue(ACCOUNT, REGION, name, attrs, {})
        eng = state.engine
        body = "x" * 1000
        t0 = time.perf_counter()
        done = 0
        while done < count:
            n = min(1000, count - done)
            msgs = [eng.prepare(q, f"{done + i:012d}" + body, group_id=f"g{(done + i) % 100}" if fifo else None,
                                dedup_id=f"d{done + i}" if fifo else None) for i in range(n)]
            await eng.enqueue(q, msgs)
            done += n
            if done % 100_000 == 0:
                log(f"  {done:,} messages in {time.perf_counter() - t0:.1f}s")
        state.close()

    asyncio.run(run())


def sqs_call(h: Http, target: str, payload: dict[str, Any]) -> dict[str, Any]:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{target}",
               **fake_auth("sqs")}
    status, body = h.request("POST", "/", json.dumps(payload).encode(), headers)
    out: dict[str, Any] = json.loads(body) if body else {}
    if status != 200:
        raise RuntimeError(f"{target}: HTTP {status} {out}")
    return out


def serve(data_dir: Path, ops: int) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "conveyor.cli", "up", "--bare", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if k != "AWS_REGION"} | {"AWS_DEFAULT_REGION": REGION}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=env)
    srv = Server("conveyor", endpoint=endpoint, pid=proc.pid, proc=proc)
    try:
        h = Http(endpoint, timeout=600)
        url = ""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                urls = sqs_call(h, "ListQueues", {}).get("QueueUrls") or []
                if urls:
                    url = urls[0]
                    break
            except Exception:
                h.close()
                h = Http(endpoint, timeout=600)
            time.sleep(0.05)
        if not url:
            raise RuntimeError("the server did not answer with its queue")
        attrs = sqs_call(h, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})["Attributes"]
        ready = time.perf_counter() - t0
        start_cpu = cpu_seconds(proc.pid)
        queued = int(attrs["ApproximateNumberOfMessages"])
        time.sleep(1.0)
        rss = rss_mib(proc.pid)
        log(f"{queued:,} queued: answering in {ready:.2f}s (server CPU {start_cpu:.2f}s), RSS {rss:.1f} MiB")
        fifo = url.endswith(".fifo")
        cpu0, w0 = cpu_seconds(proc.pid), time.perf_counter()
        for i in range(ops):
            extra = {"MessageGroupId": "s", "MessageDeduplicationId": f"s{i}"} if fifo else {}
            sqs_call(h, "SendMessage", {"QueueUrl": url, "MessageBody": f"s-{i}-" + "z" * 1000, **extra})
        secs, cpu = time.perf_counter() - w0, cpu_seconds(proc.pid) - cpu0
        log(f"send: {ops / secs:,.0f} msgs/s, server CPU {cpu / ops * 1e6:,.0f} µs/msg")
        cpu0, w0, done = cpu_seconds(proc.pid), time.perf_counter(), 0
        while done < ops:
            got = sqs_call(h, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10,
                                                 "VisibilityTimeout": 600}).get("Messages") or []
            if not got:
                break
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
            done += len(sqs_call(h, "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})["Successful"])
        secs, cpu = time.perf_counter() - w0, cpu_seconds(proc.pid) - cpu0
        log(f"receive(10)+delete-batch: {done / secs:,.0f} msgs/s, server CPU {cpu / max(done, 1) * 1e6:,.0f} µs/msg")
        log(f"RSS after: {rss_mib(proc.pid):.1f} MiB")
        h.close()
    finally:
        srv.data_dir = None  # (stop() would delete it: the directory is the caller's)
        stop(srv)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["build", "serve"])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--fifo", action="store_true")
    ap.add_argument("--ops", type=int, default=2000)
    args = ap.parse_args()
    if args.action == "build":
        build(args.data_dir, args.messages, args.fifo)
    else:
        serve(args.data_dir, args.ops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
