"""AWS::ElasticLoadBalancingV2::LoadBalancer, TargetGroup, Listener and ListenerRule through a stack, checked
through Elastic Load Balancing's API with boto3 and by traffic: requests by the load balancer's DNS name reach
the target group's web server, and a rule's fixed response answers its path. Updates change the rule, the
health check and an attribute in place and replace the target group for a new port (the listener follows);
an Auto Scaling group's TargetGroupARNs attach and detach in place; `delete-stack` leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.cloudformation.test_deploy import settled
from tests.ec2.conftest import AMI
from tests.elbv2.conftest import WebServer, free_port_on
from tests.helpers import wait_for

TEMPLATE = """
Parameters:
  VpcId: {Type: String}
  Subnets: {Type: CommaDelimitedList}
  TargetIp: {Type: String}
  TargetPort: {Type: Number}
  Reply: {Type: String, Default: down for maintenance}
  Priority: {Type: Number, Default: 10}
  HealthPath: {Type: String, Default: /health}
  IdleTimeout: {Type: String, Default: "60"}
Resources:
  Web:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Subnets: !Ref Subnets
      LoadBalancerAttributes: [{Key: idle_timeout.timeout_seconds, Value: !Ref IdleTimeout}]
      Tags: [{Key: tier, Value: web}]
  Servers:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Protocol: HTTP
      Port: !Ref TargetPort
      VpcId: !Ref VpcId
      TargetType: ip
      HealthCheckPath: !Ref HealthPath
      HealthCheckIntervalSeconds: 5
      HealthCheckTimeoutSeconds: 2
      HealthyThresholdCount: 2
      UnhealthyThresholdCount: 2
      Matcher: {HttpCode: "200"}
      TargetGroupAttributes: [{Key: deregistration_delay.timeout_seconds, Value: 0}]
      Targets: [{Id: !Ref TargetIp}]
  Http:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Web
      Port: 80
      Protocol: HTTP
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref Servers}]
  Maintenance:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref Http
      Priority: !Ref Priority
      Conditions: [{Field: path-pattern, PathPatternConfig: {Values: [/maintenance*]}}]
      Actions:
        - Type: fixed-response
          FixedResponseConfig: {StatusCode: "503", ContentType: text/plain, MessageBody: !Ref Reply}
Outputs:
  DNSName: {Value: !GetAtt Web.DNSName}
  FullName: {Value: !GetAtt Web.LoadBalancerFullName}
  GroupFullName: {Value: !GetAtt Servers.TargetGroupFullName}
  RuleArn: {Value: !GetAtt Maintenance.RuleArn}
