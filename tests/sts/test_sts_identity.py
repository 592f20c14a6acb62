"""STS through boto3, the AWS CLI and raw HTTP: GetCallerIdentity for every kind of caller, AssumeRole and
its rules, GetSessionToken, GetAccessKeyInfo, AssumeRoleWithWebIdentity, and STS's error shapes."""

from __future__ import annotations

import base64
import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from sts_helpers import ACCOUNT, client_with, session_client, trust, user_and_role, user_with_key

NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def error_of(call: Callable[[], Any]) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = {k: v for k, v in caught.value.response["Error"].items() if k != "Detail"}
    return {**error, "status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def test_caller_identity_of_the_root_user_an_iam_user_and_a_role_session(client: Callable[..., Any],
                                                                          endpoint: str, aws: Any) -> None:
    root = client("sts").get_caller_identity()
    assert (root["UserId"], root["Account"], root["Arn"]) == (ACCOUNT, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root")
    assert aws("sts", "get-caller-identity")["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"

    iam = client("iam")
    as_ana, role_arn = user_and_role(iam, endpoint)
    ana = as_ana("sts").get_caller_identity()
    user = iam.get_user(UserName="ana")["User"]
    assert ana["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ana" and ana["UserId"] == user["UserId"]
    assert ana["UserId"].startswith("AIDA") and ana["Account"] == ACCOUNT

    assumed = as_ana("sts").assume_role(RoleArn=role_arn, RoleSessionName="release-42")
    role = iam.get_role(RoleName="deployer")["Role"]
    assert assumed["AssumedRoleUser"] == {"AssumedRoleId": f"{role['RoleId']}:release-42",
                                          "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/release-42"}
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40 and len(creds["SessionToken"]) > 100
    me = session_client(endpoint, "sts", creds).get_caller_identity()
    assert me == {**me, "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/release-42",
                  "UserId": f"{role['RoleId']}:release-42", "Account": ACCOUNT}
    assert iam.get_role(RoleName="deployer")["Role"]["RoleLastUsed"]["Region"] == "us-east-1"


def test_a_role_with_a_path_is_assumed_by_its_full_arn_and_its_session_arn_drops_the_path(
        client: Callable[..., Any], endpoint: str) -> None:
    iam = client("iam")
    as_ana, arn = user_and_role(iam, endpoint, role="builder", Path="/ci/")
    assert arn == f"arn:aws:iam::{ACCOUNT}:role/ci/builder"
    assumed = as_ana("sts").assume_role(RoleArn=arn, RoleSessionName="s1")
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/builder/s1"
    pathless = error_of(lambda: as_ana("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/builder",
                                                          RoleSessionName="s1"))
    assert pathless["Code"] == "AccessDenied"


def test_who_may_assume_a_role_and_how_it_is_refused(client: Callable[..., Any], endpoint: str) -> None:
    iam = client("iam")
    as_ana, arn = user_and_role(iam, endpoint)
    bob = user_with_key(iam, "bob")
    as_bob = client_with(endpoint, "sts", bob["AccessKeyId"], bob["SecretAccessKey"])

    # As on AWS, the root user cannot assume roles (API_AssumeRole.html: use an IAM user or role).
    assert error_of(lambda: client("sts").assume_role(RoleArn=arn, RoleSessionName="job")) == {
        "Type": "Sender", "Code": "AccessDenied", "Message": "Roles may not be assumed by root accounts.",
        "status": 403}
    # Not named by the trust policy, or no such role: the same answer, which does not tell the two apart.
    denied = error_of(lambda: as_bob.assume_role(RoleArn=arn, RoleSessionName="job"))
    assert denied["Message"] == (f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: "
                                 f"sts:AssumeRole on resource: {arn}")
    assert (denied["Code"], denied["status"]) == ("AccessDenied", 403)
    missing = f"arn:aws:iam::{ACCOUNT}:role/nope"
    assert error_of(lambda: as_ana("sts").assume_role(RoleArn=missing, RoleSessionName="job"))["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/ana is not authorized to perform: sts:AssumeRole on resource: {missing}")

    # A trust policy naming the account delegates to identity policies (not enforced yet): bob may then.
    iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=trust({"AWS": ACCOUNT}))
    assert as_bob.assume_role(RoleArn=arn, RoleSessionName="job")["AssumedRoleUser"]["Arn"].endswith("/deployer/job")
    # An explicit deny wins.
    iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, "Action": "sts:AssumeRole"}]}))
    assert error_of(lambda: as_bob.assume_role(RoleArn=arn, RoleSessionName="job"))["Code"] == "AccessDenied"
    assert as_ana("sts").assume_role(RoleArn=arn, RoleSessionName="job")["Credentials"]


