"""Server CPU per small request: what the gateway, the codecs and the HTTP layer cost around the work.

    python benchmarks/small_requests.py [--quick] [--signed] [--clients N] [--ops a,b] [--src DIR ...] [--profile OUT]

Each `--src DIR` (default: the conveyor the interpreter imports) is a source tree put first on the
server's PYTHONPATH, so two trees (a branch and main) are measured side by side in the same minutes, one
op after the other, alternating: on a shared machine only CPU per op is worth comparing, not ops/s.

Per tree, on one `conveyor up --bare` server each, with CLIENTS raw keep-alive HTTP client processes
(`--clients 1`: one client waiting for each answer, where a durable write's latency shows):
  * DynamoDB DescribeLimits (a bare request: routing, SigV4, codec, nothing stored), PutItem (about
    200 bytes, committed before the answer), GetItem, Query of 100 items, BatchWriteItem of 25 puts
  * SQS GetQueueUrl (bare) and SendMessage (JSON protocol, as current boto3 speaks it)
  * S3 PUT and GET of 4 KiB (path style)
and prints server CPU (utime+stime of the server's process tree, /proc) in µs per request.

Unsigned (default): a well-formed SigV4 header with a dummy signature; the server runs with auth off.
`--signed`: the server runs `--auth sigv4` and every request carries a real signature (botocore signs a
pool of requests per client before the clock starts, so client CPU stays out of the loop).
`--profile OUT`: py-spy records the first tree's server during two more runs of each op (collapsed
stacks of the GIL holder to OUT.OP.gil, of every busy thread to OUT.OP.wall) and the top frames are printed.
Everything talks to 127.0.0.1; every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peers import (  # noqa: E402
    CLK_TCK,
    CREDS,
    Http,
    Server,
    _wait_http,
    fake_auth,
    fmt,
    free_port,
    log,
    profile_load,
    run_load,
    stop,
)

CLIENTS = 4
TABLE = "small"
QUEUE = "small"
BUCKET = "small"
POOL = 64  # signed requests per client, cycled (a signature stays valid for 15 minutes)
OBJECT = b"x" * 4096
OPS = ["ddb_limits", "ddb_put", "ddb_get", "ddb_query", "ddb_batch", "sqs_url", "sqs_send", "s3_put", "s3_get"]
LABELS = {
    "ddb_limits": "DynamoDB DescribeLimits",
    "ddb_put": "DynamoDB PutItem (~200 B)",
    "ddb_get": "DynamoDB GetItem",
    "ddb_query": "DynamoDB Query of 100 items",
    "ddb_batch": "DynamoDB BatchWriteItem of 25",
    "sqs_url": "SQS GetQueueUrl",
    "sqs_send": "SQS SendMessage",
    "s3_put": "S3 PUT 4 KiB",
    "s3_get": "S3 GET 4 KiB",
}


def tree_comparison_parser(doc: str | None, what: str, choices: Sequence[str]) -> argparse.ArgumentParser:
    """The options of a script that measures source trees side by side: --quick, --WHAT (a selection of
    `choices`), --src (repeated), --rounds, --profile."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, for smoke tests")
    parser.add_argument(f"--{what}", default=",".join(choices), help=f"comma-separated, of {','.join(choices)}")
    parser.add_argument("--src", action="append", help="a source tree to serve from (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=0, help="measurements per choice and tree (default 2, quick 1)")
    parser.add_argument("--profile", metavar="OUT", help="py-spy the first tree, after the measured runs")
    return parser


def chosen(parser: argparse.ArgumentParser, what: str, value: str, choices: Sequence[str]) -> list[str]:
    picked = [c for c in value.split(",") if c]
    unknown = set(picked) - set(choices)
    if unknown:
        parser.error(f"unknown {what}: {', '.join(sorted(unknown))}")
    return picked


def print_by_tree(title: str, what: str, trees: list[str], rows: list[tuple[str, list[str]]]) -> None:
    """A markdown table with a column per source tree: `rows` are (label, a cell per tree)."""
    print(f"\n{title}")
    print(f"| {what} | " + " | ".join(trees) + " |")
    print("|---|" + "---|" * len(trees))
    for label, cells in rows:
        print(f"| {label} | " + " | ".join(cells) + " |")


def start(src: str | None, signed: bool) -> Server:
    srv = Server(src or "conveyor")
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="conveyor-small-")
    cmd = [sys.executable, "-m", "conveyor.cli", "up", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", data_dir, "--bare", "--auth", "sigv4" if signed else "off"]
    env = {k: v for k, v in os.environ.items() if k != "AWS_REGION"} | {"AWS_DEFAULT_REGION": "us-east-1",
                                                                      "CONVEYOR_ACCESS_KEY_ID": "test",
                                                                      "CONVEYOR_SECRET_ACCESS_KEY": "test"}
    if src is not None:
        env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    log_path = os.path.join(tempfile.gettempdir(), f"conveyor-small-{port}.log")
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    srv.proc, srv.data_dir = proc, data_dir
    if _wait_http(f"http://127.0.0.1:{port}/_conveyor/health", 60, lambda: proc.poll() is None):
        srv.endpoint, srv.pid = f"http://127.0.0.1:{port}", proc.pid
    else:
        srv.error = f"did not come up (log {log_path})"
        stop(srv)
    return srv


# -- the requests: (method, path, body, headers), unsigned or signed ---------------------------------

def _json_request(service: str, target: str, payload: dict[str, Any], version: str) -> tuple[str, str, bytes, dict[str, str]]:
    return ("POST", "/", json.dumps(payload).encode(),
            {"Content-Type": f"application/x-amz-json-{version}", "X-Amz-Target": target})


def _item(idx: int, n: int, prefix: str = "client-") -> dict[str, Any]:
    """An item of about 200 bytes, as benchmarks/dynamodb.py writes them."""
    return {"pk": {"S": f"{prefix}{idx}"}, "sk": {"N": str(n)}, "name": {"S": "widget-" + "x" * 120},
            "count": {"N": str(n * 7)}, "tags": {"SS": ["a", "b", "c"]}}


def build(op: str, idx: int, n: int, endpoint: str) -> tuple[str, str, bytes, dict[str, str], str]:
    """The n-th request of client idx: (method, path, body, headers, signing name)."""
    queue_url = f"{endpoint}/000000000000/{QUEUE}"
    if op == "ddb_limits":
        return (*_json_request("dynamodb", "DynamoDB_20120810.DescribeLimits", {}, "1.0"), "dynamodb")
    if op == "ddb_put":
        return (*_json_request("dynamodb", "DynamoDB_20120810.PutItem", {"TableName": TABLE, "Item": _item(idx, n)},
                               "1.0"), "dynamodb")
    if op == "ddb_batch":
        puts = [{"PutRequest": {"Item": _item(idx, 25 * n + j, "batch-")}} for j in range(25)]
        return (*_json_request("dynamodb", "DynamoDB_20120810.BatchWriteItem", {"RequestItems": {TABLE: puts}}, "1.0"),
                "dynamodb")
    if op == "ddb_query":
        query = {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "seed-0"}}}
        return (*_json_request("dynamodb", "DynamoDB_20120810.Query", query, "1.0"), "dynamodb")
    if op == "ddb_get":
        key = {"pk": {"S": "client-0"}, "sk": {"N": str(n % 100)}}
        return (*_json_request("dynamodb", "DynamoDB_20120810.GetItem", {"TableName": TABLE, "Key": key}, "1.0"),
                "dynamodb")
    if op == "sqs_url":
        return (*_json_request("sqs", "AmazonSQS.GetQueueUrl", {"QueueName": QUEUE}, "1.0"), "sqs")
    if op == "sqs_send":
        return (*_json_request("sqs", "AmazonSQS.SendMessage",
                               {"QueueUrl": queue_url, "MessageBody": f"message {idx}-{n} " + "y" * 100}, "1.0"),
                "sqs")
    if op == "s3_put":
        return ("PUT", f"/{BUCKET}/c{idx}/{n}", OBJECT,
                {"Content-Type": "application/octet-stream",
                 "x-amz-content-sha256": hashlib.sha256(OBJECT).hexdigest()}, "s3")
    if op == "s3_get":
        return ("GET", f"/{BUCKET}/seed/{n % 100}", b"", {"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()},
                "s3")
    raise ValueError(op)


def sign(endpoint: str, method: str, path: str, body: bytes, headers: dict[str, str], service: str) -> dict[str, str]:
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=dict(headers))
    auth = S3SigV4Auth if service == "s3" else SigV4Auth
    auth(Credentials(CREDS["aws_access_key_id"], CREDS["aws_secret_access_key"]), service,
         CREDS["region_name"]).add_auth(request)
    return {k: v for k, v in request.headers.items()}


