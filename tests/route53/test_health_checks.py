"""Health checks through boto3: their configuration and errors, status from real probes of a local web server
on the manual clock (FailureThreshold consecutive results turn the status), and a failover pair that answers
the secondary while the primary's check fails and the primary again once it recovers. CloudWatch-metric and
calculated checks follow their alarm and their children."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import post_json
from tests.route53.conftest import Dig, a_record, change, create_zone


class Site:
    """A web server whose health path answers `status`."""

    def __init__(self) -> None:
        self.status = 200
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = b"all good" if site.status == 200 else b"broken"
                self.send_response(site.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    yield running
    running.close()


def _observed(r53: Any, check_id: str, after: float) -> str:
    """The status of the first probe at or after `after` (server time), once it has finished."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for observation in r53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]:
            report = observation["StatusReport"]
            if report["CheckedTime"].timestamp() >= after - 0.001:
                return str(report["Status"])
        time.sleep(0.02)
    raise AssertionError("no probe finished")


def _http_check(r53: Any, site: Site, **extra: Any) -> str:
    config = {"Type": "HTTP", "IPAddress": "127.0.0.1", "Port": site.port, "ResourcePath": "/health",
              "RequestInterval": 10, "FailureThreshold": 2, **extra}
    return str(r53.create_health_check(CallerReference=f"check-{site.port}-{len(extra)}",
                                       HealthCheckConfig=config)["HealthCheck"]["Id"])


def test_health_check_configuration_and_errors(r53: Any) -> None:
    config = {"Type": "HTTPS", "FullyQualifiedDomainName": "app.example.com", "ResourcePath": "/"}
    created = r53.create_health_check(CallerReference="one", HealthCheckConfig=config)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    check = created["HealthCheck"]
    assert created["Location"].endswith(f"/2013-04-01/healthcheck/{check['Id']}")
    assert check["HealthCheckVersion"] == 1
    assert check["HealthCheckConfig"] == {**config, "Port": 443, "RequestInterval": 30, "FailureThreshold": 3,
                                          "MeasureLatency": False, "Inverted": False, "Disabled": False,
                                          "EnableSNI": True}
    # The same caller reference and configuration answers the same check; another configuration is refused.
    assert r53.create_health_check(CallerReference="one", HealthCheckConfig=config)["HealthCheck"] == check
    with pytest.raises(ClientError) as info:
        r53.create_health_check(CallerReference="one", HealthCheckConfig={**config, "ResourcePath": "/x"})
    assert info.value.response["Error"]["Code"] == "HealthCheckAlreadyExists"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    updated = r53.update_health_check(HealthCheckId=check["Id"], HealthCheckVersion=1, FailureThreshold=5)
    assert updated["HealthCheck"]["HealthCheckVersion"] == 2
    assert updated["HealthCheck"]["HealthCheckConfig"]["FailureThreshold"] == 5
    with pytest.raises(ClientError) as info:
        r53.update_health_check(HealthCheckId=check["Id"], HealthCheckVersion=1, Inverted=True)
    assert info.value.response["Error"]["Code"] == "HealthCheckVersionMismatch"
    with pytest.raises(ClientError) as info:
        r53.create_health_check(CallerReference="two", HealthCheckConfig={"Type": "HTTP"})
    assert info.value.response["Error"]["Code"] == "InvalidInput"
    assert r53.get_health_check_count()["HealthCheckCount"] == 1
    assert [c["Id"] for c in r53.list_health_checks()["HealthChecks"]] == [check["Id"]]
    r53.delete_health_check(HealthCheckId=check["Id"])
    with pytest.raises(ClientError) as info:
        r53.get_health_check(HealthCheckId=check["Id"])
    assert info.value.response["Error"] == {
        "Type": "Sender", "Code": "NoSuchHealthCheck", "Message": f"A health check with id {check['Id']} does not exist."}
    # A deleted check's caller reference is spent, whatever the settings (the same ones included).
    with pytest.raises(ClientError) as info:
        r53.create_health_check(CallerReference="one", HealthCheckConfig=config)
    assert (info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "HealthCheckAlreadyExists", 409)
    assert r53.get_health_check_count()["HealthCheckCount"] == 0


