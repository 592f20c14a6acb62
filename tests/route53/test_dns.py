"""The DNS server through dnspython, as dig asks it: answers with the record's TTL, NXDOMAIN and NODATA with the
zone's SOA, REFUSED outside the hosted zones, wildcards, CNAME chains, aliases, TCP and truncation, and the
routing policies evaluated at query time (weighted in proportion over 1,000 queries, latency and geolocation
for the configured client region, multivalue)."""

from __future__ import annotations

import socket
import struct
import time
from collections import Counter
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from botocore.exceptions import ClientError

from tests.conftest import post_json
from tests.route53.conftest import Dig, a_record, change, create_zone, query_logging_policy


def test_answers_with_ttl_and_authority(r53: Any, dig: Dig) -> None:
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1", "192.0.2.2", ttl=42)))
    response = dig.query("WWW.Example.com")
    assert response.rcode() == dns.rcode.NOERROR and response.flags & dns.flags.AA
    (answer,) = response.answer
    assert answer.ttl == 42 and sorted(rd.to_text() for rd in answer) == ["192.0.2.1", "192.0.2.2"]
    # A name without records: NXDOMAIN; a name with records of another type: NODATA. Both carry the SOA, with
    # the lower of its TTL and its minimum (RFC 2308).
    missing = dig.query("nothing.example.com")
    assert missing.rcode() == dns.rcode.NXDOMAIN and not missing.answer
    assert missing.authority[0].rdtype == dns.rdatatype.SOA and missing.authority[0].ttl == 900
    nodata = dig.query("www.example.com", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer and nodata.authority
    assert dig.values("example.com", "NS") == sorted(
        v["Value"] for v in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"][0]["ResourceRecords"])
    # Names of no hosted zone are refused.
    refused = dig.query("www.example.org")
    assert refused.rcode() == dns.rcode.REFUSED and not refused.answer
    # A change is answered at once.
    change(r53, zone_id, ("UPSERT", a_record("www.example.com", "198.51.100.7", ttl=42)))
    assert dig.values("www.example.com") == ["198.51.100.7"]


def test_wildcards_cnames_and_empty_non_terminals(r53: Any, dig: Dig) -> None:
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", a_record("*.apps.example.com", "192.0.2.9")),
           ("CREATE", a_record("deep.name.example.com", "192.0.2.10")),
           ("CREATE", {"Name": "alias.example.com", "Type": "CNAME", "TTL": 30,
                       "ResourceRecords": [{"Value": "deep.name.example.com"}]}),
           ("CREATE", {"Name": "out.example.com", "Type": "CNAME", "TTL": 30,
                       "ResourceRecords": [{"Value": "elsewhere.example.org"}]}))
    assert dig.values("anything.apps.example.com") == ["192.0.2.9"]
    response = dig.query("alias.example.com")
    assert [(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)) for r in response.answer] == [
        ("alias.example.com.", "CNAME"), ("deep.name.example.com.", "A")]
    outside = dig.query("out.example.com")
    assert [dns.rdatatype.to_text(r.rdtype) for r in outside.answer] == ["CNAME"]
    empty = dig.query("name.example.com")  # exists only as a parent of deep.name
    assert empty.rcode() == dns.rcode.NOERROR and not empty.answer


def test_tcp_and_truncation(r53: Any, dig: Dig) -> None:
    zone_id = create_zone(r53)
    many = [f"192.0.2.{i}" for i in range(1, 61)]
    change(r53, zone_id, ("CREATE", a_record("big.example.com", *many)))
    udp = dig.query("big.example.com")  # 60 answers do not fit in 512 bytes
    assert udp.flags & dns.flags.TC and not udp.answer
    tcp = dig.query("big.example.com", tcp=True)
    assert sorted(rd.to_text() for rd in tcp.answer[0]) == sorted(many)


def test_malformed_queries_get_formerr_or_nothing(dig: Dig) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        garbage = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x05abc"  # a question cut short
        sock.sendto(garbage, ("127.0.0.1", dig.port))
        reply, _ = sock.recvfrom(512)
        query_id, flags = struct.unpack("!HH", reply[:4])
        assert query_id == 0x1234 and flags & 0x8000 and flags & 0xF == dns.rcode.FORMERR


