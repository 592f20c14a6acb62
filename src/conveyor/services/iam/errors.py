"""IAM's errors, with the codes and HTTP statuses of its API reference and the messages IAM sends.
https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html and each operation's Errors section.
"""

from __future__ import annotations

from conveyor.wire import ServiceError


def no_such(message: str) -> ServiceError:
    return ServiceError("NoSuchEntity", message, 404)


def already_exists(message: str) -> ServiceError:
    return ServiceError("EntityAlreadyExists", message, 409)


def conflict(message: str) -> ServiceError:
    return ServiceError("DeleteConflict", message, 409)


def limit(message: str) -> ServiceError:
    return ServiceError("LimitExceeded", message, 409)


def malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicyDocument", message, 400)


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidInput", message, 400)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def quota(name: str, value: int) -> ServiceError:
    """LimitExceeded in the form IAM reports its quotas: "Cannot exceed quota for PoliciesPerRole: 10"."""
    return limit(f"Cannot exceed quota for {name}: {value}")


# The NoSuchEntity messages of each kind of entity.
def no_user(name: str) -> ServiceError:
    return no_such(f"The user with name {name} cannot be found.")


def no_group(name: str) -> ServiceError:
    return no_such(f"The group with name {name} cannot be found.")


def no_role(name: str) -> ServiceError:
    return no_such(f"The role with name {name} cannot be found.")


def no_profile(name: str) -> ServiceError:
    return no_such(f"Instance Profile {name} cannot be found.")


def no_policy(arn: str) -> ServiceError:
    return no_such(f"Policy {arn} was not found.")


def not_attachable(arn: str) -> ServiceError:
    return no_such(f"Policy {arn} does not exist or is not attachable.")


def no_key(key_id: str) -> ServiceError:
    return no_such(f"The Access Key with id {key_id} cannot be found.")
