"""The whole pipeline side by side: Conveyor's default pipeline vs the same setup on LocalStack.

    python benchmarks/pipeline.py [--quick] [--only conveyor,localstack] [--files N] [--samples N] [--profile OUT]

Both servers get the same resources, created by the same code (Conveyor's pipeline applier, minus the
worker pool, for LocalStack; `conveyor up` applies the default pipeline itself): bucket
`conveyor-uploads`, ObjectCreated on `uploads/` -> topic `upload-events` -> queue `upload-jobs` (DLQ
after 3 receives). The workers are the same script, `python -m conveyor.runtime.mover` (plain boto3):
Conveyor runs them in its pool `movers` (fixed at 1 or 4 workers for the run); for LocalStack this
script starts them as separate processes with AWS_ENDPOINT_URL pointing at it.

Measures, with 1 and 4 workers:
  * files/s: N uploads (4 raw-HTTP client processes, as fast as they go) until the last one is in
    `processed/` (the queue is empty and a listing counts N), from the first PUT;
  * upload-to-processed latency, one file at a time: PUT start -> HEAD processed/KEY answers 200
    (polled every 0.5 ms on a keep-alive connection), p50/p99;
  * server CPU per file (the server process itself; workers are not counted on either side);
  * the workers' CPU per file and the load generator's (the upload clients and this script's polling),
    which share the same cores: on 2 cores the files/s are bounded by the sum of the three;
  * for Conveyor, the requests per file by operation (from its /_conveyor/metrics counters).

--profile runs one more Conveyor throughput run with 1 worker under py-spy (GIL holder, then every busy
thread) after the measured phases, and writes collapsed stacks to OUT.gil and OUT.wall.

Loopback only; every loop is bounded by a count and a deadline; only processes started here are stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conveyor.pipeline.apply import Applier  # noqa: E402
from conveyor.pipeline.spec import load  # noqa: E402
from conveyor.runtime.pool import MOVER  # noqa: E402
from harness import CountOption, Counts, Notes, Row, Values, aws_client, bench_main, http_ops, problem  # noqa: E402
from peers import Http, LoadResult, Server, cpu_seconds, fmt, log, pct, profile_load, run_load  # noqa: E402
from s3 import s3_headers  # noqa: E402
from sqs import sqs_call  # noqa: E402

PEERS = ["conveyor", "localstack"]
BUCKET, QUEUE, POOL = "conveyor-uploads", "upload-jobs", "movers"
WORKER_COUNTS = (1, 4)
UPLOAD_CLIENTS = 4


def boto(service: str, endpoint: str) -> Any:
    return aws_client(service, endpoint, retries=3)


def server_cpu(srv: Server) -> float:
    """The server process's own CPU: Conveyor's pool workers are its children, LocalStack's are ours."""
    return cpu_seconds(srv.pid, descendants=False) if srv.pid else 0.0


def workers_cpu(srv: Server, workers: Workers) -> float:
    """The movers' CPU: Conveyor's pool (the server's descendants), or the processes this script started."""
    if srv.name == "conveyor":
        return cpu_seconds(srv.pid, descendants=True) - server_cpu(srv) if srv.pid else 0.0
    return sum(cpu_seconds(proc.pid) for proc in workers.procs)


def own_cpu() -> float:
    """This script's CPU and its finished children's (the upload clients): the load generator."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


_REQUESTS = re.compile(r'conveyor_requests_total\{operation="([^"]+)",service="([^"]+)",status="\d+"\} ([\d.]+)')


def request_counts(srv: Server) -> dict[str, float]:
    """Conveyor's requests so far by "service Operation" (none for the peers)."""
    if srv.name != "conveyor":
        return {}
    with urllib.request.urlopen(f"{srv.endpoint}/_conveyor/metrics", timeout=60) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for operation, service, value in _REQUESTS.findall(text):
        if service != "conveyor":
            counts[f"{service} {operation}"] = counts.get(f"{service} {operation}", 0.0) + float(value)
    return counts


# ------------------------------------------------------------------------------------------ workers


