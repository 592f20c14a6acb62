"""Helpers shared by the SQS tests."""

from __future__ import annotations

from typing import Any

from conveyor.services.sqs.query_compat import QUERY_ERROR_CODES


def error_code(exc: Any) -> str:
    return exc.response["Error"]["Code"]


def is_error(exc: Any, code: str) -> bool:
    """JSON clients see the model's shape name, query clients the legacy code: accept either."""
    return error_code(exc) in (code, QUERY_ERROR_CODES.get(code, code))