def w_ops(phase: str, idx: int, endpoint: str, op: str, signed: bool, count: int, seconds: float,
          state: Any = None) -> Any:
    if phase == "setup":
        if signed:
            pool = []
            for n in range(POOL):
                method, path, body, headers, service = build(op, idx, n, endpoint)
                pool.append((method, path, body, sign(endpoint, method, path, body, headers, service)))
            return Http(endpoint), pool
        return Http(endpoint), None
    h, pool = state
    done = errors = 0
    deadline = time.monotonic() + seconds
    for n in range(count):
        if time.monotonic() > deadline:
            break
        if pool is not None:
            method, path, body, headers = pool[n % POOL]
        else:
            method, path, body, headers, service = build(op, idx, n, endpoint)
            headers = headers | fake_auth(service)
        status, answer = h.request(method, path, body or None, headers)
        if status == 200:
            done += 1
        else:
            errors += 1
            if errors == 1:
                print(f"[client {idx}] {op}: {status} {answer[:300]!r}", flush=True)
            if errors > 50 and errors > done:
                break
    h.close()
    return done, errors


def prepare(srv: Server) -> None:
    """The table, the queue and the bucket with the objects and items the reads ask for."""
    import boto3

    assert srv.endpoint is not None
    kw: Any = dict(endpoint_url=srv.endpoint, **CREDS)
    ddb = boto3.client("dynamodb", **kw)
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    for n in range(100):
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "client-0"}, "sk": {"N": str(n)}, "name": {"S": "w" * 120}})
        ddb.put_item(TableName=TABLE, Item=_item(0, n, "seed-"))  # the partition a Query reads whole
    boto3.client("sqs", **kw).create_queue(QueueName=QUEUE)
    from botocore.config import Config

    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kw)
    s3.create_bucket(Bucket=BUCKET)
    for n in range(100):
        s3.put_object(Bucket=BUCKET, Key=f"seed/{n}", Body=OBJECT)


