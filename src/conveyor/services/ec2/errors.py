"""EC2's errors, with the codes of its API reference and the messages EC2 sends.
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
The ec2 codec writes them as `<Response><Errors><Error><Code>...`, status 400 unless said otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.wire import ServiceError


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message)


def invalid_combination(message: str) -> ServiceError:
    return ServiceError("InvalidParameterCombination", message)


def missing(message: str) -> ServiceError:
    return ServiceError("MissingParameter", message)


def unsupported(message: str) -> ServiceError:
    return ServiceError("UnsupportedOperation", message)


def template_name_taken(name: str) -> ServiceError:
    return ServiceError("InvalidLaunchTemplateName.AlreadyExistsException",
                        "Launch template name already in use.")


def template_not_found_by_name(name: str) -> ServiceError:
    return ServiceError("InvalidLaunchTemplateName.NotFoundException",
                        "At least one of the launch templates specified in the request does not exist.")


def template_not_found_by_id(template_id: str) -> ServiceError:
    return ServiceError("InvalidLaunchTemplateId.NotFound",
                        f"The specified launch template, with template ID {template_id}, does not exist.")


def template_id_malformed(template_id: str) -> ServiceError:
    return ServiceError("InvalidLaunchTemplateId.Malformed",
                        f"The specified ID for the launch template ({template_id}) is not valid. IDs must start with "
                        "'lt-' followed by 17 hexadecimal characters.")


def version_not_found(template_id: str, version: str) -> ServiceError:
    return ServiceError("InvalidLaunchTemplateId.VersionNotFound",
                        f"Could not find launch template version {version} for the launch template with ID "
                        f"{template_id}.")


def bad_version(version: str) -> ServiceError:
    return ServiceError("InvalidLaunchTemplateId.VersionNotFound",
                        f"The launch template version {version} is not valid: use a version number, $Latest or "
                        "$Default.")


def instance_not_found(ids: list[str]) -> ServiceError:
    quoted = ", ".join(f"'{i}'" for i in ids)
    return ServiceError("InvalidInstanceID.NotFound",
                        f"The instance ID{'s' if len(ids) > 1 else ''} {quoted} do{'' if len(ids) > 1 else 'es'} not exist")


def instance_id_malformed(instance_id: str) -> ServiceError:
    return ServiceError("InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}"')


def incorrect_state(instance_id: str, state: str, action: str) -> ServiceError:
    return ServiceError("IncorrectInstanceState",
                        f"The instance '{instance_id}' is not in a state from which it can be {action}.")


def ami_malformed(image_id: str) -> ServiceError:
    return ServiceError("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')


def profile_not_found(name: str) -> ServiceError:
    return ServiceError("InvalidParameterValue",
                        f"Value ({name}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile "
                        "name")


def profile_arn_not_found(arn: str) -> ServiceError:
    return ServiceError("InvalidParameterValue",
                        f"Value ({arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile "
                        "ARN")


def dry_run() -> ServiceError:
    """What a DryRun that would have succeeded answers (status 412).
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/CommonParameters.html"""
    return ServiceError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)


def bad_user_data() -> ServiceError:
    return ServiceError("InvalidUserData.Malformed", "User data must be base64 encoded.")


def bad_filter(name: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", f"The filter '{name}' is invalid")


def bad_token() -> ServiceError:
    return ServiceError("InvalidNextToken", "The token is invalid or has expired")


def instance_limit(asked: int, limit: int) -> ServiceError:
    return ServiceError("InstanceLimitExceeded", f"You have requested more instances ({asked}) than your current "
                                                 f"instance limit of {limit} allows for the specified instance type.")


def termination_protected(instance_id: str) -> ServiceError:
    return ServiceError("OperationNotPermitted", f"The instance '{instance_id}' may not be terminated. Modify its "
                                                 "'disableApiTermination' instance attribute and try again.")


def vpc_not_found(vpc_id: str) -> ServiceError:
    return ServiceError("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist")


def subnet_not_found(subnet_id: str) -> ServiceError:
    return ServiceError("InvalidSubnetID.NotFound", f"The subnet ID '{subnet_id}' does not exist")


def group_not_found(name: str, vpc_id: str) -> ServiceError:
    return ServiceError("InvalidGroup.NotFound", f"The security group '{name}' does not exist in default VPC "
                                                 f"'{vpc_id}'")


def group_id_not_found(group_id: str) -> ServiceError:
    return ServiceError("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")


def tag_key(tag: Mapping[str, Any]) -> str:
    """A tag's key, which the model leaves optional and EC2 requires (its answer to an empty one, as the AWS
    CLI shows it: "Value ( '' ) for parameter Tag key is invalid. Tag key cannot be null or empty.")."""
    key = tag.get("Key")
    if not key:
        raise invalid_parameter(f"Value ( '{key or ''}' ) for parameter Tag key is invalid. "
                                "Tag key cannot be null or empty.")
    return str(key)
