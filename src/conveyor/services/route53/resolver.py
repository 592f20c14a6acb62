"""What the DNS server answers: the record sets of the most specific hosted zone that holds a name, chosen
by their routing policy and health at the moment of the query, with each record set's TTL.

Routing, as https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy.html describes it:
- simple: the one record set;
- weighted: one set at random in proportion to its weight, among the healthy ones with a weight above 0
  (then the healthy ones of weight 0; when none is healthy, as if all were);
- failover: the primary while it is healthy, else a healthy secondary, else the primary;
- latency: the set in the client's region (Conveyor has one client: `--dns-client-region`), else one in the
  same part of the world, else any healthy one;
- geolocation: the most specific match of the client's location (subdivision, country, continent, then the
  default "*"), skipping unhealthy ones; no match is an empty answer;
- multivalue: up to eight healthy sets' values together (all of them when none is healthy).
Alias records answer their target's records under their own name: Conveyor's own names (load balancers
`*.elb.localhost`, distributions `*.cloudfront.localhost`, S3 website endpoints) resolve to 127.0.0.1, a
record set of one of the account's zones to its own answer. Names of no hosted zone are REFUSED.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from conveyor.ports import LoadBalancerHealth
from conveyor.services.route53.catalog import Catalog, Zone
from conveyor.services.route53.names import in_zone
from conveyor.services.route53.probes import Prober
from conveyor.services.route53.rdata import to_rdata
from conveyor.services.route53.records import policy_of

MAX_CHAIN = 8  # CNAMEs and aliases followed within the account's zones
MULTIVALUE_MAX = 8
ALIAS_TTL = 60  # what Route 53 answers for an alias to a load balancer or a distribution
LOOPBACK_V4 = "127.0.0.1"

# Where a client in each region is, for geolocation routing: (continent, country, subdivision).
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-geo.html
REGION_LOCATIONS = {
    "us-east-1": ("NA", "US", "VA"), "us-east-2": ("NA", "US", "OH"), "us-west-1": ("NA", "US", "CA"),
    "us-west-2": ("NA", "US", "OR"), "ca-central-1": ("NA", "CA", None), "eu-west-1": ("EU", "IE", None),
    "eu-west-2": ("EU", "GB", None), "eu-west-3": ("EU", "FR", None), "eu-central-1": ("EU", "DE", None),
    "eu-north-1": ("EU", "SE", None), "eu-south-1": ("EU", "IT", None), "ap-southeast-1": ("AS", "SG", None),
    "ap-southeast-2": ("OC", "AU", None), "ap-northeast-1": ("AS", "JP", None), "ap-northeast-2": ("AS", "KR", None),
    "ap-northeast-3": ("AS", "JP", None), "ap-south-1": ("AS", "IN", None), "ap-east-1": ("AS", "HK", None),
    "sa-east-1": ("SA", "BR", None), "af-south-1": ("AF", "ZA", None), "me-south-1": ("AS", "BH", None),
}


@dataclass
class Answer:
    rcode: int = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    authoritative: bool = True
    zone_id: str | None = None  # the zone that answered


def is_conveyor_name(name: str) -> bool:
    """A name Conveyor itself serves on its port: load balancers, distributions, website endpoints."""
    bare = name.rstrip(".")
    return bare.endswith(".localhost") or (".s3-website" in f".{bare}" and bare.endswith(".amazonaws.com"))


class Resolver:
    def __init__(self, catalog: Catalog, prober: Prober, load_balancers: Callable[[], LoadBalancerHealth | None],
                 client_region: str, rng: random.Random | None = None) -> None:
        self.catalog = catalog
        self.prober = prober
        self.load_balancers = load_balancers
        self.client_region = client_region
        self.rng = rng or random.Random()

    def zone_for(self, name: str) -> Zone | None:
        """The most specific zone that holds the name; a private zone over a public one of the same name
        (the server answers as a resolver inside the zones' VPCs)."""
        candidate = name
        while True:
            zones = self.catalog.zones_named(candidate)
            if zones:
                return next((z for z in zones if z.private), zones[0])
            if candidate in (".", "") or "." not in candidate.rstrip("."):
                return None
            candidate = candidate.split(".", 1)[1]

    def resolve(self, qname: str, qtype: str) -> Answer:
        name = qname.lower()
        zone = self.zone_for(name)
        if zone is None:
            return Answer(rcode=dns.rcode.REFUSED, authoritative=False)
        result = Answer(zone_id=zone.id)
        owner = name
        for _ in range(MAX_CHAIN):
            cut = self._delegation(zone, owner)
            if cut is not None:  # a subdomain delegated to other name servers: a referral to them
                result.authority.extend(self._rrsets(cut[0]["Name"], "NS", cut[:1]))
                result.authoritative = bool(result.answer)
                return result
            sets, exists = self._sets_at(zone, owner)
            cname = [r for r in sets if r["Type"] == "CNAME"]
            if cname and qtype != "CNAME":
                chosen = self._choose(cname)
                result.answer.extend(self._rrsets(owner, "CNAME", chosen))
                target = str(chosen[0]["ResourceRecords"][0]["Value"]).lower() if chosen and "ResourceRecords" in \
                    chosen[0] else None
                if target is None:
                    return result
                target = target if target.endswith(".") else target + "."
                next_zone = self.zone_for(target)
                if next_zone is None:
                    return result  # outside the account's zones: the client's resolver follows it
                zone, owner = next_zone, target
                continue
            matching = [r for r in sets if r["Type"] == qtype or qtype == "ANY"]
            for kind in sorted({r["Type"] for r in matching}):
                result.answer.extend(self._rrsets(owner, kind, self._choose([r for r in matching if r["Type"] == kind])))
            if not result.answer:
                if not exists:
                    result.rcode = dns.rcode.NXDOMAIN
                result.authority.extend(self._soa(zone))
            return result
        return result

    # -- records at a name -----------------------------------------------------------------------------
    def _delegation(self, zone: Zone, name: str) -> list[dict[str, Any]] | None:
        """The NS record set of the delegation point at or above `name` and below the apex, if any: the zone
        is not authoritative below it (RFC 1034 4.3.2)."""
        if name == zone.name:
            return None
        by_name = zone.by_name()
        labels = name[: -len(zone.name) - 1].split(".")
        for cut in range(len(labels) - 1, -1, -1):
            candidate = ".".join(labels[cut:]) + "." + zone.name
            ns = [r for r in by_name.get(candidate, []) if r["Type"] == "NS"]
            if ns:
                return ns
        return None

    def _sets_at(self, zone: Zone, name: str) -> tuple[list[dict[str, Any]], bool]:
        """The record sets answering for `name` (its own, else the closest wildcard's), and whether the
        name exists (it or a name below it has records)."""
        by_name = zone.by_name()
        own = by_name.get(name)
        if own:
            return own, True
        if zone.has_descendants(name):
            return [], True  # an empty non-terminal: NOERROR without records
        labels = name.split(".")
        for cut in range(1, len(labels)):
            parent = ".".join(labels[cut:])
            if not in_zone(parent, zone.name) and parent != zone.name:
                break
            wildcard = by_name.get("*." + parent)
            if wildcard:
                return wildcard, True
            if parent == zone.name:
                break
        return [], False

    # -- routing ---------------------------------------------------------------------------------------
    def healthy(self, rrset: dict[str, Any], depth: int = 0) -> bool:
        check_id = rrset.get("HealthCheckId")
        if check_id and not self.prober.healthy(str(check_id)):
            return False
        alias = rrset.get("AliasTarget")
        if alias is not None and alias.get("EvaluateTargetHealth"):
            return self._target_healthy(alias, rrset["Type"], depth)
        return True

    def _target_healthy(self, alias: dict[str, Any], kind: str, depth: int) -> bool:
        target = str(alias["DNSName"])
        zone = self.catalog.zones.get(str(alias["HostedZoneId"]))
        if zone is not None and depth < MAX_CHAIN:
            sets, _ = self._sets_at(zone, target)
            return any(self.healthy(r, depth + 1) for r in sets if r["Type"] == kind)
        bare = target.rstrip(".")
        if bare.endswith(".elb.localhost"):
            provider = self.load_balancers()
            name = bare.removeprefix("dualstack.")
            return bool(provider.any_healthy(name)) if provider is not None else False
        return True  # distributions and website endpoints: Route 53 does not evaluate their health

    def _choose(self, group: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The record sets of one name and type that answer this query."""
        if not group:
            return []
        policy = policy_of(group[0])
        if policy == "simple":
            return group[:1]
        healthy = [r for r in group if self.healthy(r)]
        if policy == "weighted":
            return self._weighted(group, healthy)
        if policy == "failover":
            primary = next((r for r in group if r.get("Failover") == "PRIMARY"), None)
            secondary = next((r for r in group if r.get("Failover") == "SECONDARY"), None)
            if primary is not None and primary in healthy:
                return [primary]
            if secondary is not None and secondary in healthy:
                return [secondary]
            fallback = primary or secondary
            return [fallback] if fallback is not None else []
        if policy == "latency":
            return self._latency(healthy or group)
        if policy == "geolocation":
            return self._geolocation(group, healthy)
        if policy == "multivalue":
            chosen = healthy or group
            return self.rng.sample(chosen, min(MULTIVALUE_MAX, len(chosen)))
        return group[:1]

    def _weighted(self, group: list[dict[str, Any]], healthy: list[dict[str, Any]]) -> list[dict[str, Any]]:
        weighted = [r for r in healthy if int(r.get("Weight") or 0) > 0]
        if not weighted:
            zero = [r for r in healthy if int(r.get("Weight") or 0) == 0]
            if zero:
                return [self.rng.choice(zero)]
            weighted = [r for r in group if int(r.get("Weight") or 0) > 0] or group  # none healthy: as if all were
        weights = [int(r.get("Weight") or 0) for r in weighted]
        if sum(weights) == 0:
            return [self.rng.choice(weighted)]
        return self.rng.choices(weighted, weights=weights, k=1)

    def _latency(self, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for r in candidates:
            if r.get("Region") == self.client_region:
                return [r]
        area = self.client_region.split("-", 1)[0]
        for r in candidates:
            if str(r.get("Region", "")).split("-", 1)[0] == area:
                return [r]
        return candidates[:1]

    def _geolocation(self, group: list[dict[str, Any]], healthy: list[dict[str, Any]]) -> list[dict[str, Any]]:
        continent, country, subdivision = REGION_LOCATIONS.get(self.client_region, (None, None, None))

        def matches(rrset: dict[str, Any], rank: int) -> bool:
            where = rrset.get("GeoLocation") or {}
            if rank == 0:
                return bool(subdivision) and where.get("CountryCode") == country and \
                    where.get("SubdivisionCode") == subdivision
            if rank == 1:
                return where.get("CountryCode") == country and not where.get("SubdivisionCode")
            if rank == 2:
                return where.get("ContinentCode") == continent and not where.get("CountryCode")
            return where.get("CountryCode") == "*"

        for rank in range(4):
            for rrset in group:
                if matches(rrset, rank) and rrset in healthy:
                    return [rrset]
        for rank in range(4):  # every match is unhealthy: answer the most specific all the same
            for rrset in group:
                if matches(rrset, rank):
                    return [rrset]
        return []

    # -- answers -----------------------------------------------------------------------------------------
    def _rrsets(self, owner: str, kind: str, chosen: list[dict[str, Any]], depth: int = 0) -> list[dns.rrset.RRset]:
        rdtype = dns.rdatatype.from_text(kind)
        ttl: int | None = None
        rdatas: list[dns.rdata.Rdata] = []
        for rrset in chosen:
            alias = rrset.get("AliasTarget")
            if alias is not None:
                alias_ttl, alias_rdatas = self._alias(alias, kind, depth)
                ttl = alias_ttl if ttl is None else min(ttl, alias_ttl)
                rdatas.extend(alias_rdatas)
                continue
            ttl = int(rrset["TTL"]) if ttl is None else min(ttl, int(rrset["TTL"]))
            rdatas.extend(to_rdata(kind, str(r["Value"])) for r in rrset["ResourceRecords"])
        if not rdatas:
            return []
        answer = dns.rrset.RRset(dns.name.from_text(owner), dns.rdataclass.IN, rdtype)
        answer.update_ttl(ttl or 0)
        for rd in rdatas:
            answer.add(rd)
        return [answer]

    def _alias(self, alias: dict[str, Any], kind: str, depth: int) -> tuple[int, list[dns.rdata.Rdata]]:
        target = str(alias["DNSName"])
        zone = self.catalog.zones.get(str(alias["HostedZoneId"]))
        if zone is not None and depth < MAX_CHAIN:
            sets, _ = self._sets_at(zone, target)
            found = self._rrsets(target, kind, self._choose([r for r in sets if r["Type"] == kind]), depth + 1)
            if found:
                return int(found[0].ttl), list(found[0])
            return ALIAS_TTL, []
        if is_conveyor_name(target) and kind == "A":
            return ALIAS_TTL, [to_rdata("A", LOOPBACK_V4)]
        return ALIAS_TTL, []

    def _soa(self, zone: Zone) -> list[dns.rrset.RRset]:
        """The zone's SOA for a negative answer, with the TTL RFC 2308 gives it: the lower of its own TTL and
        its minimum field."""
        soa = zone.by_name().get(zone.name, [])
        found = [r for r in soa if r["Type"] == "SOA"]
        if not found:
            return []
        rrsets = self._rrsets(zone.name, "SOA", found[:1])
        for rrset in rrsets:
            minimum = min(int(getattr(rd, "minimum", rrset.ttl)) for rd in rrset)
            rrset.update_ttl(min(int(rrset.ttl), minimum))
        return rrsets