"""


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def physical(cf: Any, stack: str) -> dict[str, str]:
    return {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]}


def network(client: Callable[..., Any]) -> dict[str, str]:
    ec2 = client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    return {"VpcId": ec2.describe_vpcs()["Vpcs"][0]["VpcId"], "Subnets": ",".join(subnets)}


def test_a_load_balancer_serves_through_the_stack_and_changes_with_it(  # type: ignore[no-untyped-def]
        client, endpoint: str, advance) -> None:
    cf, elb = client("cloudformation"), client("elbv2")
    port = free_port_on("127.0.0.41")
    servers = [WebServer("one", "127.0.0.41", port)]
    other_port = free_port_on("127.0.0.41")  # another port: the first server holds its own
    servers.append(WebServer("two", "127.0.0.41", other_port))
    try:
        values = {**network(client), "TargetIp": "127.0.0.41", "TargetPort": str(port)}
        cf.create_stack(StackName="lb", TemplateBody=TEMPLATE, Parameters=params(**values))
        stack = settled(cf, "lb")
        assert stack["StackStatus"] == "CREATE_COMPLETE", cf.describe_stack_events(StackName="lb")["StackEvents"][:3]
        ids, out = physical(cf, "lb"), {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        [balancer] = elb.describe_load_balancers(LoadBalancerArns=[ids["Web"]])["LoadBalancers"]
        assert balancer["DNSName"] == out["DNSName"] and ids["Web"].endswith(":loadbalancer/" + out["FullName"])
        assert ids["Servers"].endswith(":" + out["GroupFullName"]) and ids["Maintenance"] == out["RuleArn"]
        assert elb.describe_tags(ResourceArns=[ids["Web"]])["TagDescriptions"][0]["Tags"] == [
            {"Key": "tier", "Value": "web"}]

        def attribute(key: str) -> str:
            found = elb.describe_load_balancer_attributes(LoadBalancerArn=ids["Web"])["Attributes"]
            return next(a["Value"] for a in found if a["Key"] == key)

        assert attribute("idle_timeout.timeout_seconds") == "60"
        [listener] = elb.describe_listeners(LoadBalancerArn=ids["Web"])["Listeners"]
        assert listener["ListenerArn"] == ids["Http"] and listener["Port"] == 80

        edge = urlsplit(endpoint).port

        def get(path: str) -> requests.Response:
            return requests.get(f"http://127.0.0.1:{edge}{path}", headers={"Host": f"{out['DNSName']}:{edge}"},
                                timeout=30)

        def healthy(group: str) -> bool:
            found = elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
            return [h["TargetHealth"]["State"] for h in found] == ["healthy"]

        advance(5)
        wait_for(lambda: healthy(ids["Servers"]), what="the target is healthy")
        assert get("/page").json()["name"] == "one"
        answer = get("/maintenance")
        assert (answer.status_code, answer.text) == (503, "down for maintenance")

        # In place: the rule's reply and priority, the health check path, the idle timeout.
        cf.update_stack(StackName="lb", UsePreviousTemplate=True, Parameters=params(
            **values, Reply="back soon", Priority="20", HealthPath="/health/deep", IdleTimeout="120"))
        assert settled(cf, "lb")["StackStatus"] == "UPDATE_COMPLETE"
        assert physical(cf, "lb") == ids
        assert get("/maintenance").text == "back soon"
        [rule] = elb.describe_rules(RuleArns=[ids["Maintenance"]])["Rules"]
        assert rule["Priority"] == "20"
        [group] = elb.describe_target_groups(TargetGroupArns=[ids["Servers"]])["TargetGroups"]
        assert group["HealthCheckPath"] == "/health/deep" and attribute("idle_timeout.timeout_seconds") == "120"

        # A new port replaces the target group; the listener forwards to the new one.
        cf.update_stack(StackName="lb", UsePreviousTemplate=True, Parameters=params(
            **{**values, "TargetPort": str(other_port)}, Reply="back soon", Priority="20"))
        assert settled(cf, "lb")["StackStatus"] == "UPDATE_COMPLETE"
        replaced = physical(cf, "lb")
        assert replaced["Servers"] != ids["Servers"] and replaced["Http"] == ids["Http"]
        assert ids["Servers"] not in [g["TargetGroupArn"] for g in elb.describe_target_groups()["TargetGroups"]]
        [listener] = elb.describe_listeners(LoadBalancerArn=ids["Web"])["Listeners"]
        assert listener["DefaultActions"][0]["TargetGroupArn"] == replaced["Servers"]
        advance(5)
        wait_for(lambda: healthy(replaced["Servers"]), what="the new group's target is healthy")
        assert get("/page").json()["name"] == "two"

        cf.delete_stack(StackName="lb")
        cf.get_waiter("stack_delete_complete").wait(StackName="lb", WaiterConfig={"Delay": 1})
        assert elb.describe_load_balancers()["LoadBalancers"] == []
        assert elb.describe_target_groups()["TargetGroups"] == []
    finally:
        for server in servers:
            server.close()


def test_an_auto_scaling_group_attaches_and_detaches_its_target_groups(client) -> None:  # type: ignore[no-untyped-def]
    cf, scaling = client("cloudformation"), client("autoscaling")
    vpc = network(client)["VpcId"]
    resources: dict[str, Any] = {
        "Group": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                  "Properties": {"Protocol": "HTTP", "Port": 8080, "VpcId": vpc}},
        "Workers": {"Type": "AWS::EC2::LaunchTemplate",
                    "Properties": {"LaunchTemplateData": {"ImageId": AMI, "InstanceType": "t3.micro"}}},
        "Pool": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "MinSize": "0", "MaxSize": "1", "DesiredCapacity": "0", "AvailabilityZones": ["us-east-1a"],
            "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Workers"},
                               "Version": {"Fn::GetAtt": ["Workers", "LatestVersionNumber"]}},
            "TargetGroupARNs": {"Fn::If": ["Attached", [{"Ref": "Group"}], []]}}}}
    body = json.dumps({"Parameters": {"Attach": {"Type": "String", "Default": "yes"}},
                       "Conditions": {"Attached": {"Fn::Equals": [{"Ref": "Attach"}, "yes"]}},
                       "Resources": resources})
    cf.create_stack(StackName="asg-lb", TemplateBody=body)
    assert settled(cf, "asg-lb")["StackStatus"] == "CREATE_COMPLETE"
    ids = physical(cf, "asg-lb")

    def attached() -> list[str]:
        [group] = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=[ids["Pool"]])["AutoScalingGroups"]
        return list(group["TargetGroupARNs"])

    assert attached() == [ids["Group"]]
    cf.update_stack(StackName="asg-lb", UsePreviousTemplate=True, Parameters=params(Attach="no"))
    assert settled(cf, "asg-lb")["StackStatus"] == "UPDATE_COMPLETE"
    assert attached() == [] and physical(cf, "asg-lb") == ids
    cf.update_stack(StackName="asg-lb", UsePreviousTemplate=True, Parameters=params(Attach="yes"))
    assert settled(cf, "asg-lb")["StackStatus"] == "UPDATE_COMPLETE"
    assert attached() == [ids["Group"]]
    cf.delete_stack(StackName="asg-lb")
    cf.get_waiter("stack_delete_complete").wait(StackName="asg-lb", WaiterConfig={"Delay": 1})
    assert scaling.describe_auto_scaling_groups(AutoScalingGroupNames=[ids["Pool"]])["AutoScalingGroups"] == []
