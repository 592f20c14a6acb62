"""AWS::Route53::HostedZone, AWS::Route53::RecordSet, AWS::Route53::RecordSetGroup and
AWS::Route53::HealthCheck, made through Route 53's API.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-route53-hostedzone.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-route53-recordset.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-route53-recordsetgroup.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-route53-healthcheck.html
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_bool,
    as_int,
    ignore_missing,
    tag_list,
    tag_map,
)

_RECORD_FIELDS = frozenset({"Name", "Type", "TTL", "ResourceRecords", "AliasTarget", "SetIdentifier", "Weight",
                            "Region", "Failover", "GeoLocation", "MultiValueAnswer", "HealthCheckId"})


def _bare(zone_id: str) -> str:
    return zone_id.rsplit("/", 1)[-1]


async def _zone_id(target: Target, properties: dict[str, Any]) -> str:
    """HostedZoneId, or the zone HostedZoneName names (exactly one of them)."""
    if properties.get("HostedZoneId"):
        return _bare(str(properties["HostedZoneId"]))
    name = str(properties.get("HostedZoneName") or "")
    if not name:
        raise ResourceFailure("Exactly one of [HostedZoneId, HostedZoneName] must be specified")
    wanted = name.lower() if name.endswith(".") else name.lower() + "."
    found = await target.call("route53", "ListHostedZonesByName", {"DNSName": wanted, "MaxItems": "1"})
    zones = [z for z in found.get("HostedZones", []) if z["Name"] == wanted]
    if not zones:
        raise ResourceFailure(f"No hosted zone found with name {name}")
    return _bare(str(zones[0]["Id"]))


def _record_set(properties: dict[str, Any]) -> dict[str, Any]:
    """A template's record set as ChangeResourceRecordSets takes it (ResourceRecords are strings there, TTL
    a string or a number)."""
    unsupported = sorted(set(properties) - _RECORD_FIELDS)
    if unsupported:
        raise ResourceFailure(f"Conveyor does not support the property {unsupported[0]} of a record set")
    rrset: dict[str, Any] = {"Name": str(properties["Name"]), "Type": str(properties["Type"])}
    if "TTL" in properties:
        rrset["TTL"] = as_int(properties["TTL"], "TTL")
    if "ResourceRecords" in properties:
        rrset["ResourceRecords"] = [{"Value": str(value)} for value in properties["ResourceRecords"]]
    if "AliasTarget" in properties:
        alias = properties["AliasTarget"]
        rrset["AliasTarget"] = {"HostedZoneId": str(alias["HostedZoneId"]), "DNSName": str(alias["DNSName"]),
                                "EvaluateTargetHealth": as_bool(alias.get("EvaluateTargetHealth", False))}
    for key in ("SetIdentifier", "Region", "Failover", "HealthCheckId"):
        if key in properties:
            rrset[key] = str(properties[key])
    if "Weight" in properties:
        rrset["Weight"] = as_int(properties["Weight"], "Weight")
    if "MultiValueAnswer" in properties:
        rrset["MultiValueAnswer"] = as_bool(properties["MultiValueAnswer"])
    if "GeoLocation" in properties:
        rrset["GeoLocation"] = {str(k): str(v) for k, v in properties["GeoLocation"].items()}
    return rrset


async def _change(target: Target, zone_id: str, changes: list[tuple[str, dict[str, Any]]], comment: Any) -> None:
    if not changes:
        return
    batch: dict[str, Any] = {"Changes": [{"Action": action, "ResourceRecordSet": rrset} for action, rrset in changes]}
    if comment:
        batch["Comment"] = str(comment)
    await target.call("route53", "ChangeResourceRecordSets", {"HostedZoneId": zone_id, "ChangeBatch": batch})


async def _delete_quietly(target: Target, zone_id: str, rrsets: list[dict[str, Any]]) -> None:
    """Delete record sets one by one, those already gone (or their zone) included, as stack deletes do."""
    for rrset in rrsets:
        await ignore_missing(target, "route53", "ChangeResourceRecordSets", {
            "HostedZoneId": zone_id, "ChangeBatch": {"Changes": [{"Action": "DELETE", "ResourceRecordSet": rrset}]}},
            "InvalidChangeBatch", "NoSuchHostedZone")


class HostedZone(ResourceType):
    type_name = "AWS::Route53::HostedZone"
    properties = frozenset({"Name", "HostedZoneConfig", "HostedZoneTags", "VPCs"})
    required = frozenset({"Name"})
    replace_on = frozenset({"Name"})

    async def _made(self, target: Target, zone_id: str) -> Made:
        found = await target.call("route53", "GetHostedZone", {"Id": zone_id})
        servers = found.get("DelegationSet", {}).get("NameServers", [])
        return Made(zone_id, {"Id": zone_id, "NameServers": servers})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        vpcs = list(properties.get("VPCs") or [])
        request: dict[str, Any] = {"Name": str(properties["Name"]), "CallerReference": str(uuid.uuid4())}
        comment = (properties.get("HostedZoneConfig") or {}).get("Comment")
        if comment is not None:
            request["HostedZoneConfig"] = {"Comment": str(comment)}
        if vpcs:
            request["VPC"] = {"VPCId": str(vpcs[0]["VPCId"]), "VPCRegion": str(vpcs[0]["VPCRegion"])}
        created = await target.call("route53", "CreateHostedZone", request)
        zone_id = _bare(str(created["HostedZone"]["Id"]))
        for vpc in vpcs[1:]:
            await target.call("route53", "AssociateVPCWithHostedZone", {
                "HostedZoneId": zone_id, "VPC": {"VPCId": str(vpc["VPCId"]), "VPCRegion": str(vpc["VPCRegion"])}})
        if properties.get("HostedZoneTags"):
            await target.call("route53", "ChangeTagsForResource", {
                "ResourceType": "hostedzone", "ResourceId": zone_id, "AddTags": tag_list(properties["HostedZoneTags"])})
        return await self._made(target, zone_id)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        zone_id = current.physical_id
        old_comment = (old.get("HostedZoneConfig") or {}).get("Comment")
        new_comment = (new.get("HostedZoneConfig") or {}).get("Comment")
        if old_comment != new_comment:
            await target.call("route53", "UpdateHostedZoneComment", {"Id": zone_id, "Comment": str(new_comment or "")})
        if old.get("HostedZoneTags") != new.get("HostedZoneTags"):
            gone = sorted(set(tag_map(old.get("HostedZoneTags"))) - set(tag_map(new.get("HostedZoneTags"))))
            change: dict[str, Any] = {"ResourceType": "hostedzone", "ResourceId": zone_id}
            if gone:
                change["RemoveTagKeys"] = gone
            if new.get("HostedZoneTags"):
                change["AddTags"] = tag_list(new["HostedZoneTags"])
            await target.call("route53", "ChangeTagsForResource", change)
        old_vpcs = [dict(v) for v in old.get("VPCs") or []]
        new_vpcs = [dict(v) for v in new.get("VPCs") or []]
        for vpc in new_vpcs:
            if vpc not in old_vpcs:
                await target.call("route53", "AssociateVPCWithHostedZone", {"HostedZoneId": zone_id, "VPC": vpc})
        for vpc in old_vpcs:
            if vpc not in new_vpcs:
                await target.call("route53", "DisassociateVPCFromHostedZone", {"HostedZoneId": zone_id, "VPC": vpc})
        return await self._made(target, zone_id)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "route53", "DeleteHostedZone", {"Id": current.physical_id}, "NoSuchHostedZone")


class RecordSet(ResourceType):
    """Its Ref is the record's name."""

    type_name = "AWS::Route53::RecordSet"
    properties = frozenset({"HostedZoneId", "HostedZoneName", "Comment", *_RECORD_FIELDS})
    required = frozenset({"Name", "Type"})
    replace_on = frozenset({"HostedZoneId", "HostedZoneName", "Name", "Type", "SetIdentifier"})

    @staticmethod
    def _fields(properties: dict[str, Any]) -> dict[str, Any]:
        return _record_set({k: v for k, v in properties.items() if k in _RECORD_FIELDS})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        zone_id = await _zone_id(target, properties)
        rrset = self._fields(properties)
        await _change(target, zone_id, [("CREATE", rrset)], properties.get("Comment"))
        return Made(str(properties["Name"]))

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        zone_id = await _zone_id(target, new)
        await _change(target, zone_id, [("UPSERT", self._fields(new))], new.get("Comment"))
        return Made(current.physical_id)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        try:
            zone_id = await _zone_id(target, properties)
        except ResourceFailure:
            return  # its zone is gone, and the record with it
        await _delete_quietly(target, zone_id, [self._fields(properties)])


