"""Scale curves: the cost of one operation as the work around it grows, with the server's RSS.

    python benchmarks/scale.py [--sizes 1000,100000] [--full] [--only conveyor,ministack,moto,localstack]
                               [--phases sqs,s3,sns]

For each server, and for each size N (`--full` adds 1,000,000):
  * SQS with N messages queued: SendMessage (1 raw-HTTP client) and ReceiveMessage(10) +
    DeleteMessageBatch msgs/s and server CPU per message, measured on the full queue;
  * S3 with N keys in a bucket: ListObjectsV2 pages (1,000 keys) per second and server CPU per page, read
    from the start and from the middle (StartAfter);
and, independent of N, SNS Publish to a topic with 1, 10 and 100 subscribed queues: publishes/s until every
queue holds every message, and server CPU per delivered message.

Each row prints the server's RSS after the phase. Flat (or logarithmic) costs as N grows are the goal.
Filling uses 4 client processes; every loop stops by a count and a deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any
from urllib.parse import quote, urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402

from peers import CREDS, Http, Server, fake_auth, fmt, log, rss_mib, run_load, servers_running, table  # noqa: E402

PEERS = ["conveyor", "ministack", "moto", "localstack"]
FILL_CLIENTS = 4


def client(srv: Server, service: str) -> Any:
    return boto3.client(service, endpoint_url=srv.endpoint, **CREDS,
                        config=BotoConfig(retries={"max_attempts": 2}, read_timeout=120, connect_timeout=5))


def sqs_call(h: Http, target: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{target}",
               **fake_auth("sqs")}
    status, body = h.request("POST", "/", json.dumps(payload).encode(), headers)
    try:
        return status, (json.loads(body) if body else {})
    except ValueError:
        return status, {}


# ------------------------------------------------------------------------------------ worker bodies


def w_fill_queue(phase: str, idx: int, endpoint: str, url: str, count: int, seconds: float, state: Any = None):
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    done = errors = 0
    deadline = time.monotonic() + seconds
    while done < count and time.monotonic() < deadline and errors < 100:
        entries = [{"Id": str(j), "MessageBody": f"{idx}-{done}-{j}-" + "z" * 100} for j in range(10)]
        status, resp = sqs_call(h, "SendMessageBatch", {"QueueUrl": url, "Entries": entries})
        if status == 200:
            done += len(resp.get("Successful") or [])
        else:
            errors += 1
    h.close()
    return done, errors


def w_send(phase: str, idx: int, endpoint: str, url: str, count: int, seconds: float, state: Any = None):
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    done = errors = 0
    deadline = time.monotonic() + seconds
    while done < count and time.monotonic() < deadline and errors < 100:
        status, _ = sqs_call(h, "SendMessage", {"QueueUrl": url, "MessageBody": f"s-{done}-" + "z" * 100})
        done, errors = (done + 1, errors) if status == 200 else (done, errors + 1)
    h.close()
    return done, errors


def w_drain(phase: str, idx: int, endpoint: str, url: str, count: int, seconds: float, state: Any = None):
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    done = errors = 0
    deadline = time.monotonic() + seconds
    while done < count and time.monotonic() < deadline and errors < 100:
        status, resp = sqs_call(h, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10,
                                                      "VisibilityTimeout": 600})
        msgs = resp.get("Messages") or [] if status == 200 else []
        if not msgs:
            errors += 1
            continue
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
        status, resp = sqs_call(h, "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
        done += len(resp.get("Successful") or []) if status == 200 else 0
    h.close()
    return done, errors


def w_fill_bucket(phase: str, idx: int, endpoint: str, bucket: str, count: int, seconds: float,
                  state: Any = None):
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    done = errors = 0
    deadline = time.monotonic() + seconds
    while done < count and time.monotonic() < deadline and errors < 100:
        key = f"k/{idx:02d}/{done:08d}"
        status, _ = h.request("PUT", f"/{bucket}/{quote(key)}", b"x", {"Content-Length": "1", **fake_auth("s3")})
        done, errors = (done + 1, errors) if status == 200 else (done, errors + 1)
    h.close()
    return done, errors


def w_list(phase: str, idx: int, endpoint: str, bucket: str, start_after: str, pages: int, seconds: float,
           state: Any = None):
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    done = errors = 0
    deadline = time.monotonic() + seconds
    while done < pages and time.monotonic() < deadline and errors < 100:
        query = urlencode({"list-type": "2", "max-keys": "1000", **({"start-after": start_after} if start_after
                                                                      else {})})
        status, _ = h.request("GET", f"/{bucket}?{query}", None, fake_auth("s3"))
        done, errors = (done + 1, errors) if status == 200 else (done, errors + 1)
    h.close()
    return done, errors


# -------------------------------------------------------------------------------------------- phases


def fill(srv: Server, fn: Any, target: str, total: int, have: int) -> int:
    """Bring a queue or bucket from `have` to `total` items; returns how many it holds then."""
    need = total - have
    if need <= 0:
        return have
    secs = max(60.0, need / 500)
    r = run_load(srv, fn, FILL_CLIENTS, (srv.endpoint, target, -(-need // FILL_CLIENTS), secs), secs)
    log(f"  filled {r.ops} in {r.seconds:.1f}s ({fmt(r.rate)}/s)")
    return have + r.ops


def scale_sqs(srv: Server, sizes: list[int], values: dict) -> None:
    sqs = client(srv, "sqs")
    url = sqs.create_queue(QueueName=f"scale-{int(time.time())}")["QueueUrl"]
    held = 0
    for n in sizes:
        log(f"{srv.name}: SQS with {n:,} messages queued")
        held = fill(srv, w_fill_queue, url, n, held)
        r = run_load(srv, w_send, 1, (srv.endpoint, url, 2000, 10.0), 10.0)
        held += r.ops
        values[(srv.name, f"sqs_send_{n}")] = r.rate if r.ops else None
        values[(srv.name, f"sqs_send_cpu_{n}")] = r.cpu / r.ops * 1e6 if r.ops else None
        r = run_load(srv, w_drain, 1, (srv.endpoint, url, 2000, 10.0), 10.0)
        held -= r.ops
        values[(srv.name, f"sqs_drain_{n}")] = r.rate if r.ops else None
        values[(srv.name, f"sqs_drain_cpu_{n}")] = r.cpu / r.ops * 1e6 if r.ops else None
        values[(srv.name, f"sqs_rss_{n}")] = rss_mib(srv.pid) if srv.pid else None


def scale_s3(srv: Server, sizes: list[int], values: dict) -> None:
    s3 = client(srv, "s3")
    bucket = f"scale-{int(time.time())}"
    s3.create_bucket(Bucket=bucket)
    held = 0
    for n in sizes:
        log(f"{srv.name}: S3 with {n:,} keys")
        held = fill(srv, w_fill_bucket, bucket, n, held)
        middle = f"k/{FILL_CLIENTS // 2:02d}/"
        for where, start_after in (("start", ""), ("middle", middle)):
            r = run_load(srv, w_list, 1, (srv.endpoint, bucket, start_after, 200, 10.0), 10.0)
            values[(srv.name, f"s3_list_{where}_{n}")] = r.rate if r.ops else None
            values[(srv.name, f"s3_list_{where}_cpu_{n}")] = r.cpu / r.ops * 1e3 if r.ops else None
        values[(srv.name, f"s3_rss_{n}")] = rss_mib(srv.pid) if srv.pid else None


def scale_sns(srv: Server, values: dict) -> None:
    sns, sqs = client(srv, "sns"), client(srv, "sqs")
    stamp = int(time.time())
    for k in (1, 10, 100):
        log(f"{srv.name}: SNS publish to {k} subscribed queue(s)")
        topic = sns.create_topic(Name=f"scale-{stamp}-{k}")["TopicArn"]
        urls = []
        for i in range(k):
            url = sqs.create_queue(QueueName=f"scale-{stamp}-{k}-{i}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
            urls.append(url)
        count = max(20, 2000 // k)
        h = Http(srv.endpoint)
        cpu0, t0 = srv.cpu(), time.perf_counter()
        for i in range(count):
            h.request("POST", "/", urlencode({"Action": "Publish", "TopicArn": topic, "Message": f"m{i}"}).encode(),
                      {"Content-Type": "application/x-www-form-urlencoded", **fake_auth("sns")})
        h.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until every queue holds every message
            held = [int(sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"])
                        ["Attributes"]["ApproximateNumberOfMessages"]) for u in urls]
            if min(held) >= count:
                break
            time.sleep(0.05)
        secs, cpu = time.perf_counter() - t0, srv.cpu() - cpu0
        values[(srv.name, f"sns_{k}")] = count / secs
        values[(srv.name, f"sns_cpu_{k}")] = cpu / (count * k) * 1e6
        values[(srv.name, f"sns_rss_{k}")] = rss_mib(srv.pid) if srv.pid else None


def rows_for(sizes: list[int]) -> list[tuple[str, str, bool]]:
    rows = [("rss_idle", "server RSS MiB, idle", False)]
    for n in sizes:
        rows += [(f"sqs_send_{n}", f"SQS send msgs/s, {n:,} queued", True),
                 (f"sqs_send_cpu_{n}", f"SQS send server CPU µs/msg, {n:,} queued", False),
                 (f"sqs_drain_{n}", f"SQS receive+delete msgs/s, {n:,} queued", True),
                 (f"sqs_drain_cpu_{n}", f"SQS receive+delete server CPU µs/msg, {n:,} queued", False),
                 (f"sqs_rss_{n}", f"server RSS MiB, {n:,} messages queued", False)]
    for n in sizes:
        rows += [(f"s3_list_start_{n}", f"ListObjectsV2 pages/s from the start, {n:,} keys", True),
                 (f"s3_list_middle_{n}", f"ListObjectsV2 pages/s from the middle, {n:,} keys", True),
                 (f"s3_list_start_cpu_{n}", f"ListObjectsV2 server CPU ms/page, {n:,} keys", False),
                 (f"s3_rss_{n}", f"server RSS MiB, {n:,} keys stored", False)]
    for k in (1, 10, 100):
        rows += [(f"sns_{k}", f"SNS publishes/s delivered to {k} queue(s)", True),
                 (f"sns_cpu_{k}", f"SNS server CPU µs per delivered message, {k} queue(s)", False),
                 (f"sns_rss_{k}", f"server RSS MiB after {k}-queue fan-out", False)]
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,100000", help="comma-separated sizes (messages, keys)")
    ap.add_argument("--full", action="store_true", help="add 1,000,000 to the sizes")
    ap.add_argument("--only", default="conveyor", help=f"comma-separated servers among {','.join(PEERS)}")
    ap.add_argument("--phases", default="sqs,s3,sns", help="comma-separated phases among sqs,s3,sns")
    args = ap.parse_args()
    phases = {p for p in args.phases.split(",") if p}
    sizes = sorted({int(s) for s in args.sizes.split(",") if s} | ({1_000_000} if args.full else set()))
    names = [n for n in args.only.split(",") if n]
    values: dict = {}
    started = time.monotonic()
    log(f"scale curves on {os.cpu_count()} CPUs; sizes {sizes}; servers: {', '.join(names)}")
    with servers_running(names) as servers:
        for srv in servers:
            if not srv.up:
                continue
            values[(srv.name, "rss_idle")] = rss_mib(srv.pid) if srv.pid else None
            for name, phase in (("sqs", lambda: scale_sqs(srv, sizes, values)),  # noqa: B023
                                ("s3", lambda: scale_s3(srv, sizes, values)),  # noqa: B023
                                ("sns", lambda: scale_sns(srv, values))):  # noqa: B023 - called at once, here
                if name not in phases:
                    continue
                try:
                    phase()
                except Exception as exc:
                    log(f"{srv.name}: phase aborted: {type(exc).__name__}: {exc}")
        rows = [r for r in rows_for(sizes) if r[0] == "rss_idle" or r[0].split("_")[0] in phases]
        print(f"\n## Scale curves ({os.cpu_count()} CPUs, load average at end {os.getloadavg()[0]:.2f})\n")
        print(table(rows, servers, values))
    log(f"done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
