"""Helpers for function tests: zips built in the test, functions created through boto3, waiting."""

from __future__ import annotations

import io
import json
import textwrap
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import lambda_role
from tests.helpers import wait_for as wait_for  # importable here too, where it used to live

ROLE = "arn:aws:iam::000000000000:role/r"


@pytest.fixture(autouse=True)
def execution_role(request: pytest.FixtureRequest, reset: None) -> None:
    """Every test on the shared server starts with the execution role ROLE names (trusting Lambda), as a
    user creates one before their first function."""
    if "endpoint" in request.fixturenames:
        lambda_role(request.getfixturevalue("client")("iam"), "r")


def make_zip(source: str, name: str = "lambda_function.py") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, textwrap.dedent(source))
    return buf.getvalue()


def health(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_conveyor/health", timeout=10) as response:
        return json.load(response)["services"]["lambda"]


@pytest.fixture
def lam(client: Callable[..., Any]) -> Any:
    return client("lambda")


@pytest.fixture
def make_function(lam: Any) -> Callable[..., dict[str, Any]]:
    def create(name: str, source: str, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("Runtime", "python3.12")
        kwargs.setdefault("Handler", "lambda_function.lambda_handler")
        return lam.create_function(FunctionName=name, Role=ROLE, Code={"ZipFile": make_zip(source)}, **kwargs)

    return create
