"""Route 53's API through boto3 and the AWS CLI: hosted zones (public, private, delegation sets), change
batches with AWS's messages, change ids, record listing order and pages, aliases, tags, durability."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.route53.conftest import a_record, change, create_zone


def _error(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response: Any = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def test_public_zone_has_its_name_servers_ns_and_soa(r53: Any) -> None:
    created = r53.create_hosted_zone(Name="Example.COM", CallerReference="ref-1",
                                     HostedZoneConfig={"Comment": "site"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    zone = created["HostedZone"]
    zone_id = zone["Id"].rsplit("/", 1)[-1]
    assert zone["Id"] == f"/hostedzone/{zone_id}" and zone_id.startswith("Z")
    assert created["Location"] == f"https://route53.amazonaws.com/2013-04-01/hostedzone/{zone_id}"
    assert zone["Name"] == "example.com." and zone["Config"] == {"Comment": "site", "PrivateZone": False}
    assert zone["ResourceRecordSetCount"] == 2
    assert created["ChangeInfo"]["Status"] == "PENDING"
    servers = created["DelegationSet"]["NameServers"]
    assert [s.rsplit(".", 1)[-1] for s in servers] == ["com", "net", "org", "uk"]
    records = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    assert [(r["Name"], r["Type"], r["TTL"]) for r in records] == [("example.com.", "NS", 172800),
                                                                  ("example.com.", "SOA", 900)]
    assert [r["Value"] for r in records[0]["ResourceRecords"]] == [f"{s}." for s in servers]
    soa = records[1]["ResourceRecords"][0]["Value"]
    assert soa == f"{servers[0]}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
    got = r53.get_hosted_zone(Id=zone_id)
    assert got["HostedZone"] == zone and got["DelegationSet"]["NameServers"] == servers
    # The same caller reference again is refused, whatever the name.
    with pytest.raises(ClientError) as info:
        r53.create_hosted_zone(Name="other.com", CallerReference="ref-1")
    assert _error(info)[:2] == ("HostedZoneAlreadyExists", 409)
    assert r53.get_hosted_zone_count()["HostedZoneCount"] == 1


def test_private_zone_and_its_vpcs(r53: Any, client: Callable[..., Any]) -> None:
    east = client("ec2").create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]  # us-east-1
    west_ec2 = boto3.client("ec2", endpoint_url=client("ec2").meta.endpoint_url, aws_access_key_id="test",
                            aws_secret_access_key="test", region_name="us-west-2")
    west = west_ec2.create_vpc(CidrBlock="10.21.0.0/16")["Vpc"]["VpcId"]
    # A VPC EC2 does not know (or not in the region named) is refused.
    invalid = ("InvalidVPCId", 400, "The VPC ID that you specified either isn't a valid ID or the current account "
               "is not authorized to access this VPC.")
    for unknown in ({"VPCRegion": "us-east-1", "VPCId": "vpc-11111111"}, {"VPCRegion": "us-east-1", "VPCId": west}):
        with pytest.raises(ClientError) as info:
            r53.create_hosted_zone(Name="internal.example", CallerReference=str(uuid.uuid4()), VPC=unknown)
        assert _error(info) == invalid
    vpc = {"VPCRegion": "us-east-1", "VPCId": east}
    created = r53.create_hosted_zone(Name="internal.example", CallerReference="p", VPC=vpc)
    zone_id = created["HostedZone"]["Id"].rsplit("/", 1)[-1]
    assert created["HostedZone"]["Config"]["PrivateZone"] is True
    assert created["VPC"] == vpc and "DelegationSet" not in created
    got = r53.get_hosted_zone(Id=zone_id)
    assert got["VPCs"] == [vpc] and "DelegationSet" not in got
    # One private zone of a name per VPC.
    with pytest.raises(ClientError) as info:
        r53.create_hosted_zone(Name="internal.example", CallerReference="p2", VPC=vpc)
    assert _error(info)[:2] == ("ConflictingDomainExists", 400)
    other = {"VPCRegion": "us-west-2", "VPCId": west}
    with pytest.raises(ClientError) as info:
        r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC={"VPCRegion": "us-west-2", "VPCId": "vpc-2"})
    assert _error(info) == invalid
    assert r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC=other)["ChangeInfo"]["Status"] == "PENDING"
    by_vpc = r53.list_hosted_zones_by_vpc(VPCId=west, VPCRegion="us-west-2")["HostedZoneSummaries"]
    assert [(z["HostedZoneId"], z["Name"]) for z in by_vpc] == [(zone_id, "internal.example.")]
    r53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id, VPC=vpc)
    # VPCRegion is optional: a VPC named by its id alone is the one associated.
    with pytest.raises(ClientError) as info:
        r53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id, VPC={"VPCId": west})
    assert _error(info)[0] == "LastVPCAssociation"
    public = create_zone(r53, "public.example")
    with pytest.raises(ClientError) as info:
        r53.associate_vpc_with_hosted_zone(HostedZoneId=public, VPC=vpc)
    assert _error(info)[0] == "PublicZoneVPCAssociation"
    listed = r53.list_hosted_zones(HostedZoneType="PrivateHostedZone")["HostedZones"]
    assert [z["Id"] for z in listed] == [f"/hostedzone/{zone_id}"]


def test_reusable_delegation_set_gives_zones_its_name_servers(r53: Any) -> None:
    created = r53.create_reusable_delegation_set(CallerReference="ds")
    delegation = created["DelegationSet"]
    set_id = delegation["Id"].rsplit("/", 1)[-1]
    zone = r53.create_hosted_zone(Name="a.example", CallerReference="z", DelegationSetId=set_id)
    assert zone["DelegationSet"]["NameServers"] == delegation["NameServers"]
    assert zone["DelegationSet"]["Id"] == delegation["Id"]
    with pytest.raises(ClientError) as info:
        r53.delete_reusable_delegation_set(Id=set_id)
    assert _error(info)[0] == "DelegationSetInUse"
    with pytest.raises(ClientError) as info:
        r53.create_hosted_zone(Name="b.example", CallerReference="z2", DelegationSetId="NOPE")
    assert _error(info)[:2] == ("NoSuchDelegationSet", 400)
    with pytest.raises(ClientError) as info:
        r53.list_hosted_zones(DelegationSetId="NOPE")
    assert _error(info)[:2] == ("NoSuchDelegationSet", 400)


def test_a_zones_own_delegation_set_made_reusable(r53: Any) -> None:
    zone_id = create_zone(r53, "own.example")
    servers = r53.get_hosted_zone(Id=zone_id)["DelegationSet"]["NameServers"]
    delegation = r53.create_reusable_delegation_set(CallerReference="from-zone", HostedZoneId=zone_id)["DelegationSet"]
    set_id = delegation["Id"].rsplit("/", 1)[-1]
    assert delegation["NameServers"] == servers
    # The zone now uses the reusable set: it names it, lists under it, and keeps it from being deleted.
    got = r53.get_hosted_zone(Id=zone_id)["DelegationSet"]
    assert got == {"Id": f"/delegationset/{set_id}", "CallerReference": "from-zone", "NameServers": servers}
    assert [z["Id"] for z in r53.list_hosted_zones(DelegationSetId=set_id)["HostedZones"]] == [f"/hostedzone/{zone_id}"]
    with pytest.raises(ClientError) as info:
        r53.delete_reusable_delegation_set(Id=set_id)
    assert _error(info)[0] == "DelegationSetInUse"
    with pytest.raises(ClientError) as info:
        r53.create_reusable_delegation_set(CallerReference="again", HostedZoneId=zone_id)
    assert _error(info)[:2] == ("DelegationSetAlreadyReusable", 400)
    with pytest.raises(ClientError) as info:
        r53.create_reusable_delegation_set(CallerReference="nowhere", HostedZoneId="ZNOSUCHZONE")
    assert _error(info) == ("HostedZoneNotFound", 400, "The specified HostedZone can't be found.")
    assert len(r53.list_reusable_delegation_sets()["DelegationSets"]) == 1


def test_a_marker_no_listing_gave_is_invalid_input(r53: Any) -> None:
    create_zone(r53)
    for call in (r53.list_hosted_zones, r53.list_health_checks, r53.list_reusable_delegation_sets):
        with pytest.raises(ClientError) as info:
            call(Marker="NOTAMARKER")
        assert _error(info) == ("InvalidInput", 400, "The specified marker is not valid.")


def test_delete_zone_only_when_empty(r53: Any) -> None:
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1")))
    with pytest.raises(ClientError) as info:
        r53.delete_hosted_zone(Id=zone_id)
    assert _error(info) == ("HostedZoneNotEmpty", 400, "The hosted zone contains resource records that are not SOA "
                            "or NS records.")
    change(r53, zone_id, ("DELETE", a_record("www.example.com", "192.0.2.1")))
    assert r53.delete_hosted_zone(Id=zone_id)["ChangeInfo"]["Status"] == "PENDING"
    with pytest.raises(ClientError) as info:
        r53.get_hosted_zone(Id=zone_id)
    assert _error(info) == ("NoSuchHostedZone", 404, f"No hosted zone found with ID: {zone_id}")
    # Its caller reference stays spent.
    reference = "spent-once"
    again = r53.create_hosted_zone(Name="again.example", CallerReference=reference)["HostedZone"]["Id"]
    r53.delete_hosted_zone(Id=again)
    with pytest.raises(ClientError) as info:
        r53.create_hosted_zone(Name="again.example", CallerReference=reference)
    assert _error(info) == ("HostedZoneAlreadyExists", 409, "A hosted zone has already been created with the "
                            "specified caller reference.")


def test_change_batch_is_all_or_nothing_with_every_message(r53: Any) -> None:
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1")))
    with pytest.raises(ClientError) as info:
        change(r53, zone_id,
               ("CREATE", a_record("new.example.com", "192.0.2.2")),
               ("CREATE", a_record("www.example.com", "192.0.2.3")),
               ("DELETE", a_record("gone.example.com", "192.0.2.4")),
               ("CREATE", a_record("www.other.org", "192.0.2.5")),
               ("CREATE", a_record("bad.example.com", "192.0.2")))
    code, status, message = _error(info)
    assert (code, status) == ("InvalidChangeBatch", 400)
    assert message == (
        "[Tried to create resource record set [name='www.example.com.', type='A'] but it already exists, "
        "Tried to delete resource record set [name='gone.example.com.', type='A'] but it was not found, "
        "RRSet with DNS name www.other.org. is not permitted in zone example.com., "
        "Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) "
        "encountered with '192.0.2'']")
    names = [r["Name"] for r in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]]
    assert "new.example.com." not in names  # nothing of the batch was applied
    # A DELETE must name the current values.
    with pytest.raises(ClientError) as info:
        change(r53, zone_id, ("DELETE", a_record("www.example.com", "192.0.2.9")))
    assert _error(info)[2] == ("[Tried to delete resource record set [name='www.example.com.', type='A'] but the "
                               "values provided do not match the current values]")
    # UPSERT replaces; DELETE then CREATE in one batch is one change.
    change(r53, zone_id, ("UPSERT", a_record("www.example.com", "192.0.2.7", "192.0.2.8", ttl=60)))
    change(r53, zone_id, ("DELETE", a_record("www.example.com", "192.0.2.7", "192.0.2.8", ttl=60)),
           ("CREATE", a_record("www.example.com", "198.51.100.1")))
    records = r53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName="www.example.com",
                                            StartRecordType="A", MaxItems="1")["ResourceRecordSets"]
    assert records == [a_record("www.example.com.", "198.51.100.1")]


def test_zone_rules_cname_apex_and_shapes(r53: Any) -> None:
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1")))
    cname = {"Name": "www.example.com", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "x.example.net"}]}
    with pytest.raises(ClientError) as info:
        change(r53, zone_id, ("CREATE", cname))
    assert _error(info)[2] == ("[RRSet of type CNAME with DNS name www.example.com. is not permitted as it conflicts "
                               "with other records with the same DNS name in zone example.com.]")
    with pytest.raises(ClientError) as info:
        change(r53, zone_id, ("CREATE", {**cname, "Name": "example.com"}))
    assert "is not permitted at apex in zone example.com." in _error(info)[2]
    soa = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"][1]
    with pytest.raises(ClientError) as info:
        change(r53, zone_id, ("DELETE", soa))
    assert _error(info)[2] == "[A HostedZone must contain exactly one SOA record.]"
    with pytest.raises(ClientError) as info:
        change(r53, zone_id, ("CREATE", {"Name": "t.example.com", "Type": "A", "TTL": 60}))
    assert _error(info)[:2] == ("InvalidInput", 400)
    assert _error(info)[2] == (
        "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or "
        "TrafficPolicyInstanceId], but found none in Change with [Action=CREATE, Name=t.example.com, Type=A, "
        "SetIdentifier=null]")
    with pytest.raises(ClientError) as info:
        change(r53, zone_id, ("CREATE", a_record("w.example.com", "192.0.2.1", Weight=10)))
    assert _error(info)[2].startswith("Invalid request: Missing field 'SetIdentifier' in Change with")
    with pytest.raises(ClientError) as info:
        change(r53, zone_id, ("CREATE", {"Name": "t.example.com", "Type": "TXT", "TTL": 60,
                                         "ResourceRecords": [{"Value": "unquoted"}]}))
    assert _error(info)[2] == ("[Invalid Resource Record: 'FATAL problem: InvalidCharacterString (Value should be "
                               "enclosed in quotation marks) encountered with 'unquoted'']")
    with pytest.raises(ClientError) as info:
        change(r53, zone_id, ("CREATE", a_record("w.example.com", "192.0.2.1", SetIdentifier="one", Weight=1)),
               ("CREATE", a_record("w.example.com", "192.0.2.2")))
    assert "cannot be created as a non-weighted set exists with the same name and type" in _error(info)[2]


def test_common_record_types_round_trip(r53: Any) -> None:
    zone_id = create_zone(r53)
    sets = [
        {"Name": "example.com", "Type": "MX", "TTL": 300, "ResourceRecords": [{"Value": "10 mail.example.com"}]},
        {"Name": "example.com", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"v=spf1 -all"'}]},
        {"Name": "example.com", "Type": "CAA", "TTL": 300, "ResourceRecords": [{"Value": '0 issue "amazon.com"'}]},
        {"Name": "v6.example.com", "Type": "AAAA", "TTL": 300, "ResourceRecords": [{"Value": "2001:db8::1"}]},
        {"Name": "_sip._tcp.example.com", "Type": "SRV", "TTL": 300,
         "ResourceRecords": [{"Value": "1 10 5060 sip.example.com"}]},
        {"Name": "1.2.0.192.in-addr.example.com", "Type": "PTR", "TTL": 300,
         "ResourceRecords": [{"Value": "host.example.com"}]},
        {"Name": "sub.example.com", "Type": "NS", "TTL": 300, "ResourceRecords": [{"Value": "ns1.other.net"}]},
        {"Name": "*.example.com", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.44"}]},
    ]
    change(r53, zone_id, *[("CREATE", s) for s in sets])
    listed = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    assert len(listed) == 2 + len(sets)
    # Route 53 answers names with octal escapes for characters other than a-z, 0-9, '-' and '_'.
    assert "\\052.example.com." in [r["Name"] for r in listed]


def test_listing_order_by_reversed_labels_and_pages(r53: Any) -> None:
    zone_id = create_zone(r53)
    names = ["z.example.com", "b.a.example.com", "a.example.com", "mail.example.com", "c.example.com"]
    change(r53, zone_id, *[("CREATE", a_record(n, "192.0.2.1")) for n in names])
    change(r53, zone_id, ("CREATE", {"Name": "a.example.com", "Type": "TXT", "TTL": 60,
                                     "ResourceRecords": [{"Value": '"x"'}]}))
    seen: list[tuple[str, str]] = []
    start: dict[str, str] = {}
    pages = 0
    while True:
        page = r53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="3", **start)
        pages += 1
        assert page["MaxItems"] == "3"
        seen.extend((r["Name"], r["Type"]) for r in page["ResourceRecordSets"])
        if not page["IsTruncated"]:
            break
        start = {"StartRecordName": page["NextRecordName"], "StartRecordType": page["NextRecordType"]}
    assert pages == 3
    assert seen == [("example.com.", "NS"), ("example.com.", "SOA"), ("a.example.com.", "A"), ("a.example.com.", "TXT"),
                    ("b.a.example.com.", "A"), ("c.example.com.", "A"), ("mail.example.com.", "A"),
                    ("z.example.com.", "A")]
    with pytest.raises(ClientError) as info:
        r53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordType="A")
    assert _error(info)[:2] == ("InvalidInput", 400)


def test_zones_by_name_in_reversed_label_order(r53: Any) -> None:
    for name in ("b.example.org", "example.org", "a.example.com", "example.net"):
        create_zone(r53, name)
    listed = r53.list_hosted_zones_by_name()["HostedZones"]
    assert [z["Name"] for z in listed] == ["a.example.com.", "example.net.", "example.org.", "b.example.org."]
    page = r53.list_hosted_zones_by_name(DNSName="example.net", MaxItems="1")
    assert [z["Name"] for z in page["HostedZones"]] == ["example.net."]
    assert page["IsTruncated"] and page["NextDNSName"] == "example.org."
    first = r53.list_hosted_zones(MaxItems="3")
    assert len(first["HostedZones"]) == 3 and first["IsTruncated"]
    rest = r53.list_hosted_zones(Marker=first["NextMarker"])
    assert len(rest["HostedZones"]) == 1 and not rest["IsTruncated"]


def test_get_change_is_insync_and_unknown_ids_are_refused(r53: Any) -> None:
    zone_id = create_zone(r53)
    info = change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1")))["ChangeInfo"]
    assert info["Status"] == "PENDING" and info["Id"].startswith("/change/C")
    got = r53.get_change(Id=info["Id"])["ChangeInfo"]
    assert got["Status"] == "INSYNC" and got["Id"] == info["Id"] and got["SubmittedAt"] == info["SubmittedAt"]
    r53.get_waiter("resource_record_sets_changed").wait(Id=info["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    with pytest.raises(ClientError) as raised:
        r53.get_change(Id="CNOTACHANGE")
    assert _error(raised)[:2] == ("NoSuchChange", 404)


def test_aliases_to_records_and_to_conveyor_names(r53: Any) -> None:
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("origin.example.com", "192.0.2.1")))
    alias = {"Name": "www.example.com", "Type": "A",
             "AliasTarget": {"HostedZoneId": zone_id, "DNSName": "origin.example.com", "EvaluateTargetHealth": False}}
    elb = {"Name": "app.example.com", "Type": "A",
           "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": "web-123.us-east-1.elb.localhost",
                           "EvaluateTargetHealth": True}}
    change(r53, zone_id, ("CREATE", alias), ("CREATE", elb))
    listed = {r["Name"]: r for r in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]}
    assert listed["www.example.com."]["AliasTarget"] == {"HostedZoneId": zone_id, "DNSName": "origin.example.com.",
                                                          "EvaluateTargetHealth": False}
    assert "TTL" not in listed["www.example.com."]
    missing = {**alias, "Name": "x.example.com", "AliasTarget": {**alias["AliasTarget"], "DNSName": "nope.example.com"}}
    with pytest.raises(ClientError) as info:
        change(r53, zone_id, ("CREATE", missing))
    assert _error(info)[2] == (f"[Tried to create an alias that targets nope.example.com., type A in zone {zone_id}, "
                               "but that target was not found]")


def test_tags_on_zones_and_health_checks(r53: Any) -> None:
    zone_id = create_zone(r53)
    r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id,
                                 AddTags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "web"}])
    r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id, RemoveTagKeys=["team"])
    tags = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)["ResourceTagSet"]
    assert tags == {"ResourceType": "hostedzone", "ResourceId": zone_id, "Tags": [{"Key": "env", "Value": "dev"}]}
    sets = r53.list_tags_for_resources(ResourceType="hostedzone", ResourceIds=[zone_id])["ResourceTagSets"]
    assert sets == [tags]
    with pytest.raises(ClientError) as info:
        r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=str(uuid.uuid4()))
    assert _error(info)[:2] == ("NoSuchHealthCheck", 404)
    with pytest.raises(ClientError) as info:
        r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id,
                                     AddTags=[{"Key": f"k{i}", "Value": "v"} for i in range(10)])
    assert _error(info)[:2] == ("InvalidInput", 400)


def test_aws_cli_creates_a_zone_and_lists_its_records(aws: Callable[..., Any]) -> None:
    created = aws("route53", "create-hosted-zone", "--name", "cli.example", "--caller-reference", "cli-1")
    zone_id = created["HostedZone"]["Id"]
    batch = ('{"Changes":[{"Action":"UPSERT","ResourceRecordSet":{"Name":"www.cli.example","Type":"A","TTL":60,'
             '"ResourceRecords":[{"Value":"192.0.2.10"}]}}]}')
    changed = aws("route53", "change-resource-record-sets", "--hosted-zone-id", zone_id, "--change-batch", batch)
    assert changed["ChangeInfo"]["Status"] == "PENDING"
    listed = aws("route53", "list-resource-record-sets", "--hosted-zone-id", zone_id)
    assert [r["Type"] for r in listed["ResourceRecordSets"]] == ["NS", "SOA", "A"]


def test_zones_records_and_checks_survive_kill_9(start_server: Callable[..., Any]) -> None:
    server = start_server()
    r53 = server.client("route53")
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1")))
    check = r53.create_health_check(CallerReference="c", HealthCheckConfig={
        "Type": "TCP", "IPAddress": "127.0.0.1", "Port": 9, "Disabled": True})["HealthCheck"]
    r53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check["Id"],
                                 AddTags=[{"Key": "k", "Value": "v"}])
    before = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    server.kill()
    server.start()
    r53 = server.client("route53")
    assert r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"] == before
    assert r53.get_health_check(HealthCheckId=check["Id"])["HealthCheck"] == check
    assert r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check["Id"])["ResourceTagSet"]["Tags"] \
        == [{"Key": "k", "Value": "v"}]
    # A deleted check's caller reference stays spent across a kill -9.
    r53.delete_health_check(HealthCheckId=check["Id"])
    server.kill()
    server.start()
    with pytest.raises(ClientError) as info:
        server.client("route53").create_health_check(CallerReference="c", HealthCheckConfig={
            "Type": "TCP", "IPAddress": "127.0.0.1", "Port": 9, "Disabled": True})
    assert _error(info)[0] == "HealthCheckAlreadyExists"
