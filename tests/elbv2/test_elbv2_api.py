"""Elastic Load Balancing's API through boto3 and the AWS CLI: load balancers, target groups, listeners,
rules, targets, attributes and tags, each error with AWS's code and message; durable across kill -9."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import wait_for


def error_of(call: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return dict(raised.value.response["Error"])


def make_balancer(elb: Any, network: dict[str, Any], name: str = "web") -> dict[str, Any]:
    return dict(elb.create_load_balancer(Name=name, Subnets=network["subnets"][:2])["LoadBalancers"][0])


def make_group(elb: Any, network: dict[str, Any], name: str = "web", **kwargs: Any) -> dict[str, Any]:
    kwargs = {"Protocol": "HTTP", "Port": 8080, "VpcId": network["vpc"], "TargetType": "ip", **kwargs}
    return dict(elb.create_target_group(Name=name, **kwargs)["TargetGroups"][0])


def forward(group: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}]


def test_load_balancer_lifecycle(elb: Any, network: dict[str, Any]) -> None:
    made = make_balancer(elb, network)
    assert made["State"] == {"Code": "provisioning"}
    assert made["Type"] == "application" and made["Scheme"] == "internet-facing"
    assert made["DNSName"].startswith("web-") and made["DNSName"].endswith(".us-east-1.elb.localhost")
    assert made["CanonicalHostedZoneId"] == "Z35SXDOTRQ7X7K"
    assert made["VpcId"] == network["vpc"] and len(made["SecurityGroups"]) == 1
    assert ":loadbalancer/app/web/" in made["LoadBalancerArn"]
    described = elb.describe_load_balancers(Names=["web"])["LoadBalancers"][0]
    assert described["State"] == {"Code": "active"}
    assert described["LoadBalancerArn"] == made["LoadBalancerArn"]
    # Idempotent with the same settings; a different setting is a duplicate.
    again = make_balancer(elb, network)
    assert again["LoadBalancerArn"] == made["LoadBalancerArn"]
    err = error_of(elb.create_load_balancer, Name="web", Subnets=network["subnets"][1:3])
    assert err["Code"] == "DuplicateLoadBalancerName"
    assert err["Message"] == "A load balancer with the same name 'web' exists, but with different settings"
    err = error_of(elb.describe_load_balancers, Names=["nope", "web"])
    assert (err["Code"], err["Message"]) == ("LoadBalancerNotFound", "Load balancers '[nope]' not found")
    elb.delete_load_balancer(LoadBalancerArn=made["LoadBalancerArn"])
    elb.delete_load_balancer(LoadBalancerArn=made["LoadBalancerArn"])  # already gone: still succeeds
    assert elb.describe_load_balancers()["LoadBalancers"] == []


def test_load_balancer_refusals(elb: Any, network: dict[str, Any]) -> None:
    err = error_of(elb.create_load_balancer, Name="one-zone", Subnets=network["subnets"][:1])
    assert (err["Code"], err["Message"]) == ("ValidationError", "At least two subnets in two different "
                                                                "Availability Zones must be specified")
    err = error_of(elb.create_load_balancer, Name="x", Subnets=["subnet-12345678", network["subnets"][0]])
    assert (err["Code"], err["Message"]) == ("SubnetNotFound", "The subnet ID 'subnet-12345678' is not valid")
    err = error_of(elb.create_load_balancer, Name="-bad", Subnets=network["subnets"][:2])
    assert err["Code"] == "ValidationError" and "cannot begin or end with a hyphen" in err["Message"]
    err = error_of(elb.create_load_balancer, Name="a" * 33, Subnets=network["subnets"][:2])
    assert err["Message"] == f"The load balancer name '{'a' * 33}' cannot be longer than '32' characters"
    err = error_of(elb.create_load_balancer, Name="x", Subnets=network["subnets"][:2], IpAddressType="v5")
    assert err["Code"] == "ValidationError"
    assert err["Message"] == ("1 validation error detected: Value 'v5' at 'ipAddressType' failed to satisfy "
                              "constraint: Member must satisfy enum value set: [ipv4, dualstack, "
                              "dualstack-without-public-ipv4]")
    err = error_of(elb.create_load_balancer, Name="x", Subnets=network["subnets"][:2],
                   SecurityGroups=["sg-0123456789abcdef0"])
    assert (err["Code"], err["Message"]) == ("InvalidSecurityGroup",
                                             "The security group 'sg-0123456789abcdef0' does not exist")


def test_attributes_and_deletion_protection(elb: Any, network: dict[str, Any]) -> None:
    arn = make_balancer(elb, network)["LoadBalancerArn"]
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attrs["idle_timeout.timeout_seconds"] == "60" and attrs["deletion_protection.enabled"] == "false"
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "true"}, {"Key": "idle_timeout.timeout_seconds", "Value": "120"}])
    err = error_of(elb.delete_load_balancer, LoadBalancerArn=arn)
    assert err["Code"] == "OperationNotPermitted"
    err = error_of(elb.modify_load_balancer_attributes, LoadBalancerArn=arn,
                   Attributes=[{"Key": "no.such", "Value": "1"}])
    assert (err["Code"], err["Message"]) == ("ValidationError", "Load balancer attribute key 'no.such' is not recognized")
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    elb.delete_load_balancer(LoadBalancerArn=arn)


def test_target_group_defaults_and_validation(elb: Any, network: dict[str, Any]) -> None:
    group = make_group(elb, network)
    assert (group["HealthCheckProtocol"], group["HealthCheckPort"], group["HealthCheckPath"]) == ("HTTP", "traffic-port", "/")
    assert (group["HealthCheckIntervalSeconds"], group["HealthCheckTimeoutSeconds"]) == (30, 6)
    assert (group["HealthyThresholdCount"], group["UnhealthyThresholdCount"]) == (5, 2)
    assert group["Matcher"] == {"HttpCode": "200"} and "LoadBalancerArns" not in group  # a new group serves none
    function_group = elb.create_target_group(Name="fn", TargetType="lambda")["TargetGroups"][0]
    assert function_group["HealthCheckEnabled"] is False and "Port" not in function_group
    assert "HealthCheckPort" not in function_group
    assert (function_group["HealthCheckIntervalSeconds"], function_group["HealthCheckTimeoutSeconds"]) == (35, 30)
    err = error_of(elb.create_target_group, Name="fn2", TargetType="lambda", Port=80)
    assert err["Message"] == "Port cannot be specified for target groups with target type 'lambda'"
    err = error_of(elb.create_target_group, Name="x", Protocol="HTTP", Port=80)
    assert (err["Code"], err["Message"]) == ("ValidationError", "A VPC ID must be specified")
    err = error_of(elb.create_target_group, Name="x", Protocol="HTTP", Port=80, VpcId="vpc-12345678")
    assert err["Message"] == "The VPC ID 'vpc-12345678' is not found"
    err = error_of(elb.create_target_group, Name="x", Protocol="HTTP", Port=80, VpcId=network["vpc"],
                   HealthCheckIntervalSeconds=10, HealthCheckTimeoutSeconds=10)
    assert err["Message"] == "Health check timeout '10' must be smaller than the interval '10'"
    err = error_of(elb.create_target_group, Name="x", Protocol="HTTP", Port=80, VpcId=network["vpc"],
                   Matcher={"HttpCode": "2xx"})
    assert err["Message"] == "HttpCode must be like 200 | 200-399 | 200,201 ..."
    err = error_of(elb.create_target_group, Name="-web", Protocol="HTTP", Port=81, VpcId=network["vpc"])
    assert err["Message"] == ("1 validation error detected: Value '-web' at 'targetGroup.targetGroupArn.targetGroupName' "
                              "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                              "(?!.*--)(?!^-)(?!.*-$)^[A-Za-z0-9-]+$")
    err = error_of(elb.create_target_group, Name="web", Protocol="HTTP", Port=81, VpcId=network["vpc"])
    assert err["Code"] == "DuplicateTargetGroupName"
    err = error_of(elb.describe_target_groups, Names=["nope"])
    assert (err["Code"], err["Message"]) == ("TargetGroupNotFound", "One or more target groups not found")
    changed = elb.modify_target_group(TargetGroupArn=group["TargetGroupArn"], HealthCheckPath="/health",
                                      Matcher={"HttpCode": "200-299"}, HealthyThresholdCount=2)["TargetGroups"][0]
    assert (changed["HealthCheckPath"], changed["Matcher"], changed["HealthyThresholdCount"]) == (
        "/health", {"HttpCode": "200-299"}, 2)
    attrs = {a["Key"]: a["Value"] for a in
             elb.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]}
    assert attrs["deregistration_delay.timeout_seconds"] == "300" and attrs["stickiness.type"] == "lb_cookie"
    err = error_of(elb.modify_target_group_attributes, TargetGroupArn=group["TargetGroupArn"], Attributes=[
        {"Key": "stickiness.enabled", "Value": "true"}, {"Key": "stickiness.type", "Value": "source_ip"}])
    assert (err["Code"], err["Message"]) == ("InvalidConfigurationRequest", "Stickiness type 'source_ip' is not "
                                             "supported for target groups with the HTTP protocol")
    err = error_of(elb.modify_target_group_attributes, TargetGroupArn=group["TargetGroupArn"], Attributes=[
        {"Key": "stickiness.type", "Value": "source_ip_dest_ip"}])
    assert err["Message"] == "'Stickiness type' must be one of [app_cookie, lb_cookie, source_ip]"


def test_listeners_rules_and_priorities(elb: Any, network: dict[str, Any]) -> None:
    balancer = make_balancer(elb, network)
    group, other = make_group(elb, network), make_group(elb, network, "other")
    listener = elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                   DefaultActions=forward(group))["Listeners"][0]
    assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"], "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": group["TargetGroupArn"], "Weight": 1}],
        "TargetGroupStickinessConfig": {"Enabled": False}}}]
    assert elb.describe_target_groups(Names=["web"])["TargetGroups"][0]["LoadBalancerArns"] == [
        balancer["LoadBalancerArn"]]
    err = error_of(elb.create_listener, LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                   DefaultActions=forward(other))
    assert err["Code"] == "DuplicateListener"
    err = error_of(elb.create_listener, LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="TCP", Port=81,
                   DefaultActions=forward(group))
    assert (err["Code"], err["Message"]) == ("ValidationError", "Listener protocol 'TCP' must be one of 'HTTP, HTTPS'")
    err = error_of(elb.create_listener, LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTPS", Port=443,
                   DefaultActions=forward(group))
    assert (err["Code"], err["Message"]) == ("InvalidConfigurationRequest", "You must provide a list containing "
                                             "exactly one certificate if the listener protocol is HTTPS.")
    arn = listener["ListenerArn"]
    api = elb.create_rule(ListenerArn=arn, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
                          Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                              {"TargetGroupArn": group["TargetGroupArn"], "Weight": 3},
                              {"TargetGroupArn": other["TargetGroupArn"], "Weight": 1}]}}])["Rules"][0]
    assert api["Conditions"] == [{"Field": "path-pattern", "Values": ["/api/*"],
                                  "PathPatternConfig": {"Values": ["/api/*"]}}]
    assert "TargetGroupArn" not in api["Actions"][0]
    err = error_of(elb.create_rule, ListenerArn=arn, Priority=10,
                   Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["a.example.com"]}}],
                   Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])
    assert (err["Code"], err["Message"]) == ("PriorityInUse", "The specified priority is in use.")
    err = error_of(elb.create_rule, ListenerArn=arn, Priority=11, Conditions=[{"Field": "cookie", "Values": ["x"]}],
                   Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])
    assert err["Message"] == ("Condition field 'cookie' must be one of '[host-header,path-pattern,http-header,"
                              "http-request-method,query-string,source-ip]'")
    err = error_of(elb.create_rule, ListenerArn=arn, Priority=11, Conditions=[{"Field": "path-pattern",
                                                                            "Values": ["/" + "x" * 128]}],
                   Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])
    assert err["Message"] == "The 'path-pattern' value is too long; the limit is '128'"
    err = error_of(elb.create_rule, ListenerArn=arn, Priority=11, Conditions=[{"Field": "host-header",
                                                                            "Values": ["a.com", "b.com"]}],
                   Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])
    assert err["Message"] == "The 'host-header' field contains too many values; the limit is '1'"
    err = error_of(elb.create_rule, ListenerArn=arn, Priority=11, Conditions=[{"Field": "source-ip"}],
                   Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])
    assert err["Message"] == "A 'SourceIpConfig' must be specified with 'source-ip'"
    fixed = elb.create_rule(ListenerArn=arn, Priority=5, Conditions=[
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["DELETE"]}}],
        Actions=[{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "StatusCode": "HTTP_301"}}])["Rules"][0]
    assert fixed["Actions"][0]["RedirectConfig"] == {"Protocol": "HTTPS", "Port": "#{port}", "Host": "#{host}",
                                                     "Path": "/#{path}", "Query": "#{query}", "StatusCode": "HTTP_301"}
    rules = elb.describe_rules(ListenerArn=arn)["Rules"]
    assert [r["Priority"] for r in rules] == ["5", "10", "default"] and rules[-1]["IsDefault"] is True
    moved = elb.set_rule_priorities(RulePriorities=[{"RuleArn": api["RuleArn"], "Priority": 1}])["Rules"]
    assert moved[0]["Priority"] == "1"
    assert [r["Priority"] for r in elb.describe_rules(ListenerArn=arn)["Rules"]] == ["1", "5", "default"]
    err = error_of(elb.delete_rule, RuleArn=rules[-1]["RuleArn"])
    assert err["Code"] == "OperationNotPermitted"
    err = error_of(elb.delete_target_group, TargetGroupArn=other["TargetGroupArn"])
    assert (err["Code"], err["Message"]) == ("ResourceInUse", f"The target group '{other['TargetGroupArn']}' is "
                                             "currently in use by a listener or a rule")
    elb.modify_rule(RuleArn=api["RuleArn"], Actions=forward(group))
    elb.delete_target_group(TargetGroupArn=other["TargetGroupArn"])
    err = error_of(elb.describe_listeners)
    assert err["Message"] == "You must specify either listener ARNs or a load balancer ARN"
    elb.delete_listener(ListenerArn=arn)
    err = error_of(elb.describe_rules, RuleArns=[api["RuleArn"]])
    assert (err["Code"], err["Message"]) == ("RuleNotFound", "One or more rules not found")


def test_targets_and_deregistration_delay(elb: Any, network: dict[str, Any], advance: Callable[[float], float]) -> None:
    balancer = make_balancer(elb, network)
    group = make_group(elb, network)
    arn = group["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.11"}, {"Id": "127.0.0.12", "Port": 9090}])
    health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    # No listener forwards to the group yet: its targets are unused.
    assert health[0]["TargetHealth"] == {"State": "unused", "Reason": "Target.NotInUse", "Description":
                                         "Target group is not configured to receive traffic from the load balancer"}
    assert health[1]["Target"] == {"Id": "127.0.0.12", "Port": 9090} and health[1]["HealthCheckPort"] == "9090"
    elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=forward(group))
    health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    # Initial: registering, or (once the first health check, which nothing answers here, is done) checking.
    assert health[0]["TargetHealth"] in ({"State": "initial", "Reason": "Elb.RegistrationInProgress",
                                          "Description": "Target registration is in progress"},
                                         {"State": "initial", "Reason": "Elb.InitialHealthChecking",
                                          "Description": "Initial health checks in progress"})
    unknown = elb.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.99"}])["TargetHealthDescriptions"]
    assert unknown[0]["TargetHealth"] == {"State": "unused", "Reason": "Target.NotRegistered",
                                          "Description": "Target is not registered to the target group"}
    elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "60"}])
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.11"}])
    draining = elb.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.11"}])["TargetHealthDescriptions"]
    assert draining[0]["TargetHealth"] == {"State": "draining", "Reason": "Target.DeregistrationInProgress",
                                           "Description": "Target deregistration is in progress"}
    advance(59)
    assert len(elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]) == 2
    advance(2)
    wait_for(lambda: len(elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]) == 1,
             what="the drained target leaves")
    err = error_of(elb.register_targets, TargetGroupArn=arn, Targets=[{"Id": "8.8.8.8"}])
    assert err["Code"] == "InvalidTarget"
    err = error_of(elb.register_targets, TargetGroupArn=arn, Targets=[{"Id": "i-0123456789abcdef0"}])
    assert (err["Code"], err["Message"]) == ("ValidationError",
                                             "The IP address 'i-0123456789abcdef0' is not a valid IPv4 address")


def test_tags(elb: Any, network: dict[str, Any]) -> None:
    balancer = elb.create_load_balancer(Name="tagged", Subnets=network["subnets"][:2],
                                        Tags=[{"Key": "env", "Value": "dev"}])["LoadBalancers"][0]
    arn = balancer["LoadBalancerArn"]
    group = make_group(elb, network)
    elb.add_tags(ResourceArns=[arn, group["TargetGroupArn"]], Tags=[{"Key": "team", "Value": "web"}])
    described = elb.describe_tags(ResourceArns=[arn, group["TargetGroupArn"]])["TagDescriptions"]
    assert described[0]["Tags"] == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "web"}]
    assert described[1]["Tags"] == [{"Key": "team", "Value": "web"}]
    elb.remove_tags(ResourceArns=[arn], TagKeys=["env"])
    assert elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"] == [{"Key": "team", "Value": "web"}]
    err = error_of(elb.add_tags, ResourceArns=[arn], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert err["Code"] == "TooManyTags"
    err = error_of(elb.add_tags, ResourceArns=[arn], Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])
    assert (err["Code"], err["Message"]) == ("DuplicateTagKeys", "Tag key 'a' specified more than once")
    err = error_of(elb.describe_tags, ResourceArns=[group["TargetGroupArn"] + "0"])
    assert err["Code"] == "TargetGroupNotFound"


def test_aws_cli(aws: Callable[..., Any], network: dict[str, Any]) -> None:
    made = aws("elbv2", "create-load-balancer", "--name", "cli", "--subnets", *network["subnets"][:2])
    arn = made["LoadBalancers"][0]["LoadBalancerArn"]
    group = aws("elbv2", "create-target-group", "--name", "cli", "--protocol", "HTTP", "--port", "80",
                "--vpc-id", network["vpc"], "--health-check-path", "/health")["TargetGroups"][0]
    aws("elbv2", "create-listener", "--load-balancer-arn", arn, "--protocol", "HTTP", "--port", "80",
        "--default-actions", f"Type=forward,TargetGroupArn={group['TargetGroupArn']}")
    listed = aws("elbv2", "describe-listeners", "--load-balancer-arn", arn)["Listeners"]
    assert [lst["Port"] for lst in listed] == [80]
    failed = aws("elbv2", "describe-target-groups", "--names", "missing", check=False)
    assert failed.returncode != 0 and b"TargetGroupNotFound" in failed.stderr


def test_survives_kill_9(start_server: Callable[..., Any]) -> None:
    server = start_server()
    elb, ec2 = server.client("elbv2"), server.client("ec2")
    network = {"subnets": [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]],
               "vpc": ec2.describe_vpcs()["Vpcs"][0]["VpcId"]}
    balancer = make_balancer(elb, network)
    group = make_group(elb, network)
    listener = elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                   DefaultActions=forward(group))["Listeners"][0]
    elb.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": "127.0.0.5"}])
    elb.add_tags(ResourceArns=[group["TargetGroupArn"]], Tags=[{"Key": "k", "Value": "v"}])
    server.kill()
    server.start()
    elb = server.client("elbv2")
    assert elb.describe_load_balancers()["LoadBalancers"][0]["DNSName"] == balancer["DNSName"]
    assert elb.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"][0]["Port"] == 80
    assert [r["Priority"] for r in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]] == ["default"]
    health = elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
    assert [h["Target"]["Id"] for h in health] == ["127.0.0.5"]
    assert elb.describe_tags(ResourceArns=[group["TargetGroupArn"]])["TagDescriptions"][0]["Tags"] == [
        {"Key": "k", "Value": "v"}]


def test_classic_load_balancers_are_refused_by_name(aws: Callable[..., Any]) -> None:
    """`aws elb` shares ELBv2's endpoint, signing name and some action names: refused, not misread."""
    result = aws("elb", "describe-load-balancers", check=False)
    stderr = result.stderr.decode()
    assert result.returncode != 0 and "An error occurred (InvalidAction)" in stderr
    assert "Conveyor does not serve the service 'elasticloadbalancing' with API version 2012-06-01" in stderr


