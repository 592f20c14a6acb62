"""The IAM roles a pipeline's functions and worker pools run as, made as a CloudFormation template would.

- A function's execution role trusts lambda.amazonaws.com and has AWSLambdaBasicExecutionRole (its
  logs), AWSLambdaSQSQueueExecutionRole when an SQS queue feeds it, and an inline policy for the
  pipeline's buckets (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html).
- A pool's role is an instance profile's role: it trusts ec2.amazonaws.com, sits in an instance profile
  of the same name (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2_instance-profiles.html),
  and its inline policy lets its workers consume their queue and use the pipeline's buckets.
- The built-in code gets least privilege (https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege),
  so the pipeline works under `--iam enforce` with nothing more: the mover may read and delete under
  its source prefix, write (and read back) under its destination prefix, and consume its queue; the
  presign function may only put objects under its upload prefix (the URLs it signs carry its
  permissions). Code of the user's own gets the broader access above: the pipeline cannot know what it does.

A role named by ARN is used as it is; a role named by name is made when missing, and one that exists
is left alone (a trust policy that does not name the service is reported as drift).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from conveyor.pipeline.spec import ROLE_ARN

LAMBDA = "lambda.amazonaws.com"
EC2 = "ec2.amazonaws.com"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SQS_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
INLINE_POLICY = "pipeline-access"
# What the built-in mover (and workers like it) do with a message: read it, keep it hidden while
# working, delete it once done.
QUEUE_CONSUMER = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                  "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
OBJECT_ACCESS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
# The built-in mover: receive, keep hidden while working, delete once done.
MOVER_QUEUE = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]


def trust_policy(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def access_policy(buckets: Sequence[str], queue_arn: str | None = None) -> dict[str, Any] | None:
    """Read, write and delete objects of the pipeline's buckets (and list them); consume `queue_arn`."""
    statements: list[dict[str, Any]] = []
    if buckets:
        statements.append({"Effect": "Allow", "Action": OBJECT_ACCESS,
                           "Resource": [f"arn:aws:s3:::{b}/*" for b in buckets]})
        statements.append({"Effect": "Allow", "Action": "s3:ListBucket",
                           "Resource": [f"arn:aws:s3:::{b}" for b in buckets]})
    if queue_arn is not None:
        statements.append({"Effect": "Allow", "Action": QUEUE_CONSUMER, "Resource": queue_arn})
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


def statements_policy(statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A role's inline policy from the pipeline file's `policy:` statements."""
    return {"Version": "2012-10-17", "Statement": [dict(statement) for statement in statements]}


def mover_policy(buckets: Sequence[str], source_prefix: str, dest_prefix: str,
                 queue_arn: str | None = None) -> dict[str, Any] | None:
    """The built-in mover's least privilege: copy each upload (s3:GetObject) under `source_prefix` and
    delete it (s3:DeleteObject; DeleteObjects asks it per key); write under `dest_prefix` (s3:PutObject),
    and read there too (s3:GetObject), which tells a repeated delivery of a moved upload from a lost one;
    consume `queue_arn`."""
    statements: list[dict[str, Any]] = []
    if buckets:
        statements.append({"Sid": "ReadAndRemoveUploads", "Effect": "Allow",
                           "Action": ["s3:GetObject", "s3:DeleteObject"],
                           "Resource": [f"arn:aws:s3:::{b}/{source_prefix}*" for b in buckets]})
        statements.append({"Sid": "WriteResults", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
                           "Resource": [f"arn:aws:s3:::{b}/{dest_prefix}*" for b in buckets]})
    if queue_arn is not None:
        statements.append({"Sid": "ConsumeQueue", "Effect": "Allow", "Action": MOVER_QUEUE, "Resource": queue_arn})
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


def presign_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """The presign function signs upload URLs: whoever uses one acts with the function's permissions, so
    it may put objects under its prefix and nothing else."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "SignUploads", "Effect": "Allow", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"}]}


class Roles:
    def __init__(self, iam: Any, created: Callable[[str], None], drifted: Callable[[str], None]) -> None:
        self.iam = iam
        self.created = created
        self.drifted = drifted
        self._known: dict[str, dict[str, Any]] | None = None

    def _existing(self) -> dict[str, dict[str, Any]]:
        """The account's roles by lower-case name (listed, not probed: `conveyor status` shows failed
        calls as recent errors, and applying a pipeline is not one)."""
        if self._known is None:
            self._known = {r["RoleName"].lower(): r for page in self.iam.get_paginator("list_roles").paginate()
                           for r in page.get("Roles", [])}
        return self._known

    def ensure(self, role: str, service: str, managed: Sequence[str], inline: dict[str, Any] | None, *,
               instance_profile: bool = False) -> str:
        """The ARN of the role `role` names, made (trusting `service`, with its policies) when missing."""
        if ROLE_ARN.match(role):
            return role
        existing = self._existing().get(role.lower())
        if existing is not None:
            if service not in json.dumps(existing.get("AssumeRolePolicyDocument")):
                self.drifted(f"role {role}: its trust policy does not name {service}")
            return str(existing["Arn"])
        made = self.iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy(service),
                                    Description="Made by a Conveyor pipeline")["Role"]
        for arn in managed:
            self.iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        if inline is not None:
            self.iam.put_role_policy(RoleName=role, PolicyName=INLINE_POLICY, PolicyDocument=json.dumps(inline))
        if instance_profile:
            self._profile(role)
        self._existing()[role.lower()] = made
        policies = [arn.rpartition("/")[2] for arn in managed] + ([INLINE_POLICY] if inline is not None else [])
        what = f"role {role} for {service.split('.')[0]}" + (f" ({', '.join(policies)})" if policies else "")
        self.created(what + (" in an instance profile" if instance_profile else ""))
        return str(made["Arn"])

    def _profile(self, role: str) -> None:
        """An instance profile named after the role, holding it (one of that name is used if it is free)."""
        try:
            self.iam.create_instance_profile(InstanceProfileName=role)
        except self.iam.exceptions.EntityAlreadyExistsException:
            pass
        try:
            self.iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
        except self.iam.exceptions.LimitExceededException:
            self.drifted(f"instance profile {role} holds another role: {role} is not in it")
