"""SNS side by side: Conveyor vs moto server vs LocalStack, in one run.

    python benchmarks/sns.py [--quick] [--only conveyor,moto,localstack] [--profile OUT]

Measures per server (query protocol, as every SDK speaks SNS), with SQS queues subscribed through
the default JSON envelope (the S3 → SNS → SQS pipeline's path):
  * Publish throughput, 1 client and 8 client processes (raw HTTP), into a topic with 1 subscribed
    queue, and with 8 clients into a topic with 10 subscribed queues
  * how fast the fan-out completes: published messages ÷ time from the first publish until every
    subscribed queue holds every message (servers that deliver asynchronously can lag their acks)
  * server CPU (utime+stime of the server process tree, /proc) per publish, counted until every
    queue holds every message, so asynchronous delivery is included (Conveyor answers a standard
    topic's Publish once its queues hold the message; LocalStack delivers after answering; the tree
    includes Conveyor's idle default worker pool, whose start-up is waited out before measuring)
  * latency from the start of a Publish call until the message arrives at a receiver already
    long-polling each queue (one process per queue): 1 queue, and arrival in all of 10 queues (p50/p99)
  * FIFO: Publish (a MessageGroupId of 8 and a MessageDeduplicationId each) into a FIFO topic with 1
    subscribed FIFO queue, 1 client and 8 clients, with the same server CPU per publish; every
    publish's deduplication id stays in the topic's 5-minute window, so the 8-client phase also
    shows whether a publish costs more as that window fills

Raw-HTTP clients send a well-formed but unsigned SigV4 header (Conveyor has auth off on loopback; moto
and LocalStack accept any credentials), so client CPU stays far below the server's on this 2-core box.
--profile runs extra Conveyor-only 8-client publish phases (1 and 10 queues) under py-spy.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Counts, Notes, Values, aws_client, bench_main, http_ops, problem  # noqa: E402
from peers import Http, LoadResult, Server, fake_auth, fmt, log, median, pct, profile_load, run_load  # noqa: E402
from sqs import sqs_call  # noqa: E402

PEERS = ["conveyor", "moto", "localstack"]
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def publish_call(h: Http, topic_arn: str, message: str, group: str | None = None, dedup: str | None = None) -> int:
    """One query-protocol Publish; returns the HTTP status. `group` and `dedup`: a FIFO topic's
    MessageGroupId and MessageDeduplicationId."""
    form = {"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic_arn, "Message": message}
    if group is not None:
        form |= {"MessageGroupId": group, "MessageDeduplicationId": dedup or message}
    body = urlencode(form).encode()
    headers = {"Content-Type": FORM, **fake_auth("sns")}
    status, _ = h.request("POST", "/", body, headers)
    return status


# ------------------------------------------------------------------------------------ worker bodies


def w_publish(phase: str, idx: int, endpoint: str, topic_arn: str, count: int, seconds: float,
              state: Any = None) -> Any:
    if phase == "setup":
        return Http(endpoint)
    pad = "x" * 200
    if topic_arn.endswith(".fifo"):
        stamp = time.time_ns()  # (deduplication ids unique across phases and runs)
        return http_ops(state, count, seconds, lambda h, i: publish_call(
            h, topic_arn, f"{idx}-{i}-{pad}", group=f"g{i % 8}", dedup=f"{idx}-{i}-{stamp}") == 200)
    return http_ops(state, count, seconds, lambda h, i: publish_call(h, topic_arn, f"{idx}-{i}-{pad}") == 200)


# ---------------------------------------------------------------------------------------- fixtures


def boto(service: str, endpoint: str) -> Any:
    return aws_client(service, endpoint, read_timeout=30)


class Fanout:
    """A topic with `n` SQS queues subscribed (envelope delivery); `fifo`: a FIFO topic and FIFO queues."""

    def __init__(self, srv: Server, label: str, n: int, fifo: bool = False) -> None:
        self.srv, self.n = srv, n
        sns, self.sqs = boto("sns", srv.endpoint), boto("sqs", srv.endpoint)
        stamp = f"{int(time.time() * 1000) % 10**9}"
        suffix, attrs = (".fifo", {"FifoTopic": "true"}) if fifo else ("", {})
        self.topic = sns.create_topic(Name=f"bench-{label}-{stamp}{suffix}", Attributes=attrs)["TopicArn"]
        self.urls: list[str] = []
        for i in range(n):
            url = self.sqs.create_queue(QueueName=f"bench-{label}-{stamp}-{i}{suffix}",
                                        Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn)
            self.urls.append(url)

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))

    def wait_delivered(self, want: int, timeout: float) -> tuple[bool, int]:
        """Poll (10/s, a negligible load) until every queue holds `want` messages; (all there, fewest seen)."""
        deadline = time.monotonic() + timeout
        fewest = want
        for url in self.urls:
            got = self.depth(url)
            while got < want and time.monotonic() < deadline:
                time.sleep(0.1)
                got = self.depth(url)
            fewest = min(fewest, got)
        return fewest >= want, fewest


# -------------------------------------------------------------------------------------------- phases


def wait_quiet(srv: Server, timeout: float = 30.0) -> None:
    """Let start-up work finish first (Conveyor's default worker pool boots Python processes, which
    count in the server's process tree; LocalStack initializes lazily)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = srv.cpu()
        time.sleep(0.5)
        if srv.cpu() - before < 0.03:
            return


def publish_phase(srv: Server, fan: Fanout, clients: int, count: int, secs: float,
                  settle: float) -> tuple[LoadResult, float | None, float, bool]:
    """(load result, fan-out completion msgs/s, server CPU incl. delivery, all delivered)."""
    warm = Http(srv.endpoint)
    publish_call(warm, fan.topic, f"warm-up-{time.time_ns()}", group="warm" if fan.topic.endswith(".fifo") else None)
    warm.close()
    fan.wait_delivered(1, settle)
    cpu0 = srv.cpu()
    started = time.perf_counter()
    r = run_load(srv, w_publish, clients, (srv.endpoint, fan.topic, count // clients, secs), secs)
    complete, fewest = fan.wait_delivered(1 + r.ops, settle)
    finished = time.perf_counter()
    cpu = srv.cpu() - cpu0
    return r, (r.ops / (finished - started) if complete and r.ops else None), cpu, complete


def _receiver(endpoint: str, url: str, idx: int, ready: Any, stop: Any, out: Any, max_seconds: float) -> None:
    """One receiver process: long-polls `url` (WaitTimeSeconds=20) and reports (tag, idx, arrival time).

    perf_counter is CLOCK_MONOTONIC, the same clock in every process, so arrivals compare with the
    publisher's start times."""
    h = Http(endpoint, timeout=30)
    errors = 0
    deadline = time.monotonic() + max_seconds
    for _ in range(100_000):
        if stop.is_set() or time.monotonic() > deadline or errors > 20:
            break
        ready.set()
        try:
            status, resp = sqs_call(h, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10,
                                                          "WaitTimeSeconds": 20})
        except Exception:
            status, resp = 0, {}
        now = time.perf_counter()
        ready.clear()
        if status != 200:
            errors += 1
            time.sleep(0.05)
            continue
        msgs = resp.get("Messages") or []
        for m in msgs:
            out.put((_tag(m.get("Body", "")), idx, now))
        if msgs:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
            try:
                sqs_call(h, "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
            except Exception:
                errors += 1
    h.close()


class Receivers:
    """One process per queue, always long-polling; a thread here collects their arrival times.

    Processes rather than threads: ten receiver threads in one interpreter would queue for its GIL
    and add their own delay to the ten-queue latency."""

    def __init__(self, srv: Server, fan: Fanout, max_seconds: float) -> None:
        ctx = mp.get_context("fork")
        self.n = fan.n
        self.arrivals: dict[str, dict[int, float]] = {}
        self.cond = threading.Condition()
        self.stop = ctx.Event()
        self.ready = [ctx.Event() for _ in fan.urls]
        self.out: Any = ctx.Queue()
        self.procs = [ctx.Process(target=_receiver, args=(srv.endpoint, url, i, self.ready[i], self.stop, self.out,
                                                         max_seconds), daemon=True)
                      for i, url in enumerate(fan.urls)]
        for p in self.procs:
            p.start()
        self.deadline = time.monotonic() + max_seconds + 30
        self.collector = threading.Thread(target=self._collect, daemon=True)
        self.collector.start()

    def _collect(self) -> None:
        while time.monotonic() < self.deadline:
            try:
                item = self.out.get(timeout=0.5)
            except queue.Empty:
                if self.stop.is_set():
                    return
                continue
            tag, idx, when = item
            with self.cond:
                self.arrivals.setdefault(tag, {}).setdefault(idx, when)
                self.cond.notify_all()

    def all_parked(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(ev.wait(max(0.0, deadline - time.monotonic())) for ev in self.ready)

    def wait_for(self, tag: str, timeout: float) -> dict[int, float] | None:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.arrivals.get(tag, {})) >= self.n, timeout)
            return dict(self.arrivals[tag]) if ok else None

    def close(self, wake: Any) -> None:
        self.stop.set()
        wake()  # one more publish ends every parked long poll now instead of in up to 20 s
        for p in self.procs:
            p.join(25)
            if p.is_alive():
                p.kill()
                p.join(2)
        self.collector.join(2)


def _tag(body: str) -> str:
    """The sample tag, from an SNS envelope (or a raw body)."""
    if body.startswith("{"):
        try:
            return str(json.loads(body).get("Message", ""))
        except ValueError:
            return body
    return body


def latency_phase(srv: Server, fan: Fanout, samples: int, seconds: float) -> tuple[list[float], list[float], int]:
    """(first-queue latencies, all-queues latencies, misses), seconds."""
    rx = Receivers(srv, fan, seconds + 30)
    tx = Http(srv.endpoint)
    first: list[float] = []
    every: list[float] = []
    misses = 0
    deadline = time.monotonic() + seconds
    try:
        for i in range(samples):
            if time.monotonic() > deadline:
                break
            rx.all_parked(5)
            time.sleep(0.02)  # let each receive reach the server and park
            tag = f"lat-{i}"
            t0 = time.perf_counter()
            try:
                status = publish_call(tx, fan.topic, tag)
            except Exception:
                status = 0
            arrived = rx.wait_for(tag, 10) if status == 200 else None
            if arrived:
                first.append(min(arrived.values()) - t0)
                every.append(max(arrived.values()) - t0)
            else:
                misses += 1
                if misses > 10 and not every:
                    break
    finally:
        rx.close(lambda: publish_call(tx, fan.topic, "stop"))
        tx.close()
    return first, every, misses


# --------------------------------------------------------------------------------------------- driver


def bench_server(srv: Server, q: Counts, values: Values, notes: Notes) -> None:
    name = srv.name

    for key, clients, n in (("pub1", 1, 1), ("pub8", 8, 1), ("pub8x10", 8, 10), ("fifo1", 1, 1), ("fifo8", 8, 1)):
        fan = Fanout(srv, key, n, fifo=key.startswith("fifo"))
        wait_quiet(srv)
        log(f"{name}: publish, {clients} raw client(s), {n} subscribed queue(s)")
        r, completion, cpu, complete = publish_phase(srv, fan, clients, q[key], q["secs"], q["settle"])
        values[(name, key)] = r.rate if r.ops else None
        values[(name, key + "_done")] = completion
        values[(name, key + "_cpu")] = cpu / r.ops * 1e6 if r.ops and complete else None
        log(f"  {name} {key}: {r.ops} publishes in {r.seconds:.2f}s = {fmt(r.rate)}/s; fan-out complete at "
            f"{fmt(completion)}/s; server CPU {fmt(cpu / r.ops * 1e6 if r.ops else None, 1)} µs/publish"
            f"{' errors=' + str(r.errors) if r.errors else ''}{' FAILURE: ' + r.failure if r.failure else ''}")
        if r.errors or r.failure:
            problem(notes, name, f"{key}: errors={r.errors} {r.failure or ''}")
        if not complete:
            problem(notes, name, f"{key}: not every queue held every message {q['settle']:.0f}s after publishing ended")

    for n in (1, 10):
        fan = Fanout(srv, f"lat{n}", n)
        log(f"{name}: publish → long-poll arrival latency, {n} queue(s), {q['lat']} samples")
        first, every, misses = latency_phase(srv, fan, q["lat"], q["lat_secs"])
        values[(name, f"lat{n}_50")] = pct(every, 50) * 1000 if every else None
        values[(name, f"lat{n}_99")] = pct(every, 99) * 1000 if every else None
        values[(name, f"lat{n}_first50")] = pct(first, 50) * 1000 if first else None
        log(f"  {name} latency {n} queue(s): n={len(every)} misses={misses} all-queues p50="
            f"{fmt(pct(every, 50) * 1000, 2)} p99={fmt(pct(every, 99) * 1000, 2)} ms; first-queue median="
            f"{fmt(median(first) * 1000, 2)} ms")
        if misses:
            problem(notes, name, f"latency {n} queue(s): {misses} samples did not arrive in every queue within 10 s")


def profile_publish(srv: Server, q: Counts, out: str) -> None:
    """Extra Conveyor 8-client publish phases (1 and 10 queues) under py-spy."""
    secs = max(3.0, q["secs"])
    for n in (1, 10):
        fan = Fanout(srv, f"profile{n}", n)
        profile_load(srv, f"{out}.{n}q", secs, f"Conveyor 8-client Publish into {n} queue(s)",
                     lambda topic=fan.topic: run_load(srv, w_publish, 8, (srv.endpoint, topic, 10**6, secs), secs))


ROWS = [
    ("pub1", "publish/s, 1 client, 1 queue", True),
    ("pub8", "publish/s, 8 clients, 1 queue", True),
    ("pub8x10", "publish/s, 8 clients, 10 queues", True),
    ("pub8_done", "fan-out complete msgs/s, 8 clients, 1 queue", True),
    ("pub8x10_done", "fan-out complete msgs/s, 8 clients, 10 queues", True),
    ("lat1_50", "publish → receive p50 ms, 1 queue", False),
    ("lat1_99", "publish → receive p99 ms, 1 queue", False),
    ("lat10_50", "publish → receive in all 10 queues p50 ms", False),
    ("lat10_99", "publish → receive in all 10 queues p99 ms", False),
    ("lat10_first50", "publish → receive in first of 10 queues p50 ms", False),
    ("pub1_cpu", "server CPU µs/publish, 1 client, 1 queue", False),
    ("pub8_cpu", "server CPU µs/publish, 8 clients, 1 queue", False),
    ("pub8x10_cpu", "server CPU µs/publish, 8 clients, 10 queues", False),
    ("fifo1", "FIFO publish/s, 1 client, 1 FIFO queue", True),
    ("fifo8", "FIFO publish/s, 8 clients, 1 FIFO queue", True),
    ("fifo1_cpu", "server CPU µs/FIFO publish, 1 client, 1 FIFO queue", False),
    ("fifo8_cpu", "server CPU µs/FIFO publish, 8 clients, 1 FIFO queue", False),
]


def report(servers: list[Server], q: Counts, values: Values) -> str:
    """The fan-out's cost (10 queues ÷ 1 queue) and the issue's targets, under the table."""
    lines = ["", "Fan-out cost, 10 queues ÷ 1 queue (target for Conveyor: < 3x):"]
    for s in servers:
        parts = []
        for label, ten, one in (("server CPU per publish", "pub8x10_cpu", "pub8_cpu"),
                                ("latency p50", "lat10_50", "lat1_50"), ("latency p99", "lat10_99", "lat1_99")):
            a, b = values.get((s.name, ten)), values.get((s.name, one))
            parts.append(f"{label} {a / b:.2f}x" if a and b else f"{label} —")
        lines.append(f"- {s.name}: " + ", ".join(parts))
    checks = []
    for key, label in (("pub1", "publish 1 client"), ("pub8", "publish 8 clients"),
                       ("pub8x10", "publish 8 clients into 10 queues")):
        c, p = values.get(("conveyor", key)), values.get(("localstack", key))
        if c and p:
            checks.append(f"{label}: {c / p:.1f}x LocalStack (target ≥5x) {'MET' if c / p >= 5 else 'NOT MET'}")
    for label, ten, one in (("CPU per publish", "pub8x10_cpu", "pub8_cpu"), ("latency p50", "lat10_50", "lat1_50"),
                            ("latency p99", "lat10_99", "lat1_99")):
        a, b = values.get(("conveyor", ten)), values.get(("conveyor", one))
        if a and b:
            checks.append(f"fan-out 10 vs 1, {label}: {a / b:.2f}x (target < 3x) {'MET' if a / b < 3 else 'NOT MET'}")
    if checks:
        lines += ["", "Targets:"] + [f"- {c}" for c in checks]
    return "\n".join(lines)


def main() -> int:
    quick = dict(pub1=400, pub8=1600, pub8x10=1600, fifo1=400, fifo8=1600, secs=3.0, settle=30.0, lat=15,
                 lat_secs=10.0)
    full = dict(pub1=6000, pub8=24000, pub8x10=24000, fifo1=6000, fifo8=24000, secs=8.0, settle=120.0, lat=200,
                lat_secs=60.0)
    return bench_main("SNS", __doc__, PEERS, quick, full, "query protocol, SQS subscribers with the JSON envelope",
                      ROWS, bench_server, profile=profile_publish, report=report)


if __name__ == "__main__":
    sys.exit(main())