def test_a_load_balancer_in_a_vpc_of_its_own(client: Callable[..., Any], elb: Any) -> None:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.3.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
        "Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    outside = ec2.create_security_group(GroupName="default-vpc-group", Description="in the default VPC")["GroupId"]
    err = error_of(elb.create_load_balancer, Name="own", Subnets=subnets, SecurityGroups=[outside])
    assert (err["Code"], err["Message"]) == ("InvalidConfigurationRequest",
                                             f"Security group '{outside}' does not belong to VPC '{vpc}'")
    inside = ec2.create_security_group(GroupName="alb", Description="the ALB's", VpcId=vpc)["GroupId"]
    made = elb.create_load_balancer(Name="own", Subnets=subnets, SecurityGroups=[inside])["LoadBalancers"][0]
    assert (made["VpcId"], made["SecurityGroups"]) == (vpc, [inside])
    group = elb.create_target_group(Name="own", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    assert group["VpcId"] == vpc


def test_ssl_policies_and_tls_target_groups(elb: Any, network: dict[str, Any]) -> None:
    policies = elb.describe_ssl_policies(Names=["ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-2016-08",
                                                "ELBSecurityPolicy-2016-08"])["SslPolicies"]
    assert [(p["Name"], p["SslProtocols"]) for p in policies] == [
        ("ELBSecurityPolicy-TLS-1-2-2017-01", ["TLSv1.2"]), ("ELBSecurityPolicy-2016-08", ["TLSv1", "TLSv1.1", "TLSv1.2"])]
    err = error_of(elb.describe_ssl_policies, Names=["nope"])
    assert (err["Code"], err["Message"]) == ("SSLPolicyNotFound", "SSL policy 'nope' not found")
    # A TLS target group is described and kept; no listener can send it traffic here (TLS listeners are refused).
    group = elb.create_target_group(Name="tls", Protocol="TLS", Port=443, VpcId=network["vpc"])["TargetGroups"][0]
    assert (group["HealthCheckProtocol"], group["HealthCheckTimeoutSeconds"]) == ("TCP", 10)
    balancer = elb.create_load_balancer(Name="nlb", Type="network", Subnets=network["subnets"][:1])[
        "LoadBalancers"][0]
    err = error_of(elb.create_listener, LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="TLS", Port=443,
                   DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}])
    assert (err["Code"], err["Message"]) == ("ValidationError", "Conveyor does not support TLS listeners.")


