"""Kinesis side by side: Conveyor vs LocalStack, MiniStack and moto server, in one run.

    python benchmarks/kinesis.py [--quick] [--only conveyor,localstack,ministack,moto]

Measures per server, on a stream of 4 shards (JSON 1.1, as boto3 speaks it):
  * PutRecords records/s: batches of 500 records of 100 bytes, 1 raw-HTTP client and 4 client processes
  * GetRecords records/s: reading every shard back from TRIM_HORIZON (Limit 10,000), 1 client
  * a record's time to a mapped function: a Kinesis event source mapping (LATEST, BatchSize 1) on a Python
    function that sends each record's data to an SQS queue; from PutRecord's return until the message is
    received by a receiver parked in a 20-second long poll (so it includes one SQS hop), p50 and p99
  * CPU (utime+stime of the server's process tree) per record put

Before measuring, each server is probed: create the stream, wait for ACTIVE, put a record. A server without
Kinesis (the LocalStack the peer script starts serves s3,sqs,sns,lambda,sts,iam; its Kinesis needs a
kinesis-mock download this machine cannot make) is reported with the error it gave. A server that cannot
run the function gets "cannot run functions" in the latency rows. Everything talks to 127.0.0.1; every loop
is bounded by a count and a deadline.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from functions import boto, execution_role, package, wait_active  # noqa: E402
from harness import bench_main  # noqa: E402
from peers import Http, Server, fake_auth, fmt, log, pct, run_load  # noqa: E402

PEERS = ["conveyor", "localstack", "ministack", "moto"]
CLIENTS = 4
BATCH = 500
STREAM = "bench"
FORWARDER = """
import base64, os
import boto3
sqs = boto3.client("sqs", endpoint_url=os.environ.get("BENCH_ENDPOINT") or None)
def lambda_handler(event, context):
    for r in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["QUEUE"], MessageBody=base64.b64decode(r["kinesis"]["data"]).decode())
