"""A load balancer's cost: requests/s and latency through an Application Load Balancer (by its DNS name on
Conveyor's port) and through a Network Load Balancer's TCP listener (its own port, bytes passed through),
side by side with direct requests to the same targets, in one run.

    python benchmarks/elb.py [--requests 2000] [--seconds 20]

Two small web servers (each on its own loopback address, as instances have) behind a load balancer with
an HTTP listener forwarding to their target group, and behind a network load balancer with a TCP listener
(TCP target group, TCP health checks). One client, one keep-alive connection each way, GET of
a 1 KiB answer; printed: requests/s, median and p99 latency for direct and through the load balancer, and
the latency the load balancer adds (median and p99 differences). Every answer must be a 200 of the whole
body (errors are counted and printed). Bounded: at most --requests requests or --seconds seconds per side.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402

from peers import CREDS, free_port, start_conveyor, stop  # noqa: E402

BODY = b"x" * 1024
ADDRESSES = ("127.0.0.61", "127.0.0.62")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        # Head and body in one write: two small writes meet Nagle's algorithm and delayed ACKs (40 ms).
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY)

    def log_message(self, *args: object) -> None:
        pass


def measure(host: str, port: int, headers: dict[str, str], count: int, seconds: float) -> tuple[list[float], int]:
    """Latencies (seconds) of successful GETs over one keep-alive connection, and the number of errors."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        start = time.perf_counter()
        try:
            conn.request("GET", "/", headers=headers)
            answer = conn.getresponse()
            ok = answer.status == 200 and answer.read() == BODY
        except (http.client.HTTPException, OSError):
            conn.close()
            ok = False
        if ok:
            latencies.append(time.perf_counter() - start)
        else:
            errors += 1
    conn.close()
    return latencies, errors


def report(name: str, latencies: list[float], errors: int, elapsed: float) -> tuple[float, float]:
    median = statistics.median(latencies) * 1000
    p99 = sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000
    print(f"{name:24} {len(latencies) / elapsed:9.0f} req/s   median {median:6.2f} ms   p99 {p99:6.2f} ms   "
          f"errors {errors}")
    return median, p99


def tcp_listener(elb: object, subnets: list[str], vpc: str, target_port: int) -> int:
    """A network load balancer whose TCP listener (on a free port of its own) forwards to the same servers."""
    client: Any = elb
    balancer = client.create_load_balancer(Name="bench-nlb", Type="network", Subnets=subnets[:1])["LoadBalancers"][0]
    group = client.create_target_group(Name="bench-tcp", Protocol="TCP", Port=target_port, VpcId=vpc, TargetType="ip",
                                       HealthCheckIntervalSeconds=10, HealthCheckTimeoutSeconds=5,
                                       HealthyThresholdCount=2)["TargetGroups"][0]
    listen_port = free_port()
    client.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="TCP", Port=listen_port,
                           DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}])
    client.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": a} for a in ADDRESSES])
    return listen_port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    port = free_port()
    servers = [ThreadingHTTPServer((address, port), Handler) for address in ADDRESSES]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    srv = start_conveyor()
    try:
        assert srv.endpoint is not None, srv.error
        config = BotoConfig(retries={"max_attempts": 1})
        elb = boto3.client("elbv2", endpoint_url=srv.endpoint, config=config, **CREDS)
        ec2 = boto3.client("ec2", endpoint_url=srv.endpoint, config=config, **CREDS)
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        balancer = elb.create_load_balancer(Name="bench", Subnets=subnets)["LoadBalancers"][0]
        group = elb.create_target_group(Name="bench", Protocol="HTTP", Port=port, VpcId=vpc, TargetType="ip",
                                        HealthCheckIntervalSeconds=5, HealthyThresholdCount=2,
                                        HealthCheckTimeoutSeconds=2)["TargetGroups"][0]["TargetGroupArn"]
        elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": a} for a in ADDRESSES])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # healthy after two checks (the first at registration)
            states = {h["TargetHealth"]["State"] for h in
                      elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]}
            if states == {"healthy"}:
                break
            time.sleep(0.5)
        nlb_port = tcp_listener(elb, subnets, vpc, port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not measure("127.0.0.1", nlb_port, {}, 1, 5)[0]:
            time.sleep(0.5)  # until the TCP target group's first checks pass (it fails open meanwhile)
        conveyor_port = int(srv.endpoint.rsplit(":", 1)[1])
        measure(ADDRESSES[0], port, {}, 50, 5)  # warm up both paths
        measure("127.0.0.1", conveyor_port, {"Host": f"{balancer['DNSName']}:{conveyor_port}"}, 50, 5)
        start = time.perf_counter()
        direct, direct_errors = measure(ADDRESSES[0], port, {}, args.requests, args.seconds)
        direct_median, direct_p99 = report("direct to a target", direct, direct_errors, time.perf_counter() - start)
        start = time.perf_counter()
        through, errors = measure("127.0.0.1", conveyor_port, {"Host": f"{balancer['DNSName']}:{conveyor_port}"},
                                  args.requests, args.seconds)
        median, p99 = report("through the ALB", through, errors, time.perf_counter() - start)
        print(f"{'added by the ALB':24} median {median - direct_median:6.2f} ms   p99 {p99 - direct_p99:6.2f} ms")
        measure("127.0.0.1", nlb_port, {}, 50, 5)
        start = time.perf_counter()
        passed, nlb_errors = measure("127.0.0.1", nlb_port, {}, args.requests, args.seconds)
        median, p99 = report("through the NLB (TCP)", passed, nlb_errors, time.perf_counter() - start)
        print(f"{'added by the NLB':24} median {median - direct_median:6.2f} ms   p99 {p99 - direct_p99:6.2f} ms")
    finally:
        stop(srv)
        for server in servers:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