class RecordSetGroup(ResourceType):
    """Its record sets change in one batch; its Ref is a name CloudFormation makes for the group."""

    type_name = "AWS::Route53::RecordSetGroup"
    properties = frozenset({"HostedZoneId", "HostedZoneName", "Comment", "RecordSets"})
    replace_on = frozenset({"HostedZoneId", "HostedZoneName"})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        zone_id = await _zone_id(target, properties)
        sets = [_record_set(dict(r)) for r in properties.get("RecordSets") or []]
        await _change(target, zone_id, [("CREATE", rrset) for rrset in sets], properties.get("Comment"))
        return Made(target.generated_name(64))

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        zone_id = await _zone_id(target, new)
        old_sets = [_record_set(dict(r)) for r in old.get("RecordSets") or []]
        new_sets = [_record_set(dict(r)) for r in new.get("RecordSets") or []]
        changes = [("DELETE", r) for r in old_sets if r not in new_sets]
        changes += [("CREATE", r) for r in new_sets if r not in old_sets]
        await _change(target, zone_id, changes, new.get("Comment"))
        return Made(current.physical_id)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        try:
            zone_id = await _zone_id(target, properties)
        except ResourceFailure:
            return
        await _delete_quietly(target, zone_id, [_record_set(dict(r)) for r in properties.get("RecordSets") or []])


