"""CloudWatch Logs' resource policies: what lets other AWS services write into this account's log groups.

https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutResourcePolicy.html
- An account has at most 10 account-scoped policies per region (the quota cannot be raised:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html); an eleventh is
  LimitExceededException "Resource limit exceeded."; putting an existing name replaces its document.
- A document is at most 51,200 characters (the API's PolicyDocument shape; it was 5,120 until 2025, the
  figure older pages still give): the model's length constraint refuses a longer one.
- The policies only grant service principals logs:CreateLogStream and logs:PutLogEvents; EventBridge's
  log group targets are judged by them (conveyor.ports.LogGroups).
Policies are kept in the logs store and in memory, changed in memory only after their write commits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conveyor import resource_policy
from conveyor.services.logs import errors
from conveyor.services.logs.store import LogStore
from conveyor.wire import ServiceError

MAX_POLICIES = 10
PAGE_LIMIT = 50
MAX_REMEMBERED = 10_000  # verdicts kept between policy changes (one per group, stream, service and context)


@dataclass(frozen=True)
class ResourcePolicy:
    region: str
    name: str
    document: str
    updated: int  # ms

    def describe(self) -> dict[str, Any]:
        return {"policyName": self.name, "policyDocument": self.document, "lastUpdatedTime": self.updated,
                "policyScope": "ACCOUNT"}


def limit_exceeded() -> ServiceError:
    return ServiceError("LimitExceededException", "Resource limit exceeded.")


def policy_not_found(name: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Policy with name [{name}] does not exist")


class ResourcePolicies:
    def __init__(self, store: LogStore) -> None:
        self.store = store
        self.by_region: dict[str, dict[str, ResourcePolicy]] = {}
        # Verdicts of `allows` until the next policy change: Route 53 asks on every logged DNS query, and
        # judging a policy costs ~20 us a statement and action (a verdict depends only on the policies and
        # the request: no time key is given).
        self._verdicts: dict[tuple[str, str, str, str | None, str, tuple[tuple[str, str], ...]], bool] = {}

    def load(self) -> None:
        self.by_region.clear()
        self._verdicts.clear()
        for row in self.store.resource_policies():
            self._keep(ResourcePolicy(row[0], row[1], row[2], row[3]))

    def clear(self) -> None:
        self.by_region.clear()
        self._verdicts.clear()

    def _keep(self, policy: ResourcePolicy) -> None:
        self.by_region.setdefault(policy.region, {})[policy.name] = policy
        self._verdicts.clear()

    def in_region(self, region: str) -> list[ResourcePolicy]:
        """The region's policies in the order they were first made (AWS lists them so)."""
        return list(self.by_region.get(region, {}).values())

    async def put(self, region: str, params: Mapping[str, Any], now_ms: int) -> ResourcePolicy:
        if params.get("resourceArn") is not None or params.get("expectedRevisionId") is not None:
            # Resource-scoped policies (one per log group, with revision ids) are not built: refused, not
            # ignored, so that nobody believes a group-scoped grant is in force.
            raise errors.invalid("Resource-scoped policies (resourceArn, expectedRevisionId) are not supported by "
                                 "Conveyor; put an account-scoped policy (policyName and policyDocument only).")
        name, document = params.get("policyName"), params.get("policyDocument")
        if not name:
            raise errors.VALIDATION.missing_error("policyName")
        if document is None:
            raise errors.VALIDATION.missing_error("policyDocument")
        try:
            parsed = json.loads(document)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise errors.invalid("The policy document must be a JSON object (a policy with its Statement).")
        existing = self.by_region.get(region, {})
        if name not in existing and len(existing) >= MAX_POLICIES:
            raise limit_exceeded()
        policy = ResourcePolicy(region, name, document, now_ms)
        await self.store.put_resource_policy(region, name, document, now_ms)
        self._keep(policy)
        return policy

    async def delete(self, region: str, params: Mapping[str, Any]) -> None:
        if params.get("resourceArn") is not None or params.get("expectedRevisionId") is not None:
            raise errors.invalid("Resource-scoped policies (resourceArn, expectedRevisionId) are not supported by "
                                 "Conveyor.")
        name = params.get("policyName")
        if not name:
            raise errors.VALIDATION.missing_error("policyName")
        if name not in self.by_region.get(region, {}):
            raise policy_not_found(name)
        await self.store.delete_resource_policy(region, name)
        self.by_region[region].pop(name, None)
        self._verdicts.clear()

    def describe(self, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if params.get("resourceArn") is not None or params.get("policyScope") == "RESOURCE":
            return {"resourcePolicies": []}  # no resource-scoped policy can exist (see put)
        policies = self.in_region(region)
        token = params.get("nextToken")
        try:
            start = int(token) if token else 0
        except ValueError:
            raise errors.bad_token()
        if start < 0:
            raise errors.bad_token()
        limit = params.get("limit") or PAGE_LIMIT
        out: dict[str, Any] = {"resourcePolicies": [p.describe() for p in policies[start:start + limit]]}
        if start + limit < len(policies):
            out["nextToken"] = str(start + limit)
        return out

    def allows(self, region: str, request: resource_policy.Request) -> bool:
        """Whether the region's policies, taken together, let `request` through: one allows and none
        denies (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
        key = (region, request.action, request.resource, request.service, request.principal,
               tuple(sorted(request.context.items())))
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._judge(region, request)
            if len(self._verdicts) >= MAX_REMEMBERED:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def _judge(self, region: str, request: resource_policy.Request) -> bool:
        allowed = False
        for policy in self.in_region(region):
            decision = resource_policy.decide(resource_policy.parse(policy.document), request)
            if decision == "Deny":
                return False
            allowed = allowed or decision == "Allow"
        return allowed
