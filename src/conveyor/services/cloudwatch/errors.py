"""CloudWatch's errors. The service moved from the query protocol to JSON and CBOR keeping its old codes
(`awsQueryCompatible`): each error has its shape name as `__type` and the legacy code for query clients
and the x-amzn-query-error header. https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html
"""

from __future__ import annotations

from typing import Any

from conveyor.protocol.validate import ValidationCodes
from conveyor.wire import ServiceError


def invalid_value(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message, query_code="InvalidParameterValue")


def invalid_combination(message: str) -> ServiceError:
    return ServiceError("InvalidParameterCombinationException", message, query_code="InvalidParameterCombination")


def missing(message: str) -> ServiceError:
    return ServiceError("MissingRequiredParameterException", message, query_code="MissingParameter")


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message, 404, query_code="ResourceNotFound")


def bad_token() -> ServiceError:
    return ServiceError("InvalidNextToken", "The service couldn't process the NextToken.", query_code="InvalidNextToken")


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceededFault", message, query_code="LimitExceeded")


class CloudWatchValidationCodes(ValidationCodes):
    """Model violations, worded as CloudWatch words them."""

    def missing_error(self, path: str) -> ServiceError:
        return missing(f"The parameter {_query_path(path)} is required.")

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        return invalid_value(f"The value {value} for parameter {_query_path(path)} is invalid.")


def _query_path(path: str) -> str:
    """`MetricData.1.Value` as CloudWatch names it: `MetricData.member.1.Value`."""
    return ".".join(f"member.{p}" if p.isdigit() else p for p in path.split("."))


VALIDATION = CloudWatchValidationCodes()


def invalid_format(message: str) -> ServiceError:
    return ServiceError("InvalidFormatFault", message, query_code="InvalidFormat")