@dataclass
class Workers:
    """Starts and stops `n` movers for one server."""

    srv: Server
    queue_url: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, n: int) -> None:
        if self.srv.name == "conveyor":
            self._conveyor_pool(n)
        else:
            env = {**os.environ, "AWS_ENDPOINT_URL": self.srv.endpoint or "", "AWS_ACCESS_KEY_ID": "test",
                   "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                   "QUEUE_URL": self.queue_url, "SOURCE_PREFIX": "uploads/", "DEST_PREFIX": "processed/"}
            log_path = os.path.join(tempfile.gettempdir(), f"pipeline-bench-{self.srv.name}-movers.log")
            with open(log_path, "ab") as out:
                self.procs = [subprocess.Popen(list(MOVER), env=env, stdout=out, stderr=subprocess.STDOUT,
                                               start_new_session=True) for _ in range(n)]

    def _conveyor_pool(self, n: int) -> None:
        """The default pipeline's pool, pinned to n workers (no target tracking during a run)."""
        spec = _internal(self.srv, "GET", "pools")[POOL]["spec"]
        _internal(self.srv, "DELETE", f"pools/{POOL}")
        spec.update(min=n, max=n, desired=n, drain_timeout=10)
        _internal(self.srv, "POST", "pools", spec)

    def stop(self) -> None:
        if self.srv.name == "conveyor":
            return  # the pool is replaced by the next start(), and stopped with the server
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)  # the mover finishes its current long poll (2 s) and exits
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs = []


def _internal(srv: Server, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{srv.endpoint}/_conveyor/{path}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def prepare(srv: Server) -> str:
    """The default pipeline's resources on `srv`; returns the queue URL."""
    if srv.name == "conveyor":
        # `conveyor up` applies the default pipeline in the background once it serves: wait for the pool.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if POOL in _internal(srv, "GET", "pools"):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the default pipeline was not applied within 60 s")
    else:
        pipeline = load(None)
        pipeline.pools = []  # the movers are started by this script
        # Only the measured path: upload bucket -> topic -> queue. The LocalStack peer serves neither CloudWatch
        # nor API Gateway v2, which the default pipeline's alarm, upload API and site need.
        pipeline.alarms, pipeline.api, pipeline.site = [], None, None
        report = Applier(srv.endpoint or "", region="us-east-1").apply(pipeline)
        log(f"  {srv.name}: {len(report.created)} resources created, drift: {report.drift or 'none'}")
    sqs = boto("sqs", srv.endpoint or "")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    return url  # the s3:TestEvent the notification produced is for the first worker to skip


# ------------------------------------------------------------------------------------- measurements


def w_upload(phase: str, idx: int, endpoint: str, tag: str, count: int, seconds: float, state: Any = None) -> Any:
    if phase == "setup":
        return Http(endpoint)
    body = os.urandom(1024)
    return http_ops(state, count, seconds, lambda h, i: h.request(
        "PUT", f"/{BUCKET}/uploads/{tag}-{idx}-{i}.bin", body,
        s3_headers({"Content-Type": "application/octet-stream"}))[0] == 200)


def queue_busy(h: Http, url: str) -> int:
    status, resp = sqs_call(h, "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": [
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]})
    if status != 200:
        return -1
    return sum(int(v) for v in resp.get("Attributes", {}).values())


def count_processed(s3: Any, tag: str) -> int:
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"processed/{tag}-"):
        total += page.get("KeyCount", 0)
    return total


