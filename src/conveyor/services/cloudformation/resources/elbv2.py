"""AWS::ElasticLoadBalancingV2::LoadBalancer, TargetGroup, Listener and ListenerRule, made and changed
through Elastic Load Balancing's own API. Ref gives each one's ARN.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticloadbalancingv2-loadbalancer.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticloadbalancingv2-targetgroup.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticloadbalancingv2-listener.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticloadbalancingv2-listenerrule.html
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
    tag_map,
)

_SERVICE = "elbv2"
# Members of actions and conditions the template may give as text, typed as the API takes them (the query
# protocol writes a boolean from its truth, so the text "false" would be sent as true).
_INTEGER_MEMBERS = frozenset({"Order", "Weight", "DurationSeconds", "Port", "SessionTimeout"})
_BOOLEAN_MEMBERS = frozenset({"Enabled", "UseExistingClientSecret"})


def typed(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _INTEGER_MEMBERS and isinstance(item, str) and item.isdigit():
                out[key] = int(item)
            elif key in _BOOLEAN_MEMBERS:
                out[key] = as_bool(item)
            else:
                out[key] = typed(item)
        return out
    if isinstance(value, list):
        return [typed(item) for item in value]
    return value


def _attributes(value: Any) -> list[dict[str, str]]:
    """Key/value attributes (the template may give booleans and numbers; the API takes text)."""
    out = []
    for entry in value or []:
        item = entry["Value"]
        text = ("true" if item else "false") if isinstance(item, bool) else str(item)
        out.append({"Key": str(entry["Key"]), "Value": text})
    return out


def _changed_attributes(old: Any, new: Any) -> list[dict[str, str]]:
    before = {a["Key"]: a["Value"] for a in _attributes(old)}
    return [a for a in _attributes(new) if before.get(a["Key"]) != a["Value"]]


async def _retag(target: Target, arn: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    before, after = tag_map(old.get("Tags")), tag_map(new.get("Tags"))
    if before.keys() - after.keys():
        await target.call(_SERVICE, "RemoveTags", {"ResourceArns": [arn], "TagKeys": sorted(before.keys() - after.keys())})
    changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
    if changed:
        await target.call(_SERVICE, "AddTags", {"ResourceArns": [arn], "Tags": changed})


def _full_name(arn: str, marker: str) -> str:
    """The part of an ARN after `marker` ("app/name/id" for a load balancer, "targetgroup/name/id")."""
    return arn.split(marker, 1)[1] if marker in arn else arn


class LoadBalancer(ResourceType):
    """Name, Type and Scheme require replacement; subnets, security groups, address type, attributes and
    tags change in place."""

    type_name = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    properties = frozenset({"Name", "Type", "Scheme", "Subnets", "SubnetMappings", "SecurityGroups", "IpAddressType",
                            "LoadBalancerAttributes", "Tags"})
    replace_on = frozenset({"Name", "Type", "Scheme"})
    name_property = "Name"

    @staticmethod
    def _made(balancer: dict[str, Any]) -> Made:
        arn = str(balancer["LoadBalancerArn"])
        return Made(arn, {"LoadBalancerArn": arn, "DNSName": str(balancer.get("DNSName") or ""),
                          "CanonicalHostedZoneID": str(balancer.get("CanonicalHostedZoneId") or ""),
                          "LoadBalancerName": str(balancer["LoadBalancerName"]),
                          "LoadBalancerFullName": _full_name(arn, ":loadbalancer/"),
                          "SecurityGroups": list(balancer.get("SecurityGroups") or [])})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        # A generated name is at most 32 characters, as load balancer names are.
        request: dict[str, Any] = {"Name": str(properties.get("Name") or target.generated_name(32))}
        for key in ("Type", "Scheme", "IpAddressType"):
            if key in properties:
                request[key] = str(properties[key])
        for key in ("Subnets", "SecurityGroups"):
            if key in properties:
                request[key] = [str(item) for item in properties[key] or []]
        if properties.get("SubnetMappings"):
            request["SubnetMappings"] = typed(properties["SubnetMappings"])
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        [balancer] = (await target.call(_SERVICE, "CreateLoadBalancer", request))["LoadBalancers"]
        made = self._made(balancer)
        if properties.get("LoadBalancerAttributes"):
            try:
                await target.call(_SERVICE, "ModifyLoadBalancerAttributes", {
                    "LoadBalancerArn": made.physical_id,
                    "Attributes": _attributes(properties["LoadBalancerAttributes"])})
            except ResourceFailure:
                await ignore_missing(target, _SERVICE, "DeleteLoadBalancer", {"LoadBalancerArn": made.physical_id})
                raise
        return made

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        arn = current.physical_id
        if old.get("Subnets") != new.get("Subnets") or old.get("SubnetMappings") != new.get("SubnetMappings"):
            request: dict[str, Any] = {"LoadBalancerArn": arn}
            if new.get("SubnetMappings"):
                request["SubnetMappings"] = typed(new["SubnetMappings"])
            else:
                request["Subnets"] = [str(s) for s in new.get("Subnets") or []]
            await target.call(_SERVICE, "SetSubnets", request)
        if old.get("SecurityGroups") != new.get("SecurityGroups"):
            await target.call(_SERVICE, "SetSecurityGroups", {
                "LoadBalancerArn": arn, "SecurityGroups": [str(g) for g in new.get("SecurityGroups") or []]})
        if old.get("IpAddressType") != new.get("IpAddressType"):
            await target.call(_SERVICE, "SetIpAddressType", {
                "LoadBalancerArn": arn, "IpAddressType": str(new.get("IpAddressType") or "ipv4")})
        changed = _changed_attributes(old.get("LoadBalancerAttributes"), new.get("LoadBalancerAttributes"))
        if changed:
            await target.call(_SERVICE, "ModifyLoadBalancerAttributes", {"LoadBalancerArn": arn, "Attributes": changed})
        await _retag(target, arn, old, new)
        [balancer] = (await target.call(_SERVICE, "DescribeLoadBalancers", {"LoadBalancerArns": [arn]}))["LoadBalancers"]
        return self._made(balancer)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, _SERVICE, "DeleteLoadBalancer", {"LoadBalancerArn": current.physical_id},
                             "LoadBalancerNotFound")


_HEALTH = ("HealthCheckEnabled", "HealthCheckIntervalSeconds", "HealthCheckPath", "HealthCheckPort",
           "HealthCheckProtocol", "HealthCheckTimeoutSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount",
           "Matcher")
_HEALTH_INTEGERS = frozenset({"HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount",
                              "UnhealthyThresholdCount"})


def _health(properties: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _HEALTH:
        if key in properties:
            value = properties[key]
            if key in _HEALTH_INTEGERS:
                value = as_int(value, key)
            elif key == "HealthCheckEnabled":
                value = as_bool(value)
            elif key == "HealthCheckPort":
                value = str(value)
            out[key] = value
    return out


def _targets(value: Any) -> list[dict[str, Any]]:
    out = []
    for entry in value or []:
        item: dict[str, Any] = {"Id": str(entry["Id"])}
        if "Port" in entry:
            item["Port"] = as_int(entry["Port"], "Targets.Port")
        if "AvailabilityZone" in entry:
            item["AvailabilityZone"] = str(entry["AvailabilityZone"])
        out.append(item)
    return out


class TargetGroup(ResourceType):
    """What the group is (name, protocol, port, VPC, target type, protocol version, address type) requires
    replacement; health checks, attributes, targets and tags change in place."""

    type_name = "AWS::ElasticLoadBalancingV2::TargetGroup"
    properties = frozenset({"Name", "Protocol", "Port", "VpcId", "TargetType", "ProtocolVersion", "IpAddressType",
                            "TargetGroupAttributes", "Targets", "Tags", *_HEALTH})
    replace_on = frozenset({"Name", "Protocol", "Port", "VpcId", "TargetType", "ProtocolVersion", "IpAddressType"})
    name_property = "Name"

    @staticmethod
    def _made(group: dict[str, Any]) -> Made:
        arn = str(group["TargetGroupArn"])
        return Made(arn, {"TargetGroupArn": arn, "TargetGroupName": str(group["TargetGroupName"]),
                          "TargetGroupFullName": "targetgroup/" + _full_name(arn, ":targetgroup/"),
                          "LoadBalancerArns": list(group.get("LoadBalancerArns") or [])})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        request: dict[str, Any] = {"Name": str(properties.get("Name") or target.generated_name(32)),
                                   **_health(properties)}
        for key in ("Protocol", "VpcId", "TargetType", "ProtocolVersion", "IpAddressType"):
            if key in properties:
                request[key] = str(properties[key])
        if "Port" in properties:
            request["Port"] = as_int(properties["Port"], "Port")
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        [group] = (await target.call(_SERVICE, "CreateTargetGroup", request))["TargetGroups"]
        made = self._made(group)
        try:
            await self._contents(target, made.physical_id, {}, properties)
        except ResourceFailure:
            await ignore_missing(target, _SERVICE, "DeleteTargetGroup", {"TargetGroupArn": made.physical_id})
            raise
        return made

    @staticmethod
    async def _contents(target: Target, arn: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        changed = _changed_attributes(old.get("TargetGroupAttributes"), new.get("TargetGroupAttributes"))
        if changed:
            await target.call(_SERVICE, "ModifyTargetGroupAttributes", {"TargetGroupArn": arn, "Attributes": changed})
        before, after = _targets(old.get("Targets")), _targets(new.get("Targets"))
        gone = [t for t in before if t not in after]
        if gone:
            await target.call(_SERVICE, "DeregisterTargets", {"TargetGroupArn": arn, "Targets": gone})
        added = [t for t in after if t not in before]
        if added:
            await target.call(_SERVICE, "RegisterTargets", {"TargetGroupArn": arn, "Targets": added})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        arn = current.physical_id
        before, after = _health(old), _health(new)
        changed = {key: value for key, value in after.items() if before.get(key) != value}
        if changed:
            await target.call(_SERVICE, "ModifyTargetGroup", {"TargetGroupArn": arn, **changed})
        await self._contents(target, arn, old, new)
        await _retag(target, arn, old, new)
        [group] = (await target.call(_SERVICE, "DescribeTargetGroups", {"TargetGroupArns": [arn]}))["TargetGroups"]
        return self._made(group)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, _SERVICE, "DeleteTargetGroup", {"TargetGroupArn": current.physical_id},
                             "TargetGroupNotFound")


_LISTENER_SETTINGS = ("Protocol", "SslPolicy")


class Listener(ResourceType):
    """The load balancer requires replacement; port, protocol, default actions, certificates and policies
    change in place (ModifyListener)."""

    type_name = "AWS::ElasticLoadBalancingV2::Listener"
    properties = frozenset({"LoadBalancerArn", "Port", "Protocol", "DefaultActions", "Certificates", "SslPolicy",
                            "AlpnPolicy"})
    required = frozenset({"LoadBalancerArn", "DefaultActions"})
    replace_on = frozenset({"LoadBalancerArn"})

    @staticmethod
    def _settings(properties: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"DefaultActions": typed(properties["DefaultActions"])}
        if "Port" in properties:
            out["Port"] = as_int(properties["Port"], "Port")
        for key in _LISTENER_SETTINGS:
            if key in properties:
                out[key] = str(properties[key])
        if properties.get("Certificates"):
            out["Certificates"] = [{"CertificateArn": str(c["CertificateArn"])} for c in properties["Certificates"]]
        if properties.get("AlpnPolicy"):
            out["AlpnPolicy"] = [str(p) for p in properties["AlpnPolicy"]]
        return out

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        [listener] = (await target.call(_SERVICE, "CreateListener", {
            "LoadBalancerArn": str(properties["LoadBalancerArn"]), **self._settings(properties)}))["Listeners"]
        arn = str(listener["ListenerArn"])
        return Made(arn, {"ListenerArn": arn})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        await target.call(_SERVICE, "ModifyListener", {"ListenerArn": current.physical_id, **self._settings(new)})
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, _SERVICE, "DeleteListener", {"ListenerArn": current.physical_id},
                             "ListenerNotFound")


class ListenerRule(ResourceType):
    """The listener requires replacement; conditions and actions change in place (ModifyRule), and the
    priority through SetRulePriorities."""

    type_name = "AWS::ElasticLoadBalancingV2::ListenerRule"
    properties = frozenset({"ListenerArn", "Priority", "Conditions", "Actions"})
    required = frozenset({"Actions", "Priority", "Conditions"})
    replace_on = frozenset({"ListenerArn"})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        if not properties.get("ListenerArn"):
            raise ResourceFailure("Properties validation failed for resource with message: "
                                  "#: required key [ListenerArn] not found")
        [rule] = (await target.call(_SERVICE, "CreateRule", {
            "ListenerArn": str(properties["ListenerArn"]), "Priority": as_int(properties["Priority"], "Priority"),
            "Conditions": typed(properties["Conditions"]), "Actions": typed(properties["Actions"])}))["Rules"]
        arn = str(rule["RuleArn"])
        return Made(arn, {"RuleArn": arn, "IsDefault": bool(rule.get("IsDefault", False))})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        arn = current.physical_id
        if old.get("Conditions") != new.get("Conditions") or old.get("Actions") != new.get("Actions"):
            await target.call(_SERVICE, "ModifyRule", {"RuleArn": arn, "Conditions": typed(new["Conditions"]),
                                                       "Actions": typed(new["Actions"])})
        if str(old.get("Priority")) != str(new.get("Priority")):
            await target.call(_SERVICE, "SetRulePriorities", {"RulePriorities": [
                {"RuleArn": arn, "Priority": as_int(new["Priority"], "Priority")}]})
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, _SERVICE, "DeleteRule", {"RuleArn": current.physical_id}, "RuleNotFound")
