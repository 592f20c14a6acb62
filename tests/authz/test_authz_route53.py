"""Route 53 under `--iam enforce`: its actions on its global ARNs (no region, no account), and its
AccessDenied in its own XML."""

from __future__ import annotations

import uuid

from tests.authz.conftest import Server, allow, refused


def test_route53_actions_on_zone_and_health_check_arns(server: Server) -> None:
    zone = server.root("route53").create_hosted_zone(Name="example.com", CallerReference=str(uuid.uuid4()))
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    dana = server.user("dana", allow("route53:ListResourceRecordSets", f"arn:aws:route53:::hostedzone/{zone_id}"))
    assert len(dana("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]) == 2
    code, message, status = refused(lambda: dana("route53").change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": "www.example.com", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}}]}))
    assert (code, status) == ("AccessDenied", 403)
    assert (f"is not authorized to perform: route53:ChangeResourceRecordSets on resource: "
            f"arn:aws:route53:::hostedzone/{zone_id}") in message
    code, message, _ = refused(lambda: dana("route53").create_health_check(CallerReference="c", HealthCheckConfig={
        "Type": "TCP", "IPAddress": "127.0.0.1", "Port": 9}))
    assert code == "AccessDenied" and "perform: route53:CreateHealthCheck because no identity-based" in message
