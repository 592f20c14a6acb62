"""Managed policies and their versions, attachments, inline policies, AWS managed policies and the account's
authorization details, through boto3."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def doc(*actions: str, resource: str = "*") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": resource}]})


@pytest.fixture
def iam(client: Callable[..., Any]) -> Any:
    return client("iam")


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_versions_of_a_managed_policy(iam: Any) -> None:
    policy = iam.create_policy(PolicyName="uploads", Path="/app/", PolicyDocument=doc("s3:GetObject"),
                               Description="read uploads")["Policy"]
    arn = policy["Arn"]
    assert arn == "arn:aws:iam::000000000000:policy/app/uploads" and policy["DefaultVersionId"] == "v1"
    assert policy["PolicyId"].startswith("ANPA") and policy["AttachmentCount"] == 0 and policy["IsAttachable"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "read uploads"
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName="UPLOADS", PolicyDocument=doc("s3:GetObject"))
    assert error(exc) == ("EntityAlreadyExists", "A policy called UPLOADS already exists. Duplicate names are not allowed.", 409)

    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("s3:PutObject"))["PolicyVersion"]
    assert v2["VersionId"] == "v2" and not v2["IsDefaultVersion"]
    v3 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("s3:*"), SetAsDefault=True)["PolicyVersion"]
    assert v3 == {**v3, "VersionId": "v3", "IsDefaultVersion": True}
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert got["Document"] == json.loads(doc("s3:PutObject")) and not got["IsDefaultVersion"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("s3:ListBucket"))
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("s3:DeleteObject"))
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("s3:GetBucketAcl"))
    assert error(exc) == ("LimitExceeded", "A managed policy can have up to 5 versions. Before you create a new "
                          "version, you must delete an existing version.", 409)
    listed = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in listed] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in listed] == [False, False, True, False, False]

    with pytest.raises(ClientError) as exc:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error(exc) == ("DeleteConflict", "Cannot delete the default version of a policy.", 409)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    v6 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("s3:GetBucketAcl"))["PolicyVersion"]
    assert v6["VersionId"] == "v6"  # ids are never reused
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v6")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v6"
    with pytest.raises(ClientError) as exc:
        iam.get_policy_version(PolicyArn=arn, VersionId="v1")
    assert error(exc)[0] == "NoSuchEntity"

    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc)[0] == "DeleteConflict" and "more than one version" in error(exc)[1]
    for version in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert error(exc) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)


def test_attachments_counts_and_entities(iam: Any) -> None:
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument=TRUST)
    iam.create_user(UserName="ana")
    iam.create_group(GroupName="devs")
    mine = iam.create_policy(PolicyName="mine", PolicyDocument=doc("sqs:*"))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="fn", PolicyArn=BASIC)
    iam.attach_role_policy(RoleName="fn", PolicyArn=mine)
    iam.attach_user_policy(UserName="ana", PolicyArn=mine)
    iam.attach_group_policy(GroupName="devs", PolicyArn=mine)
    assert iam.get_policy(PolicyArn=mine)["Policy"]["AttachmentCount"] == 3
    entities = iam.list_entities_for_policy(PolicyArn=mine)
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["fn"]
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["ana"]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["devs"]
    only_roles = iam.list_entities_for_policy(PolicyArn=mine, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and len(only_roles["PolicyRoles"]) == 1
    assert [p["PolicyName"] for p in iam.list_attached_user_policies(UserName="ana")["AttachedPolicies"]] == ["mine"]
    assert [p["PolicyName"] for p in iam.list_attached_group_policies(GroupName="devs")["AttachedPolicies"]] == ["mine"]
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="fn", PathPrefix="/service-role/")
            ["AttachedPolicies"]] == [BASIC]

    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=mine)
    assert error(exc) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName="fn", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    assert error(exc) == ("NoSuchEntity", "Policy arn:aws:iam::aws:policy/NoSuchPolicy does not exist or is not "
                          "attachable.", 404)
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName="nope", PolicyArn=BASIC)
    assert error(exc) == ("NoSuchEntity", "The role with name nope cannot be found.", 404)
    with pytest.raises(ClientError) as exc:
        iam.detach_user_policy(UserName="ana", PolicyArn=BASIC)
    assert error(exc) == ("NoSuchEntity", f"Policy {BASIC} was not found.", 404)

    for index in range(8):
        arn = iam.create_policy(PolicyName=f"p{index}", PolicyDocument=doc("sqs:*"))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName="fn", PolicyArn=arn)
    extra = iam.create_policy(PolicyName="one-too-many", PolicyDocument=doc("sqs:*"))["Policy"]["Arn"]
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName="fn", PolicyArn=extra)
    assert error(exc) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10", 409)

    iam.detach_role_policy(RoleName="fn", PolicyArn=mine)
    iam.detach_user_policy(UserName="ana", PolicyArn=mine)
    iam.detach_group_policy(GroupName="devs", PolicyArn=mine)
    assert iam.get_policy(PolicyArn=mine)["Policy"]["AttachmentCount"] == 0
    iam.delete_policy(PolicyArn=mine)


def test_list_policies_scopes_and_filters(iam: Any) -> None:
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument=TRUST)
    local = iam.create_policy(PolicyName="local", Path="/app/", PolicyDocument=doc("sqs:*"))["Policy"]["Arn"]
    aws_managed = iam.list_policies(Scope="AWS")["Policies"]
    names = {p["PolicyName"] for p in aws_managed}
    assert {"AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole", "AmazonS3FullAccess",
            "AmazonSQSFullAccess", "AdministratorAccess"} <= names and "local" not in names
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws_managed)
    assert [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]] == [local]
    with pytest.raises(ClientError) as exc:  # a path prefix is a path (ending in /), not a name
        iam.list_policies(Scope="AWS", PathPrefix="/service-role/AWSLambdaB")
    assert error(exc)[0] == "ValidationError" and "pathPrefix" in error(exc)[1]
    lambda_paths = {p["PolicyName"] for p in iam.list_policies(Scope="AWS", PathPrefix="/service-role/")["Policies"]}
    assert "AWSLambdaBasicExecutionRole" in lambda_paths and "AmazonS3FullAccess" not in lambda_paths
    assert iam.list_policies(OnlyAttached=True)["Policies"] == []
    iam.attach_role_policy(RoleName="fn", PolicyArn=BASIC)
    attached = iam.list_policies(OnlyAttached=True)["Policies"]
    assert [(p["PolicyName"], p["AttachmentCount"]) for p in attached] == [("AWSLambdaBasicExecutionRole", 1)]
    assert iam.list_policies(OnlyAttached=True, PolicyUsageFilter="PermissionsBoundary")["Policies"] == []
    everything = [p["PolicyName"] for page in iam.get_paginator("list_policies").paginate(
        PaginationConfig={"PageSize": 7}) for p in page["Policies"]]
    assert len(everything) == len(set(everything)) == len(names) + 1


def test_the_shipped_aws_managed_policies(iam: Any) -> None:
    """Each served by its real ARN, with its default version's document, which IAM itself would accept."""
    policies = [p for page in iam.get_paginator("list_policies").paginate(Scope="AWS") for p in page["Policies"]]
    assert len(policies) == 29
    for policy in policies:
        assert policy["Arn"] == f"arn:aws:iam::aws:policy{policy['Path']}{policy['PolicyName']}"
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        assert version["IsDefaultVersion"] and version["Document"]["Version"] == "2012-10-17"
        iam.create_policy(PolicyName=f"copy-{policy['PolicyName']}", PolicyDocument=json.dumps(version["Document"]))


