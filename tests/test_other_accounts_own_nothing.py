"""Another account's caller (with --auth off, a 12-digit access key ID is that account's root user) in the
services whose resources carry no policy: it acts in its own account, which holds nothing here. Its
listings are empty, a resource it names is one of its own account (not found, in the service's words) or,
named by the owner's ARN, AccessDenied; creating is AccessDenied (Conveyor holds one account); the
owner's resources are untouched and the owner is served as before.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.test_other_accounts import OTHER, OTHER_ROOT, _partner, _refused

OWNER = "000000000000"


@pytest.fixture
def partner(endpoint: str) -> Callable[[str], Any]:
    return lambda service: _partner(endpoint, service)


def test_sts_names_the_callers_own_account(partner):
    # https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
    assert {k: v for k, v in partner("sts").get_caller_identity().items() if k != "ResponseMetadata"} == {
        "UserId": OTHER, "Account": OTHER, "Arn": OTHER_ROOT}


def test_iam_another_account_sees_and_changes_none_of_the_accounts_entities(client, partner):
    iam, theirs = client("iam"), partner("iam")
    name = f"r-{uuid.uuid4().hex[:6]}"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.create_user(UserName=name)
    policy_arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))["Policy"]["Arn"]
    assert theirs.list_roles()["Roles"] == [] and theirs.list_users()["Users"] == []
    assert theirs.list_policies(Scope="Local")["Policies"] == []
    # A name is an entity of its own account: NoSuchEntity as for any missing one
    # (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html).
    assert _refused(lambda: theirs.get_role(RoleName=name)) == (
        "NoSuchEntity", f"The role with name {name} cannot be found.", 404)
    assert _refused(lambda: theirs.delete_user(UserName=name))[0] == "NoSuchEntity"
    assert _refused(lambda: theirs.attach_role_policy(RoleName=name, PolicyArn=policy_arn))[0] == "NoSuchEntity"
    # The account's policy named by its ARN: another account's resource.
    code, message, status = _refused(lambda: theirs.get_policy(PolicyArn=policy_arn))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: {OTHER_ROOT} is not authorized to perform: iam:GetPolicy on resource: {policy_arn} "
                       "because no resource-based policy allows the iam:GetPolicy action")
    assert _refused(lambda: theirs.create_user(UserName="theirs"))[0] == "AccessDenied"
    # AWS managed policies are everyone's; the root user asking for itself gets its own account's root.
    managed = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert theirs.get_policy(PolicyArn=managed)["Policy"]["Arn"] == managed
    assert theirs.get_user()["User"]["Arn"] == OTHER_ROOT
    # The owner's entities are untouched.
    assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name
    assert [u["UserName"] for u in iam.list_users()["Users"]] == [name]
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
