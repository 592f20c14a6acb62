"""Real traffic through a load balancer: by its DNS name on Conveyor's port (and at /_aws/elb/NAME/),
round robin over healthy targets, health checks on the manual clock moving targets between states,
X-Forwarded-* headers, keep-alive to targets, rules' fixed responses and redirects, and 502/503/504 as ALB
answers them."""

from __future__ import annotations

import json
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.elbv2.conftest import WebServer, free_port_on
from tests.helpers import wait_for

ALB_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
           "</center>\r\n</body>\r\n</html>\r\n")


class Balancer:
    def __init__(self, elb: Any, network: dict[str, Any], endpoint: str, name: str = "web") -> None:
        self.elb = elb
        self.endpoint = endpoint
        made = elb.create_load_balancer(Name=name, Subnets=network["subnets"][:2])["LoadBalancers"][0]
        self.arn, self.dns = made["LoadBalancerArn"], made["DNSName"]
        self.name = name
        self.network = network
        self.port = urlsplit(endpoint).port

    def group(self, name: str, port: int, **kwargs: Any) -> str:
        settings = {"Protocol": "HTTP", "Port": port, "VpcId": self.network["vpc"], "TargetType": "ip",
                    "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
                    "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2, **kwargs}
        return str(self.elb.create_target_group(Name=name, **settings)["TargetGroups"][0]["TargetGroupArn"])

    def listen(self, group_arn: str) -> str:
        return str(self.elb.create_listener(LoadBalancerArn=self.arn, Protocol="HTTP", Port=80, DefaultActions=[
            {"Type": "forward", "TargetGroupArn": group_arn}])["Listeners"][0]["ListenerArn"])

    def get(self, path: str = "/", **kwargs: Any) -> requests.Response:
        """By the DNS name, as curl sends it (`*.localhost` is loopback; Python's resolver does not know)."""
        headers = {"Host": f"{self.dns}:{self.port}", **kwargs.pop("headers", {})}
        return requests.get(f"http://127.0.0.1:{self.port}{path}", headers=headers, timeout=30, **kwargs)

    def states(self, group_arn: str) -> dict[str, str]:
        found = self.elb.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
        return {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in found}

    def health(self, group_arn: str, target: str) -> dict[str, Any]:
        found = self.elb.describe_target_health(TargetGroupArn=group_arn)["TargetHealthDescriptions"]
        return dict(next(h["TargetHealth"] for h in found if h["Target"]["Id"] == target))


def test_round_robin_health_checks_and_failover(elb: Any, network: dict[str, Any], endpoint: str,
                                               advance: Callable[[float], float],
                                               web_servers: Callable[[str, str, int], WebServer]) -> None:
    port = free_port_on("127.0.0.21", "127.0.0.22")
    one, two = web_servers("one", "127.0.0.21", port), web_servers("two", "127.0.0.22", port)
    lb = Balancer(elb, network, endpoint)
    group = lb.group("web", port)
    lb.listen(group)
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.21"}, {"Id": "127.0.0.22"}])
    # The first check runs as the targets register: one success of the two the threshold asks for.
    wait_for(lambda: lb.health(group, "127.0.0.21").get("Reason") == "Elb.InitialHealthChecking",
             what="the first health check")
    assert lb.health(group, "127.0.0.22") == {"State": "initial", "Reason": "Elb.InitialHealthChecking",
                                              "Description": "Initial health checks in progress"}
    advance(5)
    wait_for(lambda: lb.states(group) == {"127.0.0.21": "healthy", "127.0.0.22": "healthy"}, what="healthy targets")
    answered = Counter(lb.get("/page").json()["name"] for _ in range(20))
    assert answered == {"one": 10, "two": 10}
    # Keep-alive: the load balancer reuses its connections to each target.
    assert len(one.connections) < 10 and len(two.connections) < 10
    # One target's health path fails: after two failed checks it is unhealthy and gets no traffic.
    two.health_status = 500
    advance(5)
    advance(5)
    wait_for(lambda: lb.states(group)["127.0.0.22"] == "unhealthy", what="the failing target marked unhealthy")
    assert lb.health(group, "127.0.0.22") == {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                                              "Description": "Health checks failed with these codes: [500]"}
    assert {lb.get("/page").json()["name"] for _ in range(10)} == {"one"}
    # It recovers after two good checks.
    two.health_status = 200
    advance(5)
    advance(5)
    wait_for(lambda: lb.states(group)["127.0.0.22"] == "healthy", what="recovery")
    assert {lb.get("/page").json()["name"] for _ in range(10)} == {"one", "two"}
    # A target that drops the health check's connection unanswered: Target.FailedHealthChecks.
    one.health_status = 0
    advance(5)
    advance(5)
    wait_for(lambda: lb.states(group)["127.0.0.21"] == "unhealthy", what="the stopped target marked unhealthy")
    assert lb.health(group, "127.0.0.21")["Reason"] == "Target.FailedHealthChecks"
    assert {lb.get("/page").json()["name"] for _ in range(6)} == {"two"}
    # Both unhealthy: the load balancer fails open and routes to both.
    two.health_status = 404
    advance(5)
    advance(5)
    wait_for(lambda: lb.states(group)["127.0.0.22"] == "unhealthy", what="both unhealthy")
    assert {lb.get("/page").json()["name"] for _ in range(6)} == {"one", "two"}


def test_forwarded_headers_and_the_path_form(elb: Any, network: dict[str, Any], endpoint: str,
                                             web_servers: Callable[[str, str, int], WebServer]) -> None:
    port = free_port_on("127.0.0.23")
    web_servers("solo", "127.0.0.23", port)
    lb = Balancer(elb, network, endpoint)
    group = lb.group("solo", port)
    lb.listen(group)
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.23"}])
    answer = lb.get("/a/b?x=1", headers={"X-Forwarded-For": "203.0.113.7"})
    assert answer.status_code == 200  # fail open: its only target is not healthy yet
    seen = answer.json()
    assert seen["path"] == "/a/b?x=1"
    assert seen["headers"]["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert seen["headers"]["X-Forwarded-Proto"] == "http"
    assert seen["headers"]["X-Forwarded-Port"] == str(lb.port)
    assert seen["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert seen["headers"]["Host"] == f"{lb.dns}:{lb.port}"
    by_path = requests.get(f"{endpoint}/_aws/elb/web/a/c", timeout=30).json()
    assert by_path["path"] == "/a/c" and by_path["name"] == "solo"
    posted = requests.post(f"{endpoint}/_aws/elb/web/form", data=b"hello", timeout=30).json()
    assert posted == {"name": "solo", "body": "hello"}


def test_rules_fixed_response_and_redirect(elb: Any, network: dict[str, Any], endpoint: str,
                                           web_servers: Callable[[str, str, int], WebServer]) -> None:
    port = free_port_on("127.0.0.24")
    web_servers("app", "127.0.0.24", port)
    lb = Balancer(elb, network, endpoint)
    group = lb.group("app", port)
    listener = lb.listen(group)
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.24"}])
    elb.create_rule(ListenerArn=listener, Priority=1, Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/maintenance*"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
            "StatusCode": "503", "ContentType": "application/json", "MessageBody": '{"down":true}'}}])
    elb.create_rule(ListenerArn=listener, Priority=2, Conditions=[
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Old", "Values": ["y*"]}}],
        Actions=[{"Type": "redirect", "RedirectConfig": {"Host": "new.example.com", "Path": "/v2/#{path}",
                                                         "StatusCode": "HTTP_302"}}])
    elb.create_rule(ListenerArn=listener, Priority=3, Conditions=[
        {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "beta", "Value": "on"}]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "beta"}}])
    down = lb.get("/maintenance/now")
    assert (down.status_code, down.json(), down.headers["Content-Type"]) == (503, {"down": True}, "application/json")
    moved = lb.get("/old/page", headers={"X-Old": "YES"}, params={"q": "1"}, allow_redirects=False)
    assert moved.status_code == 302
    assert moved.headers["Location"] == f"http://new.example.com:{lb.port}/v2/old/page?q=1"
    assert lb.get("/x", params={"beta": "on"}).text == "beta"
    assert lb.get("/x", params={"beta": "off"}).json()["name"] == "app"


