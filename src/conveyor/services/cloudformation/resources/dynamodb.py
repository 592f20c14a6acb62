"""AWS::DynamoDB::Table, made and changed through DynamoDB's own API (CreateTable, UpdateTable,
UpdateTimeToLive, UpdateContinuousBackups, TagResource/UntagResource, DeleteTable).

As the resource reference says: a new TableName or KeySchema replaces the table; local secondary indexes
cannot change after creation ("Updates are not supported"); global secondary indexes are added, removed
and have their throughput changed in place, one UpdateTable each, as DynamoDB takes one index change at
a time; billing, streams, TTL, tags, deletion protection, table class, encryption and point-in-time
recovery change in place.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html
"""

from __future__ import annotations

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
)
from conveyor.wire import ServiceError

_GONE = ("ResourceNotFoundException",)


def _throughput(value: Any) -> dict[str, int]:
    return {"ReadCapacityUnits": as_int(value.get("ReadCapacityUnits"), "ReadCapacityUnits"),
            "WriteCapacityUnits": as_int(value.get("WriteCapacityUnits"), "WriteCapacityUnits")}


def _units(value: Any) -> dict[str, int] | None:
    """A ProvisionedThroughput as numbers, to compare ("5" and 5 are one value): DynamoDB refuses a change
    to the units it has."""
    return _throughput(value) if value else None


def _keys(value: Any) -> list[dict[str, str]]:
    return [{"AttributeName": str(k["AttributeName"]), "KeyType": str(k["KeyType"])} for k in value or []]


def _index(value: dict[str, Any], billing: str) -> dict[str, Any]:
    """A secondary index as CreateTable and UpdateTable take it (a global one's throughput only when the
    table is billed by provisioned capacity)."""
    out: dict[str, Any] = {"IndexName": str(value["IndexName"]), "KeySchema": _keys(value.get("KeySchema")),
                           "Projection": dict(value.get("Projection") or {})}
    if billing == "PROVISIONED" and value.get("ProvisionedThroughput"):
        out["ProvisionedThroughput"] = _throughput(value["ProvisionedThroughput"])
    return out


def _billing(properties: dict[str, Any]) -> str:
    return str(properties.get("BillingMode") or "PROVISIONED")