def test_external_id_session_name_and_tags_are_conditions_of_the_trust_policy(client: Callable[..., Any],
                                                                             endpoint: str) -> None:
    iam = client("iam")
    as_ana, arn = user_and_role(iam, endpoint)
    ana_arn = f"arn:aws:iam::{ACCOUNT}:user/ana"
    iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=trust(
        {"AWS": ana_arn}, condition={"StringEquals": {"sts:ExternalId": "the-shared-secret"}}))
    sts = as_ana("sts")
    for external in ({}, {"ExternalId": "guessed"}):
        assert error_of(lambda e=external: sts.assume_role(RoleArn=arn, RoleSessionName="job", **e))["Code"] == \
            "AccessDenied"
    assert sts.assume_role(RoleArn=arn, RoleSessionName="job", ExternalId="the-shared-secret")["Credentials"]

    iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=trust(
        {"AWS": ana_arn}, condition={"StringLike": {"sts:RoleSessionName": "${aws:username}-*"}}))
    assert sts.assume_role(RoleArn=arn, RoleSessionName="ana-1")["Credentials"]
    assert error_of(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="bob-1"))["Code"] == "AccessDenied"

    # Session tags need sts:TagSession, a source identity sts:SetSourceIdentity.
    iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=trust({"AWS": ana_arn}))
    tagged = error_of(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="job", Tags=[{"Key": "team", "Value": "a"}]))
    assert tagged["Message"] == f"User: {ana_arn} is not authorized to perform: sts:TagSession on resource: {arn}"
    sourced = error_of(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="job", SourceIdentity="ana"))
    assert sourced["Message"].endswith(f"sts:SetSourceIdentity on resource: {arn}")
    iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=trust(
        {"AWS": ana_arn}, ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        {"StringEquals": {"aws:RequestTag/team": "a"}}))
    out = sts.assume_role(RoleArn=arn, RoleSessionName="job", Tags=[{"Key": "team", "Value": "a"}],
                          SourceIdentity="ana")
    assert out["SourceIdentity"] == "ana"
    assert error_of(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="job",
                                            Tags=[{"Key": "team", "Value": "b"}]))["Code"] == "AccessDenied"


