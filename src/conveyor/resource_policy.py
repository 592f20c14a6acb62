"""Judging one resource-based policy (bucket, queue, topic policy) on its own.

The questions S3 asks before it accepts a bucket notification ("may S3 send to this queue?") and for
anonymous callers ("may anyone read this object?"). The rules live in conveyor.policy, AWS's whole
evaluation logic; this module keeps the small interface those callers use.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from conveyor.policy import AccessRequest, Principal, judge
from conveyor.policy.document import from_object

Decision = Literal["Allow", "Deny"]
ANONYMOUS = "*"  # the principal of an unsigned request


@dataclass(frozen=True)
class Request:
    """One access to judge: who acts, doing what, on what, in which context."""

    action: str  # e.g. "sqs:SendMessage"
    resource: str  # the ARN of what is acted on
    service: str | None = None  # a service principal acting on its own, e.g. "s3.amazonaws.com"
    principal: str = ANONYMOUS  # an account id or principal ARN; "*" for anonymous callers
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys, e.g. {"aws:SourceArn": ...}

    def as_access(self) -> AccessRequest:
        if self.service is not None:
            caller = Principal.service(self.service)
        elif self.principal == ANONYMOUS:
            caller = Principal.anonymous()
        else:
            caller = Principal.from_arn(self.principal)
        return AccessRequest(caller, self.action, self.resource, dict(self.context))


def parse(text: str | None) -> object:
    """A policy document from its JSON text; None when there is none or it is not JSON."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def decide(policy: object, request: Request) -> Decision | None:
    """"Deny" if a statement explicitly denies, else "Allow" if one allows, else None (implicit deny)."""
    verdict = judge(from_object(policy), request.as_access(), resource_based=True)
    if verdict.denies:
        return "Deny"
    return "Allow" if verdict.allows is not None else None


def allows(policy: object, request: Request) -> bool:
    return decide(policy, request) == "Allow"