def test_alias_answers(r53: Any, dig: Dig) -> None:
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("origin.example.com", "192.0.2.1", ttl=77)))
    change(r53, zone_id,
           ("CREATE", {"Name": "example.com", "Type": "A", "AliasTarget": {
               "HostedZoneId": zone_id, "DNSName": "origin.example.com", "EvaluateTargetHealth": False}}),
           ("CREATE", {"Name": "cdn.example.com", "Type": "A", "AliasTarget": {
               "HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "d111111abcdef8.cloudfront.localhost",
               "EvaluateTargetHealth": False}}),
           ("CREATE", {"Name": "site.example.com", "Type": "A", "AliasTarget": {
               "HostedZoneId": "Z3AQBSTGFYJSTF", "DNSName": "s3-website-us-east-1.amazonaws.com",
               "EvaluateTargetHealth": False}}))
    apex = dig.query("example.com")
    assert apex.answer[0].name.to_text() == "example.com." and apex.answer[0].ttl == 77
    assert [rd.to_text() for rd in apex.answer[0]] == ["192.0.2.1"]
    assert dig.values("cdn.example.com") == ["127.0.0.1"]
    assert dig.values("site.example.com") == ["127.0.0.1"]


def test_weighted_records_split_answers_in_proportion(r53: Any, dig: Dig) -> None:
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", a_record("w.example.com", "192.0.2.1", ttl=0, SetIdentifier="one", Weight=1)),
           ("CREATE", a_record("w.example.com", "192.0.2.3", ttl=0, SetIdentifier="three", Weight=3)),
           ("CREATE", a_record("w.example.com", "192.0.2.99", ttl=0, SetIdentifier="never", Weight=0)))
    counts = Counter(dig.values("w.example.com")[0] for _ in range(1000))
    # 250 and 750 expected; 60 is more than four standard deviations (13.7) of the binomial.
    assert abs(counts["192.0.2.1"] - 250) < 60 and abs(counts["192.0.2.3"] - 750) < 60, counts
    assert counts["192.0.2.99"] == 0


def test_latency_geolocation_and_multivalue_for_the_client_region(r53: Any, dig: Dig) -> None:
    """The shared server's clients are in us-east-1 (its --region; --dns-client-region sets another)."""
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", a_record("lat.example.com", "192.0.2.1", SetIdentifier="west", Region="us-west-2")),
           ("CREATE", a_record("lat.example.com", "192.0.2.2", SetIdentifier="east", Region="us-east-1")),
           ("CREATE", a_record("geo.example.com", "192.0.2.10", SetIdentifier="default",
                               GeoLocation={"CountryCode": "*"})),
           ("CREATE", a_record("geo.example.com", "192.0.2.11", SetIdentifier="eu", GeoLocation={"ContinentCode": "EU"})),
           ("CREATE", a_record("geo.example.com", "192.0.2.12", SetIdentifier="us", GeoLocation={"CountryCode": "US"})),
           ("CREATE", a_record("eu.example.com", "192.0.2.20", SetIdentifier="eu", GeoLocation={"ContinentCode": "EU"})),
           *[("CREATE", a_record("mv.example.com", f"192.0.2.{30 + i}", SetIdentifier=f"m{i}", MultiValueAnswer=True))
             for i in range(10)])
    assert dig.values("lat.example.com") == ["192.0.2.2"]
    assert dig.values("geo.example.com") == ["192.0.2.12"]
    nowhere = dig.query("eu.example.com")  # no location matches a client in the US: an empty answer
    assert nowhere.rcode() == dns.rcode.NOERROR and not nowhere.answer
    answered = dig.values("mv.example.com")
    assert len(answered) == 8 and set(answered) <= {f"192.0.2.{30 + i}" for i in range(10)}


