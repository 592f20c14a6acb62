"""Hosted zones: public and private (with their VPCs), caller references, the NS and SOA records Route 53
creates at the apex, delegation sets (reusable ones too), listings and counts.

https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/SOA-NSrecords.html
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.ports import Vpcs
from conveyor.services.route53 import errors
from conveyor.services.route53.catalog import Catalog, Zone, new_id, record_key
from conveyor.services.route53.changes import record_change
from conveyor.services.route53.names import check_domain, display, in_zone, normalize, reversed_labels
from conveyor.services.route53.store import Batch
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import (
        AssociateVPCWithHostedZoneRequestTypeDef,
        CreateHostedZoneRequestTypeDef,
        CreateReusableDelegationSetRequestTypeDef,
        DeleteHostedZoneRequestTypeDef,
        DeleteReusableDelegationSetRequestTypeDef,
        DisassociateVPCFromHostedZoneRequestTypeDef,
        GetDNSSECRequestTypeDef,
        GetHostedZoneLimitRequestTypeDef,
        GetHostedZoneRequestTypeDef,
        GetReusableDelegationSetRequestTypeDef,
        ListHostedZonesByNameRequestTypeDef,
        ListHostedZonesByVPCRequestTypeDef,
        ListHostedZonesRequestTypeDef,
        ListReusableDelegationSetsRequestTypeDef,
        UpdateHostedZoneCommentRequestTypeDef,
    )

ENDPOINT = "https://route53.amazonaws.com/2013-04-01"
# The apex records Route 53 creates with a zone, with their TTLs and the SOA's timers.
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/SOA-NSrecords.html
NS_TTL = 172800
SOA_TTL = 900
SOA_TAIL = "awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
# A private zone's name servers are the same for every zone: it is answered inside the VPC only.
PRIVATE_NAME_SERVERS = ["ns-0.awsdns-00.com.", "ns-512.awsdns-00.net.", "ns-1024.awsdns-00.org.",
                        "ns-1536.awsdns-00.co.uk."]
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html
LIMITS = {"MAX_RRSETS_BY_ZONE": 10000, "MAX_VPCS_ASSOCIATED_BY_ZONE": 300}
DEFAULT_PAGE = 100


def bare_id(value: str) -> str:
    """An id as a request may give it: "Z123" or "/hostedzone/Z123"."""
    return value.rsplit("/", 1)[-1]


def max_items(value: str | None, default: int = DEFAULT_PAGE) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise errors.invalid_input(f"Invalid value for MaxItems: {value}")
    if number < 1:
        raise errors.invalid_input("MaxItems must be a positive number.")
    return number


def new_name_servers() -> list[str]:
    """Four name servers in the pattern Route 53 assigns: one each under .com, .net, .org and .co.uk."""
    base = secrets.randbelow(512)
    stripe = secrets.randbelow(64)
    return [f"ns-{base}.awsdns-{stripe:02d}.com.", f"ns-{512 + base}.awsdns-{stripe:02d}.net.",
            f"ns-{1024 + base}.awsdns-{stripe:02d}.org.", f"ns-{1536 + base}.awsdns-{stripe:02d}.co.uk."]


def zone_view(zone: Zone) -> dict[str, Any]:
    doc = zone.doc
    config: dict[str, Any] = {"PrivateZone": zone.private}
    if doc.get("Comment") is not None:
        config["Comment"] = doc["Comment"]
    return {"Id": f"/hostedzone/{zone.id}", "Name": display(zone.name), "CallerReference": doc["CallerReference"],
            "Config": config, "ResourceRecordSetCount": len(zone.records)}


def delegation_view(catalog: Catalog, zone: Zone) -> dict[str, Any]:
    view: dict[str, Any] = {"NameServers": [ns.rstrip(".") for ns in zone.doc["NameServers"]]}
    set_id = zone.doc.get("DelegationSetId")
    if set_id and set_id in catalog.delegation_sets:
        view["Id"] = f"/delegationset/{set_id}"
        view["CallerReference"] = catalog.delegation_sets[set_id]["CallerReference"]
    return view


def _delegation_set_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"Id": f"/delegationset/{doc['Id']}", "CallerReference": doc["CallerReference"],
            "NameServers": [ns.rstrip(".") for ns in doc["NameServers"]]}


def same_vpc(given: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """Whether a request's VPC names a stored association: by its id, and by its region when it gives one
    (VPCRegion is optional in the VPC type; a VPC id is unique across regions).
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_VPC.html"""
    return given.get("VPCId") == stored.get("VPCId") and given.get("VPCRegion") in (None, stored.get("VPCRegion"))


class ZoneOperations:
    def __init__(self, catalog: Catalog, clock: Clock, account_id: str,
                 vpcs: Callable[[], Vpcs | None] = lambda: None) -> None:
        self.catalog = catalog
        self.clock = clock
        self.account_id = account_id
        self.vpcs = vpcs

    def _check_vpc_exists(self, vpc: Mapping[str, Any]) -> None:
        """A private zone's VPC must be one of the account's (EC2's, when EC2 runs in this build).
        https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html#API_CreateHostedZone_Errors"""
        ec2 = self.vpcs()
        region, vpc_id = vpc.get("VPCRegion"), vpc.get("VPCId")
        if ec2 is None or not region or not vpc_id:
            return
        if not ec2.vpc_exists(str(region), str(vpc_id)):
            raise errors.fault("InvalidVPCId", "The VPC ID that you specified either isn't a valid ID or the current "
                               "account is not authorized to access this VPC.")

    def _check_vpc_name_free(self, name: str, vpc: Mapping[str, Any], own_id: str | None = None) -> None:
        """One VPC cannot see two private zones of the same name.
        https://docs.aws.amazon.com/Route53/latest/APIReference/API_AssociateVPCWithHostedZone.html#API_AssociateVPCWithHostedZone_Errors"""
        for zone in self.catalog.zones.values():
            if zone.id != own_id and zone.private and zone.name == name and any(
                    same_vpc(vpc, stored) for stored in zone.doc["VPCs"]):
                raise errors.fault("ConflictingDomainExists", f"The VPC {vpc.get('VPCId')} is already associated "
                                   f"with the hosted zone {zone.id} with the same domain name.")

    def zone(self, zone_id: str) -> Zone:
        found = self.catalog.zones.get(bare_id(zone_id))
        if found is None:
            raise errors.no_such_hosted_zone(bare_id(zone_id))
        return found

    # -- hosted zones ----------------------------------------------------------------------------------
    async def CreateHostedZone(self, ctx: RequestContext, params: CreateHostedZoneRequestTypeDef) -> dict[str, Any]:
        name = normalize(params["Name"])
        check_domain(name)
        reference = params["CallerReference"]
        config = params.get("HostedZoneConfig") or {}
        vpc = params.get("VPC")
        private = vpc is not None or bool(config.get("PrivateZone"))
        if private and (vpc is None or not vpc.get("VPCId") or not vpc.get("VPCRegion")):
            raise errors.invalid_input("When you're creating a private hosted zone (when you specify true for "
                                       "PrivateZone), you must also specify values for VPCId and VPCRegion.")
        if vpc is not None:
            self._check_vpc_exists(vpc)
        async with self.catalog.mutex:
            # A caller reference is spent once a zone is made with it, also after that zone is deleted.
            # https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html#Route53-CreateHostedZone-request-CallerReference
            if reference in self.catalog.spent_references or any(
                    z.doc["CallerReference"] == reference for z in self.catalog.zones.values()):
                raise errors.fault("HostedZoneAlreadyExists", "A hosted zone has already been created with the "
                                   "specified caller reference.")
            if vpc is not None:
                self._check_vpc_name_free(name, vpc)
            set_id = params.get("DelegationSetId")
            if set_id:
                set_id = bare_id(set_id)
                if private:
                    raise errors.invalid_input("A private hosted zone cannot use a reusable delegation set.")
                if set_id not in self.catalog.delegation_sets:
                    raise errors.no_such_delegation_set(set_id)
                self._check_no_conflict(name, set_id)
                name_servers = list(self.catalog.delegation_sets[set_id]["NameServers"])
            else:
                name_servers = PRIVATE_NAME_SERVERS if private else new_name_servers()
            zone_id = new_id("Z")
            doc: dict[str, Any] = {"Id": zone_id, "Name": name, "CallerReference": reference,
                                   "Comment": config.get("Comment"), "Private": private,
                                   "VPCs": [dict(vpc)] if vpc is not None else [], "DelegationSetId": set_id or None,
                                   "NameServers": name_servers, "Created": self.clock.now()}
            batch = Batch().write("zone", zone_id, doc)
            for rrset in (
                {"Name": name, "Type": "NS", "TTL": NS_TTL, "ResourceRecords": [{"Value": ns} for ns in name_servers]},
                {"Name": name, "Type": "SOA", "TTL": SOA_TTL,
                 "ResourceRecords": [{"Value": f"{name_servers[0]} {SOA_TAIL}"}]},
            ):
                batch.records_written.append((record_key(zone_id, rrset), rrset))
            change = record_change(batch, self.clock.now())
            await self.catalog.commit(batch)
        zone = self.catalog.zones[zone_id]
        result: dict[str, Any] = {"HostedZone": zone_view(zone), "ChangeInfo": change,
                                  "Location": f"{ENDPOINT}/hostedzone/{zone_id}"}
        if private:
            result["VPC"] = doc["VPCs"][0]
        else:
            result["DelegationSet"] = delegation_view(self.catalog, zone)
        return result

    def _check_no_conflict(self, name: str, set_id: str) -> None:
        """Zones of one name, or a parent and its child, cannot share name servers.
        https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html#API_CreateHostedZone_Errors"""
        for zone in self.catalog.zones.values():
            if zone.doc.get("DelegationSetId") == set_id and (in_zone(name, zone.name) or in_zone(zone.name, name)):
                raise errors.fault("ConflictingDomainExists", f"Cannot create hosted zone with DelegationSetId "
                                   f"{set_id} as the DNSName {display(name)} conflicts with existing ones sharing "
                                   "the delegation set")

    async def GetDNSSEC(self, ctx: RequestContext, params: GetDNSSECRequestTypeDef) -> dict[str, Any]:
        """Conveyor does not sign zones: every zone answers NOT_SIGNING, with no key-signing keys.
        https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetDNSSEC.html"""
        self.zone(params["HostedZoneId"])
        return {"Status": {"ServeSignature": "NOT_SIGNING"}, "KeySigningKeys": []}

    async def GetHostedZone(self, ctx: RequestContext, params: GetHostedZoneRequestTypeDef) -> dict[str, Any]:
        zone = self.zone(params["Id"])
        result: dict[str, Any] = {"HostedZone": zone_view(zone)}
        if zone.private:
            result["VPCs"] = list(zone.doc["VPCs"])
        else:
            result["DelegationSet"] = delegation_view(self.catalog, zone)
        return result

    async def ListHostedZones(self, ctx: RequestContext, params: ListHostedZonesRequestTypeDef) -> dict[str, Any]:
        limit = max_items(params.get("MaxItems"))
        zones = list(self.catalog.zones.values())
        set_id = params.get("DelegationSetId")
        if set_id:
            self._delegation_set(set_id)  # NoSuchDelegationSet, as the operation's errors list it
            zones = [z for z in zones if z.doc.get("DelegationSetId") == bare_id(set_id)]
        kind = params.get("HostedZoneType")
        if kind == "PrivateHostedZone":
            zones = [z for z in zones if z.private]
        marker = params.get("Marker")
        start = 0
        if marker:
            ids = [z.id for z in zones]
            if bare_id(marker) not in ids:
                raise errors.invalid_marker()
            start = ids.index(bare_id(marker))
        page = zones[start:start + limit]
        result: dict[str, Any] = {"HostedZones": [zone_view(z) for z in page], "IsTruncated": start + limit < len(zones),
                                  "MaxItems": str(limit)}
        if marker:
            result["Marker"] = marker
        if result["IsTruncated"]:
            result["NextMarker"] = zones[start + limit].id
        return result

    async def ListHostedZonesByName(self, ctx: RequestContext,
                                    params: ListHostedZonesByNameRequestTypeDef) -> dict[str, Any]:
        """Ordered by name with its labels reversed ("com.example.www"), then by id.
        https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListHostedZonesByName.html"""
        limit = max_items(params.get("MaxItems"))
        given_name = params.get("DNSName")
        given_id = params.get("HostedZoneId")
        if given_id and not given_name:
            raise errors.invalid_input("The DNSName parameter is required when HostedZoneId is specified.")
        zones = sorted(self.catalog.zones.values(), key=lambda z: (reversed_labels(z.name), z.id))
        if given_name:
            start_key = (reversed_labels(normalize(given_name)), bare_id(given_id) if given_id else "")
            zones = [z for z in zones if (reversed_labels(z.name), z.id) >= start_key]
        page = zones[:limit]
        result: dict[str, Any] = {"HostedZones": [zone_view(z) for z in page], "IsTruncated": len(zones) > limit,
                                  "MaxItems": str(limit)}
        if given_name:
            result["DNSName"] = given_name
        if given_id:
            result["HostedZoneId"] = given_id
        if len(zones) > limit:
            result["NextDNSName"] = display(zones[limit].name)
            result["NextHostedZoneId"] = zones[limit].id
        return result

    async def ListHostedZonesByVPC(self, ctx: RequestContext,
                                   params: ListHostedZonesByVPCRequestTypeDef) -> dict[str, Any]:
        wanted = {"VPCId": params["VPCId"], "VPCRegion": params["VPCRegion"]}
        zones = [z for z in self.catalog.zones.values() if wanted in z.doc["VPCs"]]
        limit = max_items(params.get("MaxItems"))
        token = params.get("NextToken")
        start = 0
        if token:
            try:
                start = int(token)
            except ValueError:
                raise errors.invalid_pagination_token()
        page = zones[start:start + limit]
        result: dict[str, Any] = {
            "HostedZoneSummaries": [{"HostedZoneId": z.id, "Name": display(z.name),
                                     "Owner": {"OwningAccount": self.account_id}} for z in page],
            "MaxItems": str(limit)}
        if start + limit < len(zones):
            result["NextToken"] = str(start + limit)
        return result

    async def GetHostedZoneCount(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"HostedZoneCount": len(self.catalog.zones)}

    async def GetHostedZoneLimit(self, ctx: RequestContext, params: GetHostedZoneLimitRequestTypeDef) -> dict[str, Any]:
        zone = self.zone(params["HostedZoneId"])
        kind = params["Type"]
        count = len(zone.records) if kind == "MAX_RRSETS_BY_ZONE" else len(zone.doc["VPCs"])
        return {"Limit": {"Type": kind, "Value": LIMITS[kind]}, "Count": count}

    async def UpdateHostedZoneComment(self, ctx: RequestContext,
                                      params: UpdateHostedZoneCommentRequestTypeDef) -> dict[str, Any]:
        async with self.catalog.mutex:
            zone = self.zone(params["Id"])
            doc = {**zone.doc, "Comment": params.get("Comment")}
            await self.catalog.commit(Batch().write("zone", zone.id, doc))
        return {"HostedZone": zone_view(self.catalog.zones[zone.id])}

    async def DeleteHostedZone(self, ctx: RequestContext, params: DeleteHostedZoneRequestTypeDef) -> dict[str, Any]:
        async with self.catalog.mutex:
            zone = self.zone(params["Id"])
            extra = [key for key in zone.records if not (key[1] == zone.name and key[2] in ("NS", "SOA"))]
            if extra:
                raise errors.fault("HostedZoneNotEmpty", "The hosted zone contains resource records that are not "
                                   "SOA or NS records.")
            batch = Batch().remove("zone", zone.id)
            batch.write("spentref", str(zone.doc["CallerReference"]), {"HostedZoneId": zone.id})
            batch.zones_emptied.append(zone.id)
            if f"hostedzone/{zone.id}" in self.catalog.tags:
                batch.remove("tags", f"hostedzone/{zone.id}")
            for config in self.catalog.query_logs.values():
                if config["HostedZoneId"] == zone.id:
                    batch.remove("querylog", config["Id"])
            change = record_change(batch, self.clock.now())
            await self.catalog.commit(batch)
        return {"ChangeInfo": change}

    # -- VPCs of private zones ---------------------------------------------------------------------------
    async def AssociateVPCWithHostedZone(self, ctx: RequestContext,
                                         params: AssociateVPCWithHostedZoneRequestTypeDef) -> dict[str, Any]:
        async with self.catalog.mutex:
            zone = self.zone(params["HostedZoneId"])
            vpc = dict(params["VPC"])
            vpc.setdefault("VPCRegion", ctx.region)  # a VPC named without its region is in the request's
            if not zone.private:
                raise errors.fault("PublicZoneVPCAssociation", "You're trying to associate a VPC with a public "
                                   "hosted zone. Amazon Route 53 doesn't support associating a VPC with a public "
                                   "hosted zone.")
            if any(same_vpc(vpc, stored) for stored in zone.doc["VPCs"]):
                raise errors.fault("ConflictingDomainExists", f"The VPC {vpc.get('VPCId')} is already associated "
                                   f"with the hosted zone {zone.id} with the same domain name.")
            self._check_vpc_name_free(zone.name, vpc, zone.id)
            self._check_vpc_exists(vpc)
            batch = Batch().write("zone", zone.id, {**zone.doc, "VPCs": [*zone.doc["VPCs"], vpc]})
            change = record_change(batch, self.clock.now(), params.get("Comment"))
            await self.catalog.commit(batch)
        return {"ChangeInfo": change}

    async def DisassociateVPCFromHostedZone(self, ctx: RequestContext,
                                            params: DisassociateVPCFromHostedZoneRequestTypeDef) -> dict[str, Any]:
        async with self.catalog.mutex:
            zone = self.zone(params["HostedZoneId"])
            vpc = dict(params["VPC"])
            if not any(same_vpc(vpc, stored) for stored in zone.doc["VPCs"]):
                raise errors.fault("VPCAssociationNotFound", f"The specified VPC {vpc.get('VPCId')} and hosted zone "
                                   f"{zone.id} are not currently associated.")
            if len(zone.doc["VPCs"]) == 1:
                raise errors.fault("LastVPCAssociation", "The VPC that you're trying to disassociate from the "
                                   "private hosted zone is the last VPC that is associated with the hosted zone. "
                                   "Amazon Route 53 doesn't support disassociating the last VPC from a hosted zone.")
            remaining = [v for v in zone.doc["VPCs"] if not same_vpc(vpc, v)]
            batch = Batch().write("zone", zone.id, {**zone.doc, "VPCs": remaining})
            change = record_change(batch, self.clock.now(), params.get("Comment"))
            await self.catalog.commit(batch)
        return {"ChangeInfo": change}

    # -- reusable delegation sets --------------------------------------------------------------------------
    async def CreateReusableDelegationSet(self, ctx: RequestContext,
                                          params: CreateReusableDelegationSetRequestTypeDef) -> dict[str, Any]:
        reference = params["CallerReference"]
        async with self.catalog.mutex:
            if any(d["CallerReference"] == reference for d in self.catalog.delegation_sets.values()):
                raise errors.fault("DelegationSetAlreadyCreated", "A delegation set with the same owner and "
                                   "CallerReference combination has already been created.")
            set_id = new_id("N")
            batch = Batch()
            zone_id = params.get("HostedZoneId")
            if zone_id:
                # The zone's own delegation set is marked reusable: the zone uses the new set from now on.
                # https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateReusableDelegationSet.html
                zone = self.catalog.zones.get(bare_id(zone_id))
                if zone is None:
                    raise errors.fault("HostedZoneNotFound", "The specified HostedZone can't be found.")
                if zone.private:
                    raise errors.invalid_input("You can't associate a reusable delegation set with a private hosted "
                                               "zone.")
                if zone.doc.get("DelegationSetId"):
                    raise errors.fault("DelegationSetAlreadyReusable", "The specified delegation set has already "
                                       "been marked as reusable.")
                name_servers = list(zone.doc["NameServers"])
                batch.write("zone", zone.id, {**zone.doc, "DelegationSetId": set_id})
            else:
                name_servers = new_name_servers()
            doc = {"Id": set_id, "CallerReference": reference, "NameServers": name_servers}
            await self.catalog.commit(batch.write("delegationset", set_id, doc))
        return {"DelegationSet": _delegation_set_view(doc), "Location": f"{ENDPOINT}/delegationset/{set_id}"}

    def _delegation_set(self, set_id: str) -> dict[str, Any]:
        doc = self.catalog.delegation_sets.get(bare_id(set_id))
        if doc is None:
            raise errors.no_such_delegation_set(bare_id(set_id))
        return doc

    async def GetReusableDelegationSet(self, ctx: RequestContext,
                                       params: GetReusableDelegationSetRequestTypeDef) -> dict[str, Any]:
        return {"DelegationSet": _delegation_set_view(self._delegation_set(params["Id"]))}

    async def ListReusableDelegationSets(self, ctx: RequestContext,
                                         params: ListReusableDelegationSetsRequestTypeDef) -> dict[str, Any]:
        limit = max_items(params.get("MaxItems"))
        sets = list(self.catalog.delegation_sets.values())
        marker = params.get("Marker")
        start = 0
        if marker:
            ids = [d["Id"] for d in sets]
            if bare_id(marker) not in ids:
                raise errors.invalid_marker()
            start = ids.index(bare_id(marker))
        result: dict[str, Any] = {"DelegationSets": [_delegation_set_view(d) for d in sets[start:start + limit]],
                                  "Marker": marker or "", "IsTruncated": start + limit < len(sets),
                                  "MaxItems": str(limit)}
        if result["IsTruncated"]:
            result["NextMarker"] = sets[start + limit]["Id"]
        return result

    async def DeleteReusableDelegationSet(self, ctx: RequestContext,
                                          params: DeleteReusableDelegationSetRequestTypeDef) -> dict[str, Any]:
        async with self.catalog.mutex:
            doc = self._delegation_set(params["Id"])
            if any(z.doc.get("DelegationSetId") == doc["Id"] for z in self.catalog.zones.values()):
                raise errors.fault("DelegationSetInUse", "The specified delegation contains associated hosted zones "
                                   "which must be deleted before the reusable delegation set can be deleted.")
            await self.catalog.commit(Batch().remove("delegationset", doc["Id"]))
        return {}
