"""The region drill end to end, through the AWS CLI, dnspython and curl: the same small web app (a launch
template whose user data starts a web server answering its instance's region, an Auto Scaling group of 1
behind an ALB) in us-east-1 and us-west-2; a hosted zone with a failover pair of CNAMEs to the two load
balancers, each with an HTTP health check on its load balancer. Queries answer the primary; `conveyor drill
region-down us-east-1` -> within RequestInterval x FailureThreshold of the server's manual clock the DNS
answer and the traffic (resolve, then request by Host) move to us-west-2, and no request is answered by
us-east-1 afterwards; `region-up` -> back. `conveyor drill watch` prints what moved and when."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import free_port
from tests.helpers import wait_for
from tests.route53.conftest import Dig, dns_port

INTERVAL, THRESHOLD = 10, 2

WEB_SERVER = r'''#!/bin/bash
base="${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}/latest"
token=$(curl -s -X PUT "$base/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
ip=$(curl -s -H "X-aws-ec2-metadata-token: $token" "$base/meta-data/local-ipv4")
region=$(curl -s -H "X-aws-ec2-metadata-token: $token" "$base/meta-data/placement/region")
exec PYTHON - "$ip" "$region" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ip, region = sys.argv[1], sys.argv[2]
class Web(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("ok" if self.path == "/health" else region).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer((ip, 8080), Web).serve_forever()
PY
'''.replace("PYTHON", sys.executable)


def _deploy(aws: Callable[..., Any], region: str, tmp_path: Path) -> tuple[str, str]:
    """The web app in one region: (its load balancer's DNS name, its target group's ARN)."""
    def call(*args: str) -> Any:
        return aws(*args, "--region", region)

    subnets = [s["SubnetId"] for s in call("ec2", "describe-subnets")["Subnets"]][:2]
    vpc = call("ec2", "describe-vpcs", "--filters", "Name=isDefault,Values=true")["Vpcs"][0]["VpcId"]
    balancer = call("elbv2", "create-load-balancer", "--name", "web", "--subnets", *subnets)["LoadBalancers"][0]
    group = call("elbv2", "create-target-group", "--name", "web", "--protocol", "HTTP", "--port", "8080",
                 "--vpc-id", vpc, "--health-check-path", "/health", "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "2",
                 "--healthy-threshold-count", "2")["TargetGroups"][0]["TargetGroupArn"]
    call("elbv2", "create-listener", "--load-balancer-arn", balancer["LoadBalancerArn"], "--protocol", "HTTP",
         "--port", "80", "--default-actions", f"Type=forward,TargetGroupArn={group}")
    template = tmp_path / f"template-{region}.json"
    template.write_text(json.dumps({"ImageId": "ami-0abcdef1234567890", "InstanceType": "t3.micro",
                                    "UserData": base64.b64encode(WEB_SERVER.encode()).decode()}))
    call("ec2", "create-launch-template", "--launch-template-name", "web", "--launch-template-data",
         f"file://{template}")
    call("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "web", "--launch-template",
         "LaunchTemplateName=web,Version=$Latest", "--min-size", "1", "--max-size", "2", "--desired-capacity", "1",
         "--vpc-zone-identifier", ",".join(subnets), "--target-group-arns", group)
    return str(balancer["DNSName"]), str(group)


def _request(name: str, dig: Dig, port: int) -> tuple[int, str]:
    """Resolve `name` as a client would (the CNAME the DNS server answers), then request its target: curl
    reaches a `*.localhost` name on loopback and sends it as the Host, which picks the load balancer."""
    [target] = dig.values(name, "CNAME")
    done = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", f"http://{target.rstrip('.')}:{port}/"],
                          capture_output=True, timeout=30, check=False)
    body, _, status = done.stdout.decode().rpartition("\n")
    return int(status or 0), body


@pytest.fixture
def watcher(endpoint: str, tmp_path: Path) -> Iterator[Path]:
    """`conveyor drill watch` running beside the test, its output in a file."""
    out = tmp_path / "watch.txt"
    with out.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "conveyor.cli", "drill", "watch", "--endpoint", endpoint,
                                    "--seconds", "300", "--interval", "0.2"], stdout=sink, stderr=subprocess.STDOUT,
                                   env=os.environ.copy())
        try:
            yield out
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_a_region_drill_moves_dns_and_traffic_and_back(aws: Callable[..., Any], client: Callable[..., Any],
                                                        endpoint: str, tmp_path: Path,
                                                        advance: Callable[[float], float], watcher: Path) -> None:
    r53 = client("route53")
    port = urlsplit(endpoint).port
    assert port is not None
    dig = Dig(dns_port(endpoint))
    balancers = {region: _deploy(aws, region, tmp_path) for region in ("us-east-1", "us-west-2")}

    def serving() -> bool:
        advance(5)
        return all(any(h["TargetHealth"]["State"] == "healthy" for h in aws(
            "elbv2", "describe-target-health", "--target-group-arn", group, "--region", region,
        )["TargetHealthDescriptions"]) for region, (_, group) in balancers.items())

    wait_for(serving, timeout=90, interval=0.2, what="a healthy instance behind each region's load balancer")
    checks = {}
    for region, (name, _) in balancers.items():
        config = {"Type": "HTTP", "FullyQualifiedDomainName": name, "Port": port, "ResourcePath": "/health",
                  "RequestInterval": INTERVAL, "FailureThreshold": THRESHOLD}
        checks[region] = aws("route53", "create-health-check", "--caller-reference", region,
                             "--health-check-config", json.dumps(config))["HealthCheck"]["Id"]
    zone = aws("route53", "create-hosted-zone", "--name", "example.com", "--caller-reference", "drill")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    pair = [{"Action": "CREATE", "ResourceRecordSet": {
        "Name": "www.example.com", "Type": "CNAME", "TTL": 10, "SetIdentifier": region, "Failover": role,
        "HealthCheckId": checks[region], "ResourceRecords": [{"Value": balancers[region][0]}]}}
        for region, role in (("us-east-1", "PRIMARY"), ("us-west-2", "SECONDARY"))]
    aws("route53", "change-resource-record-sets", "--hosted-zone-id", zone_id,
        "--change-batch", json.dumps({"Changes": pair}))

    east, west = (balancers[r][0].lower() + "." for r in ("us-east-1", "us-west-2"))
    assert dig.values("www.example.com", "CNAME") == [east]
    assert {_request("www.example.com", dig, port) for _ in range(10)} == {(200, "us-east-1")}
    wait_for(lambda: "www.example.com CNAME answers" in watcher.read_text(), timeout=30, interval=0.2,
             what="the watch's first look")

    def drill(action: str) -> str:
        done = subprocess.run([sys.executable, "-m", "conveyor.cli", "drill", action, "us-east-1", "--endpoint",
                               endpoint], capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    def after_probes(expected: str) -> list[str]:
        """Move the clock one RequestInterval at a time (at most FailureThreshold of them) until the name
        answers `expected`; what the name answered at each step."""
        seen = []
        for _ in range(THRESHOLD):
            now = advance(INTERVAL)
            wait_for(lambda now=now: _probed_since(r53, list(checks.values()), now), timeout=30, interval=0.1, what="the health checks' probes")
            seen.append(dig.values("www.example.com", "CNAME")[0])
            if seen[-1] == expected:
                break
        return seen

    assert "region us-east-1 is down" in drill("region-down")
    seen = after_probes(west)
    assert seen[-1] == west and len(seen) <= THRESHOLD  # within interval x threshold
    answers = {_request("www.example.com", dig, port) for _ in range(20)}
    assert answers == {(200, "us-west-2")}  # nothing is answered by the failed region any more
    failed = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://{east.rstrip('.')}:{port}/"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert failed.stdout == "503"  # the failed region's load balancer itself answers as an outage does

    assert "region us-east-1 is up again" in drill("region-up")
    seen = after_probes(east)
    assert seen[-1] == east and len(seen) <= THRESHOLD
    assert {_request("www.example.com", dig, port) for _ in range(10)} == {(200, "us-east-1")}

    # What moved, and when, as the watch saw it through Route 53's API and DNS server.
    def moved_back() -> str | None:
        text = watcher.read_text()
        return text if text.count("www.example.com CNAME moved") >= 2 else None

    text = wait_for(moved_back, timeout=30, interval=0.2, what="the watch reporting both moves")
    lines = text.splitlines()
    moves = [line for line in lines if "www.example.com CNAME moved" in line]
    assert any("region us-east-1 went down at " in line for line in lines)
    assert any("region us-east-1 is up again" in line for line in lines)
    assert f"moved: {east.rstrip('.')} (PRIMARY us-east-1) -> {west.rstrip('.')} (SECONDARY us-west-2)" in moves[0]
    assert "s after us-east-1 went down]" in moves[0] and "s after us-east-1 came back]" in moves[1]
    assert f"moved: {west.rstrip('.')} (SECONDARY us-west-2) -> {east.rstrip('.')} (PRIMARY us-east-1)" in moves[1]
    assert any(f"health check {checks['us-east-1']}" in line and "-> Failure: HTTP Status Code 503" in line
               for line in lines)
    assert any(f"health check {checks['us-east-1']}" in line and "Failure" in line and "-> Success" in line
               for line in lines)
    assert not any(checks["us-west-2"] in line and "Failure" in line for line in lines)


def _probed_since(r53: Any, check_ids: list[str], after: float) -> bool:
    """Every check has finished a probe at or after `after` (server time)."""
    for check_id in check_ids:
        observed = r53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
        if not any(o["StatusReport"]["CheckedTime"].timestamp() >= after - 0.001 for o in observed):
            return False
    return True


def test_watch_says_so_when_there_is_no_server(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "conveyor.cli", "drill", "watch", "--endpoint",
                           f"http://127.0.0.1:{free_port()}", "--seconds", "0"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0 and "no server at" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "conveyor.cli", "drill", "watch", "--interval", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "--interval must be above 0" in done.stderr
