"""Record sets: ChangeResourceRecordSets (CREATE, DELETE, UPSERT; all of a batch or none of it, with
Route 53's InvalidChangeBatch messages) and ListResourceRecordSets (its ordering and pagination).

https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html
https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListResourceRecordSets.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.services.route53 import errors, rdata
from conveyor.services.route53.catalog import Catalog, Zone, record_key
from conveyor.services.route53.changes import record_change
from conveyor.services.route53.names import display, in_zone, normalize, reversed_labels
from conveyor.services.route53.store import Batch, RecordKey
from conveyor.services.route53.zones import bare_id, max_items
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import (
        ChangeResourceRecordSetsRequestTypeDef,
        ListResourceRecordSetsRequestTypeDef,
    )

# The routing policy a record set has is named by which of these it carries (and its SetIdentifier).
POLICIES = {"Weight": "weighted", "Region": "latency", "Failover": "failover", "GeoLocation": "geolocation",
            "MultiValueAnswer": "multivalue", "GeoProximityLocation": "geoproximity", "CidrRoutingConfig": "cidr"}
_UNSERVED_POLICIES = ("GeoProximityLocation", "CidrRoutingConfig")
_FIELDS = ("Name", "Type", "SetIdentifier", "Weight", "Region", "GeoLocation", "Failover", "MultiValueAnswer", "TTL",
           "ResourceRecords", "AliasTarget", "HealthCheckId")
LIST_PAGE = 300
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests-changeresourcerecordsets
MAX_BATCH_VALUES = 1000  # ResourceRecord elements in one request (an UPSERT counts twice)
MAX_BATCH_CHARACTERS = 32000  # characters of values in one request (an UPSERT counts twice)
_UNSUPPORTED = frozenset(" \t\r\n")


def unsupported_character(name: str) -> str | None:
    """Route 53's message for a name with white space that no backslash escapes ("a b", not "a\\ b")."""
    found = next((ch for i, ch in enumerate(name) if ch in _UNSUPPORTED and (i == 0 or name[i - 1] != "\\")), None)
    if found is None:
        return None
    return f"FATAL problem: UnsupportedCharacter (Value contains unsupported characters) encountered with '{found}'"


def policy_of(rrset: dict[str, Any]) -> str:
    """"simple", or the routing policy the set's fields name."""
    for field, policy in POLICIES.items():
        if rrset.get(field) is not None:
            return policy
    return "simple"


def _described(action: str, rrset: dict[str, Any], given_name: str) -> str:
    """How Route 53 names a change in its messages: by the name as the request gave it."""
    set_id = rrset.get("SetIdentifier")
    return (f"Change with [Action={action}, Name={given_name}, Type={rrset['Type']}, "
            f"SetIdentifier={set_id if set_id is not None else 'null'}]")


def _named(rrset: dict[str, Any]) -> str:
    text = f"[name='{rrset['Name']}', type='{rrset['Type']}'"
    if rrset.get("SetIdentifier") is not None:
        text += f", set-identifier='{rrset['SetIdentifier']}'"
    return text + "]"


def stored_form(given: dict[str, Any]) -> dict[str, Any]:
    """The record set as Route 53 keeps it: names fully qualified and in lower case."""
    rrset = {field: given[field] for field in _FIELDS if given.get(field) is not None}
    rrset["Name"] = normalize(str(given["Name"]))
    alias = rrset.get("AliasTarget")
    if alias is not None:
        rrset["AliasTarget"] = {"HostedZoneId": bare_id(str(alias["HostedZoneId"])),
                                "DNSName": normalize(str(alias["DNSName"])),
                                "EvaluateTargetHealth": bool(alias.get("EvaluateTargetHealth"))}
    if "ResourceRecords" in rrset:
        rrset["ResourceRecords"] = [{"Value": str(r["Value"])} for r in rrset["ResourceRecords"]]
    if "GeoLocation" in rrset:
        rrset["GeoLocation"] = dict(rrset["GeoLocation"])
    return rrset


def record_view(rrset: dict[str, Any]) -> dict[str, Any]:
    view = dict(rrset)
    view["Name"] = display(rrset["Name"])
    if "AliasTarget" in view:
        view["AliasTarget"] = {**view["AliasTarget"], "DNSName": display(view["AliasTarget"]["DNSName"])}
    return view


def sort_key(rrset: dict[str, Any]) -> tuple[tuple[str, ...], str, str]:
    return reversed_labels(rrset["Name"]), rrset["Type"], str(rrset.get("SetIdentifier") or "")


