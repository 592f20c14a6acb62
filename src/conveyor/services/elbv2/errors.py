"""Elastic Load Balancing's errors, with the codes and messages of its API reference (query protocol).

https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/CommonErrors.html and each
operation's Errors section (e.g. API_CreateLoadBalancer.html#API_CreateLoadBalancer_Errors).
"""

from __future__ import annotations

from conveyor.protocol.constraints import IAM_FAMILY
from conveyor.wire import ServiceError

# ELB words model constraint failures as IAM does ("1 validation error detected: Value 'x' at
# 'ipAddressType' failed to satisfy constraint: Member must satisfy enum value set: [...]").
VALIDATION = IAM_FAMILY


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message)


def invalid_configuration(message: str) -> ServiceError:
    return ServiceError("InvalidConfigurationRequest", message)


def load_balancer_not_found(names: list[str] | None = None) -> ServiceError:
    if names:
        return ServiceError("LoadBalancerNotFound", f"Load balancers '[{', '.join(names)}]' not found")
    return ServiceError("LoadBalancerNotFound", "One or more load balancers not found")


def target_group_not_found() -> ServiceError:
    return ServiceError("TargetGroupNotFound", "One or more target groups not found")


def action_target_group_not_found(arn: str) -> ServiceError:
    return ServiceError("TargetGroupNotFound", f"Target group '{arn}' not found")


def listener_not_found() -> ServiceError:
    return ServiceError("ListenerNotFound", "One or more listeners not found")


def rule_not_found() -> ServiceError:
    return ServiceError("RuleNotFound", "One or more rules not found")


# Create* are idempotent: the same name with the same settings answers the existing resource; with other
# settings, these (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html).
def duplicate_load_balancer(name: str) -> ServiceError:
    return ServiceError("DuplicateLoadBalancerName",
                        f"A load balancer with the same name '{name}' exists, but with different settings")


def duplicate_target_group(name: str) -> ServiceError:
    return ServiceError("DuplicateTargetGroupName",
                        f"A target group with the same name '{name}' exists, but with different settings")


def duplicate_listener(balancer_arn: str) -> ServiceError:
    return ServiceError("DuplicateListener",
                        f"A listener already exists on this port for this load balancer '{balancer_arn}'")


def priority_in_use() -> ServiceError:
    return ServiceError("PriorityInUse", "The specified priority is in use.")


def target_group_in_use(arn: str) -> ServiceError:
    return ServiceError("ResourceInUse", f"The target group '{arn}' is currently in use by a listener or a rule")


def invalid_target(message: str) -> ServiceError:
    return ServiceError("InvalidTarget", message)


def subnet_not_found(subnet: str) -> ServiceError:
    return ServiceError("SubnetNotFound", f"The subnet ID '{subnet}' is not valid")


def invalid_subnet(message: str) -> ServiceError:
    return ServiceError("InvalidSubnet", message)


def invalid_security_group(group: str) -> ServiceError:
    return ServiceError("InvalidSecurityGroup", f"The security group '{group}' does not exist")


def too_many_tags() -> ServiceError:
    return ServiceError("TooManyTags", "The quota for the number of tags that can be assigned to a load balancer "
                                       "has been reached")


def duplicate_tag_keys(key: str) -> ServiceError:
    return ServiceError("DuplicateTagKeys", f"Tag key '{key}' specified more than once")


def incompatible_protocols(message: str) -> ServiceError:
    return ServiceError("IncompatibleProtocols", message)


def certificate_not_found(arn: str) -> ServiceError:
    return ServiceError("CertificateNotFound", f"Certificate '{arn}' not found")


def invalid_action(message: str) -> ServiceError:
    return ServiceError("InvalidLoadBalancerAction", message)


def operation_not_permitted(message: str) -> ServiceError:
    return ServiceError("OperationNotPermitted", message)


def unsupported(what: str) -> ServiceError:
    return validation(f"Conveyor does not support {what}.")
