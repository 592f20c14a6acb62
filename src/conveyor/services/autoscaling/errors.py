"""Auto Scaling's errors, with the codes and messages of its API reference (query protocol, status 400).
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html and each operation's Errors.
"""

from __future__ import annotations

from conveyor.protocol.constraints import IAM_FAMILY
from conveyor.wire import ServiceError

# Auto Scaling words model constraint failures as IAM does ("1 validation error detected: ...").
VALIDATION = IAM_FAMILY


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message)


def group_not_found(name: str) -> ServiceError:
    return validation(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")


def group_exists(name: str) -> ServiceError:
    return ServiceError("AlreadyExists", f"AutoScalingGroup by this name already exists - A group with the name "
                                         f"{name} already exists")


def in_use(name: str) -> ServiceError:
    return ServiceError("ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances or pending "
                                         "Spot instance request(s) still in the group.")


def instance_not_in_group(instance_id: str) -> ServiceError:
    return validation(f"Instance Id not found - No managed instance found for instance ID: {instance_id}")


def policy_not_found(name: str, group: str) -> ServiceError:
    return validation(f"No scaling policy found for service namespace: ec2, resource ID: autoScalingGroupName/{group}, "
                      f"scalable dimension: autoscaling:autoScalingGroup:DesiredCapacity, policy name: {name}")


def in_cooldown(name: str) -> ServiceError:
    return ServiceError("ScalingActivityInProgress", f"Scaling activity for group {name} is in progress or in "
                                                     "cooldown; HonorCooldown is set.")


def unsupported(what: str) -> ServiceError:
    return validation(f"Conveyor does not support {what}.")
