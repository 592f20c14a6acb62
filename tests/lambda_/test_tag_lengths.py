"""Tag keys past 128 characters, values past 256 and characters outside AWS's pattern, refused by CreateFunction
and TagResource as Lambda refuses them (https://docs.aws.amazon.com/lambda/latest/dg/tagging.html; the answer
to a value past them as recorded against AWS in cloud-custodian#2520)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_.conftest import ROLE, make_zip

HANDLER = "def lambda_handler(event, context):\n    return event\n"
PATTERN = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abcdef1234"
KEYS = ("Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have "
        f"length greater than or equal to 1, Member must satisfy regular expression pattern: {PATTERN}]")
VALUES = ("Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have "
          f"length greater than or equal to 0, Member must satisfy regular expression pattern: {PATTERN}]")


def _refused(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_tag_values_and_keys_past_their_limits_are_refused(lam: Any, make_function: Callable[..., Any]) -> None:
    fn = make_function("long-tags", HANDLER)["FunctionArn"]
    lam.tag_resource(Resource=fn, Tags={"k" * 128: "v" * 256, "Team é": "a b_.:/=+-@"})
    long_value = "v" * 257
    assert _refused(lam.tag_resource, Resource=fn, Tags={"owner": long_value}) == (
        "ValidationException",
        f"1 validation error detected: Value '{{owner={long_value}}}' at 'tags' failed to satisfy constraint: {VALUES}")
    assert _refused(lam.tag_resource, Resource=fn, Tags={"k" * 129: "v"}) == (
        "ValidationException",
        f"1 validation error detected: Value '{{{'k' * 129}=v}}' at 'tags' failed to satisfy constraint: {KEYS}")
    # A comma is no tag character (the answer recorded in cloud-custodian#2520 refused "X-XXX123,XXXX").
    code, message = _refused(lam.tag_resource, Resource=fn, Tags={"a,b": "c,d"})
    assert code == "ValidationException"
    assert message == ("2 validation errors detected: Value '{a,b=c,d}' at 'tags' failed to satisfy constraint: "
                       f"{KEYS}; Value '{{a,b=c,d}}' at 'tags' failed to satisfy constraint: {VALUES}")
    assert _refused(lam.create_function, FunctionName="long-tags-2", Role=ROLE, Runtime="python3.12",
                    Handler="lambda_function.lambda_handler", Code={"ZipFile": make_zip(HANDLER)},
                    Tags={"owner": long_value})[0] == "ValidationException"
    assert lam.list_tags(Resource=fn)["Tags"] == {"k" * 128: "v" * 256, "Team é": "a b_.:/=+-@"}


def test_a_code_signing_config_and_a_mapping_take_no_tag_past_the_limits(lam: Any, client: Callable[..., Any],
                                                                          make_function: Callable[..., Any]) -> None:
    long_value = "v" * 257
    code, message = _refused(lam.create_code_signing_config, AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
                             Tags={"owner": long_value})
    assert (code, message) == (
        "ValidationException",
        f"1 validation error detected: Value '{{owner={long_value}}}' at 'tags' failed to satisfy constraint: {VALUES}")
    assert lam.list_code_signing_configs()["CodeSigningConfigs"] == []
    make_function("mapped", HANDLER)
    queue = client("sqs").create_queue(QueueName="tagged-source")["QueueUrl"]
    arn = client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert _refused(lam.create_event_source_mapping, FunctionName="mapped", EventSourceArn=arn,
                    Tags={"k" * 129: "v"})[0] == "ValidationException"
    assert lam.list_event_source_mappings(FunctionName="mapped")["EventSourceMappings"] == []
