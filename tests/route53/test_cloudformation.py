"""Route 53's CloudFormation types through boto3: a zone, a failover pair with a health check, a weighted
record set group; answered by the DNS server; updated and deleted with the stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.cloudformation.test_deploy import settled
from tests.route53.conftest import Dig

TEMPLATE = """
Parameters:
  Primary: {Type: String, Default: 192.0.2.1}
Resources:
  Zone:
    Type: AWS::Route53::HostedZone
    Properties:
      Name: stack.example
      HostedZoneConfig: {Comment: made by a stack}
      HostedZoneTags: [{Key: team, Value: web}]
  Check:
    Type: AWS::Route53::HealthCheck
    Properties:
      HealthCheckConfig: {Type: TCP, IPAddress: 127.0.0.1, Port: 9, Disabled: true}
  PrimaryRecord:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneId: !Ref Zone
      Name: app.stack.example
      Type: A
      TTL: "60"
      SetIdentifier: primary
      Failover: PRIMARY
      HealthCheckId: !Ref Check
      ResourceRecords: [!Ref Primary]
  Weighted:
    Type: AWS::Route53::RecordSetGroup
    DependsOn: Zone  # named by HostedZoneName: no Ref orders it after the zone (and its delete before)
    Properties:
      HostedZoneName: stack.example.
      RecordSets:
        - {Name: w.stack.example, Type: A, TTL: "0", SetIdentifier: a, Weight: 1, ResourceRecords: [192.0.2.10]}
        - {Name: w.stack.example, Type: A, TTL: "0", SetIdentifier: b, Weight: 1, ResourceRecords: [192.0.2.11]}
Outputs:
  ZoneId: {Value: !Ref Zone}
  NameServers: {Value: !Join [",", !GetAtt Zone.NameServers]}
  Record: {Value: !Ref PrimaryRecord}
"""


def test_a_stack_makes_zones_records_and_checks(client: Callable[..., Any], dig: Dig) -> None:
    cf, r53 = client("cloudformation"), client("route53")
    stack_id = cf.create_stack(StackName="dns", TemplateBody=TEMPLATE)["StackId"]
    stack = settled(cf, "dns")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    zone_id = outputs["ZoneId"]
    zone = r53.get_hosted_zone(Id=zone_id)
    assert zone["HostedZone"]["Config"]["Comment"] == "made by a stack"
    assert outputs["NameServers"].split(",") == zone["DelegationSet"]["NameServers"]
    assert outputs["Record"] == "app.stack.example"
    tags = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)["ResourceTagSet"]["Tags"]
    assert tags == [{"Key": "team", "Value": "web"}]
    assert dig.values("app.stack.example") == ["192.0.2.1"]
    assert {dig.values("w.stack.example")[0] for _ in range(40)} == {"192.0.2.10", "192.0.2.11"}
    cf.update_stack(StackName="dns", TemplateBody=TEMPLATE,
                    Parameters=[{"ParameterKey": "Primary", "ParameterValue": "198.51.100.1"}])
    assert settled(cf, "dns")["StackStatus"] == "UPDATE_COMPLETE"
    assert dig.values("app.stack.example") == ["198.51.100.1"]
    cf.delete_stack(StackName="dns")
    assert settled(cf, stack_id)["StackStatus"] == "DELETE_COMPLETE"  # a deleted stack is named by its id
    assert r53.list_hosted_zones()["HostedZones"] == []
    assert r53.list_health_checks()["HealthChecks"] == []
