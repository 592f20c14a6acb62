"""Route 53 fixtures: a client, a zone, and a DNS client for the server's DNS port."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest


@pytest.fixture
def r53(client: Callable[..., Any]) -> Any:
    return client("route53")


def create_zone(r53: Any, name: str = "example.com", **kwargs: Any) -> str:
    """A new hosted zone's bare id."""
    zone = r53.create_hosted_zone(Name=name, CallerReference=str(uuid.uuid4()), **kwargs)
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def change(r53: Any, zone_id: str, *changes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    batch = {"Changes": [{"Action": action, "ResourceRecordSet": rrset} for action, rrset in changes]}
    result: dict[str, Any] = r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)
    return result


def query_logging_policy(logs: Any, resource: str = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/route53/*",
                         name: str = "route53-query-logging", **condition: Any) -> None:
    """The CloudWatch Logs resource policy (in us-east-1) a user puts before creating a query logging
    configuration, as API_CreateQueryLoggingConfig.html shows it."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": "route53.amazonaws.com"},
                                 "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": resource}
    if condition:
        statement["Condition"] = condition
    logs.put_resource_policy(policyName=name, policyDocument=json.dumps({"Version": "2012-10-17",
                                                                         "Statement": [statement]}))


def a_record(name: str, *values: str, ttl: int = 300, **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values], **extra}


def dns_port(endpoint: str) -> int:
    with urllib.request.urlopen(f"{endpoint}/_conveyor/route53", timeout=10) as response:
        port = json.load(response)["dns_port"]
    assert isinstance(port, int)
    return port


class Dig:
    """Queries to the server's DNS port, over UDP (or TCP), as dig sends them."""

    def __init__(self, port: int) -> None:
        self.port = port

    def query(self, name: str, kind: str = "A", tcp: bool = False) -> dns.message.Message:
        message = dns.message.make_query(name, kind)
        if tcp:
            return dns.query.tcp(message, "127.0.0.1", port=self.port, timeout=5)
        return dns.query.udp(message, "127.0.0.1", port=self.port, timeout=5)

    def values(self, name: str, kind: str = "A") -> list[str]:
        response = self.query(name, kind)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())
        return sorted(rd.to_text() for rrset in response.answer if rrset.rdtype == dns.rdatatype.from_text(kind)
                      for rd in rrset)


@pytest.fixture
def dig(endpoint: str) -> Dig:
    return Dig(dns_port(endpoint))
