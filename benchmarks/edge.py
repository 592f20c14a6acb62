"""CloudFront's edge side by side with a direct S3 GET of the same objects, in one run.

    python benchmarks/edge.py [--quick] [--only conveyor,moto,localstack,ministack]

Measures on Conveyor (a private bucket read by a distribution through origin access control):
  * GET ops/s and server CPU µs per GET of a cached small object (4 KiB) through the edge, and of the same
    object straight from S3 (signed, path style), with 1 and 4 client processes;
  * the same for a cached 1 MiB object, with MiB/s;
  * the ratios: edge ÷ S3 for throughput (higher is better) and CPU per GET (lower is better).
Every edge GET must answer 200 with `X-Cache: Hit from cloudfront` after the first; a run that sees a miss
or a wrong length counts an error.
For the peers: whether they answer CloudFront's API (CreateDistribution) and serve a distribution's
domain at all; none of them serves an edge to measure (printed per peer).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402

from peers import CREDS, Server, fake_auth, fmt, log, run_load, servers_running  # noqa: E402

PEERS = ["conveyor"]
KiB, MiB = 1 << 10, 1 << 20
OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def w_get(phase: str, idx: int, endpoint: str, path: str, host: str, size: int, count: int, seconds: float,
          edge: bool, state: Any = None) -> Any:
    """GET `path` over one keep-alive connection; an answer counts only if complete (and a Hit at the edge)."""
    hostport = endpoint.split("://", 1)[1]
    if phase == "setup":
        address, port = hostport.rsplit(":", 1)
        return http.client.HTTPConnection(address, int(port), timeout=60)
    conn: http.client.HTTPConnection = state
    headers = {"Host": host} if edge else {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", **fake_auth("s3")}
    done = errors = 0
    deadline = time.monotonic() + seconds
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            ok = response.status == 200 and len(body) == size and (
                not edge or response.getheader("X-Cache") == "Hit from cloudfront")
        except (http.client.HTTPException, OSError):
            conn.close()
            ok = False
        if ok:
            done += 1
        else:
            errors += 1
            if errors > 50 and errors > done:
                break
    conn.close()
    return done, errors


def prepare_conveyor(srv: Server) -> tuple[str, str]:
    """A private bucket with the objects, a distribution with OAC, the bucket policy; returns (domain, id)."""
    assert srv.endpoint is not None
    config = BotoConfig(retries={"max_attempts": 1})
    s3 = boto3.client("s3", endpoint_url=srv.endpoint, config=config, **CREDS)
    cf = boto3.client("cloudfront", endpoint_url=srv.endpoint, config=config, **CREDS)
    s3.create_bucket(Bucket="edge-bench")
    s3.put_object(Bucket="edge-bench", Key="small.bin", Body=os.urandom(4 * KiB))
    s3.put_object(Bucket="edge-bench", Key="big.bin", Body=os.urandom(MiB))
    oac = cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": "bench", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
    distribution = cf.create_distribution(DistributionConfig={
        "CallerReference": "bench", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": "edge-bench.s3.us-east-1.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""},
                                              "OriginAccessControlId": oac}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": OPTIMIZED}})["Distribution"]
    s3.put_bucket_policy(Bucket="edge-bench", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::edge-bench/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution["ARN"]}}}]}))
    return distribution["DomainName"], distribution["Id"]


def probe_peer(srv: Server) -> str:
    """What a peer offers of CloudFront: its API, and an edge for the distribution's domain."""
    assert srv.endpoint is not None
    cf = boto3.client("cloudfront", endpoint_url=srv.endpoint, config=BotoConfig(retries={"max_attempts": 1}),
                      **CREDS)
    try:
        made = cf.create_distribution(DistributionConfig={
            "CallerReference": "probe", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": "probe.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                     "CachePolicyId": OPTIMIZED}})["Distribution"]
    except Exception as exc:  # noqa: BLE001 - any refusal says the same: no CloudFront here
        return f"no CloudFront API ({type(exc).__name__}: {str(exc)[:120]})"
    address, port = srv.endpoint.split("://", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(address, int(port), timeout=10)
    try:
        conn.request("GET", "/x", headers={"Host": made["DomainName"]})
        response = conn.getresponse()
        response.read()
        edge = response.getheader("X-Cache") or f"HTTP {response.status}, no X-Cache"
    except OSError as exc:
        edge = f"unreachable ({exc})"
    finally:
        conn.close()
    return f"CloudFront API yes (DomainName {made['DomainName']}); its domain on this port answers: {edge}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny counts, for smoke tests")
    ap.add_argument("--only", default=",".join(PEERS), help="comma-separated servers (conveyor, moto, localstack, "
                    "ministack)")
    args = ap.parse_args()
    counts = dict(n=300, secs=3.0) if args.quick else dict(n=20000, secs=8.0)
    names = [n for n in args.only.split(",") if n]
    log(f"edge benchmark ({'quick' if args.quick else 'full'}) on {os.cpu_count()} CPUs; servers: {', '.join(names)}")
    rows: list[tuple[str, Any, Any, Any, Any]] = []
    failures: list[str] = []
    with servers_running(names) as servers:
        for srv in servers:
            if not srv.up:
                log(f"{srv.name}: unavailable ({srv.error})")
                continue
            if srv.name != "conveyor":
                log(f"{srv.name}: {probe_peer(srv)}")
                continue
            assert srv.endpoint is not None
            domain, _ = prepare_conveyor(srv)
            port = srv.endpoint.rsplit(":", 1)[1]
            host = f"{domain}:{port}"
            for key, size in (("small.bin", 4 * KiB), ("big.bin", MiB)):
                # One miss fills the cache; what is measured are hits.
                conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
                conn.request("GET", f"/{key}", headers={"Host": host})
                first = conn.getresponse()
                first.read()
                conn.close()
                assert first.status == 200, first.status
                for clients in (1, 4):
                    measured = {}
                    for label, edge, path in (("edge", True, f"/{key}"), ("s3", False, f"/edge-bench/{key}")):
                        result = run_load(srv, w_get, clients, (srv.endpoint, path, host, size, counts["n"],
                                                                counts["secs"], edge), counts["secs"] + 30)
                        if result.failure or result.errors:
                            failures.append(f"{label} {key} x{clients}: {result.failure or result.errors} errors")
                        measured[label] = (result.rate, result.cpu / max(result.ops, 1) * 1e6)
                    rows.append((f"{size // KiB} KiB GET, {clients} client{'s' if clients > 1 else ''}",
                                 measured["edge"], measured["s3"], size, clients))
    if rows:
        print("\n| object, clients | edge GET/s | S3 GET/s | edge ÷ S3 | edge CPU µs/GET | S3 CPU µs/GET | CPU "
              "edge ÷ S3 | edge MiB/s |")
        print("|---|---|---|---|---|---|---|---|")
        for label, (edge_rate, edge_cpu), (s3_rate, s3_cpu), size, _ in rows:
            print(f"| {label} | {fmt(edge_rate)} | {fmt(s3_rate)} | {edge_rate / s3_rate if s3_rate else 0:.2f}x | "
                  f"{fmt(edge_cpu)} | {fmt(s3_cpu)} | {edge_cpu / s3_cpu if s3_cpu else 0:.2f}x | "
                  f"{fmt(edge_rate * size / MiB, 1)} |")
    for failure in failures:
        print(f"problem: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
