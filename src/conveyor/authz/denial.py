"""A denied authorization and AWS's words for it.

https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html: "User: ARN is not
authorized to perform: ACTION on resource: ARN because no identity-based policy allows the ACTION
action", or "... with an explicit deny in a resource-based policy". Services spell the parts their own
way (S3 quotes the resource, SQS lower-cases the action, SNS writes `SNS:Publish`): each service's
`access_denied` hook renders the message with its spelling.
"""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.policy import PolicyType


@dataclass(frozen=True, slots=True)
class Denial:
    principal: str  # the caller's ARN (a role session's assumed-role ARN), or a service principal
    action: str
    resource: str
    explicit: bool  # denied by a Deny statement (else: nothing allowed it)
    policy_type: PolicyType | None
    item: str | None = None  # the batch item refused, for a per-item need

    def reason(self, action: str | None = None) -> str:
        action = action or self.action
        if self.policy_type is None:
            return ""
        if self.explicit:
            return f"with an explicit deny in {self.policy_type.with_article}"
        return f"because no {self.policy_type.value} allows the {action} action"

    def message(self, *, action: str | None = None, resource: str | None = None) -> str:
        """AWS's message; `action` and `resource` as the service spells them."""
        action = action or self.action
        resource = self.resource if resource is None else resource
        target = "" if self.resource in ("", "*") else f" on resource: {resource}"
        reason = self.reason(action)
        return f"User: {self.principal} is not authorized to perform: {action}{target}" + (f" {reason}" if reason else "")
