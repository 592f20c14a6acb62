"""SQS errors: the JSON code (the model's shape name) and the legacy query code."""

from __future__ import annotations

from conveyor.services.sqs.query_compat import QUERY_ERROR_CODES
from conveyor.wire import ServiceError


def sqs_error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(code, message, status, query_code=QUERY_ERROR_CODES.get(code, code))


def no_queue() -> ServiceError:
    return sqs_error("QueueDoesNotExist", "The specified queue does not exist.")


def invalid_param(message: str) -> ServiceError:
    return sqs_error("InvalidParameterValue", message)


def invalid_attr_value(name: str, reason: str = "") -> ServiceError:
    text = f"Invalid value for the parameter {name}."
    if reason:
        text += f" Reason: {reason}"
    return sqs_error("InvalidAttributeValue", text)