"""


def kinesis_call(h: Http, target: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"Kinesis_20131202.{target}"}
    headers.update(fake_auth("kinesis"))
    status, body = h.request("POST", "/", json.dumps(payload).encode(), headers)
    try:
        return status, (json.loads(body) if body else {})
    except ValueError:
        return status, {"raw": body[:200].decode("latin-1")}


def _batch(idx: int, n: int) -> bytes:
    data = base64.b64encode(b"x" * 100).decode()
    return json.dumps({"StreamName": STREAM, "Records": [
        {"PartitionKey": f"c{idx}-{n}-{i}", "Data": data} for i in range(BATCH)]}).encode()


def w_put(phase: str, idx: int, endpoint: str, count: int, seconds: float, state: Any = None):
    """PutRecords batches of 500; one op = one record."""
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.PutRecords"}
    headers.update(fake_auth("kinesis"))
    done = errors = 0
    deadline = time.monotonic() + seconds
    for n in range(count):
        if time.monotonic() > deadline:
            break
        try:
            status, body = h.request("POST", "/", _batch(idx, n), headers)
            failed = json.loads(body).get("FailedRecordCount", BATCH) if status == 200 else BATCH
        except Exception:
            failed = BATCH
        done += BATCH - failed
        errors += failed
        if errors > 50 * BATCH and errors > done:
            break
    h.close()
    return done, errors


def probe(srv: Server) -> str | None:
    kinesis = boto(srv, "kinesis")
    try:
        kinesis.create_stream(StreamName=STREAM, ShardCount=4)
        deadline = time.monotonic() + 60
        while kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                return "the stream did not become ACTIVE in 60 s"
            time.sleep(0.2)
        kinesis.put_record(StreamName=STREAM, PartitionKey="probe", Data=b"probe")
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return None


def read_back(srv: Server, seconds: float) -> tuple[int, float]:
    h = Http(srv.endpoint)
    _, shards = kinesis_call(h, "ListShards", {"StreamName": STREAM})
    total, t0 = 0, time.perf_counter()
    deadline = time.monotonic() + seconds
    for shard in shards.get("Shards", []):
        _, it = kinesis_call(h, "GetShardIterator", {"StreamName": STREAM, "ShardId": shard["ShardId"],
                                                     "ShardIteratorType": "TRIM_HORIZON"})
        iterator = it.get("ShardIterator")
        while iterator and time.monotonic() < deadline:
            status, page = kinesis_call(h, "GetRecords", {"ShardIterator": iterator, "Limit": 10000})
            records = page.get("Records") or []
            total += len(records)
            if status != 200 or not records:
                break
            iterator = page.get("NextShardIterator")
    h.close()
    return total, time.perf_counter() - t0


def mapped_latency(srv: Server, samples: int, seconds: float) -> tuple[list[float], str | None]:
    kinesis, lam, sqs = boto(srv, "kinesis"), boto(srv, "lambda"), boto(srv, "sqs")
    try:
        role = execution_role(srv)
        url = sqs.create_queue(QueueName="kinesis-bench-out")["QueueUrl"]
        lam.create_function(FunctionName="forwarder", Runtime="python3.12", Role=role,
                            Handler="lambda_function.lambda_handler", Code={"ZipFile": package(FORWARDER)},
                            Timeout=30, Environment={"Variables": {"QUEUE": url, "BENCH_ENDPOINT": srv.endpoint}})
        conf = wait_active(lam, "forwarder", 60)
        if conf.get("State") != "Active":
            return [], f"function state {conf.get('State')}: {conf.get('StateReason')}"
        arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
        lam.create_event_source_mapping(FunctionName="forwarder", EventSourceArn=arn, StartingPosition="LATEST",
                                        BatchSize=1)
        time.sleep(2)  # the mapping's pollers start reading at LATEST
    except Exception as exc:
        return [], f"{type(exc).__name__}: {str(exc)[:300]}"
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    for i in range(samples):
        if time.monotonic() > deadline:
            break
        marker = f"m{i}-{time.time()}"
        t0 = time.perf_counter()
        kinesis.put_record(StreamName=STREAM, PartitionKey=marker, Data=marker.encode())
        while time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20, MaxNumberOfMessages=1).get("Messages", [])
            if not got:
                break
            sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
            if got[0]["Body"] == marker:
                latencies.append(time.perf_counter() - t0)
                break
        else:
            break
        if i == 0 and not latencies:
            return [], "nothing delivered: no record reached the function (and its queue) within 20 s"
    return latencies, None


def bench_server(srv: Server, q: dict[str, Any], values: dict, notes: dict) -> None:
    name = srv.name
    log(f"{name}: probing (create a 4-shard stream, wait for ACTIVE, put a record)")
    problem = probe(srv)
    if problem:
        log(f"  {name} cannot serve Kinesis: {problem}")
        notes[("_problems", name)] = [f"no Kinesis: {problem}"]
        for key in KEYS:
            notes[(name, key)] = "no Kinesis"
        return

    log(f"{name}: PutRecords, 1 raw client, batches of {BATCH}")
    r = run_load(srv, w_put, 1, (srv.endpoint, q["put1"] // BATCH, q["secs"]), q["secs"])
    values[(name, "put1")] = r.rate if r.ops else None
    log(f"  {name}: {r.ops} records in {r.seconds:.2f}s = {fmt(r.rate)} records/s errors={r.errors} {r.failure or ''}")

    log(f"{name}: PutRecords, {CLIENTS} raw clients (processes)")
    r = run_load(srv, w_put, CLIENTS, (srv.endpoint, q["put4"] // BATCH // CLIENTS, q["secs"]), q["secs"])
    values[(name, "put4")] = r.rate if r.ops else None
    values[(name, "put_cpu")] = r.cpu / r.ops * 1e6 if r.ops else None
    log(f"  {name}: {r.ops} records in {r.seconds:.2f}s = {fmt(r.rate)} records/s, CPU "
        f"{fmt(values[(name, 'put_cpu')], 1)} µs/record, errors={r.errors} {r.failure or ''}")
    if r.errors or r.failure:
        notes.setdefault(("_problems", name), []).append(f"PutRecords: errors={r.errors} {r.failure or ''}")

    log(f"{name}: GetRecords, reading every shard from TRIM_HORIZON")
    count, secs = read_back(srv, q["secs"] * 3)
    values[(name, "get1")] = count / secs if count else None
    log(f"  {name}: {count} records in {secs:.2f}s = {fmt(values[(name, 'get1')])} records/s")

    log(f"{name}: a record's time to a mapped function, {q['lat']} samples")
    lat, problem = mapped_latency(srv, q["lat"], q["secs"] * 6)
    if problem:
        log(f"  {name} cannot run the mapping: {problem}")
        notes.setdefault(("_problems", name), []).append(f"mapping: {problem}")
        notes[(name, "lat50")] = notes[(name, "lat99")] = (
            "nothing delivered" if problem.startswith("nothing delivered") else "cannot run functions")
        return
    values[(name, "lat50")] = pct(lat, 50) * 1000 if lat else None
    values[(name, "lat99")] = pct(lat, 99) * 1000 if lat else None
    log(f"  {name}: n={len(lat)} p50={fmt(values[(name, 'lat50')], 1)} ms p99={fmt(values[(name, 'lat99')], 1)} ms")


ROWS = [
    ("put1", "PutRecords records/s, 1 raw client (batches of 500)", True),
    ("put4", f"PutRecords records/s, {CLIENTS} raw clients", True),
    ("get1", "GetRecords records/s, 1 client, 4 shards", True),
    ("lat50", "PutRecord → mapped function (→ SQS), p50 ms", False),
    ("lat99", "PutRecord → mapped function (→ SQS), p99 ms", False),
    ("put_cpu", f"CPU µs/record, {CLIENTS} clients", False),
]
KEYS = [key for key, _, _ in ROWS]


def main() -> int:
    quick = dict(put1=10_000, put4=20_000, secs=5.0, lat=20)
    full = dict(put1=50_000, put4=200_000, secs=15.0, lat=100)
    return bench_main("Kinesis", __doc__, PEERS, quick, full, "4 shards, 100-byte records", ROWS, bench_server)


if __name__ == "__main__":
    sys.exit(main())