def test_502_503_504_as_alb_answers(elb: Any, network: dict[str, Any], endpoint: str,
                                     web_servers: Callable[[str, str, int], WebServer]) -> None:
    port = free_port_on("127.0.0.25", "127.0.0.26")
    web_servers("slow", "127.0.0.26", port)
    lb = Balancer(elb, network, endpoint)
    empty = lb.group("empty", port)
    listener = lb.listen(empty)
    unavailable = lb.get("/")
    assert unavailable.status_code == 503 and unavailable.headers["Server"] == "awselb/2.0"
    assert "<title>503 Service Temporarily Unavailable</title>" in unavailable.text
    refused = lb.group("refused", port)
    elb.register_targets(TargetGroupArn=refused, Targets=[{"Id": "127.0.0.25"}])  # nothing listens there
    elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": refused}])
    bad = lb.get("/")
    assert (bad.status_code, bad.text, bad.headers["Content-Type"]) == (502, ALB_502, "text/html")
    slow = lb.group("slow", port)
    elb.register_targets(TargetGroupArn=slow, Targets=[{"Id": "127.0.0.26"}])
    elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": slow}])
    elb.modify_load_balancer_attributes(LoadBalancerArn=lb.arn, Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "1"}])
    late = lb.get("/slow")
    assert late.status_code == 504 and "<title>504 Gateway Time-out</title>" in late.text
    assert lb.get("/fast").json()["name"] == "slow"
    unknown = requests.get(f"http://127.0.0.1:{lb.port}/", headers={"Host": "nope-1.us-east-1.elb.localhost"},
                           timeout=30)
    assert unknown.status_code == 404


