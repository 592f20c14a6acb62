"""What IAM enforcement costs: server CPU per SQS SendMessage with `--iam off` and `--iam enforce`.

    python benchmarks/iam.py [--quick] [--count N] [--seconds S]

One Conveyor at a time (`conveyor up --bare --iam MODE`, auth off on loopback): a queue, and an IAM user
whose permissions come from an inline policy, a customer managed policy attached to it and a group's
policy (three documents to evaluate, one with a condition). Raw-HTTP clients send with the user's access
key (auth off: the key names the principal, the signature is not checked), so each send is judged as the
user's; the root user's sends (the configured key) are measured too. Reports server CPU (utime+stime,
/proc) per message and throughput, for 1 and 4 client processes. Bounded by count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
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
    options = dict(endpoint_url=endpoint, config=BotoConfig(retries={"max_attempts": 1}), **CREDS)
    sqs, iam = boto3.client("sqs", **options), boto3.client("iam", **options)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts, for smoke tests")
    parser.add_argument("--count", type=int, default=20000, help="sends per phase (default 20000)")
    parser.add_argument("--seconds", type=float, default=20, help="time limit per phase (default 20)")
    args = parser.parse_args()
    count, seconds = (500, 5.0) if args.quick else (args.count, args.seconds)
    rows: list[tuple[str, str, int, float, float]] = []
    for mode in ("off", "enforce"):
        log(f"conveyor up --iam {mode}")
        srv = start_conveyor(extra=["--iam", mode])
        if not srv.up:
            raise SystemExit(f"conveyor did not start: {srv.error}")
        try:
            assert srv.endpoint is not None
            url, key = setup(srv.endpoint)
            measure(srv, url, key, 1, min(count, 500), seconds)  # warm-up: caches, connections, the JIT of the OS
            for who, signer in (("IAM user", key), ("root user", CREDS["aws_access_key_id"])):
                for clients in (1, 4):
                    rate, cpu = measure(srv, url, signer, clients, count, seconds)
                    rows.append((mode, who, clients, rate, cpu))
                    log(f"  --iam {mode}, {who}, {clients} client(s): {fmt(rate)} msgs/s, {fmt(cpu, 1)} µs CPU/msg")
        finally:
            stop(srv)
    print()
    print(f"{'--iam':<8} {'caller':<10} {'clients':>7} {'msgs/s':>8} {'server CPU µs/msg':>18}")
    for mode, who, clients, rate, cpu in rows:
        print(f"{mode:<8} {who:<10} {clients:>7} {fmt(rate):>8} {fmt(cpu, 1):>18}")
    by = {(m, w, c): cpu for m, w, c, _, cpu in rows}
    for clients in (1, 4):
        extra = by[("enforce", "IAM user", clients)] - by[("off", "IAM user", clients)]
        print(f"enforcement costs {fmt(extra, 1)} µs CPU per send ({clients} client(s), the IAM user's sends)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
