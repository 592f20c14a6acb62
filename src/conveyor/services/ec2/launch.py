"""RunInstances' rules: what an instance is made of, from the request and its launch template.

https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html
- Parameters given in the request override the launch template's (https://docs.aws.amazon.com/AWSEC2/
  latest/UserGuide/ec2-launch-templates.html); the image id is required from one of them.
- An AMI id is an opaque name (`ami-` and hex): every image boots this host.
- User data arrives base64-encoded (boto3 and the AWS CLI encode RunInstances' for you), at most 16 KB
  decoded.
- Settings that would change what runs and that Conveyor cannot honour are refused (spot markets,
  network interfaces, IPv6, hibernation, key pairs, which do not exist here); the others (instance type,
  monitoring, block devices, credit specification...) are kept and described back.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from conveyor.ports import InstanceProfileRecord, LaunchTemplateRef, RoleDirectory
from conveyor.services.ec2 import errors, network
from conveyor.services.ec2.templates import Templates
from conveyor.wire import ServiceError

AMI = re.compile(r"ami-[0-9a-f]{8,17}")
USER_DATA_MAX = 16 * 1024
DEFAULT_TYPE = "m1.small"  # RunInstances' documented default
REFUSED = {
    "InstanceMarketOptions": "spot and capacity-block markets",
    "NetworkInterfaces": "network interfaces",
    "Ipv6AddressCount": "IPv6 addresses", "Ipv6Addresses": "IPv6 addresses",
    "HibernationOptions": "hibernation", "ElasticGpuSpecification": "elastic GPUs",
    "ElasticInferenceAccelerators": "elastic inference accelerators", "EnclaveOptions": "Nitro enclaves",
    "LicenseSpecifications": "license configurations",
}


@dataclass
class LaunchSpec:
    """Everything an instance is made of."""

    image_id: str
    instance_type: str
    zone: str
    subnet: dict[str, Any]
    user_data: bytes
    profile: InstanceProfileRecord | None
    shutdown_behavior: str  # stop | terminate: what the instance becomes when its process ends
    tags: list[dict[str, str]]
    metadata: dict[str, Any]  # MetadataOptions as described back
    disable_api_termination: bool
    template: LaunchTemplateRef | None
    kept: dict[str, Any] = field(default_factory=dict)  # settings described back as given


def merged(params: dict[str, Any], templates: Templates, region: str) -> tuple[dict[str, Any], LaunchTemplateRef | None]:
    """The request's parameters over its launch template's data (and which version that was)."""
    spec = params.get("LaunchTemplate")
    if spec is None:
        return dict(params), None
    template, number = templates.resolve(region, LaunchTemplateRef(spec.get("LaunchTemplateId"),
                                                                   spec.get("LaunchTemplateName"),
                                                                   spec.get("Version") or "$Default"))
    data = dict(template.versions[number]["Data"])
    if "RamDiskId" in data:
        data["RamdiskId"] = data.pop("RamDiskId")
    out = {**data, **{k: v for k, v in params.items() if k != "LaunchTemplate"}}
    if data.get("TagSpecifications") and params.get("TagSpecifications"):  # both apply
        out["TagSpecifications"] = [*data["TagSpecifications"], *params["TagSpecifications"]]
    return out, LaunchTemplateRef(template.template_id, template.name, str(number))


def build(params: dict[str, Any], ref: LaunchTemplateRef | None, roles: RoleDirectory | None, account: str,
          region: str, user_data_encoded: bool) -> LaunchSpec:
    """`user_data_encoded`: whether UserData is base64 text (RunInstances' and templates' is)."""
    for key, what in REFUSED.items():
        if params.get(key):
            raise errors.unsupported(f"Conveyor runs instances as local processes: {what} ({key}) are not "
                                     "supported.")
    if params.get("KeyName"):
        raise ServiceError("InvalidKeyPair.NotFound", f"The key pair '{params['KeyName']}' does not exist")
    image_id = params.get("ImageId")
    if not image_id:
        raise errors.missing("The request must contain the parameter ImageId")
    if not AMI.fullmatch(image_id):
        raise errors.ami_malformed(image_id)
    zone, subnet = _placement(params, account, region)
    _check_groups(params, account, region)
    return LaunchSpec(
        image_id=image_id, instance_type=params.get("InstanceType") or DEFAULT_TYPE, zone=zone, subnet=subnet,
        user_data=_user_data(params.get("UserData")),
        profile=_profile(params.get("IamInstanceProfile"), roles),
        shutdown_behavior=params.get("InstanceInitiatedShutdownBehavior") or "stop",
        tags=_instance_tags(params.get("TagSpecifications") or [], ref),
        metadata=_metadata(params.get("MetadataOptions") or {}),
        disable_api_termination=bool(params.get("DisableApiTermination")), template=ref,
        kept={k: params[k] for k in ("Monitoring", "EbsOptimized", "BlockDeviceMappings", "CreditSpecification",
                                     "CpuOptions", "ClientToken") if params.get(k) is not None},
    )


def _user_data(value: str | None) -> bytes:
    if not value:
        return b""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.bad_user_data()
    if len(raw) > USER_DATA_MAX:
        raise errors.invalid_parameter(f"User data is limited to {USER_DATA_MAX} bytes")
    return raw


def _placement(params: dict[str, Any], account: str, region: str) -> tuple[str, dict[str, Any]]:
    subnets = network.subnets(account, region)
    subnet_id = params.get("SubnetId")
    zone = (params.get("Placement") or {}).get("AvailabilityZone")
    if subnet_id:
        found = next((s for s in subnets if s["SubnetId"] == subnet_id), None)
        if found is None:
            raise ServiceError("InvalidSubnetID.NotFound", f"The subnet ID '{subnet_id}' does not exist")
        if zone and zone != found["AvailabilityZone"]:
            raise errors.invalid_parameter(f"Value ({zone}) for parameter availabilityZone is invalid. Subnet "
                                           f"{subnet_id} is in {found['AvailabilityZone']}.")
        return found["AvailabilityZone"], found
    if zone:
        found = next((s for s in subnets if s["AvailabilityZone"] == zone), None)
        if found is None:
            raise errors.invalid_parameter(f"Invalid availability zone: [{zone}]")
        return zone, found
    return subnets[0]["AvailabilityZone"], subnets[0]


def _check_groups(params: dict[str, Any], account: str, region: str) -> None:
    group = network.security_group(account, region)
    for group_id in params.get("SecurityGroupIds") or []:
        if group_id != group["GroupId"]:
            raise ServiceError("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist in VPC "
                                                        f"'{group['VpcId']}'")
    for name in params.get("SecurityGroups") or []:
        if name != "default":
            raise ServiceError("InvalidGroup.NotFound", f"The security group '{name}' does not exist in default VPC "
                                                        f"'{group['VpcId']}'")


def _profile(spec: dict[str, Any] | None, roles: RoleDirectory | None) -> InstanceProfileRecord | None:
    if not spec:
        return None
    arn, name = spec.get("Arn"), spec.get("Name")
    if arn:
        found = roles.instance_profile(arn.rpartition("/")[2]) if roles is not None else None
        if found is None or found.arn != arn:
            raise errors.profile_arn_not_found(arn)
        return found
    found = roles.instance_profile(name) if roles is not None and name else None
    if found is None:
        raise errors.profile_not_found(name or "")
    return found


def _instance_tags(specs: list[dict[str, Any]], ref: LaunchTemplateRef | None) -> list[dict[str, str]]:
    """The instance's tags; those for volumes and network interfaces are accepted but have nothing to go on
    here. An instance launched from a template carries aws:ec2launchtemplate:id and :version, as on EC2."""
    tags: dict[str, str] = {}
    for spec in specs:
        if spec.get("ResourceType") == "instance":
            for tag in spec.get("Tags") or []:
                tags[errors.tag_key(tag)] = tag.get("Value", "")
    if ref is not None:
        tags["aws:ec2launchtemplate:id"] = ref.template_id or ""
        tags["aws:ec2launchtemplate:version"] = ref.version
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _metadata(options: dict[str, Any]) -> dict[str, Any]:
    """IMDSv2 (tokens required) unless HttpTokens says optional; HttpEndpoint disabled turns it off."""
    return {"State": "applied", "HttpTokens": options.get("HttpTokens") or "required",
            "HttpPutResponseHopLimit": options.get("HttpPutResponseHopLimit") or 2,
            "HttpEndpoint": options.get("HttpEndpoint") or "enabled", "HttpProtocolIpv6": "disabled",
            "InstanceMetadataTags": options.get("InstanceMetadataTags") or "disabled"}
