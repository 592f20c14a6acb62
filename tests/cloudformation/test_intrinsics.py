"""The intrinsic functions, condition functions and pseudo parameters, in-process, over YAML short forms."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.services.cloudformation import template
from conveyor.services.cloudformation.intrinsics import Scope
from conveyor.wire import ServiceError

HEADER = """
Parameters:
  Env: {Type: String, Default: prod, AllowedValues: [prod, dev]}
  Names: {Type: CommaDelimitedList, Default: "a,b,c"}
Mappings:
  Sizes:
    prod: {Memory: 512}
    dev: {Memory: 128}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals ["1", 1]]
  Either: !Or [!Condition IsDev, !Condition Both]
Resources:
  Queue: {Type: AWS::SQS::Queue}
"""


def scope() -> Scope:
    document = template.parse(HEADER)
    values = template.resolve_parameters(document, [])
    attributes = {("Queue", "Arn"): "arn:aws:sqs:us-east-1:000000000000:q"}
    return Scope(region="us-east-1", account="000000000000", stack_name="lab",
                 stack_id="arn:aws:cloudformation:us-east-1:000000000000:stack/lab/1", parameters=values.values,
                 mappings=document["Mappings"], conditions=document["Conditions"], ref=lambda name: f"url-of-{name}",
                 attribute=lambda name, attribute: attributes[(name, attribute)],
                 export=lambda name: "exported" if name == "shared" else None)


CASES: list[tuple[str, Any]] = [
    ("!Ref Env", "prod"),
    ("!Ref Queue", "url-of-Queue"),
    ("!Ref AWS::Region", "us-east-1"),
    ("!Ref AWS::AccountId", "000000000000"),
    ("!Ref AWS::StackName", "lab"),
    ("!Ref AWS::Partition", "aws"),
    ("!Ref AWS::URLSuffix", "amazonaws.com"),
    ("!GetAtt Queue.Arn", "arn:aws:sqs:us-east-1:000000000000:q"),
    ("{'Fn::GetAtt': [Queue, Arn]}", "arn:aws:sqs:us-east-1:000000000000:q"),
    ("!Sub '${AWS::StackName}-${Env}-${Queue.Arn}'", "lab-prod-arn:aws:sqs:us-east-1:000000000000:q"),
    ("!Sub ['${Name}.${!Literal}', {Name: !Ref Env}]", "prod.${Literal}"),
    ("!Join ['-', [a, !Ref Env, c]]", "a-prod-c"),
    ("!Select [1, !Ref Names]", "b"),
    ("!Select [0, !Split [',', 'x,y']]", "x"),
    ("!If [IsProd, big, small]", "big"),
    ("!If [IsDev, big, small]", "small"),
    ("!If [Either, chosen, other]", "chosen"),
    ("!FindInMap [Sizes, !Ref Env, Memory]", 512),
    ("!GetAZs ''", ["us-east-1a", "us-east-1b", "us-east-1c"]),
    ("!Base64 hello", "aGVsbG8="),
    ("!ImportValue shared", "exported"),
    ("!Cidr ['10.0.0.0/16', 2, 8]", ["10.0.0.0/24", "10.0.1.0/24"]),
    ("[a, !Ref AWS::NoValue, b]", ["a", "b"]),
    ("{Keep: 1, Drop: !If [IsDev, 2, !Ref AWS::NoValue]}", {"Keep": 1}),
    ("Version: 2012-10-17", {"Version": "2012-10-17"}),  # a policy's Version stays a string
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_functions(source: str, expected: Any) -> None:
    import yaml

    from conveyor.services.cloudformation.template import _Loader

    assert scope().evaluate(yaml.load(source, Loader=_Loader)) == expected  # noqa: S506


@pytest.mark.parametrize(("source", "message"), [
    ("!Select [5, [a]]", "Fn::Select cannot select nonexistent value at index 5"),
    ("!FindInMap [Sizes, test, Memory]", "Unable to get mapping for Sizes::test::Memory"),
    ("!ImportValue missing", "No export named missing found"),
    ("!If [Nowhere, a, b]", "Unresolved condition dependency Nowhere"),
])
def test_errors(source: str, message: str) -> None:
    import yaml

    from conveyor.services.cloudformation.template import _Loader

    with pytest.raises(ServiceError, match=message):
        scope().evaluate(yaml.load(source, Loader=_Loader))  # noqa: S506


def test_parameters_are_checked_against_allowed_values() -> None:
    document = template.parse(HEADER)
    with pytest.raises(ServiceError, match="must be one of AllowedValues"):
        template.resolve_parameters(document, [{"ParameterKey": "Env", "ParameterValue": "test"}])
    with pytest.raises(ServiceError, match=r"Parameters: \[Other\] do not exist in the template"):
        template.resolve_parameters(document, [{"ParameterKey": "Other", "ParameterValue": "x"}])
