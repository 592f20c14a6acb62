"""AWS::Events::Rule (with its targets) and AWS::Kinesis::Stream.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-events-rule.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kinesis-stream.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_int,
    as_json,
    ignore_missing,
    tag_map,
)

_DEFAULT_BUS = "default"


def _bus(properties: dict[str, Any]) -> str:
    """The bus a rule is on; the template may name it by name or by ARN (PutRule takes either)."""
    return str(properties.get("EventBusName") or _DEFAULT_BUS)


class Rule(ResourceType):
    """Ref is the rule's name, or `BUS|NAME` for a rule on another bus than the default one (the form
    DescribeRule and DeleteRule are then called with)."""

    type_name = "AWS::Events::Rule"
    properties = frozenset({"Name", "EventBusName", "Description", "EventPattern", "ScheduleExpression", "State",
                            "RoleArn", "Targets"})
    replace_on = frozenset({"Name"})
    name_property = "Name"

    async def _put(self, target: Target, name: str, properties: dict[str, Any]) -> str:
        request: dict[str, Any] = {"Name": name, "EventBusName": _bus(properties)}
        if "EventPattern" in properties:
            request["EventPattern"] = as_json(properties["EventPattern"])
        for key in ("ScheduleExpression", "State", "Description", "RoleArn"):
            if key in properties:
                request[key] = str(properties[key])
        return str((await target.call("events", "PutRule", request))["RuleArn"])

    async def _targets(self, target: Target, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        before = {str(t["Id"]): t for t in old.get("Targets") or []}
        after = {str(t["Id"]): t for t in new.get("Targets") or []}
        gone = sorted(set(before) - set(after))
        if gone:
            await target.call("events", "RemoveTargets", {"Rule": name, "EventBusName": _bus(new), "Ids": gone})
        changed = [dict(spec) for key, spec in after.items() if before.get(key) != spec]
        for start in range(0, len(changed), 10):  # PutTargets takes at most ten at a time
            answer = await target.call("events", "PutTargets", {"Rule": name, "EventBusName": _bus(new),
                                                                 "Targets": changed[start:start + 10]})
            _no_failed_entries(answer)

    def _made(self, name: str, arn: str, properties: dict[str, Any]) -> Made:
        bus = _bus(properties)
        physical = name if bus == _DEFAULT_BUS else f"{bus.rsplit('/', 1)[-1]}|{name}"
        return Made(physical, {"Arn": arn})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties.get("Name") or target.generated_name(64))
        arn = await self._put(target, name, properties)
        made = self._made(name, arn, properties)
        try:
            await self._targets(target, name, {}, properties)
        except Exception:
            await self.delete(target, made, properties)
            raise
        return made

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        name = current.physical_id.rsplit("|", 1)[-1]
        if _bus(old) != _bus(new):
            # Another bus is an update without replacement (the rule keeps its name): made there, then
            # removed from the bus it was on.
            made = await self.create(target, {**new, "Name": name})
            await self.delete(target, current, old)
            return made
        arn = await self._put(target, name, new)
        await self._targets(target, name, old, new)
        return self._made(name, arn, new)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        name = current.physical_id.rsplit("|", 1)[-1]
        ids = [str(t["Id"]) for t in properties.get("Targets") or []]
        if ids:
            await ignore_missing(target, "events", "RemoveTargets", {"Rule": name, "EventBusName": _bus(properties),
                                                                     "Ids": ids}, "ResourceNotFoundException")
        await ignore_missing(target, "events", "DeleteRule", {"Name": name, "EventBusName": _bus(properties)},
                             "ResourceNotFoundException")


def _no_failed_entries(answer: dict[str, Any]) -> None:
    """PutTargets answers 200 with the targets it refused listed: each is the resource's failure."""
    failed = answer.get("FailedEntries") or []
    if failed:
        entry = failed[0]
        raise ResourceFailure(f"{entry.get('ErrorMessage')} (Service: events, Target: {entry.get('TargetId')}, "
                              f"Error Code: {entry.get('ErrorCode')})")


_DEFAULT_RETENTION = 24


class Stream(ResourceType):
    """Shard count, retention, mode and tags change in place; the name requires replacement."""

    type_name = "AWS::Kinesis::Stream"
    properties = frozenset({"Name", "ShardCount", "RetentionPeriodHours", "StreamModeDetails", "Tags"})
    replace_on = frozenset({"Name"})
    name_property = "Name"

    async def _made(self, target: Target, name: str) -> Made:
        summary = (await target.call("kinesis", "DescribeStreamSummary", {"StreamName": name}))["StreamDescriptionSummary"]
        return Made(name, {"Arn": summary["StreamARN"]})

    @staticmethod
    def _mode(properties: dict[str, Any]) -> str:
        return str((properties.get("StreamModeDetails") or {}).get("StreamMode") or "PROVISIONED")

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties.get("Name") or target.generated_name(128))
        request: dict[str, Any] = {"StreamName": name, "StreamModeDetails": {"StreamMode": self._mode(properties)}}
        if self._mode(properties) == "PROVISIONED":
            # A provisioned stream the template gives no shard count gets one shard, as CloudFormation makes it.
            request["ShardCount"] = as_int(properties.get("ShardCount", 1), "ShardCount")
        if properties.get("Tags"):
            request["Tags"] = tag_map(properties["Tags"])
        await target.call("kinesis", "CreateStream", request)
        try:
            await self._retention(target, name, {}, properties)
        except Exception:
            await ignore_missing(target, "kinesis", "DeleteStream", {"StreamName": name}, "ResourceNotFoundException")
            raise
        return await self._made(target, name)

    async def _retention(self, target: Target, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        before = as_int(old.get("RetentionPeriodHours", _DEFAULT_RETENTION), "RetentionPeriodHours")
        after = as_int(new.get("RetentionPeriodHours", _DEFAULT_RETENTION), "RetentionPeriodHours")
        if after > before:
            await target.call("kinesis", "IncreaseStreamRetentionPeriod", {"StreamName": name,
                                                                             "RetentionPeriodHours": after})
        elif after < before:
            await target.call("kinesis", "DecreaseStreamRetentionPeriod", {"StreamName": name,
                                                                             "RetentionPeriodHours": after})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        name = current.physical_id
        if self._mode(old) != self._mode(new):
            await target.call("kinesis", "UpdateStreamMode", {"StreamARN": current.attributes["Arn"],
                                                              "StreamModeDetails": {"StreamMode": self._mode(new)}})
        if self._mode(new) == "PROVISIONED" and old.get("ShardCount", 1) != new.get("ShardCount", 1):
            await target.call("kinesis", "UpdateShardCount", {
                "StreamName": name, "TargetShardCount": as_int(new.get("ShardCount", 1), "ShardCount"),
                "ScalingType": "UNIFORM_SCALING"})
        await self._retention(target, name, old, new)
        if old.get("Tags") != new.get("Tags"):
            gone = sorted(set(tag_map(old.get("Tags"))) - set(tag_map(new.get("Tags"))))
            if gone:
                await target.call("kinesis", "RemoveTagsFromStream", {"StreamName": name, "TagKeys": gone})
            if new.get("Tags"):
                await target.call("kinesis", "AddTagsToStream", {"StreamName": name, "Tags": tag_map(new["Tags"])})
        return await self._made(target, name)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        # EnforceConsumerDeletion: CloudFormation deletes a stream even when consumers are registered.
        await ignore_missing(target, "kinesis", "DeleteStream", {"StreamName": current.physical_id,
                                                                 "EnforceConsumerDeletion": True},
                             "ResourceNotFoundException")

