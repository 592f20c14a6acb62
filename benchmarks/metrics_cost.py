"""What watching costs: server CPU per SQS message with nobody watching, with a Prometheus scraper reading
/_conveyor/metrics every second, and with the dashboard's event stream open.

    python benchmarks/metrics_cost.py [--quick] [--messages N] [--rounds R]

Each round sends N messages one SendMessage at a time, receives them ten at a time and deletes them in
batches of ten, against one `conveyor up --bare` on loopback; the modes take turns round after round (so
a busy machine disturbs them alike) and the median per mode is printed. CPU is the server process's
user + system time from /proc (benchmarks/peers.py), not wall time. Last, 200 scrapes back to back give
the server CPU of one scrape.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable

from peers import Http, cpu_seconds, log, start_conveyor, stop

QUEUE = "metrics-cost"


def sqs(http: Http, action: str, body: dict[str, object]) -> dict[str, object]:
    status, data = http.request("POST", "/", json.dumps(body).encode(), {
        "X-Amz-Target": f"AmazonSQS.{action}", "Content-Type": "application/x-amz-json-1.0"})
    if status != 200:
        raise RuntimeError(f"{action}: {status} {data[:200]!r}")
    return json.loads(data or b"{}")


def one_round(http: Http, url: str, messages: int) -> None:
    for i in range(messages):
        sqs(http, "SendMessage", {"QueueUrl": url, "MessageBody": f"message {i}"})
    left = messages
    while left:
        got = sqs(http, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10}).get("Messages") or []
        if not got:
            continue
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)]  # type: ignore[index]
        sqs(http, "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
        left -= len(got)


class Watcher:
    """A background reader, stopped by `stop`: a scraper every second, or the dashboard's event stream."""

    def __init__(self, endpoint: str, kind: str) -> None:
        self.endpoint, self.kind = endpoint, kind
        self.done = threading.Event()
        self.reads = 0
        self.thread = threading.Thread(target=self.scrape if kind == "scrape" else self.stream, daemon=True)
        self.thread.start()

    def scrape(self) -> None:
        while not self.done.wait(1.0):
            with urllib.request.urlopen(f"{self.endpoint}/_conveyor/metrics", timeout=10) as response:
                response.read()
            self.reads += 1

    def stream(self) -> None:
        with urllib.request.urlopen(f"{self.endpoint}/_conveyor/events", timeout=30) as response:
            while not self.done.is_set():
                line = response.readline()
                if not line:
                    return
                self.reads += line.startswith(b"data: ")

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and rounds")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    messages, rounds = (500, 2) if args.quick else (args.messages, args.rounds)
    server = start_conveyor()
    if not server.up:
        raise SystemExit(f"conveyor: {server.error}")
    assert server.endpoint is not None and server.pid is not None
    try:
        http = Http(server.endpoint)
        url = str(sqs(http, "CreateQueue", {"QueueName": QUEUE})["QueueUrl"])
        one_round(http, url, 200)  # warm up
        modes: dict[str, Callable[[], Watcher | None]] = {
            "nobody watching": lambda: None,
            "scraper every 1 s": lambda: Watcher(str(server.endpoint), "scrape"),
            "dashboard stream open": lambda: Watcher(str(server.endpoint), "stream"),
        }
        results: dict[str, list[float]] = {mode: [] for mode in modes}
        reads: dict[str, int] = dict.fromkeys(modes, 0)
        for r in range(rounds):
            for mode, watch in modes.items():
                watcher = watch()
                time.sleep(0.2)  # the watcher's first read is not the round's
                before = cpu_seconds(server.pid, descendants=False)
                started = time.perf_counter()
                one_round(http, url, messages)
                elapsed = time.perf_counter() - started
                used = cpu_seconds(server.pid, descendants=False) - before
                if watcher is not None:
                    watcher.stop()
                    reads[mode] += watcher.reads
                results[mode].append(used / messages * 1e6)
                log(f"round {r + 1} {mode}: {used / messages * 1e6:.1f} µs CPU/message, "
                    f"{messages / elapsed:.0f} messages/s")
        # One scrape on its own, back to back: what a scraper costs the server, whatever else it does.
        before = cpu_seconds(server.pid, descendants=False)
        for _ in range(200):
            with urllib.request.urlopen(f"{server.endpoint}/_conveyor/metrics", timeout=10) as response:
                size = len(response.read())
        scrape_us = (cpu_seconds(server.pid, descendants=False) - before) / 200 * 1e6
        base = statistics.median(results["nobody watching"])
        print(f"\nserver CPU per SQS message (send + receive + delete), median of {rounds} rounds of {messages}:")
        for mode, values in results.items():
            median = statistics.median(values)
            print(f"  {mode:<24} {median:7.1f} µs  ({(median / base - 1) * 100:+.1f} %)  reads: {reads[mode]}")
        print(f"one scrape ({size} bytes): {scrape_us:.0f} µs of server CPU")
    finally:
        stop(server)


if __name__ == "__main__":
    main()
