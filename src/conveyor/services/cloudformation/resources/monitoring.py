"""AWS::Logs::LogGroup, AWS::Logs::ResourcePolicy and AWS::CloudWatch::Alarm.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-logs-loggroup.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-logs-resourcepolicy.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudwatch-alarm.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_bool,
    as_int,
    as_json,
    ignore_missing,
    tag_list,
    tag_map,
)


class LogGroup(ResourceType):
    type_name = "AWS::Logs::LogGroup"
    properties = frozenset({"LogGroupName", "RetentionInDays", "Tags"})
    replace_on = frozenset({"LogGroupName"})
    name_property = "LogGroupName"

    def _made(self, target: Target, name: str) -> Made:
        return Made(name, {"Arn": f"arn:aws:logs:{target.region}:{target.account}:log-group:{name}:*"})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties.get("LogGroupName") or target.generated_name(512))
        request: dict[str, Any] = {"logGroupName": name}
        if properties.get("Tags"):
            request["tags"] = tag_map(properties["Tags"])
        await target.call("logs", "CreateLogGroup", request)
        await self._retention(target, name, {}, properties)
        return self._made(target, name)

    async def _retention(self, target: Target, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old.get("RetentionInDays") == new.get("RetentionInDays"):
            return
        if "RetentionInDays" in new:
            await target.call("logs", "PutRetentionPolicy", {
                "logGroupName": name, "retentionInDays": as_int(new["RetentionInDays"], "RetentionInDays")})
        else:
            await target.call("logs", "DeleteRetentionPolicy", {"logGroupName": name})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        await self._retention(target, current.physical_id, old, new)
        return self._made(target, current.physical_id)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "logs", "DeleteLogGroup", {"logGroupName": current.physical_id},
                             "ResourceNotFoundException")


class ResourcePolicy(ResourceType):
    """An account's CloudWatch Logs resource policy (what lets EventBridge, Route 53... write log events);
    Ref gives its name. A new document replaces the old in place (PutResourcePolicy by the same name)."""

    type_name = "AWS::Logs::ResourcePolicy"
    properties = frozenset({"PolicyName", "PolicyDocument"})
    required = frozenset({"PolicyName", "PolicyDocument"})
    replace_on = frozenset({"PolicyName"})
    name_property = "PolicyName"

    async def _put(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties["PolicyName"])
        await target.call("logs", "PutResourcePolicy", {"policyName": name,
                                                        "policyDocument": as_json(properties["PolicyDocument"])})
        return Made(name)

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        return await self._put(target, properties)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        return await self._put(target, new)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "logs", "DeleteResourcePolicy", {"policyName": current.physical_id},
                             "ResourceNotFoundException")


_ALARM = ("AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions", "MetricName",
          "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit", "EvaluationPeriods",
          "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
          "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")
_ALARM_INTEGERS = ("Period", "EvaluationPeriods", "DatapointsToAlarm")


class Alarm(ResourceType):
    """Every property but the name is updated in place (PutMetricAlarm replaces the alarm's settings)."""

    type_name = "AWS::CloudWatch::Alarm"
    properties = frozenset({"AlarmName", "Tags", *_ALARM})
    required = frozenset({"ComparisonOperator", "EvaluationPeriods"})
    replace_on = frozenset({"AlarmName"})
    name_property = "AlarmName"

    async def _put(self, target: Target, name: str, properties: dict[str, Any]) -> Made:
        request: dict[str, Any] = {"AlarmName": name}
        for key in _ALARM:
            if key in properties:
                value = properties[key]
                if key in _ALARM_INTEGERS:
                    value = as_int(value, key)
                elif key == "Threshold":
                    value = float(value)
                elif key == "ActionsEnabled":
                    value = as_bool(value)
                request[key] = value
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        await target.call("cloudwatch", "PutMetricAlarm", request)
        found = await target.call("cloudwatch", "DescribeAlarms", {"AlarmNames": [name]})
        alarms = found.get("MetricAlarms") or []
        arn = alarms[0]["AlarmArn"] if alarms else f"arn:aws:cloudwatch:{target.region}:{target.account}:alarm:{name}"
        return Made(name, {"Arn": arn})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        return await self._put(target, str(properties.get("AlarmName") or target.generated_name(255)), properties)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        return await self._put(target, current.physical_id, new)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "cloudwatch", "DeleteAlarms", {"AlarmNames": [current.physical_id]})