def test_status_comes_from_real_probes_and_turns_after_the_threshold(
        r53: Any, site: Site, advance: Callable[[float], float]) -> None:
    check_id = _http_check(r53, site)
    assert _observed(r53, check_id, 0) == "Success: HTTP Status Code 200, OK"
    site.status = 500
    assert _observed(r53, check_id, advance(10)) == "Failure: HTTP Status Code 500, Internal Server Error"
    last = r53.get_health_check_last_failure_reason(HealthCheckId=check_id)["HealthCheckObservations"]
    assert last[0]["StatusReport"]["Status"] == "Failure: HTTP Status Code 500, Internal Server Error"
    site.close()
    refused = _observed(r53, check_id, advance(10))
    assert refused.startswith("Failure: Connection refused.")


def test_failover_moves_to_the_secondary_and_back(
        r53: Any, dig: Dig, site: Site, advance: Callable[[float], float]) -> None:
    check_id = _http_check(r53, site)
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", a_record("app.example.com", "192.0.2.1", ttl=10, SetIdentifier="primary", Failover="PRIMARY",
                               HealthCheckId=check_id)),
           ("CREATE", a_record("app.example.com", "192.0.2.2", ttl=10, SetIdentifier="secondary",
                               Failover="SECONDARY")))
    _observed(r53, check_id, 0)
    assert dig.values("app.example.com") == ["192.0.2.1"]
    site.status = 503
    _observed(r53, check_id, advance(10))
    assert dig.values("app.example.com") == ["192.0.2.1"]  # one failure is under the threshold of 2
    _observed(r53, check_id, advance(10))
    assert dig.values("app.example.com") == ["192.0.2.2"]
    site.status = 200
    _observed(r53, check_id, advance(10))
    assert dig.values("app.example.com") == ["192.0.2.2"]
    _observed(r53, check_id, advance(10))
    assert dig.values("app.example.com") == ["192.0.2.1"]


def test_weighted_records_skip_unhealthy_ones(r53: Any, dig: Dig, site: Site, advance: Callable[[float], float]) -> None:
    check_id = _http_check(r53, site, FailureThreshold=1)
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", a_record("w.example.com", "192.0.2.1", ttl=0, SetIdentifier="a", Weight=5,
                               HealthCheckId=check_id)),
           ("CREATE", a_record("w.example.com", "192.0.2.2", ttl=0, SetIdentifier="b", Weight=5)))
    site.status = 500
    _observed(r53, check_id, advance(10))
    assert {dig.values("w.example.com")[0] for _ in range(50)} == {"192.0.2.2"}


def test_cloudwatch_metric_and_calculated_checks(r53: Any, client: Callable[..., Any], dig: Dig) -> None:
    cloudwatch = client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="backlog", MetricName="Depth", Namespace="App", Statistic="Average",
                                Period=60, EvaluationPeriods=1, Threshold=10, ComparisonOperator="GreaterThanThreshold")
    metric = r53.create_health_check(CallerReference="m", HealthCheckConfig={
        "Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": "us-east-1", "Name": "backlog"},
        "InsufficientDataHealthStatus": "Healthy"})["HealthCheck"]["Id"]
    calculated = r53.create_health_check(CallerReference="c", HealthCheckConfig={
        "Type": "CALCULATED", "ChildHealthChecks": [metric], "HealthThreshold": 1})["HealthCheck"]["Id"]
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", a_record("m.example.com", "192.0.2.1", SetIdentifier="p", Failover="PRIMARY",
                               HealthCheckId=calculated)),
           ("CREATE", a_record("m.example.com", "192.0.2.2", SetIdentifier="s", Failover="SECONDARY")))
    status = r53.get_health_check_status(HealthCheckId=metric)["HealthCheckObservations"][0]["StatusReport"]
    assert status["Status"].startswith("Success")  # INSUFFICIENT_DATA counts as healthy here
    assert dig.values("m.example.com") == ["192.0.2.1"]
    cloudwatch.set_alarm_state(AlarmName="backlog", StateValue="ALARM", StateReason="test")
    assert dig.values("m.example.com") == ["192.0.2.2"]
    # A calculated check's status is not GetHealthCheckStatus's to give (its page says so); its DNS effect is.
    for call, name in ((r53.get_health_check_status, "GetHealthCheckStatus"),
                       (r53.get_health_check_last_failure_reason, "GetHealthCheckLastFailureReason")):
        with pytest.raises(ClientError) as info:
            call(HealthCheckId=calculated)
        assert (info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]) == (
            "InvalidInput", f"You can't use {name} for a calculated health check.")
    with pytest.raises(ClientError) as info:
        r53.delete_health_check(HealthCheckId=metric)
    assert info.value.response["Error"]["Code"] == "HealthCheckInUse"
    cloudwatch.set_alarm_state(AlarmName="backlog", StateValue="OK", StateReason="test")
    assert dig.values("m.example.com") == ["192.0.2.1"]


