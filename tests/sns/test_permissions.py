"""AddPermission / RemovePermission edit the topic policy; SMS, mobile push and data protection are refused."""

from __future__ import annotations

import json

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from sns_helpers import error

from conveyor.services.sns.unsupported import OPERATIONS


def statements(sns, topic: str) -> dict[str, dict]:
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


def test_add_and_remove_permission(sns):
    topic = sns.create_topic(Name="shared")["TopicArn"]
    sns.add_permission(TopicArn=topic, Label="one", AWSAccountId=["111122223333"], ActionName=["Publish"])
    sns.add_permission(TopicArn=topic, Label="two", AWSAccountId=["111122223333", "444455556666"],
                       ActionName=["Subscribe", "GetTopicAttributes"])
    found = statements(sns, topic)
    assert list(found) == ["__default_statement_ID", "one", "two"]  # the default policy is kept
    assert found["one"] == {"Sid": "one", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                            "Action": "SNS:Publish", "Resource": topic}
    assert found["two"]["Principal"] == {"AWS": ["arn:aws:iam::111122223333:root",
                                                 "arn:aws:iam::444455556666:root"]}
    assert found["two"]["Action"] == ["SNS:Subscribe", "SNS:GetTopicAttributes"]

    sns.remove_permission(TopicArn=topic, Label="one")
    assert list(statements(sns, topic)) == ["__default_statement_ID", "two"]
    sns.remove_permission(TopicArn=topic, Label="one")  # already gone: nothing to do, not an error
    assert list(statements(sns, topic)) == ["__default_statement_ID", "two"]


def test_add_permission_refusals(sns):
    topic = sns.create_topic(Name="shared")["TopicArn"]
    sns.add_permission(TopicArn=topic, Label="p", AWSAccountId=["111122223333"], ActionName=["Publish"])
    cases = [
        (dict(Label="p", AWSAccountId=["111122223333"], ActionName=["Publish"]), "Statement already exists"),
        (dict(Label="q", AWSAccountId=["111122223333"], ActionName=["ReceiveMessage"]),
         "Policy statement action out of service scope!"),
        # AWS's words (a connector's tests run against AWS record them).
        (dict(Label="q", AWSAccountId=["not-an-account"], ActionName=["Publish"]),
         "Invalid parameter: A provided account ID is not valid"),
        (dict(Label="q", AWSAccountId=[str(10**11 + i) for i in range(201)], ActionName=["Publish"]),
         "AWSAccountId"),
    ]
    for kwargs, reason in cases:
        with pytest.raises(ClientError) as exc:
            sns.add_permission(TopicArn=topic, **kwargs)
        code, message = error(exc.value)
        assert code == "InvalidParameter" and reason in message, (kwargs["Label"], message)
    assert list(statements(sns, topic)) == ["__default_statement_ID", "p"]  # nothing half-added
    missing = topic + "-gone"
    with pytest.raises(ClientError) as exc:
        sns.add_permission(TopicArn=missing, Label="x", AWSAccountId=["111122223333"], ActionName=["Publish"])
    assert error(exc.value)[0] == "NotFound"
    with pytest.raises(ClientError) as exc:
        sns.remove_permission(TopicArn=missing, Label="x")
    assert error(exc.value)[0] == "NotFound"


def test_statement_limit(sns):
    topic = sns.create_topic(Name="crowded")["TopicArn"]
    for i in range(99):  # plus the default statement: 100, the quota
        sns.add_permission(TopicArn=topic, Label=f"s{i}", AWSAccountId=["111122223333"], ActionName=["Publish"])
    with pytest.raises(ClientError) as exc:
        sns.add_permission(TopicArn=topic, Label="one-too-many", AWSAccountId=["111122223333"],
                           ActionName=["Publish"])
    assert error(exc.value)[0] == "InvalidParameter"
    assert len(statements(sns, topic)) == 100


def test_permissions_with_the_cli(aws):
    topic = aws("sns", "create-topic", "--name", "cli-shared")["TopicArn"]
    aws("sns", "add-permission", "--topic-arn", topic, "--label", "cross-account",
        "--aws-account-id", "111122223333", "--action-name", "Publish", "Subscribe")
    attrs = aws("sns", "get-topic-attributes", "--topic-arn", topic)["Attributes"]
    mine = [s for s in json.loads(attrs["Policy"])["Statement"] if s["Sid"] == "cross-account"]
    assert mine == [{"Sid": "cross-account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                     "Action": ["SNS:Publish", "SNS:Subscribe"], "Resource": topic}]
    aws("sns", "remove-permission", "--topic-arn", topic, "--label", "cross-account")
    attrs = aws("sns", "get-topic-attributes", "--topic-arn", topic)["Attributes"]
    assert [s["Sid"] for s in json.loads(attrs["Policy"])["Statement"]] == ["__default_statement_ID"]


def _minimal(shape):
    """Smallest valid value of a botocore input shape (the model's required members only)."""
    if shape.type_name == "structure":
        return {name: _minimal(shape.members[name]) for name in shape.required_members}
    if shape.type_name == "list":
        return [_minimal(shape.member)]
    if shape.type_name == "map":
        return {"Key": _minimal(shape.value)}
    if shape.type_name == "boolean":
        return True
    if shape.type_name in ("integer", "long"):
        return 1
    if "Arn" in shape.name:
        return "arn:aws:sns:us-east-1:000000000000:app/GCM/x"
    return "1" * max(1, shape.metadata.get("min", 1))


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_unsupported_operations_answer_not_implemented(sns, operation):
    model = sns.meta.service_model.operation_model(operation)
    params = _minimal(model.input_shape) if model.input_shape is not None else {}
    with pytest.raises(ClientError) as exc:
        getattr(sns, xform_name(operation))(**params)
    code, message = error(exc.value)
    assert code == "NotImplemented" and operation in message and "Conveyor" in message
    meta = exc.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 501 and meta["RetryAttempts"] == 0


def test_unsupported_operation_with_the_cli(aws):
    result = aws("sns", "get-sms-sandbox-account-status", check=False)
    assert result.returncode != 0
    assert b"(NotImplemented)" in result.stderr and b"SMS sandbox" in result.stderr
