"""Target health as DescribeTargetHealth answers it, and how health check results move a target's state.

https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html (states and
reason codes) and https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html:
- A registered target is `initial` (Elb.RegistrationInProgress, then Elb.InitialHealthChecking once
  checks run) until HealthyThresholdCount consecutive successes make it `healthy`, or
  UnhealthyThresholdCount consecutive failures make it `unhealthy`; after that the same counts move it
  between the two.
- A failure's reason: Target.ResponseCodeMismatch (an answer outside the matcher), Target.Timeout (no
  answer within HealthCheckTimeoutSeconds), Target.FailedHealthChecks (no connection, a malformed answer).
- A deregistered target is `draining` (Target.DeregistrationInProgress) for the deregistration delay.
- A target group no listener or rule forwards to: its targets are `unused` (Target.NotInUse); an
  instance that is not running, `unused` (Target.InvalidState); health checks disabled (Lambda's
  default): `unavailable` (Target.HealthCheckDisabled).
"""

from __future__ import annotations

from typing import Any

from conveyor.services.elbv2.catalog import Target

DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Target.ResponseCodeMismatch": "Health checks failed with these codes: [{code}]",
    "Target.Timeout": "Request timed out",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.NotInUse": "Target group is not configured to receive traffic from the load balancer",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
    "Target.InvalidState": "Target is in the stopped state",
    "Target.HealthCheckDisabled": "Health checks are disabled",
    "Elb.InternalError": "Health checks failed due to an internal error",
}


def describe(state: str, reason: str | None, code: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"State": state}
    if reason is not None:
        out["Reason"] = reason
        out["Description"] = DESCRIPTIONS[reason].format(code=code or "")
    return out


def target_health(target: Target, group: dict[str, Any], in_use: bool, instance_state: str | None) -> dict[str, Any]:
    """The TargetHealth of a registered target. `instance_state`: the EC2 state of an instance target."""
    if target.draining_until is not None:
        return describe("draining", "Target.DeregistrationInProgress")
    if not in_use:
        return describe("unused", "Target.NotInUse")
    if instance_state is not None and instance_state not in ("pending", "running"):
        out = describe("unused", "Target.InvalidState")
        out["Description"] = f"Target is in the {instance_state} state"
        return out
    if not group.get("HealthCheckEnabled", True):
        return describe("unavailable", "Target.HealthCheckDisabled")
    if target.state == "healthy":
        return describe("healthy", None)
    return describe(target.state, target.reason, target.extra.get("code"))


def record(target: Target, ok: bool, reason: str | None, code: str | None, group: dict[str, Any]) -> bool:
    """Count one health check's result; whether the target's state changed."""
    before = (target.state, target.reason)
    target.checked = True
    if ok:
        target.successes, target.failures = target.successes + 1, 0
        if target.successes >= int(group.get("HealthyThresholdCount") or 5):
            target.state, target.reason = "healthy", None
        elif target.state == "initial":
            target.reason = "Elb.InitialHealthChecking"
    else:
        target.failures, target.successes = target.failures + 1, 0
        if target.failures >= int(group.get("UnhealthyThresholdCount") or 2):
            target.state, target.reason = "unhealthy", reason
            target.extra["code"] = code
        elif target.state == "initial":
            target.reason = "Elb.InitialHealthChecking"
    return (target.state, target.reason) != before


def routable(target: Target, group: dict[str, Any]) -> bool:
    """Whether the load balancer sends it requests: healthy, or health checks disabled."""
    if target.draining_until is not None:
        return False
    return target.state == "healthy" or not group.get("HealthCheckEnabled", True)
