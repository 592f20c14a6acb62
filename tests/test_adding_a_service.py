"""CONTRIBUTING.md's "Adding a service", followed in a test: a service defined here plugs into an App with
one line in SERVICES and answers boto3 through the gateway as it is, with the model's validation and its
errors in its own protocol; and the gateway names no service.

The service is the smallest the recipe allows (SSM's PutParameter and GetParameter over a dict): it shows
the plug-in path, it is not a Conveyor service (it keeps nothing on disk and is never registered
outside this test).
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

import conveyor.app
from conveyor.app import App
from conveyor.config import Config
from conveyor.protocol.models import service_model
from conveyor.protocol.registry import codecs_for
from conveyor.server import serve_in_thread
from conveyor.services.base import Environment, Service
from conveyor.wire import RequestContext, ServiceError
from tests.conftest import CREDENTIALS

GATEWAY = Path(conveyor.app.__file__).parent / "gateway"


class ParameterStore(Service):
    """A model, its codecs, operations named after the model's: all the gateway needs. (A service of
    Conveyor types `params` with the stubs' request TypedDict, e.g. PutParameterRequestTypeDef of
    mypy_boto3_ssm; this test does without the extra stubs package.)"""

    name = "ssm"

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.model = service_model("ssm")
        self.codecs = codecs_for(self.model)
        self.values: dict[str, tuple[str, int]] = {}

    async def PutParameter(self, ctx: RequestContext, params: Mapping[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        if name in self.values and not params.get("Overwrite"):
            raise ServiceError("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, "
                               "set the overwrite option in the request to true.")
        version = self.values.get(name, ("", 0))[1] + 1
        self.values[name] = (params["Value"], version)
        return {"Version": version, "Tier": "Standard"}

    async def GetParameter(self, ctx: RequestContext, params: Mapping[str, Any]) -> dict[str, Any]:
        found = self.values.get(params["Name"])
        if found is None:
            raise ServiceError("ParameterNotFound", "")
        value, version = found
        return {"Parameter": {"Name": params["Name"], "Type": "String", "Value": value, "Version": version,
                              "LastModifiedDate": dt.datetime.fromtimestamp(self.clock.now(), dt.UTC),
                              "DataType": "text"}}


@pytest.fixture
def ssm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setitem(conveyor.app.SERVICES, "ssm", f"{__name__}:ParameterStore")
    app = App(Config(data_dir=tmp_path, port=0, clock="manual", auth="off"))
    with serve_in_thread(app) as url:
        yield boto3.client("ssm", endpoint_url=url, config=BotoConfig(retries={"max_attempts": 1}), **CREDENTIALS)


def test_a_service_registered_in_services_answers_through_the_gateway(ssm: Any) -> None:
    assert ssm.put_parameter(Name="/app/color", Value="blue", Type="String")["Version"] == 1
    assert ssm.put_parameter(Name="/app/color", Value="red", Type="String", Overwrite=True)["Version"] == 2
    got = ssm.get_parameter(Name="/app/color")["Parameter"]
    assert (got["Value"], got["Version"]) == ("red", 2)

    # The handler's errors, in the json protocol's shape, as the SDK's modeled exceptions.
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/app/missing")
    with pytest.raises(ssm.exceptions.ParameterAlreadyExists):
        ssm.put_parameter(Name="/app/color", Value="green", Type="String")
    # The model's constraints, checked by the pipeline before the handler runs (botocore checks minimums
    # only: a Name over 2,048 characters reaches the server).
    with pytest.raises(ClientError) as refused:
        ssm.get_parameter(Name="n" * 2049)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_the_gateway_imports_no_service() -> None:
    """Only the Service interface: a service plugs in without a line of the gateway naming it."""
    for path in GATEWAY.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("conveyor.services"):
                assert node.module == "conveyor.services.base", f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(alias.name.startswith("conveyor.services") for alias in node.names), path.name
