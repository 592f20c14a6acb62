"""Layers through boto3: versions published, read, listed and deleted as AWS numbers and lists them; their
permissions; and attached to functions, whose code finds them where it would find /opt on AWS (python/
on sys.path, nodejs/node_modules on Node's path).
https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html,
https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.lambda_.conftest import ROLE

ACCOUNT = "000000000000"
LAYER = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer"
USES_LAYER = """
import os, greeting
def lambda_handler(event, context):
    return {"greeting": greeting.hello(), "dirs": os.environ.get("CONVEYOR_LAYER_DIRS", "")}
"""


def zipped(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def greeting_layer(word: str) -> bytes:
    return zipped({"python/greeting.py": f"def hello():\n    return {word!r}\n"})


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def invoke(lam: Any, name: str) -> Any:
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def test_versions_are_numbered_listed_and_deleted(lam: Any) -> None:
    content = greeting_layer("hi")
    first = lam.publish_layer_version(LayerName="lib", Content={"ZipFile": content}, CompatibleRuntimes=["python3.12"],
                                      LicenseInfo="MIT", Description="one")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["LayerArn"] == f"{LAYER}:lib" and first["LayerVersionArn"] == f"{LAYER}:lib:1" and first["Version"] == 1
    assert first["Content"]["CodeSize"] == len(content)
    assert first["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(content).digest()).decode()
    assert requests.get(first["Content"]["Location"], timeout=30).content == content  # presigned download
    lam.publish_layer_version(LayerName=f"{LAYER}:lib", Content={"ZipFile": content}, CompatibleRuntimes=["nodejs20.x"])
    listed = lam.list_layer_versions(LayerName="lib")["LayerVersions"]
    for item in listed:
        item.pop("CreatedDate")
    # Newest first; members not given are absent.
    assert listed == [{"LayerVersionArn": f"{LAYER}:lib:2", "Version": 2, "CompatibleRuntimes": ["nodejs20.x"]},
                      {"LayerVersionArn": f"{LAYER}:lib:1", "Version": 1, "Description": "one",
                       "CompatibleRuntimes": ["python3.12"], "LicenseInfo": "MIT"}]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="lib", CompatibleRuntime="python3.12")[
        "LayerVersions"]] == [1]
    layers = lam.list_layers()["Layers"]
    assert [(la["LayerName"], la["LatestMatchingVersion"]["Version"]) for la in layers] == [("lib", 2)]
    assert lam.get_layer_version_by_arn(Arn=f"{LAYER}:lib:1")["Description"] == "one"
    assert error_of(lam.get_layer_version, LayerName="lib", VersionNumber=9) == (
        "ResourceNotFoundException", "The resource you requested does not exist.")
    assert error_of(lam.publish_layer_version, LayerName="lib", Content={}) == (
        "InvalidParameterValueException", "Missing Content")
    lam.delete_layer_version(LayerName="lib", VersionNumber=2)
    lam.delete_layer_version(LayerName="lib", VersionNumber=1)
    lam.delete_layer_version(LayerName="lib", VersionNumber=1)  # deleting again succeeds
    assert lam.list_layer_versions(LayerName="lib")["LayerVersions"] == [] and lam.list_layers()["Layers"] == []
    # A number is never given again, even once every version is gone.
    assert lam.publish_layer_version(LayerName="lib", Content={"ZipFile": content})["Version"] == 3


def test_layer_version_permissions(lam: Any) -> None:
    lam.publish_layer_version(LayerName="lib", Content={"ZipFile": greeting_layer("hi")})
    assert error_of(lam.get_layer_version_policy, LayerName="lib", VersionNumber=1) == (
        "ResourceNotFoundException", "The resource you requested does not exist.")
    added = lam.add_layer_version_permission(LayerName="lib", VersionNumber=1, StatementId="share",
                                             Action="lambda:GetLayerVersion", Principal="432143214321",
                                             OrganizationId="o-abcdef1234")
    assert json.loads(added["Statement"]) == {
        "Sid": "share", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::432143214321:root"},
        "Action": "lambda:GetLayerVersion", "Resource": f"{LAYER}:lib:1",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}}}
    assert error_of(lam.add_layer_version_permission, LayerName="lib", VersionNumber=1, StatementId="share",
                    Action="lambda:GetLayerVersion", Principal="*")[0] == "ResourceConflictException"
    policy = lam.get_layer_version_policy(LayerName="lib", VersionNumber=1)
    assert policy["RevisionId"] == added["RevisionId"]
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["share"]
    assert error_of(lam.remove_layer_version_permission, LayerName="lib", VersionNumber=1, StatementId="share",
                    RevisionId="stale")[0] == "PreconditionFailedException"
    removed = lam.remove_layer_version_permission(LayerName="lib", VersionNumber=1, StatementId="share")
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(lam.get_layer_version_policy, LayerName="lib", VersionNumber=1)[0] == "ResourceNotFoundException"


def test_functions_import_from_their_layers(lam: Any) -> None:
    one = lam.publish_layer_version(LayerName="greet", Content={"ZipFile": greeting_layer("hello")})
    two = lam.publish_layer_version(LayerName="greet", Content={"ZipFile": greeting_layer("bonjour")})
    unknown = f"{LAYER}:greet:7"
    assert error_of(lam.create_function, FunctionName="fn", Runtime="python3.12", Role=ROLE,
                    Handler="lambda_function.lambda_handler",
                    Code={"ZipFile": zipped({"lambda_function.py": USES_LAYER})}, Layers=[unknown]) == (
        "InvalidParameterValueException", f"Layer version {unknown} does not exist.")
    created = lam.create_function(FunctionName="fn", Runtime="python3.12", Role=ROLE,
                                  Handler="lambda_function.lambda_handler",
                                  Code={"ZipFile": zipped({"lambda_function.py": USES_LAYER})},
                                  Layers=[one["LayerVersionArn"]])
    assert created["Layers"] == [{"Arn": one["LayerVersionArn"], "CodeSize": one["Content"]["CodeSize"]}]
    result = invoke(lam, "fn")
    assert result["greeting"] == "hello" and len(result["dirs"].split(":")) == 1
    updated = lam.update_function_configuration(FunctionName="fn", Layers=[two["LayerVersionArn"]])
    assert updated["Layers"][0]["Arn"] == two["LayerVersionArn"]
    lam.delete_layer_version(LayerName="greet", VersionNumber=2)  # the function keeps what it was given
    assert invoke(lam, "fn")["greeting"] == "bonjour"
    assert lam.get_function(FunctionName="fn")["Configuration"]["Layers"] == updated["Layers"]
    assert "Layers" not in lam.update_function_configuration(FunctionName="fn", Layers=[])
    assert error_of(lam.update_function_configuration, FunctionName="fn",
                    Layers=[one["LayerVersionArn"], f"{LAYER}:greet:1"])[0] == "InvalidParameterValueException"


def test_a_later_layer_wins(lam: Any) -> None:
    """Layers are extracted into /opt in order on AWS, a later one over an earlier one."""
    base = lam.publish_layer_version(LayerName="base", Content={"ZipFile": greeting_layer("base")})
    override = lam.publish_layer_version(LayerName="override", Content={"ZipFile": greeting_layer("override")})
    lam.create_function(FunctionName="fn", Runtime="python3.12", Role=ROLE, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": zipped({"lambda_function.py": USES_LAYER})},
                        Layers=[base["LayerVersionArn"], override["LayerVersionArn"]])
    assert invoke(lam, "fn")["greeting"] == "override"


@pytest.mark.skipif(shutil.which("node") is None, reason="no node on PATH")
def test_node_functions_require_from_their_layers(lam: Any) -> None:
    layer = lam.publish_layer_version(LayerName="nodelib", Content={"ZipFile": zipped({
        "nodejs/node_modules/shout/index.js": "module.exports = (s) => s.toUpperCase() + '!';\n"})})
    lam.create_function(FunctionName="nodefn", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": zipped({"index.js": "const shout = require('shout');\n"
                                                             "exports.handler = async () => shout('hi');\n"})},
                        Layers=[layer["LayerVersionArn"]])
    assert invoke(lam, "nodefn") == "HI!"
