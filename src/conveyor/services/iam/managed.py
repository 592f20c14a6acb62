"""AWS managed policies: the ones tutorials attach, with their real ARNs, paths, default versions and documents.

They live in aws_managed_policies.json (package data), copied from the AWS Managed Policy Reference
(https://docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html). Each is served with
its default version only: GetPolicyVersion answers for that version id, as AWS does for the version
that defines the policy's permissions; older versions are not shipped. AWS does not publish the policies'
unique ids, so PolicyId is derived from the ARN (stable, in IAM's ANPA... form).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from conveyor.services.iam.entities import ManagedPolicy, PolicyVersion

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class AwsPolicy:
    policy: ManagedPolicy
    version: PolicyVersion  # the default version


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _policy_id(arn: str) -> str:
    digest = base64.b32encode(hashlib.sha256(arn.encode()).digest()).decode()
    return "ANPA" + digest[:17]


@cache
def catalog() -> dict[str, AwsPolicy]:
    """ARN -> policy, loaded once."""
    text = resources.files("conveyor.services.iam").joinpath("aws_managed_policies.json").read_text("utf-8")
    out: dict[str, AwsPolicy] = {}
    for item in json.loads(text)["policies"]:
        arn = item["Arn"]
        created, updated = _epoch(item["CreateDate"]), _epoch(item["UpdateDate"])
        policy = ManagedPolicy(item["PolicyName"], item["Path"], _policy_id(arn), arn, created, updated,
                               item["DefaultVersionId"], item.get("Description"), [], aws_managed=True)
        document = json.dumps(item["Document"], indent=2)
        out[arn] = AwsPolicy(policy, PolicyVersion(item["DefaultVersionId"], document, updated))
    return out
