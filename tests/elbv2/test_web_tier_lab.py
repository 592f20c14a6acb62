"""The web-tier lab through the AWS CLI (and curl) only: a launch template whose user data starts a small web
server on the instance's own address (local-ipv4 from the instance metadata), an Auto Scaling group of 2
behind an Application Load Balancer with an HTTP health check; 100 curls of the load balancer's DNS name
reach both instances; one instance's health path fails -> it is marked unhealthy and gets no traffic, the
group (health check type ELB) replaces it, and traffic spreads over two again, no request failing meanwhile.
Time that matters (health check intervals, the grace period) moves on the server's manual clock."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.helpers import wait_for

WEB_SERVER = r'''#!/bin/bash
base="${AWS_EC2_METADATA_SERVICE_ENDPOINT%/}/latest"
token=$(curl -s -X PUT "$base/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
ip=$(curl -s -H "X-aws-ec2-metadata-token: $token" "$base/meta-data/local-ipv4")
id=$(curl -s -H "X-aws-ec2-metadata-token: $token" "$base/meta-data/instance-id")
echo "web server of $id on $ip:8080"
exec PYTHON - "$ip" "$id" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ip, instance_id = sys.argv[1], sys.argv[2]
state = {"health": 200}
class Web(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/break":
            state["health"] = 500
        status = state["health"] if self.path == "/health" else 200
        body = (instance_id if self.path != "/health" else "ok").encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer((ip, 8080), Web).serve_forever()
PY
'''.replace("PYTHON", sys.executable)


def _file(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return f"file://{path}"


def curl(url: str) -> tuple[int, str]:
    done = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", url], capture_output=True, timeout=30, check=True)
    body, _, status = done.stdout.decode().rpartition("\n")
    return int(status), body


def test_the_web_tier_lab_through_the_cli(aws: Callable[..., Any], endpoint: str, advance: Callable[[float], float],
                                          tmp_path: Path) -> None:
    subnets = [s["SubnetId"] for s in aws("ec2", "describe-subnets")["Subnets"]][:2]
    vpc = aws("ec2", "describe-vpcs", "--filters", "Name=isDefault,Values=true")["Vpcs"][0]["VpcId"]
    balancer = aws("elbv2", "create-load-balancer", "--name", "web-alb", "--subnets", *subnets)["LoadBalancers"][0]
    group_arn = aws("elbv2", "create-target-group", "--name", "web-servers", "--protocol", "HTTP", "--port", "8080",
                    "--vpc-id", vpc, "--target-type", "instance", "--health-check-path", "/health",
                    "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "2",
                    "--healthy-threshold-count", "2", "--unhealthy-threshold-count", "2",
                    )["TargetGroups"][0]["TargetGroupArn"]
    aws("elbv2", "modify-target-group-attributes", "--target-group-arn", group_arn, "--attributes",
        "Key=deregistration_delay.timeout_seconds,Value=10")
    aws("elbv2", "create-listener", "--load-balancer-arn", balancer["LoadBalancerArn"], "--protocol", "HTTP",
        "--port", "80", "--default-actions", f"Type=forward,TargetGroupArn={group_arn}")
    data = {"ImageId": "ami-0abcdef1234567890", "InstanceType": "t3.micro",
            "UserData": base64.b64encode(WEB_SERVER.encode()).decode()}
    aws("ec2", "create-launch-template", "--launch-template-name", "web", "--launch-template-data",
        _file(tmp_path, "template.json", data))
    aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "web", "--launch-template",
        "LaunchTemplateName=web,Version=$Latest", "--min-size", "2", "--max-size", "3", "--desired-capacity", "2",
        "--vpc-zone-identifier", ",".join(subnets), "--target-group-arns", group_arn, "--health-check-type", "ELB",
        "--health-check-grace-period", "60")
    url = f"http://{balancer['DNSName']}:{urlsplit(endpoint).port}/"

    def healthy() -> list[str]:
        found = aws("elbv2", "describe-target-health", "--target-group-arn", group_arn)["TargetHealthDescriptions"]
        return sorted(h["Target"]["Id"] for h in found if h["TargetHealth"]["State"] == "healthy")

    def two_healthy() -> list[str] | None:
        advance(5)
        now = healthy()
        return now if len(now) == 2 else None

    first = wait_for(two_healthy, timeout=60, interval=0.2, what="two healthy instances behind the load balancer")
    attached = aws("autoscaling", "describe-load-balancer-target-groups", "--auto-scaling-group-name", "web")
    assert attached["LoadBalancerTargetGroups"] == [{"LoadBalancerTargetGroupARN": group_arn, "State": "InService"}]
    answers = [curl(url) for _ in range(100)]
    assert {status for status, _ in answers} == {200}
    assert Counter(body for _, body in answers) == {first[0]: 50, first[1]: 50}

    # One instance's health path starts failing: it is marked unhealthy and gets no more traffic.
    broken = first[0]
    [reservation] = aws("ec2", "describe-instances", "--instance-ids", broken)["Reservations"]
    address = reservation["Instances"][0]["PrivateIpAddress"]
    assert address.startswith("127.") and curl(f"http://{address}:8080/break") == (200, broken)

    def marked_unhealthy() -> bool:
        advance(5)
        return broken not in healthy()

    wait_for(marked_unhealthy, timeout=60, interval=0.2, what="the broken instance marked unhealthy")
    served: Counter[str] = Counter()
    statuses: Counter[int] = Counter()

    def traffic(times: int) -> None:
        for _ in range(times):
            status, body = curl(url)
            statuses[status] += 1
            served[body] += 1

    traffic(20)
    assert served == {first[1]: 20}

    # The group replaces it (health check type ELB, once the grace period is over) and the new instance
    # joins the load balancer; requests keep being answered all along.
    def replaced() -> list[str] | None:
        advance(5)
        traffic(2)
        now = healthy()
        return now if len(now) == 2 and broken not in now else None

    second = wait_for(replaced, timeout=120, interval=0.2, what="a healthy replacement")
    assert set(statuses) == {200}
    activities = aws("autoscaling", "describe-scaling-activities", "--auto-scaling-group-name", "web")["Activities"]
    assert any("ELB system health check failure" in a["Cause"] and broken in a["Description"] for a in activities)
    served.clear()
    traffic(100)
    assert set(statuses) == {200}
    assert set(served) == set(second) and broken not in served and min(served.values()) >= 40