def test_drill_watch_reports_checks_beside_a_calculated_one(r53: Any, client: Callable[..., Any],
                                                            endpoint: str) -> None:
    """`conveyor drill watch` reads checks through GetHealthCheckStatus, which refuses calculated ones: it
    passes over them and reports the others."""
    client("cloudwatch").put_metric_alarm(AlarmName="depth", MetricName="Depth", Namespace="App", Statistic="Average",
                                          Period=60, EvaluationPeriods=1, Threshold=10,
                                          ComparisonOperator="GreaterThanThreshold")
    metric = r53.create_health_check(CallerReference="wm", HealthCheckConfig={
        "Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": "us-east-1", "Name": "depth"},
        "InsufficientDataHealthStatus": "Healthy"})["HealthCheck"]["Id"]
    r53.create_health_check(CallerReference="wc", HealthCheckConfig={
        "Type": "CALCULATED", "ChildHealthChecks": [metric], "HealthThreshold": 1})
    done = subprocess.run([sys.executable, "-m", "conveyor.cli", "drill", "watch", "--endpoint", endpoint,
                           "--seconds", "0"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert f"health check {metric} (CLOUDWATCH_METRIC" in done.stdout and "Traceback" not in done.stderr


def test_alias_to_a_load_balancer_without_one_is_unhealthy(r53: Any, dig: Dig) -> None:
    """With EvaluateTargetHealth, an alias to a load balancer is healthy only when Elastic Load Balancing says
    a target is (conveyor.ports.LoadBalancerHealth); no such load balancer: the failover moves on."""
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", {"Name": "lb.example.com", "Type": "A", "SetIdentifier": "p", "Failover": "PRIMARY",
                       "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": "web-1.us-east-1.elb.localhost",
                                       "EvaluateTargetHealth": True}}),
           ("CREATE", a_record("lb.example.com", "192.0.2.2", SetIdentifier="s", Failover="SECONDARY")))
    assert dig.values("lb.example.com") == ["192.0.2.2"]


def test_tcp_and_string_matching_probes(r53: Any, site: Site, advance: Callable[[float], float]) -> None:
    tcp = r53.create_health_check(CallerReference="tcp", HealthCheckConfig={
        "Type": "TCP", "IPAddress": "127.0.0.1", "Port": site.port, "RequestInterval": 10})["HealthCheck"]["Id"]
    assert _observed(r53, tcp, 0) == "Success: TCP connection established."
    found = r53.create_health_check(CallerReference="found", HealthCheckConfig={
        "Type": "HTTP_STR_MATCH", "IPAddress": "127.0.0.1", "Port": site.port, "ResourcePath": "/",
        "SearchString": "all good", "RequestInterval": 10})["HealthCheck"]["Id"]
    assert _observed(r53, found, 0) == "Success: HTTP Status Code 200, OK"
    missing = r53.create_health_check(CallerReference="missing", HealthCheckConfig={
        "Type": "HTTP_STR_MATCH", "IPAddress": "127.0.0.1", "Port": site.port, "ResourcePath": "/",
        "SearchString": "not there", "RequestInterval": 10})["HealthCheck"]["Id"]
    assert _observed(r53, missing, 0) == ("Failure: HTTP Status Code 200, OK. Specified search string not found in "
                                          "response.")
    # A fully qualified domain name of one of the account's zones is resolved there.
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("app.example.com", "127.0.0.1")))
    by_name = r53.create_health_check(CallerReference="fqdn", HealthCheckConfig={
        "Type": "HTTP", "FullyQualifiedDomainName": "app.example.com", "Port": site.port,
        "RequestInterval": 10})["HealthCheck"]["Id"]
    assert _observed(r53, by_name, 0) == "Success: HTTP Status Code 200, OK"