def test_weighted_forward_and_stickiness(elb: Any, network: dict[str, Any], endpoint: str,
                                         web_servers: Callable[[str, str, int], WebServer]) -> None:
    port = free_port_on("127.0.0.27", "127.0.0.28")
    web_servers("blue", "127.0.0.27", port)
    web_servers("green", "127.0.0.28", port)
    lb = Balancer(elb, network, endpoint)
    blue, green = lb.group("blue", port), lb.group("green", port)
    elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": "127.0.0.27"}])
    elb.register_targets(TargetGroupArn=green, Targets=[{"Id": "127.0.0.28"}])
    listener = lb.listen(blue)
    elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue, "Weight": 1}, {"TargetGroupArn": green, "Weight": 0}]}}])
    assert {lb.get("/").json()["name"] for _ in range(10)} == {"blue"}
    elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": blue, "Weight": 1}, {"TargetGroupArn": green, "Weight": 1}],
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 600}}}])
    names = Counter(lb.get("/").json()["name"] for _ in range(60))
    assert names["blue"] > 10 and names["green"] > 10
    first = lb.get("/")
    cookie = first.cookies.get("AWSALBTG")
    assert cookie
    stuck = {lb.get("/", cookies={"AWSALBTG": cookie}).json()["name"] for _ in range(10)}
    assert stuck == {first.json()["name"]}


def test_lambda_target(elb: Any, network: dict[str, Any], endpoint: str, client: Callable[..., Any]) -> None:
    from tests.apigatewayv2.conftest import zip_source
    from tests.conftest import lambda_role

    lam = client("lambda")
    role = lambda_role(client("iam"), "elb-fn")
    source = '''
import json
import socket
import ssl
def handler(event, context):
    if event["path"] == "/boom":
        raise RuntimeError("boom")
    return {"statusCode": 201, "statusDescription": "201 Created", "isBase64Encoded": False,
            "headers": {"Content-Type": "application/json", "X-Fn": "yes"}, "body": json.dumps(event)}
'''
    arn = lam.create_function(FunctionName="alb-fn", Runtime="python3.12", Role=role, Handler="fn.handler",
                              Code={"ZipFile": zip_source(source, "fn.py")}, Timeout=10)["FunctionArn"]
    lb = Balancer(elb, network, endpoint)
    group = str(elb.create_target_group(Name="fn", TargetType="lambda")["TargetGroups"][0]["TargetGroupArn"])
    lb.listen(group)
    err = None
    try:
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": arn}])
    except Exception as exc:  # noqa: BLE001 - the error is the point
        err = exc
    assert err is not None and "AccessDenied" in str(err)  # Lambda's resource policy must allow ELB first
    lam.add_permission(FunctionName="alb-fn", StatementId="elb", Action="lambda:InvokeFunction",
                       Principal="elasticloadbalancing.amazonaws.com", SourceArn=group)
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": arn}])
    health = elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    assert health[0]["TargetHealth"]["State"] == "unavailable"
    answer = lb.get("/hello", params={"a": "b c"}, headers={"X-Mine": "1"})
    assert answer.status_code == 201 and answer.headers["X-Fn"] == "yes"
    event = answer.json()
    assert event["requestContext"] == {"elb": {"targetGroupArn": group}}
    assert (event["httpMethod"], event["path"], event["queryStringParameters"]) == ("GET", "/hello", {"a": "b+c"})
    assert event["headers"]["x-mine"] == "1" and event["headers"]["x-forwarded-proto"] == "http"
    assert event["isBase64Encoded"] is False and event["body"] == ""
    failed = lb.get("/boom")
    assert failed.status_code == 502 and "502 Bad Gateway" in failed.text
    json.dumps(event)


def test_https_by_dns_name(start_server: Callable[..., Any], tmp_path: Any) -> None:
    """Conveyor's certificate names `*.REGION.elb.localhost`: a client that trusts its CA reaches a load
    balancer over HTTPS by its DNS name, on Conveyor's port."""
    server = start_server()
    elb, ec2 = server.client("elbv2"), server.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    made = elb.create_load_balancer(Name="secure", Subnets=subnets)["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=made["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "over tls"}}])
    context = ssl.create_default_context(cafile=str(tmp_path / "data" / "tls" / "ca.pem"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=made["DNSName"]) as tls:
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {made['DNSName']}:{server.port}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"over tls")


def test_a_region_drill_stops_its_load_balancers(elb: Any, network: dict[str, Any], endpoint: str,
                                                 web_servers: Callable[[str, str, int], WebServer]) -> None:
    """`conveyor drill region-down`: the region's load balancers answer 503 without reaching a target (on
    Conveyor's shared port they cannot refuse the connection), and answer again after `region-up`."""
    from tests.conftest import post_json

    port = free_port_on("127.0.0.29")
    web_servers("east", "127.0.0.29", port)
    lb = Balancer(elb, network, endpoint)
    group = lb.group("east", port)
    lb.listen(group)
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.29"}])
    assert lb.get("/").json()["name"] == "east"
    post_json(f"{endpoint}/_conveyor/regions/us-east-1/down")
    try:
        down = lb.get("/")
        assert down.status_code == 503 and "503 Service Temporarily Unavailable" in down.text
    finally:
        post_json(f"{endpoint}/_conveyor/regions/us-east-1/up")
    assert lb.get("/").json()["name"] == "east"
