"""AWS's policy evaluation logic, case by case; each case names the AWS documentation page it follows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from conveyor.policy import AccessRequest, Policies, Principal, evaluate

IAM_GUIDE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
EVALUATION = IAM_GUIDE + "reference_policies_evaluation-logic.html"
DENY_ALLOW = IAM_GUIDE + "reference_policies_evaluation-logic_policy-eval-denyallow.html"
SINGLE_ACCOUNT = IAM_GUIDE + "reference_policies_evaluation-logic_policy-eval-basics.html"
CROSS_ACCOUNT = IAM_GUIDE + "reference_policies_evaluation-logic-cross-account.html"
BOUNDARIES = IAM_GUIDE + "access_policies_boundaries.html"
ACTION = IAM_GUIDE + "reference_policies_elements_action.html"
NOT_ACTION = IAM_GUIDE + "reference_policies_elements_notaction.html"
RESOURCE = IAM_GUIDE + "reference_policies_elements_resource.html"
NOT_RESOURCE = IAM_GUIDE + "reference_policies_elements_notresource.html"
PRINCIPAL = IAM_GUIDE + "reference_policies_elements_principal.html"
NOT_PRINCIPAL = IAM_GUIDE + "reference_policies_elements_notprincipal.html"
OPERATORS = IAM_GUIDE + "reference_policies_elements_condition_operators.html"
MULTI_VALUED = IAM_GUIDE + "reference_policies_condition-single-vs-multi-valued-context-keys.html"
MULTIPLE_VALUES = IAM_GUIDE + "reference_policies_multi-value-conditions.html"
VARIABLES = IAM_GUIDE + "reference_policies_variables.html"
GLOBAL_KEYS = IAM_GUIDE + "reference_policies_condition-keys.html"
ACCESS_DENIED = IAM_GUIDE + "troubleshoot_access-denied.html"

ACCOUNT, OTHER = "111122223333", "444455556666"
ANA = Principal.user(f"arn:aws:iam::{ACCOUNT}:user/ana", "AIDAANAEXAMPLE", tags={"team": "blue"})
WORKER = Principal.role_session(f"arn:aws:iam::{ACCOUNT}:role/worker", "i-0abc", "AROAWORKER")
BO = Principal.user(f"arn:aws:iam::{OTHER}:user/bo")
ROOT = Principal.root(ACCOUNT)
S3 = Principal.service("s3.amazonaws.com")
WEB = Principal("web-identity", arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app/web", account=ACCOUNT,
                provider="cognito-identity.amazonaws.com")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
NOBODY = Principal.anonymous()
OBJECT = "arn:aws:s3:::photos/uploads/cat.jpg"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def allow(action: Any = "s3:GetObject", resource: Any = OBJECT, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action: Any = "s3:GetObject", resource: Any = OBJECT, **more: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


@dataclass
class Case:
    name: str
    source: str  # the AWS page the expected outcome follows
    expected: str  # "Allow", or the reason of the denial: "explicit identity-based policy", "no resource-based policy"...
    principal: Principal = ANA
    action: str = "s3:GetObject"
    resource: str = OBJECT
    identity: list[dict[str, Any]] = field(default_factory=list)
    resource_policy: dict[str, Any] | None = None
    boundary: dict[str, Any] | None = None
    session: list[dict[str, Any]] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    resource_account: str | None = None


CASES = [
    Case("nothing allows: implicit deny", DENY_ALLOW, "no identity-based policy"),
    Case("an identity policy allows", SINGLE_ACCOUNT, "Allow", identity=[doc(allow())]),
    Case("explicit deny wins over an allow in another policy", DENY_ALLOW, "explicit identity-based policy",
         identity=[doc(allow("s3:*", "*")), doc(deny())]),
    Case("explicit deny in the resource policy wins over the identity allow", DENY_ALLOW,
         "explicit resource-based policy", identity=[doc(allow())],
         resource_policy=doc(deny(Principal="*"))),
    Case("a same-account resource policy naming the user grants alone", SINGLE_ACCOUNT, "Allow",
         resource_policy=doc(allow(Principal={"AWS": ANA.arn}))),
    Case("a same-account resource policy naming the user ignores the boundary", DENY_ALLOW, "Allow",
         resource_policy=doc(allow(Principal={"AWS": ANA.arn})), boundary=doc(allow("sqs:*", "*"))),
    Case("a resource policy naming only the account delegates to identity policies", DENY_ALLOW,
         "no identity-based policy", resource_policy=doc(allow(Principal={"AWS": ACCOUNT}))),
    Case("a resource policy naming the role is limited by the role's boundary", DENY_ALLOW,
         "no permissions boundary", principal=WORKER,
         resource_policy=doc(allow(Principal={"AWS": WORKER.role_arn})), boundary=doc(allow("sqs:*", "*"))),
    Case("a resource policy naming the role grants the session without identity policies", DENY_ALLOW,
         "Allow", principal=WORKER, resource_policy=doc(allow(Principal={"AWS": WORKER.role_arn}))),
    Case("a resource policy naming the session is not limited by session policies", DENY_ALLOW, "Allow",
         principal=WORKER, resource_policy=doc(allow(Principal={"AWS": WORKER.arn})),
         session=[doc(allow("sqs:*", "*"))]),
    Case("the boundary must allow too", BOUNDARIES, "no permissions boundary",
         identity=[doc(allow())], boundary=doc(allow("sqs:*", "*"))),
    Case("identity and boundary both allow", BOUNDARIES, "Allow",
         identity=[doc(allow("s3:*", "*"))], boundary=doc(allow("s3:Get*", "arn:aws:s3:::photos/*"))),
    Case("a deny in the boundary is explicit", BOUNDARIES, "explicit permissions boundary",
         identity=[doc(allow())], boundary=doc(allow("*", "*"), deny())),
    Case("session policies must allow", DENY_ALLOW, "no session policy", principal=WORKER,
         identity=[doc(allow())], session=[doc(allow("sqs:*", "*"))]),
    Case("cross-account: the resource policy alone is not enough", CROSS_ACCOUNT, "no identity-based policy",
         principal=BO, resource_policy=doc(allow(Principal={"AWS": BO.arn})), resource_account=ACCOUNT),
    Case("cross-account: the identity policy alone is not enough", CROSS_ACCOUNT, "no resource-based policy",
         principal=BO, identity=[doc(allow())], resource_account=ACCOUNT),
    Case("cross-account: both sides allow", CROSS_ACCOUNT, "Allow", principal=BO, identity=[doc(allow())],
         resource_policy=doc(allow(Principal={"AWS": OTHER})), resource_account=ACCOUNT),
    Case("the root user may do anything in its account", DENY_ALLOW, "Allow", principal=ROOT),
    Case("the root user is still bound by an explicit deny in a resource policy", DENY_ALLOW,
         "explicit resource-based policy", principal=ROOT, resource_policy=doc(deny(Principal={"AWS": ACCOUNT}))),
    Case("a service principal needs the resource policy", EVALUATION, "no resource-based policy",
         principal=S3, action="sqs:SendMessage", resource=QUEUE),
    Case("a service principal named in the queue policy", PRINCIPAL, "Allow", principal=S3,
         action="sqs:SendMessage", resource=QUEUE,
         resource_policy=doc(allow("sqs:SendMessage", QUEUE, Principal={"Service": "s3.amazonaws.com"}))),
    Case("anonymous callers get what Principal * allows", PRINCIPAL, "Allow", principal=NOBODY,
         resource_policy=doc(allow(Principal="*"))),
    Case("anonymous callers are not an account's principals", PRINCIPAL, "no resource-based policy",
         principal=NOBODY, resource_policy=doc(allow(Principal={"AWS": ACCOUNT}))),
    Case("NotPrincipal denies everyone but the named user", NOT_PRINCIPAL, "explicit resource-based policy",
         principal=WORKER, identity=[doc(allow())], resource_policy=doc(deny(NotPrincipal={"AWS": ANA.arn}))),
    Case("NotPrincipal spares the named user", NOT_PRINCIPAL, "Allow", identity=[doc(allow())],
         resource_policy=doc(deny(NotPrincipal={"AWS": ANA.arn}))),
    Case("a trust policy naming a user lets that user assume the role", PRINCIPAL, "Allow", action="sts:AssumeRole",
         resource=ROLE, resource_policy=doc({"Effect": "Allow", "Principal": {"AWS": ANA.arn}, "Action": "sts:AssumeRole"})),
    Case("a trust policy naming a service does not let a user assume the role", PRINCIPAL, "no identity-based policy",
         action="sts:AssumeRole", resource=ROLE,
         resource_policy=doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})),
    Case("a Federated principal is a caller of that identity provider", PRINCIPAL, "Allow", principal=WEB,
         action="sts:AssumeRoleWithWebIdentity", resource=ROLE,
         resource_policy=doc({"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                              "Action": "sts:AssumeRoleWithWebIdentity"})),
    Case("a Federated principal of another provider is not", PRINCIPAL, "no identity-based policy", principal=WEB,
         action="sts:AssumeRoleWithWebIdentity", resource=ROLE,
         resource_policy=doc({"Effect": "Allow", "Principal": {"Federated": "accounts.google.com"},
                              "Action": "sts:AssumeRoleWithWebIdentity"})),
    Case("actions are case-insensitive, with wildcards", ACTION, "Allow", identity=[doc(allow("S3:get*"))]),
    Case("? matches one character in an action", ACTION, "Allow", identity=[doc(allow("s3:GetObjec?"))]),
    Case("NotAction allows every other action", NOT_ACTION, "Allow",
         identity=[doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]),
    Case("NotAction does not allow the listed action", NOT_ACTION, "no identity-based policy", action="iam:CreateUser",
         resource=f"arn:aws:iam::{ACCOUNT}:user/x",
         identity=[doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]),
    Case("Deny with NotAction denies everything else", NOT_ACTION, "explicit identity-based policy",
         identity=[doc(allow("*", "*"), {"Effect": "Deny", "NotAction": "sqs:*", "Resource": "*"})]),
    Case("resources are case-sensitive", RESOURCE, "no identity-based policy",
         identity=[doc(allow(resource="arn:aws:s3:::Photos/*"))]),
    Case("a resource wildcard stays within its ARN segment", RESOURCE, "no identity-based policy",
         action="sqs:SendMessage", resource=QUEUE, identity=[doc(allow("sqs:*", "arn:aws:sqs:us-east-1:*s"))]),
    Case("a * ending a segment runs on across colons", RESOURCE, "Allow", action="sqs:SendMessage",
         resource=QUEUE, identity=[doc(allow("sqs:*", "arn:aws:sqs:*"))]),
    Case("NotResource allows everything but the listed resources", NOT_RESOURCE, "Allow",
         identity=[doc({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secrets/*"})]),
    Case("NotResource excludes the listed resources", NOT_RESOURCE, "no identity-based policy",
         resource="arn:aws:s3:::secrets/key",
         identity=[doc({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secrets/*"})]),
    Case("${aws:username} in a resource", VARIABLES, "Allow", resource="arn:aws:s3:::home/ana/notes.txt",
         identity=[doc(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"))]),
    Case("${aws:username} is another user's folder", VARIABLES, "no identity-based policy",
         resource="arn:aws:s3:::home/bo/notes.txt", identity=[doc(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"))]),
    Case("variables are plain text in Version 2008-10-17", VARIABLES, "no identity-based policy",
         resource="arn:aws:s3:::home/ana/notes.txt",
         identity=[doc(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"), version="2008-10-17")]),
    Case("a missing variable without a default matches nothing", VARIABLES, "no identity-based policy",
         principal=WORKER, resource="arn:aws:s3:::home/ana/x",
         identity=[doc(allow("s3:*", "arn:aws:s3:::home/${aws:username}/*"))]),
    Case("a variable's default value", VARIABLES, "Allow", principal=WORKER,
         resource="arn:aws:s3:::home/shared/x",
         identity=[doc(allow("s3:*", "arn:aws:s3:::home/${aws:username, 'shared'}/*"))]),
    Case("${*} is a literal asterisk", VARIABLES, "no identity-based policy", resource="arn:aws:s3:::a/b",
         identity=[doc(allow("s3:*", "arn:aws:s3:::a/${*}"))]),
    Case("${aws:PrincipalTag/team} in a condition", VARIABLES, "Allow", context={"s3:prefix": "blue/"},
         identity=[doc(allow(Condition={"StringLike": {"s3:prefix": "${aws:PrincipalTag/team}/*"}}))]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_evaluation(case: Case) -> None:
    request = AccessRequest(case.principal, case.action, case.resource, case.context,
                            resource_account=case.resource_account)
    decision = evaluate(request, Policies(case.identity, case.resource_policy, case.boundary, case.session))
    if case.expected == "Allow":
        assert decision.allowed, f"{case.name} ({case.source})"
        return
    assert not decision.allowed, f"{case.name} ({case.source})"
    assert decision.policy_type is not None
    explicit = case.expected.startswith("explicit ")
    assert decision.explicit is explicit
    assert decision.policy_type.value == case.expected.removeprefix("explicit ").removeprefix("no ")


# -- conditions: (source, operator block, request context, holds) -------------------------------------
NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
CONDITIONS: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    (OPERATORS, {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {"aws:SourceAccount": ACCOUNT}, True),
    (OPERATORS, {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {"aws:SourceAccount": OTHER}, False),
    (OPERATORS, {"StringEquals": {"AWS:SOURCEACCOUNT": ACCOUNT}}, {"aws:SourceAccount": ACCOUNT}, True),
    (OPERATORS, {"StringNotEquals": {"aws:SourceAccount": [ACCOUNT, OTHER]}}, {"aws:SourceAccount": "1"}, True),
    (OPERATORS, {"StringNotEquals": {"aws:SourceAccount": [ACCOUNT, OTHER]}}, {"aws:SourceAccount": OTHER}, False),
    (OPERATORS, {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}, {}, True),  # negated, key absent: true
    (OPERATORS, {"StringEqualsIgnoreCase": {"s3:x-amz-acl": "PRIVATE"}}, {"s3:x-amz-acl": "private"}, True),
    (OPERATORS, {"StringNotEqualsIgnoreCase": {"s3:x-amz-acl": "PRIVATE"}}, {"s3:x-amz-acl": "private"}, False),
    (OPERATORS, {"StringLike": {"s3:prefix": ["home/*", "pub?ic/"]}}, {"s3:prefix": "public/"}, True),
    (OPERATORS, {"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "Home/x"}, False),
    (OPERATORS, {"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/"}, True),
    (OPERATORS, {"StringEquals": {"s3:delimiter": "/"}}, {}, False),  # key absent: false
    (OPERATORS, {"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
    (OPERATORS, {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    (OPERATORS, {"NumericGreaterThan": {"s3:max-keys": 5}}, {"s3:max-keys": "7.5"}, True),
    (OPERATORS, {"NumericGreaterThanEquals": {"s3:max-keys": "5"}}, {"s3:max-keys": "4"}, False),
    (OPERATORS, {"NumericEquals": {"s3:max-keys": "5"}}, {"s3:max-keys": "5.0"}, True),
    (OPERATORS, {"NumericNotEquals": {"s3:max-keys": "5"}}, {"s3:max-keys": "6"}, True),
    (OPERATORS, {"NumericEquals": {"s3:max-keys": "5"}}, {"s3:max-keys": "five"}, False),
    (OPERATORS, {"DateLessThan": {"aws:CurrentTime": "2025-06-30T00:00:00Z"}}, {}, True),
    (OPERATORS, {"DateGreaterThan": {"aws:CurrentTime": "2025-06-30"}}, {}, False),
    (OPERATORS, {"DateGreaterThanEquals": {"aws:EpochTime": "1740830400"}}, {}, True),  # epoch form
    (OPERATORS, {"DateEquals": {"aws:TokenIssueTime": "2025-03-01T12:00:00Z"}},
     {"aws:TokenIssueTime": "2025-03-01T12:00:00+00:00"}, True),
    (OPERATORS, {"DateNotEquals": {"aws:TokenIssueTime": "2025-03-01T12:00:00Z"}},
     {"aws:TokenIssueTime": "2025-03-01T12:00:01Z"}, True),
    (OPERATORS, {"DateLessThanEquals": {"aws:CurrentTime": "2025-03-01T12:00:00Z"}}, {}, True),
    (OPERATORS, {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"}, False),
    (OPERATORS, {"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "false"}, True),
    (OPERATORS, {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}, True),
    (OPERATORS, {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"key": "b3RoZXI="}, False),
    (OPERATORS, {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}, {"aws:SourceIp": "203.0.113.9"}, True),
    (OPERATORS, {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, False),
    (OPERATORS, {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db8::1"}, True),
    (OPERATORS, {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, True),
    (OPERATORS, {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::photo*"}}, {"aws:SourceArn": "arn:aws:s3:::photos"}, True),
    (OPERATORS, {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:111122223333:*"}},
     {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:events"}, True),
    (OPERATORS, {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333"}},
     {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:events"}, False),  # five parts: never an ARN
    (OPERATORS, {"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::photos"}}, {"aws:SourceArn": "arn:aws:s3:::other"}, True),
    (OPERATORS, {"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::photos"}}, {"aws:SourceArn": "arn:aws:s3:::photos"}, False),
    (OPERATORS, {"Null": {"aws:SourceArn": "true"}}, {}, True),
    (OPERATORS, {"Null": {"aws:SourceArn": "false"}}, {}, False),
    (OPERATORS, {"Null": {"aws:SourceArn": "false"}}, {"aws:SourceArn": "arn:aws:s3:::x"}, True),
    (OPERATORS, {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {}, True),
    (OPERATORS, {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {"ec2:InstanceType": "m5.large"}, False),
    (OPERATORS, {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "Bool": {"aws:SecureTransport": "true"}},
     {"aws:SourceAccount": ACCOUNT}, False),  # operators AND together
    (MULTIPLE_VALUES, {"StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": "arn:aws:s3:::x"}},
     {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": "arn:aws:s3:::x"}, True),
    (MULTI_VALUED, {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}, {"aws:TagKeys": ["env"]}, True),
    (MULTI_VALUED, {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
     {"aws:TagKeys": ["env", "cost"]}, False),
    (MULTI_VALUED, {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, {}, True),  # absent: true
    (MULTI_VALUED, {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": ["cost", "env"]}, True),
    (MULTI_VALUED, {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {}, False),  # absent: false
    (MULTI_VALUED, {"ForAllValues:StringNotLike": {"aws:TagKeys": ["aws:*"]}}, {"aws:TagKeys": ["env", "team"]}, True),
    (MULTI_VALUED, {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": ["env"]}, False),
    (GLOBAL_KEYS, {"StringEquals": {"aws:username": "ana", "aws:PrincipalAccount": ACCOUNT}}, {}, True),
    (GLOBAL_KEYS, {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/ana"}}, {}, True),
    (GLOBAL_KEYS, {"StringEquals": {"aws:userid": "AIDAANAEXAMPLE", "aws:PrincipalType": "User"}}, {}, True),
    (VARIABLES, {"StringEquals": {"s3:prefix": "home/${aws:username}/"}}, {"s3:prefix": "home/ana/"}, True),
    (VARIABLES, {"NumericEquals": {"s3:max-keys": "${aws:username}"}}, {"s3:max-keys": "1"}, False),
    (OPERATORS, {"StringEqualz": {"aws:SourceAccount": ACCOUNT}}, {"aws:SourceAccount": ACCOUNT}, False),
]


@pytest.mark.parametrize(("source", "condition", "context", "holds"), CONDITIONS,
                         ids=[f"{i}-{next(iter(c[1]))}" for i, c in enumerate(CONDITIONS)])
def test_condition(source: str, condition: dict[str, Any], context: dict[str, Any], holds: bool) -> None:
    request = AccessRequest(ANA, "s3:ListBucket", "arn:aws:s3:::photos", context, now=NOW)
    decision = evaluate(request, Policies([doc(allow("s3:ListBucket", "arn:aws:s3:::photos", Condition=condition))]))
    assert decision.allowed is holds, source


def test_a_role_sessions_keys() -> None:
    """aws:PrincipalArn of a session is its role; aws:userid is ROLEID:SESSION. (GLOBAL_KEYS)"""
    keys = AccessRequest(WORKER, "s3:GetObject", OBJECT).keys
    assert keys["aws:principalarn"] == (f"arn:aws:iam::{ACCOUNT}:role/worker",)
    assert keys["aws:userid"] == ("AROAWORKER:i-0abc",)
    assert keys["aws:principaltype"] == ("AssumedRole",)
    assert "aws:username" not in keys


def test_denial_messages() -> None:
    """The wording of AWS's access denied messages (ACCESS_DENIED)."""
    request = AccessRequest(ANA, "s3:GetObject", OBJECT)
    assert evaluate(request, Policies()).message(request) == (
        f"User: arn:aws:iam::{ACCOUNT}:user/ana is not authorized to perform: s3:GetObject on resource: "
        f"{OBJECT} because no identity-based policy allows the s3:GetObject action")
    assert evaluate(request, Policies([doc(deny())])).message(request) == (
        f"User: arn:aws:iam::{ACCOUNT}:user/ana is not authorized to perform: s3:GetObject on resource: "
        f"{OBJECT} with an explicit deny in an identity-based policy")
    assert evaluate(request, Policies(resource=doc(deny(Principal="*")))).message(request).endswith(
        "with an explicit deny in a resource-based policy")
    bounded = evaluate(request, Policies([doc(allow())], boundary=doc(allow("sqs:*", "*"))))
    assert bounded.message(request).endswith("because no permissions boundary allows the s3:GetObject action")
    listing = AccessRequest(WORKER, "s3:ListAllMyBuckets", "*")
    assert evaluate(listing, Policies()).message(listing) == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/worker/i-0abc is not authorized to perform: "
        "s3:ListAllMyBuckets because no identity-based policy allows the s3:ListAllMyBuckets action")