def test_durations_session_names_and_session_policies(client: Callable[..., Any], endpoint: str) -> None:
    iam = client("iam")
    as_ana, arn = user_and_role(iam, endpoint, MaxSessionDuration=7200)
    sts = as_ana("sts")
    keys = (sts._request_signer._credentials.access_key, sts._request_signer._credentials.secret_key)
    now = dt.datetime.now(dt.UTC)
    default = sts.assume_role(RoleArn=arn, RoleSessionName="job")["Credentials"]["Expiration"]
    assert 3500 < (default - now).total_seconds() < 3700  # one hour unless asked (the manual clock starts now)
    longer = sts.assume_role(RoleArn=arn, RoleSessionName="job", DurationSeconds=7200)["Credentials"]["Expiration"]
    assert 7100 < (longer - now).total_seconds() < 7300
    assert error_of(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="job", DurationSeconds=7201)) == {
        "Type": "Sender", "Code": "ValidationError", "status": 400,
        "Message": "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."}
    unchecked = client_with(endpoint, "sts", *keys, config=BotoConfig(parameter_validation=False))
    short = error_of(lambda: unchecked.assume_role(RoleArn=arn, RoleSessionName="job", DurationSeconds=899))
    assert short["Message"] == ("1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy "
                                "constraint: Member must have value greater than or equal to 900")
    bad_name = error_of(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="has space"))
    assert bad_name["Message"] == ("1 validation error detected: Value 'has space' at 'roleSessionName' failed to "
                                   "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")

    broken = error_of(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="job", Policy='{"Version": "2012-10-17"}'))
    assert broken["Code"] == "MalformedPolicyDocument" and broken["status"] == 400
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    limited = sts.assume_role(RoleArn=arn, RoleSessionName="job", Policy=policy,
                              PolicyArns=[{"arn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}])
    assert limited["Credentials"]["AccessKeyId"].startswith("ASIA")

    # Role chaining: a session assuming a role gets at most one hour.
    iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=trust({"AWS": ACCOUNT}))
    session = session_client(endpoint, "sts", sts.assume_role(RoleArn=arn, RoleSessionName="first")["Credentials"])
    chained = error_of(lambda: session.assume_role(RoleArn=arn, RoleSessionName="second", DurationSeconds=3601))
    assert chained["Message"] == ("The requested DurationSeconds exceeds the 1 hour session limit for roles "
                                  "assumed by role chaining.")
    second = session.assume_role(RoleArn=arn, RoleSessionName="second")
    assert second["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/second"


def test_transitive_session_tags_and_source_identity_follow_a_role_chain(client: Callable[..., Any],
                                                                          endpoint: str) -> None:
    iam = client("iam")
    as_ana, arn = user_and_role(iam, endpoint)
    everything = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=trust({"AWS": ACCOUNT}, everything))
    first = as_ana("sts").assume_role(RoleArn=arn, RoleSessionName="one", SourceIdentity="ana",
                                      Tags=[{"Key": "team", "Value": "red"}, {"Key": "tmp", "Value": "x"}],
                                      TransitiveTagKeys=["team"])
    session = session_client(endpoint, "sts", first["Credentials"])
    # The next role trusts only sessions still tagged team=red: the transitive tag is carried.
    iam.create_role(RoleName="next", AssumeRolePolicyDocument=trust(
        {"AWS": ACCOUNT}, everything, {"StringEquals": {"aws:PrincipalTag/team": "red"}}))
    next_arn = f"arn:aws:iam::{ACCOUNT}:role/next"
    chained = session.assume_role(RoleArn=next_arn, RoleSessionName="two")
    assert chained["SourceIdentity"] == "ana"  # set once, kept along the chain
    changed = error_of(lambda: session.assume_role(RoleArn=next_arn, RoleSessionName="two",
                                                   Tags=[{"Key": "Team", "Value": "blue"}]))
    assert changed["Code"] == "InvalidParameterValue"
    assert error_of(lambda: session.assume_role(RoleArn=next_arn, RoleSessionName="two",
                                                SourceIdentity="bob"))["Code"] == "InvalidParameterValue"
    untagged = session_client(endpoint, "sts", as_ana("sts").assume_role(RoleArn=arn, RoleSessionName="plain")["Credentials"])
    assert error_of(lambda: untagged.assume_role(RoleArn=next_arn, RoleSessionName="two"))["Code"] == "AccessDenied"


def test_get_session_token_for_users_and_root(client: Callable[..., Any], endpoint: str, aws: Any) -> None:
    iam = client("iam")
    key = user_with_key(iam, "ana")
    as_ana = client_with(endpoint, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    now = dt.datetime.now(dt.UTC)
    creds = as_ana.get_session_token()["Credentials"]
    assert 43100 < (creds["Expiration"] - now).total_seconds() < 43300  # twelve hours by default
    assert creds["AccessKeyId"].startswith("ASIA")
    session = session_client(endpoint, "sts", creds)
    assert session.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ana"  # still the user
    assert error_of(session.get_session_token) == {
        "Type": "Sender", "Code": "AccessDenied", "status": 403,
        "Message": "Cannot call GetSessionToken with session credentials"}
    # The root user's sessions last at most an hour: a longer ask is cut, not refused.
    root = aws("sts", "get-session-token", "--duration-seconds", "7200")["Credentials"]
    expires = dt.datetime.fromisoformat(root["Expiration"].replace("Z", "+00:00"))
    assert 3500 < (expires - now).total_seconds() < 3700
    mfa = error_of(lambda: as_ana.get_session_token(SerialNumber="arn:aws:iam::000000000000:mfa/ana",
                                                    TokenCode="123456"))
    assert mfa["Code"] == "AccessDenied"
    # AssumeRole does not ignore an MFA code either: no device exists here, so none is valid.
    iam.create_role(RoleName="guarded", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/ana"}))
    assert error_of(lambda: as_ana.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/guarded", RoleSessionName="s1",
                                               SerialNumber="arn:aws:iam::000000000000:mfa/ana", TokenCode="123456")
                    ) == {"Type": "Sender", "Code": "AccessDenied", "status": 403,
                          "Message": "MultiFactorAuthentication failed with invalid MFA one time pass code. "}


def test_get_access_key_info_names_the_account_of_any_key(client: Callable[..., Any], aws: Any) -> None:
    key = user_with_key(client("iam"), "ana")
    for key_id in (key["AccessKeyId"], "ASIAY34FZKBOKMUTVV7A"):
        assert client("sts").get_access_key_info(AccessKeyId=key_id)["Account"] == ACCOUNT
    assert aws("sts", "get-access-key-info", "--access-key-id", key["AccessKeyId"]) == {"Account": ACCOUNT}


def _jwt(claims: dict[str, Any]) -> str:
    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256', 'kid': 'k'})}.{part(claims)}.c2lnbmF0dXJl"


def test_web_identity_is_refused_as_in_an_account_without_oidc_providers(endpoint: str) -> None:
    """Unsigned, as SDKs send it; AWS answers in STS's query XML."""
    form = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleSessionName": "gha",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/ci",
            "WebIdentityToken": _jwt({"iss": "https://token.actions.githubusercontent.com", "sub": "repo:x"})}
    response = requests.post(endpoint + "/", data=form, timeout=10)
    assert response.status_code == 400
    error = ET.fromstring(response.content).find(f"{NS}Error")
    assert error is not None
    assert [error.findtext(f"{NS}{t}") for t in ("Type", "Code", "Message")] == [
        "Sender", "InvalidIdentityToken",
        "No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com"]
    not_jwt = requests.post(endpoint + "/", data={**form, "WebIdentityToken": "an-opaque-access-token"}, timeout=10)
    assert "not a valid JWT" in ET.fromstring(not_jwt.content).findtext(f"{NS}Error/{NS}Message", "")


def test_errors_come_in_stss_query_xml(client: Callable[..., Any], endpoint: str) -> None:
    iam = client("iam")
    as_ana, _ = user_and_role(iam, endpoint)
    raw = requests.post(endpoint + "/", data={"Action": "AssumeRole", "Version": "2011-06-15",
                                               "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/deployer",
                                               "RoleSessionName": "job"}, timeout=10)
    assert raw.status_code == 403  # unsigned with authentication off: the root user
    root = ET.fromstring(raw.content)
    assert root.tag == f"{NS}ErrorResponse" and root.findtext(f"{NS}RequestId")
    assert root.findtext(f"{NS}Error/{NS}Code") == "AccessDenied"


def test_iam_knows_a_session_has_no_user_of_its_own(client: Callable[..., Any], endpoint: str) -> None:
    """What defaults to "the signing user" (GetUser, CreateAccessKey...) answers a user's session as that
    user and asks a role session to name one."""
    iam = client("iam")
    as_ana, arn = user_and_role(iam, endpoint)
    role_session = session_client(endpoint, "iam", as_ana("sts").assume_role(RoleArn=arn,
                                                                           RoleSessionName="job")["Credentials"])
    for call in (role_session.get_user, role_session.create_access_key, role_session.list_access_keys):
        assert error_of(call) == {"Type": "Sender", "Code": "ValidationError", "status": 400,
                                  "Message": "Must specify userName when calling with non-User credentials"}
    assert role_session.get_user(UserName="ana")["User"]["UserName"] == "ana"
    assert iam.list_access_keys(UserName="ana")["AccessKeyMetadata"][0]["UserName"] == "ana"
    user_session = session_client(endpoint, "iam", as_ana("sts").get_session_token()["Credentials"])
    assert user_session.get_user()["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ana"
    assert client("iam").get_user()["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