def test_attribute_and_target_health_details(elb: Any, network: dict[str, Any]) -> None:
    # A network load balancer's secondary IPs per subnet: 0 by default, 0 to 7.
    nlb = elb.create_load_balancer(Name="nlb", Type="network", Subnets=network["subnets"][:1])["LoadBalancers"][0]
    arn = nlb["LoadBalancerArn"]
    key = "secondary_ips.auto_assigned.per_subnet"
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attrs[key] == "0"
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": key, "Value": "3"}])
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attrs[key] == "3"
    err = error_of(elb.modify_load_balancer_attributes, LoadBalancerArn=arn, Attributes=[{"Key": key, "Value": "8"}])
    assert err["Code"] == "ValidationError"
    # No stickiness on a TLS target group.
    tls = elb.create_target_group(Name="tls", Protocol="TLS", Port=443, VpcId=network["vpc"])["TargetGroups"][0]
    err = error_of(elb.modify_target_group_attributes, TargetGroupArn=tls["TargetGroupArn"], Attributes=[
        {"Key": "stickiness.enabled", "Value": "true"}, {"Key": "stickiness.type", "Value": "source_ip"}])
    assert (err["Code"], err["Message"]) == ("InvalidConfigurationRequest",
                                             "You cannot enable stickiness on target groups with the TLS protocol")
    # An instance id nobody launched is "not registered", as AWS answers, not an error.
    group = make_group(elb, network, name="inst", TargetType="instance", Port=80)
    health = elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"],
                                        Targets=[{"Id": "i-12345678901234567"}])["TargetHealthDescriptions"]
    assert health == [{"Target": {"Id": "i-12345678901234567", "Port": 80}, "HealthCheckPort": "80",
                       "TargetHealth": {"State": "unused", "Reason": "Target.NotRegistered",
                                        "Description": "Target is not registered to the target group"}}]
