"""What each EC2 operation asks IAM for (`--iam report|enforce`), and EC2's words for a denial.

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
- RunInstances acts on every resource the launch uses, each of which a policy must allow: the new
  instance (`instance/*`), the image (`arn:aws:ec2:REGION::image/AMI`, no account), the subnet, the
  security groups, the network interface and volume it creates (`network-interface/*`, `volume/*`), and the
  launch template when one is named (`launch-template/lt-...`). Tags given at launch also need
  ec2:CreateTags on the instance with ec2:CreateAction RunInstances
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html). An instance
  profile needs iam:PassRole on its role, with iam:PassedToService ec2.amazonaws.com, whether the request
  or its launch template names it (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html).
- Terminate/Stop/StartInstances and GetConsoleOutput act on each instance; the launch template
  operations on the template (CreateLaunchTemplate on `launch-template/*`: its id is not known yet);
  CreateTags/DeleteTags on each resource tagged.
- Describe* actions take no resource ("*").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.authz import Denial, Need
from conveyor.ports import RoleDirectory
from conveyor.services.ec2.launch import merged
from conveyor.services.ec2.templates import Templates
from conveyor.wire import RequestContext, ServiceError

EC2_PRINCIPAL = "ec2.amazonaws.com"
_ON_INSTANCES = {"TerminateInstances", "StopInstances", "StartInstances", "GetConsoleOutput",
                 "DescribeInstanceAttribute", "ModifyInstanceAttribute", "RebootInstances"}
_ON_TEMPLATE = {"CreateLaunchTemplateVersion", "ModifyLaunchTemplate", "DeleteLaunchTemplate",
                "DeleteLaunchTemplateVersions"}
_KINDS = {"i-": "instance", "lt-": "launch-template", "ami-": "image", "subnet-": "subnet", "sg-": "security-group",
          "vpc-": "vpc", "vol-": "volume", "eni-": "network-interface"}


def resource_arn(ctx: RequestContext, resource_id: str) -> str:
    """The ARN of an EC2 resource named by its id (its kind by the id's prefix)."""
    kind = next((k for prefix, k in _KINDS.items() if resource_id.startswith(prefix)), "resource")
    account = "" if kind == "image" else ctx.account_id  # images are named without an account
    return f"arn:aws:ec2:{ctx.region}:{account}:{kind}/{resource_id}"


def _any(ctx: RequestContext, kind: str) -> str:
    return f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:{kind}/*"


def _template_arn(ctx: RequestContext, templates: Templates, template_id: Any, name: Any) -> str:
    try:
        found = templates.find(ctx.region, template_id if isinstance(template_id, str) else None,
                               name if isinstance(name, str) else None)
    except ServiceError:
        return _any(ctx, "launch-template")  # the operation answers its own error for a template not found
    return resource_arn(ctx, found.template_id)


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any], templates: Templates | None,
          roles: RoleDirectory | None) -> list[Need]:
    action = f"ec2:{operation}"
    if operation == "RunInstances":
        return _run_instances(ctx, params, templates, roles)
    if operation in _ON_INSTANCES:
        ids = params.get("InstanceIds") or ([params["InstanceId"]] if params.get("InstanceId") else [])
        return [Need(action, resource_arn(ctx, str(i))) for i in ids] or [Need(action, _any(ctx, "instance"))]
    if operation == "CreateLaunchTemplate":
        return [Need(action, _any(ctx, "launch-template"))]
    if operation in _ON_TEMPLATE and templates is not None:
        return [Need(action, _template_arn(ctx, templates, params.get("LaunchTemplateId"),
                                           params.get("LaunchTemplateName")))]
    if operation in ("CreateTags", "DeleteTags"):
        return [Need(action, resource_arn(ctx, str(r))) for r in params.get("Resources") or []] or [Need(action)]
    return [Need(action)]


def _run_instances(ctx: RequestContext, params: Mapping[str, Any], templates: Templates | None,
                   roles: RoleDirectory | None) -> list[Need]:
    given: Mapping[str, Any] = params
    template_arn = None
    if params.get("LaunchTemplate") and templates is not None:
        try:
            given, ref = merged(dict(params), templates, ctx.region)
        except ServiceError:
            ref = None  # RunInstances answers its own error for a template not found
        spec = params["LaunchTemplate"]
        template_arn = (resource_arn(ctx, ref.template_id) if ref is not None and ref.template_id else
                        _template_arn(ctx, templates, spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName")))
    action = "ec2:RunInstances"
    image = given.get("ImageId")
    groups: Sequence[Any] = given.get("SecurityGroupIds") or []
    resources = [_any(ctx, "instance"),
                 resource_arn(ctx, image) if isinstance(image, str) and image else f"arn:aws:ec2:{ctx.region}::image/*",
                 resource_arn(ctx, given["SubnetId"]) if isinstance(given.get("SubnetId"), str) else _any(ctx, "subnet"),
                 *([resource_arn(ctx, str(g)) for g in groups] or [_any(ctx, "security-group")]),
                 _any(ctx, "network-interface"), _any(ctx, "volume")]
    if template_arn is not None:
        resources.append(template_arn)
    out = [Need(action, resource) for resource in resources]
    if any(spec.get("Tags") for spec in params.get("TagSpecifications") or []):
        out.append(Need("ec2:CreateTags", _any(ctx, "instance"), {"ec2:CreateAction": "RunInstances"}))
    role = _profile_role(given.get("IamInstanceProfile"), roles)
    if role is not None:
        out.append(Need("iam:PassRole", role, {"iam:PassedToService": EC2_PRINCIPAL}))
    return out


def _profile_role(spec: Any, roles: RoleDirectory | None) -> str | None:
    """The role of the instance profile a launch names (by ARN or name), when it exists."""
    if not isinstance(spec, Mapping) or roles is None:
        return None
    ref = spec.get("Arn") or spec.get("Name")
    profile = roles.instance_profile(str(ref).rpartition("/")[2]) if ref else None
    return profile.role_arn if profile is not None else None


def access_denied(denial: Denial) -> ServiceError:
    """EC2 answers UnauthorizedOperation, HTTP 403: "You are not authorized to perform this operation. User:
    ... is not authorized to perform: ec2:RunInstances on resource: ... because ..." (followed on AWS by an
    encoded authorization failure message for sts:DecodeAuthorizationMessage, which Conveyor does not serve).
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html"""
    return ServiceError("UnauthorizedOperation", f"You are not authorized to perform this operation. {denial.message()}",
                        403)
