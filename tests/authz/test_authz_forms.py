"""S3's browser form uploads (POST policies) under `--iam enforce`: the upload is a PutObject of the key by
whoever signed the policy, an IAM user or a role session (whose form carries its session token)."""

from __future__ import annotations

from typing import Any

import requests

from tests.authz.conftest import ACCOUNT, Server, allow, policy


def _post(form: dict[str, Any], body: bytes = b"form") -> requests.Response:
    return requests.post(form["url"], data=form["fields"], files={"file": ("f.txt", body)}, timeout=10)


def test_a_form_is_judged_as_its_signer(server: Server) -> None:
    root = server.root("s3")
    root.create_bucket(Bucket="photos")
    kim = server.user("kim", allow("s3:PutObject", "arn:aws:s3:::photos/uploads/*"))("s3")
    assert _post(kim.generate_presigned_post("photos", "uploads/a.txt")).status_code == 204
    assert root.get_object(Bucket="photos", Key="uploads/a.txt")["Body"].read() == b"form"

    refused = _post(kim.generate_presigned_post("photos", "private/b.txt"))
    assert refused.status_code == 403
    assert "<Code>AccessDenied</Code>" in refused.text
    assert (f"User: arn:aws:iam::{ACCOUNT}:user/kim is not authorized to perform: s3:PutObject on resource: "
            '"arn:aws:s3:::photos/private/b.txt" because no identity-based policy allows the s3:PutObject action'
            in refused.text.replace("&quot;", '"'))
    assert "Contents" not in root.list_objects_v2(Bucket="photos", Prefix="private/")
    [denial] = server.denials()["recent"]
    assert denial["action"] == "s3:PutObject" and denial["resource"] == "arn:aws:s3:::photos/private/b.txt"

    # The key a `${filename}` form names is judged once the file part names it.
    form = kim.generate_presigned_post("photos", "private/${filename}")
    assert _post(form).status_code == 403


def test_a_role_sessions_form_carries_its_token_and_its_roles_permissions(server: Server) -> None:
    root = server.root("s3")
    root.create_bucket(Bucket="photos")
    iam = server.root("iam")
    lee = server.user("lee")  # made first: a trust policy may name only a user that exists
    role_arn = iam.create_role(RoleName="uploader", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/lee"}, "Action": "sts:AssumeRole"}))[
        "Role"]["Arn"]
    iam.put_role_policy(RoleName="uploader", PolicyName="put", PolicyDocument=policy(
        allow("s3:PutObject", "arn:aws:s3:::photos/uploads/*")))
    credentials = lee("sts").assume_role(RoleArn=role_arn, RoleSessionName="browser")["Credentials"]
    s3 = server.session(credentials)("s3")
    form = s3.generate_presigned_post("photos", "uploads/c.txt")
    assert form["fields"]["x-amz-security-token"] == credentials["SessionToken"]
    assert _post(form).status_code == 204

    denied = _post(s3.generate_presigned_post("photos", "other/d.txt"))
    assert denied.status_code == 403
    assert f"arn:aws:sts::{ACCOUNT}:assumed-role/uploader/browser is not authorized" in denied.text

    # Without its token, the session's key is not accepted.
    tokenless = dict(form, fields={k: v for k, v in form["fields"].items() if k != "x-amz-security-token"})
    missing = _post(tokenless)
    assert missing.status_code == 400 and "<Code>InvalidToken</Code>" in missing.text
