"""STS's errors, with the codes and HTTP statuses of its API reference and the messages STS sends.
https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html and each operation's Errors section.
Query protocol: `<ErrorResponse><Error><Type>Sender</Type><Code>...` (the gateway's query codec).
"""

from __future__ import annotations

from typing import Any

from conveyor.protocol.constraints import IAM_FAMILY
from conveyor.wire import ServiceError

# STS words a broken model constraint as IAM does ("1 validation error detected: Value 'x' at
# 'roleSessionName' failed to satisfy constraint: ..."): the two are one family of AWS APIs.
VALIDATION = IAM_FAMILY


def access_denied(message: str) -> ServiceError:
    return ServiceError("AccessDenied", message, 403)


def not_authorized(caller_arn: str, action: str, resource: str) -> ServiceError:
    """How STS refuses an assumption, whether the role does not exist or its trust policy does not name
    the caller: it does not tell which.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_roles.html#troubleshoot_roles_cant-assume-role"""
    return access_denied(f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource}")


def mfa_failed() -> ServiceError:
    """AssumeRole's and GetSessionToken's answer to an MFA device and code. Conveyor's IAM serves no MFA
    devices, so no code can be valid: the request is refused rather than the code ignored."""
    return access_denied("MultiFactorAuthentication failed with invalid MFA one time pass code. ")


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def too_long(member: str, value: Any, limit: int) -> ServiceError:
    return VALIDATION.invalid_error(member, value, f"length must be at most {limit}")


def malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicyDocument", message, 400)


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message, 400)


def invalid_identity_token(message: str) -> ServiceError:
    return ServiceError("InvalidIdentityToken", message, 400)
