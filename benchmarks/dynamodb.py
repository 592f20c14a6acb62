"""DynamoDB side by side: Conveyor vs moto server and dynalite (Node, in memory; installed with npm on first use), in one run.

    python benchmarks/dynamodb.py [--quick] [--only conveyor,moto,dynalite]

Measures per server, on an on-demand table with a string hash key and a number sort key (JSON 1.0, as
boto3 speaks it, over raw keep-alive HTTP):
  * PutItem ops/s with 1 and 8 client processes (items of about 200 bytes); on Conveyor every one is
    committed to disk (synchronous=FULL) before its answer
  * GetItem ops/s with 1 and 8 clients, and GetItem p50 latency (ms) with 1 client
  * Query of 100 items (one partition, one page) per second, 1 client
  * BatchWriteItem items/s (batches of 25), 1 client
  * TransactWriteItems (2 Puts) p50 latency (ms), 1 client
  * CPU (utime+stime of the server's process tree) per PutItem and per GetItem with 8 clients, per
    Query of 100 items and per item of a BatchWriteItem with 1 client

Before measuring, each server is probed (create the table, put and get an item); one that cannot is
reported with its error. Everything talks to 127.0.0.1; every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from functions import boto  # noqa: E402
from harness import bench_main, http_ops  # noqa: E402
from peers import Http, Server, fake_auth, fmt, log, pct, run_load  # noqa: E402

PEERS = ["conveyor", "moto", "dynalite"]
CLIENTS = 8
TABLE = "bench"
QUERY_ITEMS = 100


def headers(operation: str) -> dict[str, str]:
    out = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{operation}"}
    out.update(fake_auth("dynamodb"))
    return out


def item(pk: str, sk: int) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}, "name": {"S": "widget-" + "x" * 120},
            "count": {"N": str(sk * 7)}, "tags": {"SS": ["a", "b", "c"]}}


def call(h: Http, operation: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, body = h.request("POST", "/", json.dumps(payload).encode(), headers(operation))
    return status, (json.loads(body) if body else {})


def w_ops(phase: str, idx: int, endpoint: str, operation: str, count: int, seconds: float,
          state: Any = None) -> Any:
    """`count` PutItem or GetItem calls, each client on its own partition; one op = one call."""
    if phase == "setup":
        return Http(endpoint)

    def one(h: Http, n: int) -> bool:
        if operation == "PutItem":
            payload = {"TableName": TABLE, "Item": item(f"client-{idx}", n)}
        else:
            payload = {"TableName": TABLE, "Key": {"pk": {"S": f"client-{idx}"}, "sk": {"N": str(n % 1000)}}}
        return h.request("POST", "/", json.dumps(payload).encode(), headers(operation))[0] == 200

    return http_ops(state, count, seconds, one, give_up=100)


def timed(h: Http, operation: str, payloads: list[dict[str, Any]], seconds: float) -> tuple[list[float], int]:
    """Latency of each call (s) and how many failed."""
    latencies: list[float] = []
    failed = 0
    deadline = time.monotonic() + seconds
    for payload in payloads:
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        status, _ = call(h, operation, payload)
        latencies.append(time.perf_counter() - t0)
        failed += status != 200
    return latencies, failed


def probe(srv: Server) -> str | None:
    ddb = boto(srv, "dynamodb")
    try:
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "N"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}])
        ddb.put_item(TableName=TABLE, Item=item("probe", 0))
        if "Item" not in ddb.get_item(TableName=TABLE, Key={"pk": {"S": "probe"}, "sk": {"N": "0"}}):
            return "the probe item did not read back"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return None


def bench_server(srv: Server, q: dict[str, Any], values: dict, notes: dict) -> None:
    name = srv.name
    log(f"{name}: probing (create the table, put and get an item)")
    problem = probe(srv)
    if problem:
        log(f"  {name} cannot serve DynamoDB: {problem}")
        notes[("_problems", name)] = [f"no DynamoDB: {problem}"]
        return
    for key, operation, clients, count in (("put1", "PutItem", 1, q["ops"]), ("put8", "PutItem", CLIENTS, q["ops"]),
                                           ("get1", "GetItem", 1, q["ops"]), ("get8", "GetItem", CLIENTS, q["ops"])):
        log(f"{name}: {operation}, {clients} client(s)")
        r = run_load(srv, w_ops, clients, (srv.endpoint, operation, count // clients if clients > 1 else count,
                                           q["secs"]), q["secs"])
        values[(name, key)] = r.rate if r.ops else None
        if key in ("put8", "get8"):
            values[(name, key[:3] + "_cpu")] = r.cpu / r.ops * 1e6 if r.ops else None
        log(f"  {name}: {r.ops} ops in {r.seconds:.2f}s = {fmt(r.rate)} ops/s errors={r.errors} {r.failure or ''}")
        if r.errors or r.failure:
            notes.setdefault(("_problems", name), []).append(f"{operation} x{clients}: errors={r.errors} "
                                                             f"{r.failure or ''}")
    h = Http(srv.endpoint)
    gets = [{"TableName": TABLE, "Key": {"pk": {"S": "client-0"}, "sk": {"N": str(n % 1000)}}}
            for n in range(q["lat"])]
    lat, _ = timed(h, "GetItem", gets, q["secs"])
    values[(name, "get_p50")] = pct(lat, 50) * 1000 if lat else None
    query = {"TableName": TABLE, "KeyConditionExpression": "pk = :p AND sk < :n",
             "ExpressionAttributeValues": {":p": {"S": "client-0"}, ":n": {"N": str(QUERY_ITEMS)}}}
    status, page = call(h, "Query", query)
    if page.get("Count") != QUERY_ITEMS:
        notes.setdefault(("_problems", name), []).append(f"Query returned {page.get('Count')} items, not "
                                                         f"{QUERY_ITEMS} (status {status})")
    cpu0 = srv.cpu()
    lat, _ = timed(h, "Query", [query] * q["lat"], q["secs"])
    values[(name, "query")] = len(lat) / sum(lat) if lat else None
    values[(name, "query_cpu")] = (srv.cpu() - cpu0) / len(lat) * 1e6 if lat else None
    batches = [{"RequestItems": {TABLE: [{"PutRequest": {"Item": item(f"batch-{b}", i)}} for i in range(25)]}}
               for b in range(q["batches"])]
    cpu0 = srv.cpu()
    lat, failed = timed(h, "BatchWriteItem", batches, q["secs"])
    values[(name, "batch")] = 25 * (len(lat) - failed) / sum(lat) if lat else None
    values[(name, "batch_cpu")] = (srv.cpu() - cpu0) / (25 * (len(lat) - failed)) * 1e6 if len(lat) > failed else None
    transactions = [{"TransactItems": [{"Put": {"TableName": TABLE, "Item": item(f"tx-{n}", part)}}
                                       for part in range(2)]} for n in range(q["lat"])]
    lat, failed = timed(h, "TransactWriteItems", transactions, q["secs"])
    values[(name, "tx_p50")] = pct(lat, 50) * 1000 if lat and not failed else None
    if failed:
        notes.setdefault(("_problems", name), []).append(f"TransactWriteItems: {failed} failed")
    h.close()
    log(f"  {name}: GetItem p50 {fmt(values[(name, 'get_p50')], 2)} ms, Query {fmt(values[(name, 'query')])}/s, "
        f"BatchWrite {fmt(values[(name, 'batch')])} items/s, TransactWrite p50 {fmt(values[(name, 'tx_p50')], 2)} ms")


ROWS = [
    ("put1", "PutItem ops/s, 1 client", True),
    ("put8", f"PutItem ops/s, {CLIENTS} clients", True),
    ("get1", "GetItem ops/s, 1 client", True),
    ("get8", f"GetItem ops/s, {CLIENTS} clients", True),
    ("get_p50", "GetItem p50 ms, 1 client", False),
    ("query", f"Query of {QUERY_ITEMS} items /s, 1 client", True),
    ("batch", "BatchWriteItem items/s (25 a batch), 1 client", True),
    ("tx_p50", "TransactWriteItems (2 Puts) p50 ms", False),
    ("put_cpu", f"CPU µs per PutItem, {CLIENTS} clients", False),
    ("get_cpu", f"CPU µs per GetItem, {CLIENTS} clients", False),
    ("query_cpu", f"CPU µs per Query of {QUERY_ITEMS} items, 1 client", False),
    ("batch_cpu", "CPU µs per BatchWriteItem item, 1 client", False),
]


def main() -> int:
    quick = dict(ops=2_000, secs=5.0, lat=300, batches=40)
    full = dict(ops=20_000, secs=10.0, lat=2_000, batches=400)
    return bench_main("DynamoDB", __doc__, PEERS, quick, full, "items of about 200 bytes", ROWS, bench_server)


if __name__ == "__main__":
    sys.exit(main())
