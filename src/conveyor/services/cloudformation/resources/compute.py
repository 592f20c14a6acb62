"""AWS::EC2::LaunchTemplate, AWS::AutoScaling::AutoScalingGroup and AWS::AutoScaling::ScalingPolicy: the
worker pool of the architecture.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-launchtemplate.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-autoscaling-autoscalinggroup.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-autoscaling-scalingpolicy.html
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
)


def _template_tags(properties: dict[str, Any]) -> dict[str, str]:
    """The launch template's own tags (its TagSpecifications of resource type launch-template)."""
    return {str(tag["Key"]): str(tag.get("Value", "")) for spec in properties.get("TagSpecifications") or []
            if spec.get("ResourceType") == "launch-template" for tag in spec.get("Tags") or []}


class LaunchTemplate(ResourceType):
    """Ref is the template's id. A changed LaunchTemplateData becomes a new version, made the default one; its
    tags change in place."""

    type_name = "AWS::EC2::LaunchTemplate"
    properties = frozenset({"LaunchTemplateName", "LaunchTemplateData", "VersionDescription", "TagSpecifications"})
    required = frozenset({"LaunchTemplateData"})
    replace_on = frozenset({"LaunchTemplateName"})
    name_property = "LaunchTemplateName"

    @staticmethod
    def _made(template: dict[str, Any]) -> Made:
        return Made(template["LaunchTemplateId"], {
            "LaunchTemplateId": template["LaunchTemplateId"],
            "LatestVersionNumber": str(template["LatestVersionNumber"]),
            "DefaultVersionNumber": str(template["DefaultVersionNumber"])})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        request: dict[str, Any] = {"LaunchTemplateName": str(properties.get("LaunchTemplateName")
                                                             or target.generated_name(128)),
                                   "LaunchTemplateData": properties["LaunchTemplateData"]}
        for key in ("VersionDescription", "TagSpecifications"):
            if key in properties:
                request[key] = properties[key]
        return self._made((await target.call("ec2", "CreateLaunchTemplate", request))["LaunchTemplate"])

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        template_id = current.physical_id
        if old.get("LaunchTemplateData") != new.get("LaunchTemplateData") or \
                old.get("VersionDescription") != new.get("VersionDescription"):
            request: dict[str, Any] = {"LaunchTemplateId": template_id,
                                       "LaunchTemplateData": new["LaunchTemplateData"]}
            if "VersionDescription" in new:
                request["VersionDescription"] = new["VersionDescription"]
            version = (await target.call("ec2", "CreateLaunchTemplateVersion", request))["LaunchTemplateVersion"]
            await target.call("ec2", "ModifyLaunchTemplate", {"LaunchTemplateId": template_id,
                                                              "DefaultVersion": str(version["VersionNumber"])})
        before, after = _template_tags(old), _template_tags(new)
        gone = [{"Key": key} for key in sorted(set(before) - set(after))]
        if gone:
            await target.call("ec2", "DeleteTags", {"Resources": [template_id], "Tags": gone})
        changed = [{"Key": k, "Value": v} for k, v in sorted(after.items()) if before.get(k) != v]
        if changed:
            await target.call("ec2", "CreateTags", {"Resources": [template_id], "Tags": changed})
        found = await target.call("ec2", "DescribeLaunchTemplates", {"LaunchTemplateIds": [template_id]})
        return self._made(found["LaunchTemplates"][0])

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "ec2", "DeleteLaunchTemplate", {"LaunchTemplateId": current.physical_id},
                             "InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException")


# Group settings the template and UpdateAutoScalingGroup share by name, and which of them are numbers.
_GROUP_SETTINGS = ("MinSize", "MaxSize", "DesiredCapacity", "LaunchTemplate", "AvailabilityZones", "HealthCheckType",
                   "HealthCheckGracePeriod", "DefaultInstanceWarmup", "TerminationPolicies",
                   "NewInstancesProtectedFromScaleIn", "MaxInstanceLifetime", "CapacityRebalance")
_GROUP_INTEGERS = frozenset({"MinSize", "MaxSize", "DesiredCapacity", "HealthCheckGracePeriod",
                             "DefaultInstanceWarmup", "MaxInstanceLifetime"})
_GROUP_BOOLEANS = frozenset({"NewInstancesProtectedFromScaleIn", "CapacityRebalance"})