def test_aws_managed_policies_cannot_be_changed(iam: Any) -> None:
    basic = iam.get_policy(PolicyArn=BASIC)["Policy"]
    assert basic["Path"] == "/service-role/" and basic["DefaultVersionId"] == "v1"
    version = iam.get_policy_version(PolicyArn=BASIC, VersionId="v1")["PolicyVersion"]
    assert version["Document"]["Statement"][0]["Action"] == [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    for call in (lambda: iam.delete_policy(PolicyArn=ADMIN),
                 lambda: iam.create_policy_version(PolicyArn=ADMIN, PolicyDocument=doc("s3:*")),
                 lambda: iam.tag_policy(PolicyArn=ADMIN, Tags=[{"Key": "a", "Value": "b"}])):
        with pytest.raises(ClientError) as exc:
            call()
        code, message, status = error(exc)
        assert (code, status) == ("AccessDenied", 403) and ADMIN in message


def test_inline_policies_of_users_groups_and_roles(iam: Any) -> None:
    iam.create_user(UserName="ana")
    iam.create_group(GroupName="devs")
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument=TRUST)
    text = '{\n  "Version": "2012-10-17",\n  "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}\n}'
    iam.put_user_policy(UserName="ana", PolicyName="u", PolicyDocument=text)
    iam.put_group_policy(GroupName="devs", PolicyName="g", PolicyDocument=text)
    iam.put_role_policy(RoleName="fn", PolicyName="r", PolicyDocument=text)
    assert iam.get_user_policy(UserName="ana", PolicyName="u")["PolicyDocument"] == json.loads(text)
    assert iam.get_group_policy(GroupName="devs", PolicyName="g")["GroupName"] == "devs"
    assert iam.list_user_policies(UserName="ana")["PolicyNames"] == ["u"]
    assert iam.list_group_policies(GroupName="devs")["PolicyNames"] == ["g"]
    iam.put_role_policy(RoleName="fn", PolicyName="r", PolicyDocument=doc("sqs:*"))  # replaces
    assert iam.get_role_policy(RoleName="fn", PolicyName="r")["PolicyDocument"] == json.loads(doc("sqs:*"))
    with pytest.raises(ClientError) as exc:
        iam.get_role_policy(RoleName="fn", PolicyName="nope")
    assert error(exc) == ("NoSuchEntity", "The role policy with name nope cannot be found.", 404)
    with pytest.raises(ClientError) as exc:  # a user's inline policies total at most 2,048 characters
        iam.put_user_policy(UserName="ana", PolicyName="big", PolicyDocument=doc(*[f"s3:Get{i:04d}" for i in range(200)]))
    assert error(exc) == ("LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user ana", 409)
    for call in (lambda: iam.delete_user_policy(UserName="ana", PolicyName="u"),
                 lambda: iam.delete_group_policy(GroupName="devs", PolicyName="g"),
                 lambda: iam.delete_role_policy(RoleName="fn", PolicyName="r")):
        call()
    assert iam.list_role_policies(RoleName="fn")["PolicyNames"] == []