class HealthCheck(ResourceType):
    type_name = "AWS::Route53::HealthCheck"
    properties = frozenset({"HealthCheckConfig", "HealthCheckTags"})
    required = frozenset({"HealthCheckConfig"})

    def needs_replacement(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        # Type, IPAddress... "Update requires: Replacement" only for what UpdateHealthCheck cannot change.
        fixed = ("Type", "RequestInterval", "MeasureLatency", "RoutingControlArn")
        return any((old.get("HealthCheckConfig") or {}).get(k) != (new.get("HealthCheckConfig") or {}).get(k)
                   for k in fixed)

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        created = await target.call("route53", "CreateHealthCheck", {
            "CallerReference": str(uuid.uuid4()), "HealthCheckConfig": dict(properties["HealthCheckConfig"])})
        check_id = str(created["HealthCheck"]["Id"])
        if properties.get("HealthCheckTags"):
            await target.call("route53", "ChangeTagsForResource", {
                "ResourceType": "healthcheck", "ResourceId": check_id,
                "AddTags": tag_list(properties["HealthCheckTags"])})
        return Made(check_id, {"HealthCheckId": check_id})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        config = dict(new["HealthCheckConfig"])
        changed = {k: v for k, v in config.items() if k not in ("Type", "RequestInterval", "MeasureLatency")}
        await target.call("route53", "UpdateHealthCheck", {"HealthCheckId": current.physical_id, **changed})
        if old.get("HealthCheckTags") != new.get("HealthCheckTags"):
            gone = sorted(set(tag_map(old.get("HealthCheckTags"))) - set(tag_map(new.get("HealthCheckTags"))))
            change: dict[str, Any] = {"ResourceType": "healthcheck", "ResourceId": current.physical_id}
            if gone:
                change["RemoveTagKeys"] = gone
            if new.get("HealthCheckTags"):
                change["AddTags"] = tag_list(new["HealthCheckTags"])
            await target.call("route53", "ChangeTagsForResource", change)
        return Made(current.physical_id, {"HealthCheckId": current.physical_id})

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "route53", "DeleteHealthCheck", {"HealthCheckId": current.physical_id},
                             "NoSuchHealthCheck")