def throughput(srv: Server, url: str, tag: str, files: int, seconds: float,
               workers: Workers | None = None) -> dict[str, Any]:
    """Upload `files` as fast as the clients go; time until every one is in processed/."""
    s3 = boto("s3", srv.endpoint or "")
    h = Http(srv.endpoint or "")
    requests0 = request_counts(srv)
    workers0 = workers_cpu(srv, workers) if workers else 0.0
    load0 = own_cpu()
    cpu0 = server_cpu(srv)
    t0 = time.perf_counter()
    up = run_load(srv, w_upload, UPLOAD_CLIENTS, (srv.endpoint, tag, files // UPLOAD_CLIENTS, seconds), seconds)
    t_uploaded = time.perf_counter()
    deadline = time.monotonic() + seconds * 3
    processed = 0
    while time.monotonic() < deadline:
        if queue_busy(h, url) == 0:
            processed = count_processed(s3, tag)
            if processed >= up.ops:
                break
        time.sleep(0.05)
    t_done = time.perf_counter()
    cpu = server_cpu(srv) - cpu0
    worker_cpu = workers_cpu(srv, workers) - workers0 if workers else None
    load_cpu = own_cpu() - load0
    requests = {op: n - requests0.get(op, 0.0) for op, n in request_counts(srv).items()}
    h.close()
    # run_load's own clock starts at the barrier; t0 is taken just before it (fork + barrier, a few ms).
    elapsed = t_done - t0
    return {"uploaded": up.ops, "upload_errors": up.errors, "processed": processed, "seconds": elapsed,
            "rate": processed / elapsed if processed else None, "upload_rate": up.rate,
            "upload_seconds": t_uploaded - t0, "cpu": cpu, "workers_cpu": worker_cpu, "load_cpu": load_cpu,
            "requests": {op: n for op, n in requests.items() if n > 0}, "complete": processed >= up.ops and up.ops > 0}


def latency(srv: Server, tag: str, samples: int, seconds: float) -> tuple[list[float], int, float]:
    """One file at a time: PUT start -> first 200 from HEAD processed/KEY."""
    put, head = Http(srv.endpoint or ""), Http(srv.endpoint or "")
    body = os.urandom(1024)
    lat: list[float] = []
    misses = 0
    cpu0 = server_cpu(srv)
    deadline = time.monotonic() + seconds
    for i in range(samples):
        if time.monotonic() > deadline:
            break
        key = f"{tag}-{i}.bin"
        t0 = time.perf_counter()
        status, _ = put.request("PUT", f"/{BUCKET}/uploads/{key}", body, s3_headers())
        seen = None
        if status == 200:
            give_up = time.monotonic() + 10
            while time.monotonic() < give_up:
                code, _ = head.request("HEAD", f"/{BUCKET}/processed/{key}", None, s3_headers())
                if code == 200:
                    seen = time.perf_counter()
                    break
                time.sleep(0.0005)
        if seen is None:
            misses += 1
            if misses > 3 and not lat:
                break
        else:
            lat.append(seen - t0)
        time.sleep(0.05)  # let the mover delete the message and park again: samples stay independent
    put.close()
    head.close()
    return lat, misses, server_cpu(srv) - cpu0


def warm_up(srv: Server, url: str, n: int) -> None:
    """Workers import boto3 (~0.5 s each): wait until a few files went through."""
    time.sleep(1.0 + 0.4 * n)
    r = throughput(srv, url, f"warm{n}", 4 * n, 30)
    if not r["complete"]:
        raise RuntimeError(f"warm-up did not complete: {r}")
    log(f"  {srv.name}: {n} worker(s) warmed up ({r['seconds']:.2f}s for {r['processed']} files)")


@contextlib.contextmanager
def movers(srv: Server, url: str, n: int) -> Iterator[Workers]:
    workers = Workers(srv, url)
    workers.start(n)
    try:
        warm_up(srv, url, n)
        yield workers
    finally:
        workers.stop()


def bench_server(srv: Server, q: Counts, values: Values, notes: Notes) -> None:
    name = srv.name
    log(f"{name}: preparing the pipeline")
    url = prepare(srv)
    for n in WORKER_COUNTS:
        with movers(srv, url, n) as workers:
            log(f"{name}: {q['files']} uploads with {n} worker(s)")
            r = throughput(srv, url, f"tp{n}", q["files"], q["secs"], workers)
            done = r["processed"]
            values[(name, f"rate{n}")] = r["rate"]
            values[(name, f"cpu{n}")] = r["cpu"] / done * 1e3 if done else None
            values[(name, f"wcpu{n}")] = r["workers_cpu"] / done * 1e3 if done else None
            values[(name, f"lcpu{n}")] = r["load_cpu"] / done * 1e3 if done else None
            log(f"  {name}: {done}/{r['uploaded']} processed in {r['seconds']:.2f}s = "
                f"{fmt(r['rate'], 1)} files/s (uploads alone {r['upload_seconds']:.2f}s, "
                f"{fmt(r['upload_rate'])}/s; CPU ms/file: server {fmt(values[(name, f'cpu{n}')], 2)}, "
                f"workers {fmt(values[(name, f'wcpu{n}')], 2)}, load generator {fmt(values[(name, f'lcpu{n}')], 2)})")
            if done and r["requests"]:
                log(f"  {name}: requests per file: " + ", ".join(
                    f"{op} {count / done:.2f}" for op, count in sorted(r["requests"].items(), key=lambda kv: -kv[1])))
            if not r["complete"] or r["upload_errors"]:
                problem(notes, name, f"{n} worker(s): {r}")
            log(f"{name}: latency, {q['samples']} files one at a time, {n} worker(s)")
            lat, misses, _ = latency(srv, f"lat{n}", q["samples"], q["lat_secs"])
            values[(name, f"p50_{n}")] = pct(lat, 50) * 1000 if lat else None
            values[(name, f"p99_{n}")] = pct(lat, 99) * 1000 if lat else None
            log(f"  {name}: n={len(lat)} misses={misses} p50={fmt(pct(lat, 50) * 1000, 2)} ms "
                f"p99={fmt(pct(lat, 99) * 1000, 2)} ms max={fmt(max(lat) * 1000 if lat else None, 2)} ms")
            if misses:
                problem(notes, name, f"{n} worker(s): {misses} latency samples never reached processed/")
    sqs = boto("sqs", srv.endpoint or "")
    dlq = sqs.get_queue_url(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
    dead = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    if dead["ApproximateNumberOfMessages"] != "0":
        problem(notes, name, f"{dead['ApproximateNumberOfMessages']} messages in the DLQ")


def profile_pipeline(srv: Server, q: Counts, out: str) -> None:
    """A throughput run with 1 worker under py-spy, after the measured phases (their numbers unaffected)."""
    url = prepare(srv)
    secs = 15.0
    runs = iter(range(2))  # profile_load runs the load once per mode

    with movers(srv, url, 1) as workers:
        def load() -> LoadResult:
            r = throughput(srv, url, f"profile{next(runs)}", q["files"], secs, workers)
            return LoadResult(r["processed"], r["upload_errors"], r["seconds"], r["cpu"])

        profile_load(srv, out, secs, f"Conveyor pipeline, {q['files']} files, 1 worker", load)


def rows(q: Counts) -> list[Row]:
    out: list[Row] = []
    for n in WORKER_COUNTS:
        w = f"{n} worker{'s' if n > 1 else ''}"
        out += [(f"rate{n}", f"files/s, {w}", True), (f"p50_{n}", f"upload→processed p50 ms, {w}", False),
                (f"p99_{n}", f"upload→processed p99 ms, {w}", False), (f"cpu{n}", f"server CPU ms/file, {w}", False),
                (f"wcpu{n}", f"workers' CPU ms/file, {w}", False), (f"lcpu{n}", f"load generator CPU ms/file, {w}", False)]
    return out


def setting(q: Counts) -> str:
    return (f"{q['files']} files per throughput run, {q['samples']} latency samples; the CPUs are shared by the "
            f"workers and {UPLOAD_CLIENTS} upload clients too")


def targets(servers: list[Server], q: Counts, values: Values) -> str:
    """The issue's targets: files/s against LocalStack, and the p50 latency."""
    checks = []
    for n in WORKER_COUNTS:
        c, p = values.get(("conveyor", f"rate{n}")), values.get(("localstack", f"rate{n}"))
        if c and p:
            checks.append(f"files/s with {n} worker(s): {c / p:.1f}x LocalStack (target ≥5x) "
                          f"{'MET' if c / p >= 5 else 'NOT MET'}")
        p50 = values.get(("conveyor", f"p50_{n}"))
        if p50 is not None:
            checks.append(f"p50 with {n} worker(s): {p50:.1f} ms (target <20 ms) {'MET' if p50 < 20 else 'NOT MET'}")
    return "\nTargets:\n" + "\n".join(f"- {c}" for c in checks) if checks else ""


def main() -> int:
    quick = dict(files=100, secs=60.0, samples=15, lat_secs=30.0)
    full = dict(files=1000, secs=180.0, samples=200, lat_secs=120.0)
    options = [CountOption("--files", "files", "uploads per throughput run"),
               CountOption("--samples", "samples", "latency samples per worker count")]
    # bare=False: Conveyor with its default pipeline, the thing measured.
    return bench_main("Pipeline: upload → S3 event → SNS → SQS → mover → processed/", __doc__, PEERS, quick, full,
                      setting, rows, bench_server, options=options, bare=False, profile=profile_pipeline,
                      report=targets)


if __name__ == "__main__":
    sys.exit(main())