def _group_settings(properties: dict[str, Any], keys: tuple[str, ...] = _GROUP_SETTINGS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        if key not in properties:
            continue
        value = properties[key]
        if key in _GROUP_INTEGERS:
            value = as_int(value, key)
        elif key in _GROUP_BOOLEANS:
            value = as_bool(value)
        elif key == "LaunchTemplate":
            value = {k: str(v) for k, v in value.items()}
        out[key] = value
    if "Cooldown" in properties:  # the template's Cooldown is the API's DefaultCooldown
        out["DefaultCooldown"] = as_int(properties["Cooldown"], "Cooldown")
    if "VPCZoneIdentifier" in properties:  # a list in the template, comma-separated text in the API
        out["VPCZoneIdentifier"] = ",".join(str(s) for s in properties["VPCZoneIdentifier"])
    return out


class AutoScalingGroup(ResourceType):
    """Ref is the group's name. Its settings change in place (UpdateAutoScalingGroup); only the name requires
    replacement. Deleting it terminates its instances, as CloudFormation's deletion does."""

    type_name = "AWS::AutoScaling::AutoScalingGroup"
    properties = frozenset({"AutoScalingGroupName", "Cooldown", "VPCZoneIdentifier", "Tags", "MetricsCollection",
                            "TargetGroupARNs", *_GROUP_SETTINGS})
    required = frozenset({"MinSize", "MaxSize"})
    replace_on = frozenset({"AutoScalingGroupName"})
    name_property = "AutoScalingGroupName"

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties.get("AutoScalingGroupName") or target.generated_name(255))
        request: dict[str, Any] = {"AutoScalingGroupName": name, **_group_settings(properties)}
        if properties.get("Tags"):
            request["Tags"] = [{"Key": str(t["Key"]), "Value": str(t["Value"]),
                                "PropagateAtLaunch": as_bool(t.get("PropagateAtLaunch", False))}
                               for t in properties["Tags"]]
        if properties.get("TargetGroupARNs"):
            request["TargetGroupARNs"] = [str(arn) for arn in properties["TargetGroupARNs"]]
        await target.call("autoscaling", "CreateAutoScalingGroup", request)
        try:
            await self._metrics(target, name, {}, properties)
        except ResourceFailure:
            await self.delete(target, Made(name), properties)
            raise
        return Made(name)

    async def _metrics(self, target: Target, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """MetricsCollection: the group metrics it publishes (each entry: a granularity and the metrics, all
        of them when none are listed)."""
        if old.get("MetricsCollection") == new.get("MetricsCollection"):
            return
        if old.get("MetricsCollection"):
            await target.call("autoscaling", "DisableMetricsCollection", {"AutoScalingGroupName": name})
        for entry in new.get("MetricsCollection") or []:
            request: dict[str, Any] = {"AutoScalingGroupName": name, "Granularity": str(entry["Granularity"])}
            if entry.get("Metrics"):
                request["Metrics"] = [str(m) for m in entry["Metrics"]]
            await target.call("autoscaling", "EnableMetricsCollection", request)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        if old.get("Tags") != new.get("Tags"):
            # Conveyor serves no CreateOrUpdateTags/DeleteTags for groups: refuse rather than ignore the change.
            raise ResourceFailure("Conveyor cannot change an Auto Scaling group's Tags in place "
                                  "(CreateOrUpdateTags is not served)")
        before, after = _group_settings(old), _group_settings(new)
        changed = {key: value for key, value in after.items() if before.get(key) != value}
        if changed:
            await target.call("autoscaling", "UpdateAutoScalingGroup", {"AutoScalingGroupName": current.physical_id,
                                                                        **changed})
        await self._metrics(target, current.physical_id, old, new)
        await self._target_groups(target, current.physical_id, old, new)
        return current

    @staticmethod
    async def _target_groups(target: Target, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """TargetGroupARNs change in place: groups detached (the instances deregistered) and attached
        (registered as they come InService), as Auto Scaling does for each."""
        before = [str(arn) for arn in old.get("TargetGroupARNs") or []]
        after = [str(arn) for arn in new.get("TargetGroupARNs") or []]
        gone = [arn for arn in before if arn not in after]
        if gone:
            await target.call("autoscaling", "DetachLoadBalancerTargetGroups", {"AutoScalingGroupName": name,
                                                                                "TargetGroupARNs": gone})
        added = [arn for arn in after if arn not in before]
        if added:
            await target.call("autoscaling", "AttachLoadBalancerTargetGroups", {"AutoScalingGroupName": name,
                                                                                "TargetGroupARNs": added})

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "autoscaling", "DeleteAutoScalingGroup", {
            "AutoScalingGroupName": current.physical_id, "ForceDelete": True}, "ValidationError")


_POLICY_SETTINGS = ("PolicyType", "AdjustmentType", "ScalingAdjustment", "Cooldown", "MinAdjustmentMagnitude",
                    "StepAdjustments", "MetricAggregationType", "EstimatedInstanceWarmup",
                    "TargetTrackingConfiguration")
_POLICY_INTEGERS = frozenset({"ScalingAdjustment", "Cooldown", "MinAdjustmentMagnitude", "EstimatedInstanceWarmup"})


def _numbers(value: Any) -> Any:
    """Numbers the template may give as text (step bounds, target values) as the API's numbers."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in ("MetricIntervalLowerBound", "MetricIntervalUpperBound", "TargetValue") and isinstance(item, str):
                out[key] = float(item)
            elif key == "ScalingAdjustment" and isinstance(item, str):
                out[key] = as_int(item, key)
            elif key == "DisableScaleIn":
                out[key] = as_bool(item)
            else:
                out[key] = _numbers(item)
        return out
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return value


class ScalingPolicy(ResourceType):
    """Ref is the policy's ARN; PolicyName is its generated name. Every setting changes in place (PutScalingPolicy
    replaces a policy of the same name); the group requires replacement."""

    type_name = "AWS::AutoScaling::ScalingPolicy"
    properties = frozenset({"AutoScalingGroupName", *_POLICY_SETTINGS})
    required = frozenset({"AutoScalingGroupName"})
    replace_on = frozenset({"AutoScalingGroupName"})

    async def _put(self, target: Target, name: str, properties: dict[str, Any]) -> Made:
        request: dict[str, Any] = {"AutoScalingGroupName": str(properties["AutoScalingGroupName"]), "PolicyName": name}
        for key in _POLICY_SETTINGS:
            if key in properties:
                value = properties[key]
                request[key] = as_int(value, key) if key in _POLICY_INTEGERS else _numbers(value)
        arn = str((await target.call("autoscaling", "PutScalingPolicy", request))["PolicyARN"])
        return Made(arn, {"Arn": arn, "PolicyName": name})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        return await self._put(target, target.generated_name(255), properties)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        return await self._put(target, str(current.attributes["PolicyName"]), new)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "autoscaling", "DeletePolicy", {
            "AutoScalingGroupName": str(properties["AutoScalingGroupName"]),
            "PolicyName": str(current.attributes["PolicyName"])}, "ValidationError")