def test_the_dns_port_is_chosen_by_the_server_when_asked_for_0(endpoint: str, dig: Dig) -> None:
    assert dig.port > 0
    response: Any = dig.query("www.example.com", tcp=True)
    assert response.rcode() == dns.rcode.REFUSED


def test_query_logging_writes_each_query_to_cloudwatch_logs(r53: Any, dig: Dig, client: Any) -> None:
    logs = client("logs")  # in us-east-1, as Route 53 wants the group and the policy
    logs.create_log_group(logGroupName="/aws/route53/example.com")
    query_logging_policy(logs)
    group_arn = logs.describe_log_groups()["logGroups"][0]["arn"]
    zone_id = create_zone(r53)
    change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1")))
    with pytest.raises(ClientError) as info:
        r53.create_query_logging_config(HostedZoneId=zone_id, CloudWatchLogsLogGroupArn=group_arn.replace(
            "example.com", "missing"))
    assert info.value.response["Error"]["Code"] == "NoSuchCloudWatchLogsLogGroup"
    with pytest.raises(ClientError) as info:
        r53.create_query_logging_config(HostedZoneId=zone_id, CloudWatchLogsLogGroupArn=group_arn.replace(
            "us-east-1", "eu-west-1"))
    assert info.value.response["Error"] == {"Type": "Sender", "Code": "InvalidInput",
                                            "Message": "The ARN for the CloudWatch Logs log group is invalid"}
    config = r53.create_query_logging_config(HostedZoneId=zone_id, CloudWatchLogsLogGroupArn=group_arn)
    assert config["QueryLoggingConfig"]["HostedZoneId"] == zone_id
    dig.values("www.example.com")
    dig.query("nope.example.com", tcp=True)
    deadline = time.monotonic() + 10
    messages: list[str] = []
    while time.monotonic() < deadline and len(messages) < 2:
        events = logs.filter_log_events(logGroupName="/aws/route53/example.com")["events"]
        messages = [e["message"] for e in events]
        time.sleep(0.05)
    assert [m.split(" ")[2:] for m in messages] == [
        [zone_id, "www.example.com", "A", "NOERROR", "UDP", "LOCAL", "127.0.0.1", "-"],
        [zone_id, "nope.example.com", "A", "NXDOMAIN", "TCP", "LOCAL", "127.0.0.1", "-"]]
    assert all(m.startswith("1.0 ") for m in messages)
    streams = logs.describe_log_streams(logGroupName="/aws/route53/example.com")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [f"{zone_id}/LOCAL"]


def test_a_delegated_subdomain_gets_a_referral(r53: Any, dig: Dig) -> None:
    zone_id = create_zone(r53)
    change(r53, zone_id,
           ("CREATE", {"Name": "sub.example.com", "Type": "NS", "TTL": 3600,
                       "ResourceRecords": [{"Value": "ns1.elsewhere.net"}, {"Value": "ns2.elsewhere.net"}]}),
           ("CREATE", a_record("www.example.com", "192.0.2.1")))
    referral = dig.query("host.deep.sub.example.com")
    assert referral.rcode() == dns.rcode.NOERROR and not referral.answer
    assert not referral.flags & dns.flags.AA
    (ns,) = referral.authority
    assert ns.name.to_text() == "sub.example.com." and ns.ttl == 3600
    assert sorted(rd.to_text() for rd in ns) == ["ns1.elsewhere.net.", "ns2.elsewhere.net."]
    assert dig.values("www.example.com") == ["192.0.2.1"]


def test_route53_answers_through_a_region_drill(r53: Any, dig: Dig, endpoint: str) -> None:
    """Route 53 is global: with us-east-1 down (the region its clients sign for), its API and its DNS answer on."""
    zone_id = create_zone(r53)
    post_json(f"{endpoint}/_conveyor/regions/us-east-1/down")
    try:
        change(r53, zone_id, ("CREATE", a_record("www.example.com", "192.0.2.1")))
        assert dig.values("www.example.com") == ["192.0.2.1"]
    finally:
        post_json(f"{endpoint}/_conveyor/regions/us-east-1/up")