MALFORMED = [
    ("not json", "Syntax errors in policy."),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}]}',
     "Policy document should not specify a principal."),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}',
     "Policy statement must contain resources."),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}',
     "Policy statement must contain actions."),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "s3:*", "Resource": "*"}]}',
     "The policy failed legacy parsing"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}',
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "bucket"}]}',
     'Resource bucket must be in ARN format or "*".'),
    ('{"Version": "2012-10-17", "Statement": [{"Sid": "a", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},'
     ' {"Sid": "a", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}',
     "Statement IDs (SID) in a single policy must be unique."),
    ('{"Version": "2012-10-18", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}',
     "Syntax errors in policy."),
]


@pytest.mark.parametrize(("document", "message"), MALFORMED)
def test_malformed_inline_policies(iam: Any, document: str, message: str) -> None:
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html (MalformedPolicyDocument)"""
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument=TRUST)
    with pytest.raises(ClientError) as exc:
        iam.put_role_policy(RoleName="fn", PolicyName="p", PolicyDocument=document)
    assert error(exc) == ("MalformedPolicyDocument", message, 400)


def test_a_managed_policy_needs_the_current_version(iam: Any) -> None:
    """Managed policies must say Version 2012-10-17 (API_CreatePolicy.html, access_policies_managed-versioning)."""
    no_version = json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName="old", PolicyDocument=no_version)
    assert error(exc) == ("MalformedPolicyDocument", "Policy document must be version 2012-10-17 or greater.", 400)


def test_account_authorization_details(iam: Any) -> None:
    iam.create_user(UserName="ana")
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="ana")
    iam.put_user_policy(UserName="ana", PolicyName="inline", PolicyDocument=doc("s3:GetObject"))
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="fn", PolicyArn=BASIC)
    iam.create_instance_profile(InstanceProfileName="fn")
    iam.add_role_to_instance_profile(InstanceProfileName="fn", RoleName="fn")
    local = iam.create_policy(PolicyName="local", PolicyDocument=doc("sqs:*"))["Policy"]["Arn"]

    details = iam.get_account_authorization_details()
    user = details["UserDetailList"][0]
    assert user["UserName"] == "ana" and user["GroupList"] == ["devs"]
    assert user["UserPolicyList"] == [{"PolicyName": "inline", "PolicyDocument": json.loads(doc("s3:GetObject"))}]
    role = details["RoleDetailList"][0]
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert role["AttachedManagedPolicies"] == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    assert [p["InstanceProfileName"] for p in role["InstanceProfileList"]] == ["fn"]
    assert details["GroupDetailList"][0]["GroupName"] == "devs"
    policies = {p["Arn"]: p for p in details["Policies"]}
    assert set(policies) == {BASIC, local}  # AWS managed policies appear once something uses them
    assert policies[local]["PolicyVersionList"][0]["Document"] == json.loads(doc("sqs:*"))

    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and only_roles["Policies"] == [] and len(only_roles["RoleDetailList"]) == 1
    paged = iam.get_account_authorization_details(MaxItems=2)
    assert paged["IsTruncated"] and len(paged["UserDetailList"]) + len(paged["GroupDetailList"]) == 2
    rest = iam.get_account_authorization_details(MaxItems=10, Marker=paged["Marker"])
    assert not rest["IsTruncated"] and len(rest["RoleDetailList"]) == 1 and len(rest["Policies"]) == 2


def test_a_plain_http_request_gets_iams_xml(endpoint: str, iam: Any) -> None:
    """An unsigned form POST (curl) is routed to IAM by its Action; documents come back URL-encoded as given."""
    text = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="fn", PolicyName="p", PolicyDocument=text)
    body = urllib.parse.urlencode({"Action": "GetRolePolicy", "Version": "2010-05-08", "RoleName": "fn",
                                   "PolicyName": "p"}).encode()
    request = urllib.request.Request(f"{endpoint}/", data=body,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:
        xml = response.read().decode()
    assert xml.startswith('<?xml version="1.0"?><GetRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')
    assert f"<PolicyDocument>{urllib.parse.quote(text, safe='')}</PolicyDocument>" in xml
