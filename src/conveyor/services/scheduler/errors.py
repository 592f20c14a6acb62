"""EventBridge Scheduler's errors, with the codes, statuses and messages its API sends (rest-json,
`{"Message": ...}` with `x-amzn-ErrorType`).
https://docs.aws.amazon.com/scheduler/latest/APIReference/CommonErrors.html and each operation's Errors.
"""

from __future__ import annotations

from conveyor.protocol.constraints import ConstraintViolations
from conveyor.wire import ServiceError

VALIDATION = ConstraintViolations("ValidationException", query_lists=False, patterns=True)


def error(code: str, message: str, status: int) -> ServiceError:
    return ServiceError(code, message, status, extra={"Message": message})


def validation(message: str) -> ServiceError:
    return error("ValidationException", message, 400)


def not_found(message: str) -> ServiceError:
    return error("ResourceNotFoundException", message, 404)


def conflict(message: str) -> ServiceError:
    return error("ConflictException", message, 409)


def schedule_not_found(name: str) -> ServiceError:
    return not_found(f"Schedule {name} does not exist.")


def group_not_found(name: str) -> ServiceError:
    return not_found(f"Schedule group {name} does not exist.")


def not_served(what: str) -> ServiceError:
    """A setting Conveyor cannot honour: refused rather than ignored."""
    return validation(f"{what} is not supported by Conveyor.")