def user_system(pid: int) -> tuple[float, float]:
    """The server process's own user and system CPU seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def measure(srv: Server, op: str, signed: bool, seconds: float, count: int, clients: int) -> float | None:
    assert srv.pid is not None
    user0, system0 = user_system(srv.pid)
    r = run_load(srv, w_ops, clients, (srv.endpoint, op, signed, count, seconds), seconds)
    user1, system1 = user_system(srv.pid)
    if not r.ops:
        log(f"  {srv.name} {op}: no requests answered ({r.failure})")
        return None
    log(f"  {srv.name} {op}: {r.ops} in {r.seconds:.1f}s, {fmt(r.rate)}/s, errors={r.errors}, "
        f"{r.cpu / r.ops * 1e6:.0f} µs CPU/request (user {(user1 - user0) / r.ops * 1e6:.0f}, "
        f"system {(system1 - system0) / r.ops * 1e6:.0f})")
    return r.cpu / r.ops * 1e6


def profile(srv: Server, op: str, signed: bool, out: str, seconds: float, count: int, clients: int) -> None:
    profile_load(srv, f"{out}.{op}", seconds, f"{op} on {srv.name}",
                 lambda: run_load(srv, w_ops, clients, (srv.endpoint, op, signed, count, seconds), seconds))


def main() -> int:
    parser = tree_comparison_parser(__doc__, "ops", OPS)
    parser.add_argument("--signed", action="store_true", help="--auth sigv4 and really signed requests")
    parser.add_argument("--clients", type=int, default=CLIENTS, help=f"client processes (default {CLIENTS})")
    args = parser.parse_args()
    seconds, count = (2.0, 1_000) if args.quick else (5.0, 20_000)
    rounds = args.rounds or (1 if args.quick else 2)
    ops = chosen(parser, "ops", args.ops, OPS)
    servers = [start(src, args.signed) for src in (args.src or [None])]
    try:
        for srv in servers:
            if not srv.up:
                log(f"{srv.name}: {srv.error}")
                return 1
            log(f"{srv.name}: up at {srv.endpoint} pid {srv.pid}")
            prepare(srv)
        results: dict[tuple[str, str], list[float]] = {}
        for op in ops:
            for _ in range(rounds):
                for srv in servers:
                    cpu = measure(srv, op, args.signed, seconds, count, args.clients)
                    if cpu is not None:
                        results.setdefault((srv.name, op), []).append(cpu)
        if args.profile:
            for op in ops:
                profile(servers[0], op, args.signed, args.profile, seconds * 2, count * 2, args.clients)
        names = [srv.name for srv in servers]
        print_by_tree(f"Server CPU µs per request ({'signed, --auth sigv4' if args.signed else 'unsigned, auth off'}; "
                      f"{args.clients} clients; lowest of {rounds})", "request", names,
                      [(LABELS[op], [fmt(min(results[(n, op)])) if results.get((n, op)) else "-" for n in names])
                       for op in ops])
    finally:
        for srv in servers:
            stop(srv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
