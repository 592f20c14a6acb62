"""Helpers shared by the SNS tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


def error(exc: Any) -> tuple[str, str]:
    return exc.response["Error"]["Code"], exc.response["Error"]["Message"]


def body(message: dict[str, Any]) -> dict[str, Any]:
    return json.loads(message["Body"])


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