def test_https_probe_of_conveyors_own_tls_port(r53: Any, endpoint: str) -> None:
    """Conveyor serves HTTPS on its own port (a local CA's certificate, which the checker does not validate,
    as Route 53's does not)."""
    port = int(endpoint.rsplit(":", 1)[1])
    check = r53.create_health_check(CallerReference="tls", HealthCheckConfig={
        "Type": "HTTPS", "IPAddress": "127.0.0.1", "Port": port, "ResourcePath": "/_conveyor/health",
        "RequestInterval": 10})["HealthCheck"]["Id"]
    assert _observed(r53, check, 0) == "Success: HTTP Status Code 200, OK"


def test_failover_follows_a_region_drill(r53: Any, dig: Dig, site: Site, endpoint: str,
                                         advance: Callable[[float], float]) -> None:
    """The application in two regions (an HTTP API in each, in front of the same web server); the primary
    record's health check probes us-east-1's. `region-down us-east-1` makes that API answer 503: after
    FailureThreshold probes the name answers the secondary, and after `region-up` the primary again."""
    hosts = {}
    for region in ("us-east-1", "us-west-2"):
        apis = boto3.client("apigatewayv2", endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
                            aws_secret_access_key="test")
        api = apis.create_api(
            Name="web", ProtocolType="HTTP", Target=f"http://127.0.0.1:{site.port}/health")
        hosts[region] = api["ApiEndpoint"].split("//", 1)[1].rsplit(":", 1)[0]
    port = int(endpoint.rsplit(":", 1)[1])
    check = r53.create_health_check(CallerReference="east", HealthCheckConfig={
        "Type": "HTTP", "FullyQualifiedDomainName": hosts["us-east-1"], "Port": port, "ResourcePath": "/",
        "RequestInterval": 10, "FailureThreshold": 2})["HealthCheck"]["Id"]
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", {"Name": "app.example.com", "Type": "CNAME", "TTL": 10, "SetIdentifier": "east",
                       "Failover": "PRIMARY", "HealthCheckId": check,
                       "ResourceRecords": [{"Value": hosts["us-east-1"]}]}),
           ("CREATE", {"Name": "app.example.com", "Type": "CNAME", "TTL": 10, "SetIdentifier": "west",
                       "Failover": "SECONDARY", "ResourceRecords": [{"Value": hosts["us-west-2"]}]}))
    assert _observed(r53, check, 0) == "Success: HTTP Status Code 200, OK"
    assert dig.values("app.example.com", "CNAME") == [hosts["us-east-1"] + "."]
    post_json(f"{endpoint}/_conveyor/regions/us-east-1/down")
    try:
        assert _observed(r53, check, advance(10)) == "Failure: HTTP Status Code 503, Service Unavailable"
        assert dig.values("app.example.com", "CNAME") == [hosts["us-east-1"] + "."]  # 1 of 2 failures
        _observed(r53, check, advance(10))
        assert dig.values("app.example.com", "CNAME") == [hosts["us-west-2"] + "."]
    finally:
        post_json(f"{endpoint}/_conveyor/regions/us-east-1/up")
    _observed(r53, check, advance(10))
    _observed(r53, check, advance(10))
    assert dig.values("app.example.com", "CNAME") == [hosts["us-east-1"] + "."]
