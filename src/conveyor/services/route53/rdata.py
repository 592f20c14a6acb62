"""Record values: which types Route 53 serves, and whether a value is one it accepts.

Values are parsed with dnspython, as the DNS server will serve them; Route 53's own rules come on top
(TXT and SPF strings in quotation marks, one value for CNAME and SOA), with Route 53's wording:
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/ResourceRecordTypes.html
"""

from __future__ import annotations

import functools
import ipaddress

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

# The record types of ResourceRecordSet.Type that Conveyor serves.
SERVED_TYPES = ("A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV",
                "SSHFP", "SVCB", "TLSA", "TXT")
_SINGLE_VALUE = ("CNAME", "SOA")
_QUOTED = ("TXT", "SPF")


def _fatal(problem: str, reason: str, value: str) -> str:
    return f"Invalid Resource Record: 'FATAL problem: {problem} ({reason}) encountered with '{value}''"


def problems(name: str, record_type: str, values: list[str]) -> list[str]:
    """What is wrong with the values of one record set, in Route 53's words (empty: nothing)."""
    found: list[str] = []
    if record_type in _SINGLE_VALUE and len(values) > 1:
        found.append(f"RRSet of type {record_type} with DNS name {name} contains more than one value")
    for value in values:
        reason = _problem(record_type, value)
        if reason is not None:
            found.append(reason)
    return found


def _problem(record_type: str, value: str) -> str | None:
    if record_type == "A":
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return _fatal("ARRDATAIllegalIPv4Address", "Value is not a valid IPv4 address", value)
        return None
    if record_type == "AAAA":
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            return _fatal("AAAARRDATAIllegalIPv6Address", "Value is not a valid IPv6 address", value)
        return None
    if record_type in _QUOTED and not (len(value) >= 2 and value.startswith('"') and value.endswith('"')):
        return _fatal("InvalidCharacterString", "Value should be enclosed in quotation marks", value)
    if record_type in ("CNAME", "NS", "PTR") and " " in value.strip():
        return _fatal("RRDATANotSingleField", "Value contains spaces", value)
    try:
        to_rdata(record_type, value)
    except (dns.exception.DNSException, ValueError) as exc:
        return _fatal("InvalidRecordValue", str(exc) or "Value is not valid", value)
    return None


@functools.lru_cache(maxsize=65536)
def to_rdata(record_type: str, value: str) -> dns.rdata.Rdata:
    """The value as the DNS server answers it (relative names are taken as fully qualified, as Route 53
    takes them). Rdata objects are immutable, so each value is parsed once, not at every query."""
    rdtype = dns.rdatatype.from_text(record_type)
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=dns.name.root, relativize=False)
