"""CloudWatch Logs' errors, with the codes and messages its API reference gives.
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/CommonErrors.html and each operation's
Errors section. JSON 1.1: `{"__type": "...#Code", "message": ...}`.
"""

from __future__ import annotations

from conveyor.protocol.constraints import ConstraintViolations
from conveyor.wire import ServiceError

# A request that breaks the model's constraints: `InvalidParameterException` worded as AWS's Coral
# services word constraint failures ("1 validation error detected: Value 'x' at 'logGroupName' ...").
VALIDATION = ConstraintViolations("InvalidParameterException", query_lists=False, patterns=True)


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", message)


def group_not_found() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The specified log group does not exist.")


def stream_not_found() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The specified log stream does not exist.")


def group_exists() -> ServiceError:
    return ServiceError("ResourceAlreadyExistsException", "The specified log group already exists")


def stream_exists() -> ServiceError:
    return ServiceError("ResourceAlreadyExistsException", "The specified log stream already exists")


def bad_token() -> ServiceError:
    return invalid("The specified nextToken is invalid.")
