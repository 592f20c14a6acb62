"""AWS's policy language: parsing, validating and evaluating identity, resource, boundary and trust policies.

A leaf package below the services, so the gateway and every service judge requests by the same rules:

    principals   who calls (user, role session, root, service, anonymous) and the Principal element
    conditions   condition operators, IfExists, Null, ForAllValues/ForAnyValue
    variables    ${aws:username}-style policy variables
    wildcards    `*` and `?` in actions, resources and values
    document     parsed documents and statements
    evaluate     the evaluation logic across policy types, and AWS's denial messages
    validate     MalformedPolicyDocument checks, with IAM's messages
"""

from conveyor.policy.document import Policy, Statement, parse
from conveyor.policy.evaluate import AccessRequest, Decision, Policies, PolicyType, Verdict, evaluate, judge
from conveyor.policy.principals import Match, Principal
from conveyor.policy.validate import PolicyError, Use, check

__all__ = [
    "AccessRequest", "Decision", "Match", "Policies", "Policy", "PolicyError", "PolicyType", "Principal",
    "Statement", "Use", "Verdict", "check", "evaluate", "judge", "parse",
]
