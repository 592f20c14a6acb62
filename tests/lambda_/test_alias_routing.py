"""Weighted alias routing: an alias's additional version gets the share of invocations its weight says
(https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html), Invoke's ExecutedVersion
says which ran; AWS's rules on what may be routed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_.conftest import make_zip

HANDLER = "def lambda_handler(event, context):\n    return {}\n"


def executed(lam: Any, qualifier: str, times: int) -> set[str]:
    return {lam.invoke(FunctionName="fn", Qualifier=qualifier, Payload=b"{}")["ExecutedVersion"] for _ in range(times)}


def test_weights_split_invocations(lam: Any, make_function: Callable[..., Any]) -> None:
    make_function("fn", HANDLER, Publish=True)
    lam.update_function_code(FunctionName="fn", ZipFile=make_zip(HANDLER + "# two\n"), Publish=True)
    alias = lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 1.0}}
    assert executed(lam, "live", 5) == {"2"}
    lam.update_alias(FunctionName="fn", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert executed(lam, "live", 40) == {"1", "2"}
    cleared = lam.update_alias(FunctionName="fn", Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in cleared
    assert executed(lam, "live", 5) == {"1"}
    assert lam.get_alias(FunctionName="fn", Name="live")["FunctionVersion"] == "1"


@pytest.mark.parametrize("version, weights, code", [
    ("$LATEST", {"1": 0.5}, "InvalidParameterValueException"),  # routing needs published versions
    ("1", {"1": 0.5}, "InvalidParameterValueException"),  # not the primary version again
    ("1", {"9": 0.5}, "ResourceNotFoundException"),
])
def test_what_may_be_routed(lam: Any, make_function: Callable[..., Any], version: str, weights: dict[str, float],
                            code: str) -> None:
    make_function("fn", HANDLER, Publish=True)
    with pytest.raises(ClientError) as caught:
        lam.create_alias(FunctionName="fn", Name="a", FunctionVersion=version,
                         RoutingConfig={"AdditionalVersionWeights": weights})
    assert caught.value.response["Error"]["Code"] == code
    assert lam.list_aliases(FunctionName="fn")["Aliases"] == []