def _indexes(properties: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {str(i["IndexName"]): i for i in properties.get(key) or []}


def _stream(properties: dict[str, Any]) -> str | None:
    """The stream's view type, or None for no stream."""
    spec = properties.get("StreamSpecification") or {}
    return str(spec["StreamViewType"]) if spec.get("StreamViewType") else None


class Table(ResourceType):
    type_name = "AWS::DynamoDB::Table"
    properties = frozenset({"TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
                            "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification",
                            "TimeToLiveSpecification", "Tags", "DeletionProtectionEnabled", "TableClass",
                            "SSESpecification", "PointInTimeRecoverySpecification"})
    required = frozenset({"KeySchema"})
    # KeySchema is create-only on the condition that it changed ("conditionalCreateOnlyProperties").
    replace_on = frozenset({"TableName", "KeySchema"})
    name_property = "TableName"

    @staticmethod
    def _made(description: dict[str, Any]) -> Made:
        attributes = {"Arn": str(description["TableArn"])}
        if description.get("LatestStreamArn"):
            attributes["StreamArn"] = str(description["LatestStreamArn"])
        return Made(str(description["TableName"]), attributes)

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties.get("TableName") or target.generated_name(255))
        billing = _billing(properties)
        request: dict[str, Any] = {"TableName": name, "KeySchema": _keys(properties["KeySchema"]),
                                   "AttributeDefinitions": [dict(a) for a in properties.get("AttributeDefinitions")
                                                            or []],
                                   "BillingMode": billing}
        if billing == "PROVISIONED" and properties.get("ProvisionedThroughput"):
            request["ProvisionedThroughput"] = _throughput(properties["ProvisionedThroughput"])
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if properties.get(key):
                request[key] = [_index(i, billing) for i in properties[key]]
        view = _stream(properties)
        if view:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        if "DeletionProtectionEnabled" in properties:
            request["DeletionProtectionEnabled"] = as_bool(properties["DeletionProtectionEnabled"])
        if properties.get("TableClass"):
            request["TableClass"] = str(properties["TableClass"])
        if properties.get("SSESpecification"):
            request["SSESpecification"] = self._sse(properties["SSESpecification"])
        if not await self._exists(target, name):  # (one that exists is not ours: CreateTable fails below)
            await target.making(name)
        created = (await target.call("dynamodb", "CreateTable", request))["TableDescription"]
        try:
            await self._settings(target, name, {}, properties)
        except ResourceFailure:
            # Nothing half-made is left behind (deletion protection would keep it: lift it first).
            if request.get("DeletionProtectionEnabled"):
                await ignore_missing(target, "dynamodb", "UpdateTable",
                                     {"TableName": name, "DeletionProtectionEnabled": False}, *_GONE)
            await ignore_missing(target, "dynamodb", "DeleteTable", {"TableName": name}, *_GONE)
            raise
        return self._made(created)

    @staticmethod
    async def _exists(target: Target, name: str) -> bool:
        """Whether a table has the name (any answer but "not found" counts as yes: nothing is recorded, and
        CreateTable's own answer is the resource's)."""
        try:
            await target.api.call("dynamodb", "DescribeTable", {"TableName": name}, target.region)
        except ServiceError as error:
            return error.code not in _GONE
        return True

    @staticmethod
    def _sse(value: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"Enabled": as_bool(value.get("SSEEnabled", False))}
        for key in ("SSEType", "KMSMasterKeyId"):
            if key in value:
                out[key] = str(value[key])
        return out

    async def _settings(self, target: Target, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """TTL and point-in-time recovery, which CreateTable does not take."""
        old_ttl, new_ttl = old.get("TimeToLiveSpecification") or {}, new.get("TimeToLiveSpecification") or {}
        was_on, is_on = as_bool(old_ttl.get("Enabled", False)), as_bool(new_ttl.get("Enabled", False))
        if was_on and (not is_on or old_ttl.get("AttributeName") != new_ttl.get("AttributeName")):
            await target.call("dynamodb", "UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": {
                "Enabled": False, "AttributeName": str(old_ttl["AttributeName"])}})
            was_on = False
        if is_on and not was_on:
            await target.call("dynamodb", "UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": {
                "Enabled": True, "AttributeName": str(new_ttl.get("AttributeName") or "")}})
        old_pitr = as_bool((old.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled",
                                                                                    False))
        new_pitr = as_bool((new.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled",
                                                                                    False))
        if old_pitr != new_pitr:
            await target.call("dynamodb", "UpdateContinuousBackups", {
                "TableName": name, "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": new_pitr}})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        name = current.physical_id
        if (old.get("LocalSecondaryIndexes") or []) != (new.get("LocalSecondaryIndexes") or []):
            raise ResourceFailure("Local secondary indexes cannot be changed after the table is created "
                                  "(LocalSecondaryIndexes: Updates are not supported)")
        billing = _billing(new)
        definitions = [dict(a) for a in new.get("AttributeDefinitions") or []]
        # One UpdateTable per kind of change: DynamoDB takes deletion protection, the table class and
        # encryption each only alone.
        changes: list[dict[str, Any]] = []
        if _billing(old) != billing or _units(old.get("ProvisionedThroughput")) != _units(new.get("ProvisionedThroughput")):
            capacity: dict[str, Any] = {"BillingMode": billing}
            if billing == "PROVISIONED" and new.get("ProvisionedThroughput"):
                capacity["ProvisionedThroughput"] = _throughput(new["ProvisionedThroughput"])
            changes.append(capacity)
        if as_bool(old.get("DeletionProtectionEnabled", False)) != as_bool(new.get("DeletionProtectionEnabled",
                                                                                   False)):
            changes.append({"DeletionProtectionEnabled": as_bool(new.get("DeletionProtectionEnabled", False))})
        if old.get("TableClass") != new.get("TableClass"):
            changes.append({"TableClass": str(new.get("TableClass") or "STANDARD")})
        if old.get("SSESpecification") != new.get("SSESpecification"):
            changes.append({"SSESpecification": self._sse(new.get("SSESpecification") or {})})
        for change in changes:
            await target.call("dynamodb", "UpdateTable", {"TableName": name, **change})
        await self._global_indexes(target, name, old, new, billing, definitions)
        await self._update_stream(target, name, _stream(old), _stream(new))
        await self._settings(target, name, old, new)
        described = (await target.call("dynamodb", "DescribeTable", {"TableName": name}))["Table"]
        await self._tags(target, str(described["TableArn"]), old, new)
        return self._made(described)

    @staticmethod
    async def _global_indexes(target: Target, name: str, old: dict[str, Any], new: dict[str, Any], billing: str,
                              definitions: list[dict[str, Any]]) -> None:
        """Removed indexes first, then new ones (an index whose keys or projection changed is both), then
        throughput changes: one index change per UpdateTable, as DynamoDB takes them."""
        before, after = _indexes(old, "GlobalSecondaryIndexes"), _indexes(new, "GlobalSecondaryIndexes")
        remade = {n for n in before.keys() & after.keys()
                  if _keys(before[n].get("KeySchema")) != _keys(after[n].get("KeySchema"))
                  or before[n].get("Projection") != after[n].get("Projection")}
        for index_name in sorted((before.keys() - after.keys()) | remade):
            await target.call("dynamodb", "UpdateTable", {"TableName": name, "GlobalSecondaryIndexUpdates": [
                {"Delete": {"IndexName": index_name}}]})
        for index_name in sorted((after.keys() - before.keys()) | remade):
            await target.call("dynamodb", "UpdateTable", {
                "TableName": name, "AttributeDefinitions": definitions,
                "GlobalSecondaryIndexUpdates": [{"Create": _index(after[index_name], billing)}]})
        for index_name in sorted((before.keys() & after.keys()) - remade):
            throughput = after[index_name].get("ProvisionedThroughput")
            if billing == "PROVISIONED" and throughput and \
                    _units(throughput) != _units(before[index_name].get("ProvisionedThroughput")):
                await target.call("dynamodb", "UpdateTable", {"TableName": name, "GlobalSecondaryIndexUpdates": [
                    {"Update": {"IndexName": index_name, "ProvisionedThroughput": _throughput(throughput)}}]})

    @staticmethod
    async def _update_stream(target: Target, name: str, before: str | None, after: str | None) -> None:
        """A stream's view type cannot change while it is enabled: it is disabled and enabled anew (a new
        stream, with a new ARN)."""
        if before == after:
            return
        if before is not None:
            await target.call("dynamodb", "UpdateTable", {"TableName": name,
                                                          "StreamSpecification": {"StreamEnabled": False}})
        if after is not None:
            await target.call("dynamodb", "UpdateTable", {"TableName": name, "StreamSpecification": {
                "StreamEnabled": True, "StreamViewType": after}})

    @staticmethod
    async def _tags(target: Target, arn: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        before = {t["Key"]: t["Value"] for t in tag_list(old.get("Tags"))}
        after = {t["Key"]: t["Value"] for t in tag_list(new.get("Tags"))}
        if before.keys() - after.keys():
            await target.call("dynamodb", "UntagResource", {"ResourceArn": arn,
                                                            "TagKeys": sorted(before.keys() - after.keys())})
        changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
        if changed:
            await target.call("dynamodb", "TagResource", {"ResourceArn": arn, "Tags": changed})

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        # A table with deletion protection is not deleted: the stack's deletion fails (DELETE_FAILED) with
        # DynamoDB's own message, as on AWS, until the template turns the protection off.
        await ignore_missing(target, "dynamodb", "DeleteTable", {"TableName": current.physical_id}, *_GONE)
