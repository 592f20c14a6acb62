"""Function management through the AWS CLI and boto3, with AWS's errors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import lambda_role
from tests.lambda_.conftest import ROLE, make_zip

HANDLER = """
def lambda_handler(event, context):
    return {"echo": event}
"""


def test_cli_create_get_list_delete(aws: Any, tmp_path: Path) -> None:
    package = make_zip(HANDLER)
    (tmp_path / "fn.zip").write_bytes(package)
    created = aws("lambda", "create-function", "--function-name", "f", "--runtime", "python3.12", "--role", ROLE,
                  "--handler", "lambda_function.lambda_handler", "--zip-file", f"fileb://{tmp_path / 'fn.zip'}",
                  "--environment", "Variables={AB=1}", "--timeout", "10", "--memory-size", "256")
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:f"
    assert created["State"] == "Active" and created["LastUpdateStatus"] == "Successful"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert created["CodeSize"] == len(package)
    assert created["Timeout"] == 10 and created["MemorySize"] == 256
    assert created["Environment"] == {"Variables": {"AB": "1"}}
    got = aws("lambda", "get-function", "--function-name", "f")
    assert got["Configuration"]["Handler"] == "lambda_function.lambda_handler"
    assert [f["FunctionName"] for f in aws("lambda", "list-functions")["Functions"]] == ["f"]
    out = tmp_path / "out.json"
    result = aws("lambda", "invoke", "--function-name", "f", "--payload", '{"x": 1}',
                 str(out))
    assert result["StatusCode"] == 200
    assert json.loads(out.read_text()) == {"echo": {"x": 1}}
    aws("lambda", "delete-function", "--function-name", "f")
    failed = aws("lambda", "get-function", "--function-name", "f", check=False)
    assert failed.returncode != 0 and b"ResourceNotFoundException" in failed.stderr


def test_errors_have_aws_codes_and_status(lam: Any, make_function: Any) -> None:
    with pytest.raises(ClientError) as err:
        lam.get_function_configuration(FunctionName="missing")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "function:missing" in err.value.response["Error"]["Message"]
    make_function("dup", HANDLER)
    with pytest.raises(ClientError) as err:
        make_function("dup", HANDLER)
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as err:  # no container runtime: an image is refused as such
        lam.create_function(FunctionName="img", Role=ROLE, PackageType="Image",
                            Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"})
    assert err.value.response["Error"] == {
        "Code": "InvalidParameterValueException",
        "Message": "Conveyor runs .zip packages only (PackageType Image needs a container runtime)."}
    with pytest.raises(ClientError) as err:  # no Java runtime: refused, saying what runs here
        make_function("java", HANDLER, Runtime="java21")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "java21" in err.value.response["Error"]["Message"] and "python3.x" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:  # deprecated: AWS blocks creating functions with it
        make_function("old", HANDLER, Runtime="python3.7")
    assert "no longer supported" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        make_function("slow", HANDLER, Timeout=901)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as err:
        lam.create_function(FunctionName="bad", Role=ROLE, Runtime="python3.12", Handler="a.b",
                            Code={"ZipFile": b"not a zip"})
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_model_constraints_are_refused_in_lambdas_words(lam: Any, make_function: Any) -> None:
    """botocore checks minimums only; the server checks the rest against the model and answers as Lambda
    does ("Member must have length less than or equal to 256")."""
    with pytest.raises(ClientError) as err:
        make_function("described", HANDLER, Description="d" * 257)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["Error"]["Message"] == (
        f"1 validation error detected: Value '{'d' * 257}' at 'description' failed to satisfy constraint: "
        "Member must have length less than or equal to 256")
    with pytest.raises(ClientError) as err:
        make_function("big", HANDLER, MemorySize=32769)
    assert err.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '32769' at 'memorySize' failed to satisfy constraint: "
        "Member must have value less than or equal to 32768")
    # A list item that breaks its member shape: Lambda names the whole list, Java's way, and every
    # constraint of the member, as it answered a Function URL's CORS methods ("[GET, POST, OPTIONS]").
    with pytest.raises(ClientError) as err:
        make_function("arch", HANDLER, Architectures=["foo"])
    assert err.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '[foo]' at 'architectures' failed to satisfy constraint: Member "
        "must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]")
    make_function("cors", HANDLER)
    with pytest.raises(ClientError) as err:
        lam.create_function_url_config(FunctionName="cors", AuthType="NONE",
                                       Cors={"AllowMethods": ["GET", "POST", "OPTIONS"]})
    assert err.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '[GET, POST, OPTIONS]' at 'cors.allowMethods' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must have length less than or equal to 6, Member "
        "must have length greater than or equal to 0, Member must satisfy regular expression pattern: .*, "
        "Member must not be null]")


def test_update_code_and_configuration(lam: Any, make_function: Any) -> None:
    make_function("u", HANDLER)
    assert json.loads(lam.invoke(FunctionName="u", Payload=b"1")["Payload"].read()) == {"echo": 1}
    updated = lam.update_function_code(FunctionName="u", ZipFile=make_zip(
        "import os\ndef lambda_handler(e, c):\n    return os.environ.get('COLOR')\n"))
    assert updated["CodeSha256"] != lam.get_function(FunctionName="u")["Configuration"].get("x")
    lam.update_function_configuration(FunctionName="u", Environment={"Variables": {"COLOR": "blue"}},
                                      Timeout=5)
    conf = lam.get_function_configuration(FunctionName="u")
    assert conf["Timeout"] == 5 and conf["Environment"]["Variables"] == {"COLOR": "blue"}
    assert json.loads(lam.invoke(FunctionName="u")["Payload"].read()) == "blue"
    version = lam.publish_version(FunctionName="u")
    assert version["Version"] == "1" and version["FunctionArn"].endswith(":u:1")
    lam.update_function_configuration(FunctionName="u", Environment={"Variables": {"COLOR": "red"}})
    assert json.loads(lam.invoke(FunctionName="u")["Payload"].read()) == "red"
    assert json.loads(lam.invoke(FunctionName="u", Qualifier="1")["Payload"].read()) == "blue"
    lam.create_alias(FunctionName="u", Name="live", FunctionVersion="1")
    assert json.loads(lam.invoke(FunctionName="u:live")["Payload"].read()) == "blue"


def test_tags_policy_and_concurrency(lam: Any, make_function: Any) -> None:
    arn = make_function("t", HANDLER, Tags={"team": "a"})["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"env": "dev"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a", "env": "dev"}
    lam.untag_resource(Resource=arn, TagKeys=["team"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "dev"}

    lam.add_permission(FunctionName="t", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::photos")
    policy = json.loads(lam.get_policy(FunctionName="t")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert policy["Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::photos"
    with pytest.raises(ClientError) as err:
        lam.add_permission(FunctionName="t", StatementId="s3", Action="lambda:InvokeFunction", Principal="*")
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"
    lam.remove_permission(FunctionName="t", StatementId="s3")
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName="t")

    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="t")
    lam.put_function_concurrency(FunctionName="t", ReservedConcurrentExecutions=3)
    assert lam.get_function_concurrency(FunctionName="t")["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName="t")["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    lam.delete_function_concurrency(FunctionName="t")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="t")


def test_functions_survive_a_restart(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    lam = server.client("lambda")
    lambda_role(server.client("iam"))
    lam.create_function(FunctionName="keep", Role=ROLE, Runtime="python3.12",
                        Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip(HANDLER)})
    server.kill()
    server = start_server(tmp_path / "data")
    lam = server.client("lambda")
    assert json.loads(lam.invoke(FunctionName="keep", Payload=b'"x"')["Payload"].read()) == {"echo": "x"}
    server.stop()


def test_versions_and_aliases(lam: Any, make_function: Any, aws: Any) -> None:
    make_function("v", "def lambda_handler(e, c):\n    return 'one'\n", Publish=True)
    lam.update_function_code(FunctionName="v", ZipFile=make_zip("def lambda_handler(e, c):\n    return 'two'\n"))
    assert lam.publish_version(FunctionName="v", Description="second")["Version"] == "2"
    assert lam.publish_version(FunctionName="v")["Version"] == "2"  # nothing changed: the same version
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="v")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    alias = aws("lambda", "create-alias", "--function-name", "v", "--name", "prod", "--function-version", "1")
    assert alias["AliasArn"].endswith(":function:v:prod") and alias["FunctionVersion"] == "1"
    assert json.loads(lam.invoke(FunctionName="v", Qualifier="prod")["Payload"].read()) == "one"
    with pytest.raises(ClientError) as err:  # an alias pins the version it points to
        lam.delete_function(FunctionName="v", Qualifier="1")
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"
    with pytest.raises(ClientError) as err:
        lam.update_alias(FunctionName="v", Name="prod", FunctionVersion="2", RevisionId="stale")
    assert err.value.response["Error"]["Code"] == "PreconditionFailedException"
    lam.update_alias(FunctionName="v", Name="prod", FunctionVersion="2", RevisionId=alias["RevisionId"])
    assert json.loads(lam.invoke(FunctionName="v:prod")["Payload"].read()) == "two"
    assert [a["Name"] for a in lam.list_aliases(FunctionName="v", FunctionVersion="2")["Aliases"]] == ["prod"]
    with pytest.raises(ClientError) as err:
        lam.create_alias(FunctionName="v", Name="next", FunctionVersion="9")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.delete_function(FunctionName="v", Qualifier="1")
    lam.update_function_configuration(FunctionName="v", Description="third")
    assert lam.publish_version(FunctionName="v")["Version"] == "3"  # never reuses a deleted number
    lam.delete_alias(FunctionName="v", Name="prod")
    with pytest.raises(ClientError) as err:
        lam.get_alias(FunctionName="v", Name="prod")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="v")["Versions"]] == ["$LATEST", "2", "3"]
