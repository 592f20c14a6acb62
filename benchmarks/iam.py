"""What IAM enforcement costs: server CPU per SQS SendMessage with `--iam off` and `--iam enforce`.

    python benchmarks/iam.py [--quick] [--count N] [--rounds R] [--seconds S]

Two Conveyors (`conveyor up --bare --iam off` and `--iam enforce`, auth off on loopback), measured in
interleaved phases, each with a queue and an IAM user whose permissions come from an inline policy, a
customer managed policy attached to it and a group's policy (three documents to evaluate, one with a
condition). Raw-HTTP clients send with the user's access
key (auth off: the key names the principal, the signature is not checked), so each send is judged as the
user's; the root user's sends (the configured key) are measured too. Reports server CPU (utime+stime,
/proc) per message and throughput (medians); then the enforcement step alone, timed in this process.
Bounded by count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402

from peers import CREDS, Http, Server, fmt, log, run_load, start_conveyor, stop  # noqa: E402

ACCOUNT = "000000000000"


def auth_header(key: str) -> dict[str, str]:
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{date[:8]}/us-east-1/sqs/aws4_request, "
                             f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}", "X-Amz-Date": date}


def w_send(phase: str, idx: int, endpoint: str, url: str, key: str, count: int, seconds: float,
           state: Any = None) -> Any:
    if phase == "setup":
        return Http(endpoint)
    h: Http = state
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage",
               **auth_header(key)}
    done = errors = 0
    deadline = time.monotonic() + seconds
    for i in range(count):
        if time.monotonic() > deadline:
            break
        status, _ = h.request("POST", "/", json.dumps({"QueueUrl": url, "MessageBody": f"{idx}-{i}"}).encode(),
                              headers)
        if status == 200:
            done += 1
        else:
            errors += 1
            if errors > 20:
                break
    return done, errors


def setup(endpoint: str) -> tuple[str, str]:
    """The queue's URL and the access key of a user allowed to send to it."""
    config = BotoConfig(retries={"max_attempts": 1})
    key, secret, region = CREDS["aws_access_key_id"], CREDS["aws_secret_access_key"], CREDS["region_name"]
    sqs = boto3.client("sqs", endpoint_url=endpoint, config=config, region_name=region,
                       aws_access_key_id=key, aws_secret_access_key=secret)
    iam = boto3.client("iam", endpoint_url=endpoint, config=config, region_name=region,
                       aws_access_key_id=key, aws_secret_access_key=secret)
    url = sqs.create_queue(QueueName="bench")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:bench"

    def document(*statements: dict[str, Any]) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})

    iam.create_user(UserName="sender")
    iam.put_user_policy(UserName="sender", PolicyName="send", PolicyDocument=document(
        {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"], "Resource": arn,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
    managed = iam.create_policy(PolicyName="read-buckets", PolicyDocument=document(
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "arn:aws:s3:::photos*"},
        {"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"}))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="sender", PolicyArn=managed)
    iam.create_group(GroupName="team")
    iam.put_group_policy(GroupName="team", PolicyName="logs", PolicyDocument=document(
        {"Effect": "Allow", "Action": "logs:*", "Resource": f"arn:aws:logs:*:{ACCOUNT}:log-group:/team/*"}))
    iam.add_user_to_group(GroupName="team", UserName="sender")
    key = iam.create_access_key(UserName="sender")["AccessKey"]["AccessKeyId"]
    return url, key


def measure(srv: Server, url: str, key: str, clients: int, count: int, seconds: float) -> tuple[float, float]:
    """(messages per second, server CPU µs per message)."""
    result = run_load(srv, w_send, clients, (srv.endpoint, url, key, count // clients, seconds), seconds)
    if result.errors or result.failure or not result.ops:
        raise RuntimeError(f"send failed: {result.errors} errors, {result.failure}")
    return result.rate, result.cpu / result.ops * 1e6


def step_cost(rounds: int = 20000) -> tuple[float, float]:
    """The enforcement step alone, in this process: µs per SendMessage judged for the IAM user (its
    decision kept from the previous identical request, as in a steady stream of sends) and for the first
    request after IAM changed (the caller's policies parsed again, the decision evaluated)."""
    import tempfile

    from conveyor.app import App
    from conveyor.config import Config
    from conveyor.server import serve_in_thread
    from conveyor.wire import Headers, HttpRequest, RequestContext

    app = App(Config(data_dir=Path(tempfile.mkdtemp(prefix="conveyor-bench-iam-")), port=0, auth="off", iam="enforce"))
    with serve_in_thread(app) as endpoint:
        url, key = setup(endpoint)
        sqs = app.services["sqs"]
        operation = sqs.model.operation_model("SendMessage")
        credential = app.credential_for(key)
        assert credential is not None
        request = HttpRequest("POST", "/", "", Headers([]), client=("127.0.0.1", 50000))
        params = {"QueueUrl": url, "MessageBody": "x"}

        def judge() -> None:
            ctx = RequestContext(request=request, clock=app.clock, request_id="r", account_id=ACCOUNT,
                                 region="us-east-1", service="sqs", protocol="json")
            ctx.principal, ctx.access_key = credential.caller, key
            app.enforcer.authorize(ctx, sqs, operation, params)

        judge()
        started = time.perf_counter()
        for _ in range(rounds):
            judge()
        steady = (time.perf_counter() - started) / rounds * 1e6
        started = time.perf_counter()
        changes = max(1, rounds // 20)
        for _ in range(changes):
            app.enforcer.clear()  # what a change in IAM does to the caller's compiled policies
            judge()
        fresh = (time.perf_counter() - started) / changes * 1e6
    return steady, fresh


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts, for smoke tests")
    parser.add_argument("--count", type=int, default=8000, help="sends per phase (default 8000)")
    parser.add_argument("--rounds", type=int, default=3, help="phases per mode, interleaved (default 3)")
    parser.add_argument("--seconds", type=float, default=20, help="time limit per phase (default 20)")
    args = parser.parse_args()
    count, rounds, seconds = (400, 1, 5.0) if args.quick else (args.count, args.rounds, args.seconds)
    clients = 4
    servers: dict[str, Server] = {}
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for mode in ("off", "enforce"):
            log(f"conveyor up --iam {mode}")
            srv = servers[mode] = start_conveyor(extra=["--iam", mode])
            if not srv.up:
                raise SystemExit(f"conveyor did not start: {srv.error}")
        targets = {}
        for mode, srv in servers.items():
            assert srv.endpoint is not None
            targets[mode] = setup(srv.endpoint)
            measure(srv, *targets[mode], 1, min(count, 400), seconds)  # warm-up
        # Interleaved, so that whatever else this machine does weighs on both modes alike.
        for round_ in range(rounds):
            for mode, srv in servers.items():
                url, key = targets[mode]
                for who, signer in (("IAM user", key), ("root user", CREDS["aws_access_key_id"])):
                    rate, cpu = measure(srv, url, signer, clients, count, seconds)
                    samples.setdefault((mode, who), []).append((rate, cpu))
                    log(f"  round {round_ + 1}, --iam {mode}, {who}: {fmt(rate)} msgs/s, {fmt(cpu, 1)} µs CPU/msg")
    finally:
        for srv in servers.values():
            stop(srv)
    steady, fresh = step_cost(2000 if args.quick else 20000)
    print()
    print(f"SendMessage, {clients} client processes, median of {rounds} interleaved phase(s) of {count} sends")
    print(f"{'--iam':<8} {'caller':<10} {'msgs/s':>8} {'server CPU µs/msg':>18}")
    medians: dict[tuple[str, str], float] = {}
    for (mode, who), values in samples.items():
        rate = statistics.median(v[0] for v in values)
        cpu = medians[(mode, who)] = statistics.median(v[1] for v in values)
        print(f"{mode:<8} {who:<10} {fmt(rate):>8} {fmt(cpu, 1):>18}")
    extra = medians[("enforce", "IAM user")] - medians[("off", "IAM user")]
    print(f"end to end, enforcement adds {fmt(extra, 1)} µs CPU per send of the IAM user's (noise included)")
    print(f"the enforcement step alone: {fmt(steady, 1)} µs per send (decision kept), {fmt(fresh, 1)} µs for the "
          "first send after IAM changed (policies parsed and evaluated again)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
