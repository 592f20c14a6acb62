"""Code signing configurations (stored, attached, honoured: Enforce refuses the unsigned packages every
deployment here is, Warn lets them through) and tags on event source mappings and code signing
configurations, through boto3 and the restart of a real server.
https://docs.aws.amazon.com/lambda/latest/dg/configuration-codesigning.html,
https://docs.aws.amazon.com/lambda/latest/dg/tagging.html
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import lambda_role
from tests.lambda_.conftest import ROLE, make_zip

ACCOUNT = "000000000000"
HANDLER = "def lambda_handler(event, context):\n    return event\n"
PROFILE = f"arn:aws:signer:us-east-1:{ACCOUNT}:/signing-profiles/p/abcdef1234"


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_code_signing_configs(lam: Any, make_function: Callable[..., Any]) -> None:
    created = lam.create_code_signing_config(Description="d", AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
                                             Tags={"team": "a"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    config = created["CodeSigningConfig"]
    arn = config["CodeSigningConfigArn"]
    assert re.fullmatch(r"csc-[a-z0-9]{17}", config["CodeSigningConfigId"])
    assert arn == f"arn:aws:lambda:us-east-1:{ACCOUNT}:code-signing-config:{config['CodeSigningConfigId']}"
    assert config["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"] == config
    assert [c["CodeSigningConfigArn"] for c in lam.list_code_signing_configs()["CodeSigningConfigs"]] == [arn]
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    # Warn: an unsigned package deploys.
    make_function("fn", HANDLER, CodeSigningConfigArn=arn)
    attached = lam.get_function_code_signing_config(FunctionName="fn")
    assert (attached["CodeSigningConfigArn"], attached["FunctionName"]) == (arn, "fn")
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == [
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn"]
    assert error_of(lam.delete_code_signing_config, CodeSigningConfigArn=arn) == ("ResourceConflictException", 409)
    # Enforce: no package here is signed, so none deploys.
    updated = lam.update_code_signing_config(CodeSigningConfigArn=arn,
                                             CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})
    assert updated["CodeSigningConfig"]["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    assert error_of(lam.update_function_code, FunctionName="fn", ZipFile=make_zip(HANDLER)) == (
        "CodeVerificationFailedException", 400)
    assert error_of(lam.create_function, FunctionName="other", Runtime="python3.12", Role=ROLE,
                    Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip(HANDLER)},
                    CodeSigningConfigArn=arn) == ("CodeVerificationFailedException", 400)
    missing = f"arn:aws:lambda:us-east-1:{ACCOUNT}:code-signing-config:csc-0000000000000000a"
    assert error_of(lam.put_function_code_signing_config, FunctionName="fn", CodeSigningConfigArn=missing) == (
        "CodeSigningConfigNotFoundException", 404)
    lam.delete_function_code_signing_config(FunctionName="fn")
    assert lam.get_function_code_signing_config(FunctionName="fn")["CodeSigningConfigArn"] == ""
    lam.update_function_code(FunctionName="fn", ZipFile=make_zip(HANDLER))  # detached: deploys again
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert error_of(lam.get_code_signing_config, CodeSigningConfigArn=arn) == ("ResourceNotFoundException", 404)


def test_mappings_and_configs_take_tags(lam: Any, client: Callable[..., Any], make_function: Callable[..., Any]) -> None:
    make_function("fn", HANDLER)
    queue = client("sqs").create_queue(QueueName="q")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    mapping = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=queue_arn, Tags={"a": "1"})
    arn = mapping["EventSourceMappingArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1"}
    assert lam.tag_resource(Resource=arn, Tags={"b": "2"})["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2"}
    lam.untag_resource(Resource=arn, TagKeys=["a", "absent"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    gone = arn.rsplit(":", 1)[0] + ":00000000-0000-0000-0000-000000000000"
    assert error_of(lam.list_tags, Resource=gone) == ("ResourceNotFoundException", 404)
    lam.tag_resource(Resource=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn", Tags={"f": "x"})
    assert lam.list_tags(Resource=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn")["Tags"] == {"f": "x"}


def test_tag_limits_and_refusals_in_lambdas_words(lam: Any, make_function: Callable[..., Any]) -> None:
    # Up to 50 tags a resource (https://docs.aws.amazon.com/lambda/latest/dg/tagging.html), refused in the
    # words LocalStack's snapshot tests recorded against AWS.
    def refused(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]

    fn = make_function("tagged", HANDLER)["FunctionArn"]
    over = ("InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
    assert refused(lam.tag_resource, Resource=fn, Tags={f"k{i}": "v" for i in range(51)}) == over
    lam.tag_resource(Resource=fn, Tags={f"k{i}": "v" for i in range(50)})
    assert refused(lam.tag_resource, Resource=fn, Tags={"one-more": "v"}) == over
    assert len(lam.list_tags(Resource=fn)["Tags"]) == 50
    assert refused(lam.create_function, FunctionName="crowded", Role=ROLE, Runtime="python3.12",
                   Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip(HANDLER)},
                   Tags={f"k{i}": "v" for i in range(51)}) == over
    assert refused(lam.tag_resource, Resource=fn, Tags={}) == (
        "InvalidParameterValueException", "An error occurred and the request cannot be processed.")
    lam.publish_version(FunctionName="tagged")
    assert refused(lam.tag_resource, Resource=f"{fn}:1", Tags={"a": "b"}) == (
        "InvalidParameterValueException",
        "Tags on function aliases and versions are not supported. Please specify a function ARN.")
    assert refused(lam.untag_resource, Resource=fn, TagKeys=[]) == (
        "ValidationException",
        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")


def test_tags_layers_urls_and_configs_survive_a_restart(start_server: Callable[..., Any], tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    lam, sqs = server.client("lambda"), server.client("sqs")
    role = lambda_role(server.client("iam"), "r")
    layer = lam.publish_layer_version(LayerName="lib", Content={"ZipFile": make_zip("X = 1\n", "python/lib.py")})
    lam.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="lambda_function.lambda_handler",
                        Code={"ZipFile": make_zip(HANDLER)}, Layers=[layer["LayerVersionArn"]])
    url = lam.create_function_url_config(FunctionName="fn", AuthType="NONE")["FunctionUrl"]
    signing = lam.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})[
        "CodeSigningConfig"]["CodeSigningConfigArn"]
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=queue_arn)["EventSourceMappingArn"]
    lam.tag_resource(Resource=mapping, Tags={"k": "v"})
    server.kill()
    server.start()
    lam = server.client("lambda")
    assert lam.list_tags(Resource=mapping)["Tags"] == {"k": "v"}
    assert lam.get_function_url_config(FunctionName="fn")["FunctionUrl"] == url
    assert lam.get_layer_version(LayerName="lib", VersionNumber=1)["Version"] == 1
    assert lam.get_function_configuration(FunctionName="fn")["Layers"][0]["Arn"] == layer["LayerVersionArn"]
    assert lam.get_code_signing_config(CodeSigningConfigArn=signing)["CodeSigningConfig"]["CodeSigningConfigArn"] == \
        signing
    assert lam.publish_layer_version(LayerName="lib", Content={"ZipFile": make_zip("X = 2\n", "python/lib.py")})[
        "Version"] == 2
