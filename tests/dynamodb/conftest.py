"""The clients the DynamoDB tests share, on the session's server."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def ddb(client: Any) -> Any:
    return client("dynamodb")


@pytest.fixture
def s3(client: Any) -> Any:
    return client("s3")
