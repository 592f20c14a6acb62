"""Errors as the client sees them: AWS's code, HTTP status and message, in any protocol's shape."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error the client sees with AWS's code, HTTP status and message.

    `query_code` is the legacy code the query protocol (and the `x-amzn-query-error` header) uses when
    it differs from the JSON `__type`, e.g. SQS's `QueueDoesNotExist` vs
    `AWS.SimpleQueueService.NonExistentQueue`.
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        status: int = 400,
        *,
        sender_fault: bool = True,
        query_code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.query_code = query_code
        self.headers = headers or {}
        self.extra = extra or {}


def temporarily_unavailable() -> ServiceError:
    """Retryable, and the request changed nothing: the error every AWS API shares for a temporary failure.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html"""
    return ServiceError("ServiceUnavailable", "The request has failed due to a temporary failure of the server.",
                        503, sender_fault=False)


def validation_error(message: str) -> ServiceError:
    return ServiceError("ValidationError", message)


def internal_failure() -> ServiceError:
    return ServiceError("InternalFailure", "The request processing has failed because of an unknown error.",
                        500, sender_fault=False, query_code="InternalError")