class RecordOperations:
    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self.catalog = catalog
        self.clock = clock

    def _zone(self, zone_id: str) -> Zone:
        found = self.catalog.zones.get(bare_id(zone_id))
        if found is None:
            raise errors.no_such_hosted_zone(bare_id(zone_id))
        return found

    async def ChangeResourceRecordSets(self, ctx: RequestContext,
                                       params: ChangeResourceRecordSetsRequestTypeDef) -> dict[str, Any]:
        batch_params = params["ChangeBatch"]
        async with self.catalog.mutex:
            zone = self._zone(params["HostedZoneId"])
            self._check_size(batch_params["Changes"])
            working = dict(zone.records)
            messages: list[str] = []
            touched: set[str] = set()
            for change in batch_params["Changes"]:
                action = change["Action"]
                given_name = str(change["ResourceRecordSet"]["Name"])
                unsupported = unsupported_character(given_name)
                if unsupported is not None:
                    raise errors.fault("InvalidChangeBatch", unsupported)
                rrset = stored_form(dict(change["ResourceRecordSet"]))
                self._check_shape(action, rrset, given_name)
                touched.add(rrset["Name"])
                messages.extend(self._apply(zone, working, action, rrset))
            if not messages:
                messages.extend(self._check_zone(zone, working, touched))
            if messages:
                raise errors.invalid_change_batch(messages)
            batch = Batch()
            for key, rrset in working.items():
                if zone.records.get(key) != rrset:
                    batch.records_written.append((key, rrset))
            batch.records_removed.extend(key for key in zone.records if key not in working)
            change_info = record_change(batch, self.clock.now(), batch_params.get("Comment"))
            await self.catalog.commit(batch)
        return {"ChangeInfo": change_info}

    @staticmethod
    def _check_size(changes: Any) -> None:
        values = characters = 0
        for change in changes:
            weight = 2 if change["Action"] == "UPSERT" else 1
            records = change["ResourceRecordSet"].get("ResourceRecords") or []
            values += weight * len(records)
            characters += weight * sum(len(str(r.get("Value", ""))) for r in records)
        if values > MAX_BATCH_VALUES:
            raise errors.fault("InvalidChangeBatch", f"Number of records limit of {MAX_BATCH_VALUES} exceeded.")
        if characters > MAX_BATCH_CHARACTERS:
            raise errors.fault("InvalidChangeBatch", f"Number of characters limit of {MAX_BATCH_CHARACTERS} "
                               "exceeded.")

    def _check_shape(self, action: str, rrset: dict[str, Any], given_name: str) -> None:
        """The rules on one change's own fields; Route 53 answers these with InvalidInput."""
        described = _described(action, rrset, given_name)
        alias = rrset.get("AliasTarget") is not None
        plain = rrset.get("TTL") is not None or rrset.get("ResourceRecords") is not None
        expected = "Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId]"
        if alias and plain:
            raise errors.invalid_input(f"Invalid request: {expected}, but found more than one in {described}")
        if not alias and (rrset.get("TTL") is None or not rrset.get("ResourceRecords")):
            raise errors.invalid_input(f"Invalid request: {expected}, but found none in {described}")
        policies = [field for field in POLICIES if rrset.get(field) is not None]
        if policies and rrset.get("SetIdentifier") is None:
            raise errors.invalid_input(f"Invalid request: Missing field 'SetIdentifier' in {described}")
        named = "[Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig]"
        if rrset.get("SetIdentifier") is not None and not policies:
            raise errors.invalid_input(f"Invalid request: Expected exactly one of {named}, but found none in {described}")
        if len(policies) > 1:
            raise errors.invalid_input(f"Invalid request: Expected exactly one of {named}, but found more than one "
                                       f"in {described}")
        if policies and policies[0] in _UNSERVED_POLICIES:
            raise errors.invalid_input(f"Conveyor does not serve {policies[0]} routing: {described}")
        if alias and rrset.get("MultiValueAnswer") is not None:
            raise errors.invalid_input(f"Invalid request: MultiValueAnswer is not supported for alias records in "
                                       f"{described}")
        check_id = rrset.get("HealthCheckId")
        if check_id is not None and check_id not in self.catalog.health_checks:
            raise errors.no_such_health_check(str(check_id))

    def _apply(self, zone: Zone, working: dict[RecordKey, dict[str, Any]], action: str,
               rrset: dict[str, Any]) -> list[str]:
        name = rrset["Name"]
        if not in_zone(name, zone.name):
            return [f"RRSet with DNS name {display(name)} is not permitted in zone {display(zone.name)}"]
        key = record_key(zone.id, rrset)
        current = working.get(key)
        if action == "DELETE":
            if current is None:
                return [f"Tried to delete resource record set {_named(rrset)} but it was not found"]
            if current != rrset:
                return [f"Tried to delete resource record set {_named(rrset)} but the values provided do not "
                        "match the current values"]
            del working[key]
            return []
        if action == "CREATE" and current is not None:
            return [f"Tried to create resource record set {_named(rrset)} but it already exists"]
        found = rdata.problems(name, rrset["Type"], [r["Value"] for r in rrset.get("ResourceRecords", [])])
        found.extend(self._alias_problems(rrset, zone, working))
        if not found:
            working[key] = rrset
        return found

    def _alias_problems(self, rrset: dict[str, Any], zone: Zone, working: dict[RecordKey, dict[str, Any]]) -> list[str]:
        """An alias to a record set of one of the account's zones needs that record set to exist (in this
        zone, as the batch has left it so far)."""
        alias = rrset.get("AliasTarget")
        if alias is None:
            return []
        target_zone = self.catalog.zones.get(alias["HostedZoneId"])
        if target_zone is None:
            return []  # a load balancer, a distribution or a website bucket: their zones are AWS's
        target, kind = alias["DNSName"], rrset["Type"]
        described = f"Tried to create an alias that targets {display(target)}, type {kind} in zone {target_zone.id}"
        if not in_zone(target, target_zone.name):
            return [f"{described}, but the alias target name does not lie within the target zone"]
        records = working if target_zone.id == zone.id else target_zone.records
        if not any(k[1] == target and k[2] == kind for k in records):
            return [f"{described}, but that target was not found"]
        return []

    def _check_zone(self, zone: Zone, working: dict[RecordKey, dict[str, Any]], touched: set[str]) -> list[str]:
        """What the batch's result must satisfy at the names it touched."""
        found: list[str] = []
        by_name: dict[str, list[dict[str, Any]]] = {}
        for rrset in working.values():
            if rrset["Name"] in touched:
                by_name.setdefault(rrset["Name"], []).append(rrset)
        shown_zone = display(zone.name)
        if zone.name in touched:
            apex_types = [r["Type"] for r in by_name.get(zone.name, [])]
            if apex_types.count("SOA") != 1:
                found.append("A HostedZone must contain exactly one SOA record.")
            if "NS" not in apex_types:
                found.append("A HostedZone must contain at least one NS record for the zone itself.")
        for name, sets in sorted(by_name.items()):
            shown = display(name)
            types = {r["Type"] for r in sets}
            if "CNAME" in types and name == zone.name:
                found.append(f"RRSet of type CNAME with DNS name {shown} is not permitted at apex in zone {shown_zone}")
            elif "CNAME" in types and len(types) > 1:
                found.append(f"RRSet of type CNAME with DNS name {shown} is not permitted as it conflicts with other "
                             f"records with the same DNS name in zone {shown_zone}")
            for kind in sorted(types):
                same = [r for r in sets if r["Type"] == kind]
                policies = {policy_of(r) for r in same}
                if len(policies) > 1:
                    routed = next(r for r in same if policy_of(r) != "simple") if "simple" in policies else same[0]
                    other = sorted(policies - {policy_of(routed)})[0]
                    found.append(f"RRSet with DNS name {shown}, type {kind}, SetIdentifier "
                                 f"{routed.get('SetIdentifier')} cannot be created as a non-{policy_of(routed)} set "
                                 f"exists with the same name and type." if other == "simple" else
                                 f"RRSet with DNS name {shown}, type {kind} cannot have both {policy_of(routed)} and "
                                 f"{other} record sets.")
                failovers = [str(r["Failover"]) for r in same if r.get("Failover") is not None]
                if len(failovers) != len(set(failovers)):
                    found.append(f"RRSet with DNS name {shown}, type {kind} has more than one "
                                 f"{sorted(failovers)[0]} failover record set.")
        return found

    async def ListResourceRecordSets(self, ctx: RequestContext,
                                     params: ListResourceRecordSetsRequestTypeDef) -> dict[str, Any]:
        zone = self._zone(params["HostedZoneId"])
        limit = min(max_items(params.get("MaxItems"), LIST_PAGE), LIST_PAGE)
        start_name = params.get("StartRecordName")
        start_type = params.get("StartRecordType")
        start_id = params.get("StartRecordIdentifier")
        if (start_type and not start_name) or (start_id and not start_type):
            raise errors.invalid_input("The input is not valid")
        unsupported = unsupported_character(start_name or "")
        if unsupported is not None:
            raise errors.invalid_input(unsupported)
        records = sorted(zone.records.values(), key=sort_key)
        if start_name:
            start = (reversed_labels(normalize(start_name)), start_type or "", start_id or "")
            records = [r for r in records if sort_key(r) >= start]
        page = records[:limit]
        result: dict[str, Any] = {"ResourceRecordSets": [record_view(r) for r in page],
                                  "IsTruncated": len(records) > limit, "MaxItems": str(limit)}
        if len(records) > limit:
            following = records[limit]
            result["NextRecordName"] = display(following["Name"])
            result["NextRecordType"] = following["Type"]
            if following.get("SetIdentifier") is not None:
                result["NextRecordIdentifier"] = following["SetIdentifier"]
        return result
