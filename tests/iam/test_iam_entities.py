"""Users, groups, roles, instance profiles, tags and pagination through boto3, with IAM's errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@pytest.fixture
def iam(client: Callable[..., Any]) -> Any:
    return client("iam")


@pytest.fixture
def unchecked(client: Callable[..., Any]) -> Any:
    """A client that leaves validation to the server, as other SDKs and hand-written requests do."""
    return client("iam", config=BotoConfig(parameter_validation=False, retries={"max_attempts": 1}))


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_users_and_groups(iam: Any) -> None:
    user = iam.create_user(UserName="ana", Path="/staff/", Tags=[{"Key": "team", "Value": "blue"}])["User"]
    assert user["Arn"] == "arn:aws:iam::000000000000:user/staff/ana" and user["UserId"].startswith("AIDA")
    assert user["Tags"] == [{"Key": "team", "Value": "blue"}]
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="ANA")  # names are unique whatever their case
    assert error(exc) == ("EntityAlreadyExists", "User with name ANA already exists.", 409)
    assert iam.get_user(UserName="Ana")["User"]["UserName"] == "ana"
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName="bo")
    assert error(exc) == ("NoSuchEntity", "The user with name bo cannot be found.", 404)
    root = iam.get_user()["User"]  # the root user signs with the configured keys
    assert root["Arn"] == "arn:aws:iam::000000000000:root" and root["UserId"] == "000000000000"

    group = iam.create_group(GroupName="devs")["Group"]
    assert group["Arn"] == "arn:aws:iam::000000000000:group/devs" and group["GroupId"].startswith("AGPA")
    iam.add_user_to_group(GroupName="devs", UserName="ana")
    iam.add_user_to_group(GroupName="devs", UserName="ana")  # twice is fine
    got = iam.get_group(GroupName="devs")
    assert [u["UserName"] for u in got["Users"]] == ["ana"] and got["Group"]["GroupName"] == "devs"
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="ana")["Groups"]] == ["devs"]

    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName="devs")
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409)
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="ana")
    assert error(exc)[0] == "DeleteConflict"
    iam.remove_user_from_group(GroupName="devs", UserName="ana")
    iam.create_access_key(UserName="ana")
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName="ana")
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409)

    iam.update_user(UserName="ana", NewUserName="ana.lima", NewPath="/")
    renamed = iam.get_user(UserName="ana.lima")["User"]
    assert renamed["Arn"] == "arn:aws:iam::000000000000:user/ana.lima"
    assert iam.list_access_keys(UserName="ana.lima")["AccessKeyMetadata"][0]["UserName"] == "ana.lima"
    iam.update_group(GroupName="devs", NewGroupName="developers")
    assert iam.list_groups()["Groups"][0]["GroupName"] == "developers"


def test_roles_and_their_settings(iam: Any, unchecked: Any) -> None:
    boundary = iam.create_policy(PolicyName="boundary", PolicyDocument=ALLOW_ALL)["Policy"]["Arn"]
    role = iam.create_role(RoleName="fn", Path="/app/", AssumeRolePolicyDocument=TRUST, Description="runs fn",
                           MaxSessionDuration=7200, PermissionsBoundary=boundary,
                           Tags=[{"Key": "env", "Value": "dev"}])["Role"]
    assert role["Arn"] == "arn:aws:iam::000000000000:role/app/fn"
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    got = iam.get_role(RoleName="fn")["Role"]
    assert got["Description"] == "runs fn" and got["MaxSessionDuration"] == 7200
    assert got["PermissionsBoundary"] == {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    assert got["Tags"] == [{"Key": "env", "Value": "dev"}] and got["RoleLastUsed"] == {}
    listed = iam.list_roles()["Roles"][0]  # ListRoles leaves out boundary, tags and last use
    assert listed["RoleName"] == "fn" and "Tags" not in listed and "PermissionsBoundary" not in listed

    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="FN", AssumeRolePolicyDocument=TRUST)
    assert error(exc) == ("EntityAlreadyExists", "Role with name FN already exists.", 409)
    with pytest.raises(ClientError) as exc:
        unchecked.update_role(RoleName="fn", MaxSessionDuration=60)
    code, message, status = error(exc)
    assert (code, status) == ("ValidationError", 400)
    assert message == ("1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: "
                       "Member must have value greater than or equal to 3600")
    with pytest.raises(ClientError) as exc:
        unchecked.create_role(RoleName="bad name", AssumeRolePolicyDocument=TRUST)
    assert error(exc)[1] == ("1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy "
                             "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+")
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=boundary + "x")
    assert error(exc)[0] == "NoSuchEntity"

    iam.update_role(RoleName="fn", Description="new", MaxSessionDuration=3600)
    assert iam.update_role_description(RoleName="fn", Description="newer")["Role"]["Description"] == "newer"
    ec2 = TRUST.replace("lambda.amazonaws.com", "ec2.amazonaws.com")
    iam.update_assume_role_policy(RoleName="fn", PolicyDocument=ec2)
    assert iam.get_role(RoleName="fn")["Role"]["AssumeRolePolicyDocument"] == json.loads(ec2)
    iam.delete_role_permissions_boundary(RoleName="fn")
    assert "PermissionsBoundary" not in iam.get_role(RoleName="fn")["Role"]
    iam.put_role_permissions_boundary(RoleName="fn", PermissionsBoundary=boundary)
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["PermissionsBoundaryUsageCount"] == 1

    iam.put_role_policy(RoleName="fn", PolicyName="inline", PolicyDocument=ALLOW_ALL)
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName="fn")
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    iam.delete_role_policy(RoleName="fn", PolicyName="inline")
    iam.delete_role(RoleName="fn")
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName="fn")
    assert error(exc) == ("NoSuchEntity", "The role with name fn cannot be found.", 404)


def test_trust_policies_naming_principals(iam: Any) -> None:
    iam.create_user(UserName="ana")
    def trust(principal: Any) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="for-ana", AssumeRolePolicyDocument=trust({"AWS": "arn:aws:iam::000000000000:user/ana"}))
    iam.create_role(RoleName="for-account", AssumeRolePolicyDocument=trust({"AWS": "111122223333"}))
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="x", AssumeRolePolicyDocument=trust({"AWS": "arn:aws:iam::000000000000:user/nobody"}))
    assert error(exc) == ("MalformedPolicyDocument",
                          'Invalid principal in policy: "AWS":"arn:aws:iam::000000000000:user/nobody"', 400)
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="x", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "s3:GetObject"}]}))
    assert error(exc)[1] == "AssumeRole policy may only specify STS AssumeRole actions."
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="x", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole"}]}))
    assert error(exc)[1] == "Missing required field Principal"


def test_instance_profiles(iam: Any) -> None:
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=TRUST)
    iam.create_role(RoleName="other", AssumeRolePolicyDocument=TRUST)
    profile = iam.create_instance_profile(InstanceProfileName="worker", Path="/pools/")["InstanceProfile"]
    assert profile["Arn"] == "arn:aws:iam::000000000000:instance-profile/pools/worker"
    assert profile["InstanceProfileId"].startswith("AIPA")
    with pytest.raises(ClientError) as exc:
        iam.create_instance_profile(InstanceProfileName="worker")
    assert error(exc) == ("EntityAlreadyExists", "Instance Profile worker already exists.", 409)
    iam.add_role_to_instance_profile(InstanceProfileName="worker", RoleName="worker")
    with pytest.raises(ClientError) as exc:  # an instance profile holds one role
        iam.add_role_to_instance_profile(InstanceProfileName="worker", RoleName="other")
    assert error(exc) == ("LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1", 409)
    got = iam.get_instance_profile(InstanceProfileName="worker")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["worker"]
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles(PathPrefix="/pools/")["InstanceProfiles"]] == ["worker"]
    assert iam.list_instance_profiles(PathPrefix="/other/")["InstanceProfiles"] == []
    with pytest.raises(ClientError) as exc:
        iam.delete_instance_profile(InstanceProfileName="worker")
    assert error(exc)[1] == "Cannot delete entity, must remove roles from instance profile first."
    iam.remove_role_from_instance_profile(InstanceProfileName="worker", RoleName="worker")
    iam.delete_instance_profile(InstanceProfileName="worker")
    with pytest.raises(ClientError) as exc:
        iam.get_instance_profile(InstanceProfileName="worker")
    assert error(exc) == ("NoSuchEntity", "Instance Profile worker cannot be found.", 404)


def test_tags(iam: Any) -> None:
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
    iam.tag_role(RoleName="r", Tags=[{"Key": "Env", "Value": "dev"}, {"Key": "team", "Value": "blue"}])
    iam.tag_role(RoleName="r", Tags=[{"Key": "env", "Value": "prod"}])  # keys are case-insensitive
    assert iam.list_role_tags(RoleName="r")["Tags"] == [{"Key": "Env", "Value": "prod"}, {"Key": "team", "Value": "blue"}]
    iam.untag_role(RoleName="r", TagKeys=["TEAM"])
    assert iam.list_role_tags(RoleName="r")["Tags"] == [{"Key": "Env", "Value": "prod"}]
    with pytest.raises(ClientError) as exc:
        iam.tag_role(RoleName="r", Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    assert error(exc)[0] == "InvalidInput"

    iam.create_user(UserName="u")
    iam.tag_user(UserName="u", Tags=[{"Key": "k", "Value": "v"}])
    assert iam.list_user_tags(UserName="u")["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.untag_user(UserName="u", TagKeys=["k"])
    assert iam.list_user_tags(UserName="u")["Tags"] == []

    iam.create_instance_profile(InstanceProfileName="p")
    iam.tag_instance_profile(InstanceProfileName="p", Tags=[{"Key": "k", "Value": "v"}])
    assert iam.list_instance_profile_tags(InstanceProfileName="p")["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.untag_instance_profile(InstanceProfileName="p", TagKeys=["k"])
    assert iam.list_instance_profile_tags(InstanceProfileName="p")["Tags"] == []

    policy = iam.create_policy(PolicyName="p", PolicyDocument=ALLOW_ALL, Tags=[{"Key": "a", "Value": "1"}])["Policy"]
    iam.tag_policy(PolicyArn=policy["Arn"], Tags=[{"Key": "b", "Value": "2"}])
    assert [t["Key"] for t in iam.list_policy_tags(PolicyArn=policy["Arn"])["Tags"]] == ["a", "b"]
    iam.untag_policy(PolicyArn=policy["Arn"], TagKeys=["a"])
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["Tags"] == [{"Key": "b", "Value": "2"}]


def test_path_prefix_and_pagination(iam: Any, unchecked: Any) -> None:
    for index in range(7):
        iam.create_role(RoleName=f"role-{index}", Path="/team/" if index % 2 else "/",
                        AssumeRolePolicyDocument=TRUST)
    names: list[str] = []
    marker: dict[str, str] = {}
    pages = 0
    while True:
        page = iam.list_roles(MaxItems=3, **marker)
        names += [r["RoleName"] for r in page["Roles"]]
        pages += 1
        if not page["IsTruncated"]:
            break
        marker = {"Marker": page["Marker"]}
    assert names == [f"role-{i}" for i in range(7)] and pages == 3
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/team/")["Roles"]] == ["role-1", "role-3", "role-5"]
    everything = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2})
                  for r in p["Roles"]]
    assert everything == names
    with pytest.raises(ClientError) as exc:
        unchecked.list_roles(MaxItems=0)
    assert error(exc)[0] == "ValidationError"
