"""EventBridge's errors, with the codes and messages its API sends.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html and each operation's Errors
section. JSON 1.1: `{"__type": "Code", "message": ...}`.
"""

from __future__ import annotations

from conveyor.protocol.constraints import ConstraintViolations
from conveyor.wire import ServiceError

# A request that breaks the model's constraints, in the "1 validation error detected: Value 'x' at 'name'
# failed to satisfy constraint: ..." form EventBridge sends as ValidationException.
VALIDATION = ConstraintViolations("ValidationException", query_lists=False, patterns=True)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def bus_not_found(name: str) -> ServiceError:
    return not_found(f"Event bus {name} does not exist.")


def rule_not_found(name: str, bus: str) -> ServiceError:
    return not_found(f"Rule {name} does not exist on EventBus {bus}.")


def already_exists(message: str) -> ServiceError:
    return ServiceError("ResourceAlreadyExistsException", message)


def invalid_pattern(reason: str) -> ServiceError:
    return ServiceError("InvalidEventPatternException", f"Event pattern is not valid. Reason: {reason}")


def invalid_schedule() -> ServiceError:
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
    return validation("Parameter ScheduleExpression is not valid.")


def limit(message: str) -> ServiceError:
    return ServiceError("LimitExceededException", message)


def not_served(what: str) -> ServiceError:
    """A setting or target Conveyor cannot honour: refused rather than ignored."""
    return validation(f"{what} is not supported by Conveyor.")
