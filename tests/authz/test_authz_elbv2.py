"""Elastic Load Balancing under `--iam enforce`: actions are `elasticloadbalancing:OPERATION`; Create* and
Describe* take "*", an operation on a resource names its ARN, AddTags each resource. Denials are query XML's
AccessDenied."""

from __future__ import annotations

from tests.authz.conftest import ACCOUNT, Server, allow, refused

REGION = "us-east-1"


def test_load_balancer_actions_by_resource(server: Server) -> None:
    subnets = [s["SubnetId"] for s in server.root("ec2").describe_subnets()["Subnets"]][:2]
    root = server.root("elbv2")
    made = root.create_load_balancer(Name="authz", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    other = root.create_load_balancer(Name="other", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    elb = server.user("lara", allow("elasticloadbalancing:Describe*"),
                      allow(["elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:AddTags"],
                            made))("elbv2")
    assert len(elb.describe_load_balancers()["LoadBalancers"]) == 2
    code, message, status = refused(lambda: elb.create_load_balancer(Name="mine", Subnets=subnets))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/lara is not authorized to perform: "
                       "elasticloadbalancing:CreateLoadBalancer because no identity-based policy "
                       "allows the elasticloadbalancing:CreateLoadBalancer action")
    attributes = [{"Key": "idle_timeout.timeout_seconds", "Value": "30"}]
    elb.modify_load_balancer_attributes(LoadBalancerArn=made, Attributes=attributes)
    message = refused(lambda: elb.modify_load_balancer_attributes(LoadBalancerArn=other, Attributes=attributes))[1]
    assert f"elasticloadbalancing:ModifyLoadBalancerAttributes on resource: {other} because" in message
    elb.add_tags(ResourceArns=[made], Tags=[{"Key": "k", "Value": "v"}])
    message = refused(lambda: elb.add_tags(ResourceArns=[made, other], Tags=[{"Key": "k", "Value": "v"}]))[1]
    assert f"elasticloadbalancing:AddTags on resource: {other} because" in message
