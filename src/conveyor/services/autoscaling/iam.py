"""What each Auto Scaling operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html
- The group operations (Create/Update/DeleteAutoScalingGroup, SetDesiredCapacity, Suspend/ResumeProcesses,
  Enable/DisableMetricsCollection, Put/Delete/ExecutePolicy, TerminateInstanceInAutoScalingGroup and
  SetInstanceHealth, whose group is the instance's) act on the group,
  `arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:GROUP_ID:autoScalingGroupName/NAME`; a group not
  made yet has no id: `*` stands for it, which a policy naming `autoScalingGroup:*:autoScalingGroupName/NAME`
  covers.
- A group launched from a launch template: the caller also needs ec2:RunInstances on the template
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-launch-template-permissions.html).
- The Describe* actions take no resource ("*").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conveyor.authz import Need
from conveyor.services.autoscaling.groups import group_arn
from conveyor.wire import RequestContext

_ON_GROUP = {"CreateAutoScalingGroup", "UpdateAutoScalingGroup", "DeleteAutoScalingGroup", "SetDesiredCapacity",
             "SuspendProcesses", "ResumeProcesses", "EnableMetricsCollection", "DisableMetricsCollection",
             "PutScalingPolicy", "DeletePolicy", "ExecutePolicy", "CreateOrUpdateTags", "DeleteTags",
             "AttachInstances", "DetachInstances", "PutLifecycleHook", "DeleteLifecycleHook"}
_BY_INSTANCE = {"TerminateInstanceInAutoScalingGroup", "SetInstanceHealth"}

# (region, group name) -> the group's ARN, None when there is no such group
GroupArns = Callable[[str, str], str | None]
# (region, instance id) -> the name of the group it belongs to, or None
InstanceGroups = Callable[[str, str], str | None]
# (region, LaunchTemplate parameter) -> the template's ARN, None when it names none that exists
TemplateArns = Callable[[str, Mapping[str, Any]], str | None]


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any], groups: GroupArns,
          members: InstanceGroups, templates: TemplateArns) -> list[Need]:
    action = f"autoscaling:{operation}"
    name = params.get("AutoScalingGroupName")
    if operation in _BY_INSTANCE and isinstance(params.get("InstanceId"), str):
        name = members(ctx.region, params["InstanceId"])
    if operation in ("CreateOrUpdateTags", "DeleteTags"):
        tags = params.get("Tags") or []
        name = next((t.get("ResourceId") for t in tags if t.get("ResourceType") == "auto-scaling-group"), None)
    if (operation in _ON_GROUP or operation in _BY_INSTANCE) and isinstance(name, str) and name:
        arn = groups(ctx.region, name) or group_arn(ctx.region, ctx.account_id, name, "*")
        out = [Need(action, arn)]
        template = params.get("LaunchTemplate")
        if operation in ("CreateAutoScalingGroup", "UpdateAutoScalingGroup") and isinstance(template, Mapping):
            template_arn = templates(ctx.region, template)
            if template_arn is not None:
                out.append(Need("ec2:RunInstances", template_arn))
        return out
    return [Need(action)]
