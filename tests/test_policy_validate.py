"""The policy document validator on its own: IAM's MalformedPolicyDocument messages for each kind of use.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.policy import PolicyError, Use, check


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        body = {"Version": version, **body}
    return json.dumps(body)


ALLOW = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}
TRUST = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
QUEUE = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
         "Resource": "arn:aws:sqs:us-east-1:000000000000:jobs",
         "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::photos"}}}

CASES: list[tuple[str, Use, str | None]] = [
    (doc(ALLOW), Use.IDENTITY, None),
    (doc(ALLOW, version=None), Use.IDENTITY, None),  # inline policies may leave Version out (2008-10-17)
    (doc(ALLOW, version=None), Use.MANAGED, "Policy document must be version 2012-10-17 or greater."),
    (doc(ALLOW, version="2008-10-17"), Use.MANAGED, "Policy document must be version 2012-10-17 or greater."),
    (doc(TRUST), Use.TRUST, None),
    (doc(QUEUE), Use.RESOURCE, None),
    ("{", Use.IDENTITY, "Syntax errors in policy."),
    ("[]", Use.IDENTITY, "Syntax errors in policy."),
    (json.dumps({"Version": "2012-10-17"}), Use.IDENTITY, "Syntax errors in policy."),
    (doc(), Use.IDENTITY, "Syntax errors in policy."),
    (doc({**ALLOW, "Extra": 1}), Use.IDENTITY, "Syntax errors in policy."),
    (doc({**ALLOW, "Effect": "Maybe"}), Use.IDENTITY, "Syntax errors in policy."),
    (doc({**ALLOW, "Action": ["s3:GetObject", 3]}), Use.IDENTITY, "Syntax errors in policy."),
    (doc({**ALLOW, "Condition": {"StringEqualz": {"a:b": "c"}}}), Use.IDENTITY, "Syntax errors in policy."),
    (doc({**ALLOW, "Condition": {"StringEquals": {"a:b": {"nested": 1}}}}), Use.IDENTITY, "Syntax errors in policy."),
    (doc({**ALLOW, "NotAction": "s3:*"}), Use.IDENTITY, "Syntax errors in policy."),
    (doc({**ALLOW, "Principal": "*"}), Use.IDENTITY, "Policy document should not specify a principal."),
    (doc({**ALLOW, "NotPrincipal": {"AWS": "1"}}), Use.MANAGED, "Policy document should not specify a principal."),
    (doc({**ALLOW, "Effect": "allow"}), Use.IDENTITY, "The policy failed legacy parsing"),
    (doc({**ALLOW, "Condition": {"DateGreaterThan": {"aws:CurrentTime": "yesterday"}}}), Use.IDENTITY,
     "The policy failed legacy parsing"),
    (doc({**ALLOW, "Sid": "x"}, {**ALLOW, "Sid": "x"}), Use.IDENTITY,
     "Statement IDs (SID) in a single policy must be unique."),
    (doc({"Effect": "Allow", "Resource": "*"}), Use.IDENTITY, "Policy statement must contain actions."),
    (doc({**ALLOW, "Action": []}), Use.IDENTITY, "Policy statement must contain actions."),
    (doc({"Effect": "Allow", "Action": "s3:*"}), Use.IDENTITY, "Policy statement must contain resources."),
    (doc({**ALLOW, "Resource": "photos"}), Use.IDENTITY, 'Resource photos must be in ARN format or "*".'),
    (doc({**ALLOW, "Resource": "arn:aws:*:::x"}), Use.IDENTITY,
     "Resource vendor must be fully qualified and cannot contain regexes."),
    (doc({**ALLOW, "Resource": "arn:aws:iam:us-east-1:000000000000:user/x"}), Use.IDENTITY,
     "IAM resource arn:aws:iam:us-east-1:000000000000:user/x cannot contain region information."),
    (doc({**ALLOW, "Resource": "arn:aws:s3:us-east-1::photos"}), Use.IDENTITY,
     "Resource arn:aws:s3:us-east-1::photos can not contain region information."),
    (doc({**ALLOW, "Action": "GetObject"}), Use.IDENTITY,
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    (doc({**ALLOW, "Action": "s3:Get:Object"}), Use.IDENTITY, "Actions/Condition can contain only one colon."),
    (doc({**ALLOW, "Action": "s 3:GetObject"}), Use.IDENTITY, "Vendor s 3 is not valid"),
    (doc({"Effect": "Allow", "Action": "sts:AssumeRole"}), Use.TRUST, "Missing required field Principal"),
    (doc({**TRUST, "Resource": "*"}), Use.TRUST, "Has prohibited field Resource"),
    (doc({**TRUST, "Action": "s3:GetObject"}), Use.TRUST, "AssumeRole policy may only specify STS AssumeRole actions."),
    (doc({**TRUST, "Principal": {"AWS": "someone"}}), Use.TRUST, 'Invalid principal in policy: "AWS":"someone"'),
    (doc({**TRUST, "Principal": {"AWS": ["123456789012", "arn:aws:iam::123456789012:role/x"]}}), Use.TRUST, None),
    (doc({**TRUST, "Principal": {"Someone": "x"}}), Use.TRUST, "Syntax errors in policy."),
    (doc({k: v for k, v in QUEUE.items() if k != "Principal"}), Use.RESOURCE, "Missing required field Principal"),
]


@pytest.mark.parametrize(("text", "use", "message"), CASES)
def test_validation(text: str, use: Use, message: str | None) -> None:
    if message is None:
        assert isinstance(check(text, use), dict)
        return
    with pytest.raises(PolicyError) as exc:
        check(text, use)
    assert exc.value.message == message


def test_a_trust_policy_principal_must_exist_when_asked() -> None:
    existing = {"arn:aws:iam::000000000000:role/worker"}
    text = doc({**TRUST, "Principal": {"AWS": "arn:aws:iam::000000000000:role/worker"}})
    assert check(text, Use.TRUST, existing.__contains__)
    with pytest.raises(PolicyError):
        check(text.replace("worker", "gone"), Use.TRUST, existing.__contains__)
