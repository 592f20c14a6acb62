"""SQS errors: the JSON code (`__type`) and the legacy query code (the `x-amzn-query-error` header and the
query protocol's <Code>).

AWS's JSON answers name the error by its model shape (`QueueDoesNotExist`, `InvalidParameterValueException`,
`MissingRequiredParameterException`...) and send the legacy code in the header, which SDKs report as the
error code: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html
"""

from __future__ import annotations

from conveyor.services.sqs.query_compat import QUERY_ERROR_CODES
from conveyor.wire import ServiceError

INVALID = "InvalidParameterValueException"  # query code InvalidParameterValue
MISSING = "MissingRequiredParameterException"  # query code MissingParameter


def sqs_error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(code, message, status, query_code=QUERY_ERROR_CODES.get(code, code))


def no_queue() -> ServiceError:
    return sqs_error("QueueDoesNotExist", "The specified queue does not exist.")


def invalid_param(message: str) -> ServiceError:
    return sqs_error(INVALID, message)


def missing_param(name: str) -> ServiceError:
    return sqs_error(MISSING, f"The request must contain the parameter {name}.")


def invalid_attr_value(name: str, reason: str = "") -> ServiceError:
    text = f"Invalid value for the parameter {name}."
    if reason:
        text += f" Reason: {reason}"
    return sqs_error("InvalidAttributeValue", text)
