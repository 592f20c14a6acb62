"""Names and keys Lambda's model constrains by pattern are matched whole, as AWS (Java's `matches()`) does."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_.conftest import ROLE, make_zip

HANDLER = "def lambda_handler(event, context):\n    return 'ok'\n"


def create(lam: Any, name: str, package: bytes, **kwargs: Any) -> Any:
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                               Handler="lambda_function.lambda_handler", Code={"ZipFile": package}, **kwargs)


NAME_PATTERN = "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"


@pytest.mark.parametrize("name", ["trailing\n", "new\nline", "space d", "dot.ted"])
def test_function_names_must_match_the_model_pattern(lam: Any, name: str) -> None:
    with pytest.raises(ClientError) as caught:
        create(lam, name, make_zip(HANDLER))
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "at 'functionName' failed to satisfy constraint: " + NAME_PATTERN in error["Message"]
    create(lam, "plain", make_zip(HANDLER))
    with pytest.raises(ClientError) as caught:
        lam.get_function(FunctionName="plain\n")  # in the URL path this time
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["plain"]


def test_environment_variable_names_follow_the_model(lam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create(lam, "env", make_zip(HANDLER), Environment={"Variables": {"A": "1"}})
    assert caught.value.response["Error"]["Message"] == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys "
        "must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
    create(lam, "env", make_zip(HANDLER), Environment={"Variables": {"AB": "1"}})
