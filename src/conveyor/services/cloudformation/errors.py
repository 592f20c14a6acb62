"""CloudFormation's errors, as its API reference names them (query protocol XML, `Sender` faults).
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html"""

from __future__ import annotations

from conveyor.wire import ServiceError


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def template_format(message: str) -> ServiceError:
    """ValidateTemplate's and CreateStack's answer to a template CloudFormation cannot read."""
    return validation(f"Template format error: {message}")


def template_error(message: str) -> ServiceError:
    return validation(f"Template error: {message}")


def no_stack(name: str) -> ServiceError:
    """What DescribeStacks (and every operation naming a stack) answers for one that does not exist; the AWS
    CLI's `deploy` recognises a new stack by this very message."""
    return validation(f"Stack with id {name} does not exist")


def already_exists(name: str) -> ServiceError:
    return ServiceError("AlreadyExistsException", f"Stack [{name}] already exists", 400)


def change_set_exists(name: str) -> ServiceError:
    return ServiceError("AlreadyExistsException", f"ChangeSet {name} already exists", 400)


def no_change_set(name: str) -> ServiceError:
    return ServiceError("ChangeSetNotFound", f"ChangeSet [{name}] does not exist", 404)


def insufficient_capabilities(needed: str) -> ServiceError:
    return ServiceError("InsufficientCapabilitiesException", f"Requires capabilities : [{needed}]", 400)


def busy(stack_id: str, status: str, action: str) -> ServiceError:
    return validation(f"Stack:{stack_id} is in {status} state and can not be {action}.")


def no_updates() -> ServiceError:
    return validation("No updates are to be performed.")


def invalid_change_set_status(message: str) -> ServiceError:
    return ServiceError("InvalidChangeSetStatus", message, 400)


# What a resource's event and the stack's status reason say when its operation broke for a reason of ours, not the
# resource's (an unexpected error, a store that could not commit): CloudFormation's words for the handler error
# code InternalFailure, "An unexpected error occurred within the handler".
# https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-test-contract-errors.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/determine-root-cause-for-stack-failures.html
INTERNAL_FAILURE = "Internal Failure"


class ResourceFailure(Exception):
    """A resource could not be created, updated or deleted: the reason goes into its event and the
    stack's status reason."""
