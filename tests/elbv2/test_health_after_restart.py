"""Health survives a restart (kill -9): a load balancer's healthy target is still healthy (not `initial` for
HealthyThresholdCount checks) and an unhealthy one still unhealthy, so traffic goes where it went; a Route 53
health check found unhealthy still is, so a failover record keeps answering the secondary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dns.message
import dns.query

from tests.conftest import free_port, post_json
from tests.elbv2.conftest import WebServer, free_port_on
from tests.helpers import wait_for


def answers(dns_port: int, name: str) -> list[str]:
    response = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=dns_port, timeout=5)
    return sorted(item.to_text() for rrset in response.answer for item in rrset)


def test_target_and_check_health_survive_kill_9(start_server: Callable[..., Any],
                                                web_servers: Callable[[str, str, int], WebServer]) -> None:
    dns_port = free_port()
    server = start_server(None, "--clock", "manual", "--dns-port", str(dns_port))

    def advance(seconds: float) -> None:
        post_json(f"{server.endpoint}/_conveyor/clock", {"advance": seconds})

    port = free_port_on("127.0.0.41", "127.0.0.42")
    web_servers("good", "127.0.0.41", port)
    bad = web_servers("bad", "127.0.0.42", port)
    bad.health_status = 500
    elb, ec2, r53 = server.client("elbv2"), server.client("ec2"), server.client("route53")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    balancer = elb.create_load_balancer(Name="kept", Subnets=subnets)["LoadBalancers"][0]
    group = elb.create_target_group(
        Name="kept", Protocol="HTTP", Port=port, VpcId=ec2.describe_vpcs()["Vpcs"][0]["VpcId"], TargetType="ip",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=10, HealthyThresholdCount=2,
        UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "127.0.0.41"}, {"Id": "127.0.0.42"}])

    def states() -> dict[str, str]:
        found = elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        return {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in found}

    # A Route 53 check on the failing server, behind the primary of a failover pair.
    check = r53.create_health_check(CallerReference="kept", HealthCheckConfig={
        "Type": "HTTP", "IPAddress": "127.0.0.42", "Port": port, "ResourcePath": "/health", "RequestInterval": 10,
        "FailureThreshold": 2})["HealthCheck"]["Id"]
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="kept")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": "app.example.com", "Type": "A", "TTL": 10, "SetIdentifier": "primary", "Failover": "PRIMARY",
            "HealthCheckId": check, "ResourceRecords": [{"Value": "192.0.2.1"}]}},
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": "app.example.com", "Type": "A", "TTL": 10, "SetIdentifier": "secondary", "Failover": "SECONDARY",
            "ResourceRecords": [{"Value": "192.0.2.2"}]}}]})
    advance(10)
    wait_for(lambda: states() == {"127.0.0.41": "healthy", "127.0.0.42": "unhealthy"}, what="checked targets")
    wait_for(lambda: answers(dns_port, "app.example.com") == ["192.0.2.2"], what="failover to the secondary")

    def last_report() -> dict[str, Any]:
        return dict(r53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"][0]["StatusReport"])

    before = last_report()
    assert before["Status"].startswith("Failure: HTTP Status Code 500")
    server.kill()
    server.start()
    elb, r53 = server.client("elbv2"), server.client("route53")
    # At once, without moving the clock: the states the checks reached, not `initial`.
    assert states() == {"127.0.0.41": "healthy", "127.0.0.42": "unhealthy"}
    bad_health = elb.describe_target_health(TargetGroupArn=group, Targets=[{"Id": "127.0.0.42"}])[
        "TargetHealthDescriptions"][0]["TargetHealth"]
    assert bad_health == {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
                          "Description": "Health checks failed with these codes: [500]"}
    assert answers(dns_port, "app.example.com") == ["192.0.2.2"]
    def last_status() -> str:
        return str(last_report()["Status"])

    assert last_status().startswith("Failure: HTTP Status Code 500")
    # Both are checked again at once after the restart (and stay as they were: one result is under the
    # thresholds); then the server recovers, and after FailureThreshold good probes the primary answers again.
    wait_for(lambda: last_report()["CheckedTime"] != before["CheckedTime"], what="a probe after the restart")
    assert last_status().startswith("Failure") and answers(dns_port, "app.example.com") == ["192.0.2.2"]
    bad.health_status = 200

    advance(10)
    wait_for(lambda: last_status().startswith("Success"), what="a good probe")
    assert answers(dns_port, "app.example.com") == ["192.0.2.2"]  # one good probe is under the threshold
    advance(10)
    wait_for(lambda: answers(dns_port, "app.example.com") == ["192.0.2.1"], what="back to the primary")
    wait_for(lambda: states() == {"127.0.0.41": "healthy", "127.0.0.42": "healthy"}, what="both healthy")
