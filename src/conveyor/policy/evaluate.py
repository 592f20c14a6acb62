"""AWS's policy evaluation logic for one request.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
1. An explicit Deny in any policy that applies (identity-based, resource-based, permissions boundary,
   session) decides: Deny.
2. The account's root user may do anything else in its own account.
3. A service principal or an anonymous caller has only resource-based policies: one must allow.
4. Within one account, a resource-based policy that names the caller allows on its own: naming an IAM
   user or a role session is not limited by an implicit deny anywhere; naming the role (or "*", for a
   role session) is still limited by its permissions boundary and session policies. One that names
   only the account delegates to the identity-based policies.
5. Otherwise an identity-based policy must allow, and then a permissions boundary (when there is one)
   and the session policies (when there are any) must allow too.
6. Across accounts, both sides must allow: the resource's policy and the caller's own policies
   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
Denials say why in AWS's words, see
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from conveyor.policy import conditions, variables
from conveyor.policy.context import Context, Keys, normalize
from conveyor.policy.document import Policy, PolicyLike, Statement, parse
from conveyor.policy.principals import Match, Principal, match
from conveyor.policy.wildcards import matches, plain


class PolicyType(enum.Enum):
    IDENTITY = "identity-based policy"
    RESOURCE = "resource-based policy"
    BOUNDARY = "permissions boundary"
    SESSION = "session policy"

    @property
    def with_article(self) -> str:
        return ("an " if self.value[0] in "aeiou" else "a ") + self.value


@dataclass(frozen=True)
class AccessRequest:
    """One access to judge: who, doing which action, on what, in which context."""

    principal: Principal
    action: str  # "s3:GetObject"
    resource: str  # the ARN acted on; "*" for actions without a resource
    context: Context = field(default_factory=dict)  # request keys: aws:SourceArn, s3:prefix, aws:SourceIp...
    resource_account: str | None = None  # the resource's owner; None: the caller's own account
    now: dt.datetime | None = None  # gives aws:CurrentTime and aws:EpochTime

    @cached_property
    def keys(self) -> Keys:
        """Every condition key of the request: its own, then the caller's and the time's."""
        keys = normalize(self.context)
        keys.update(normalize(self.principal.context()))
        if self.now is not None:
            moment = self.now.astimezone(dt.UTC)
            keys.setdefault("aws:currenttime", (moment.strftime("%Y-%m-%dT%H:%M:%SZ"),))
            keys.setdefault("aws:epochtime", (str(int(moment.timestamp())),))
        return keys

    @property
    def cross_account(self) -> bool:
        return self.resource_account is not None and self.resource_account != self.principal.account


@dataclass(frozen=True)
class Verdict:
    """What one policy document says about a request."""

    denies: bool = False
    allows: Match | None = None  # for resource-based policies, how the allowing statement named the caller


NOTHING = Verdict()


def judge(policy: PolicyLike | None, request: AccessRequest, *, resource_based: bool = False) -> Verdict:
    """Whether any statement of the document explicitly denies, or allows, the request."""
    parsed = parse(policy)
    if parsed is None:
        return NOTHING
    allowed: Match | None = None
    for statement in parsed.statements:
        how = _applies(statement, parsed, request, resource_based)
        if how is None:
            continue
        if statement.effect == "Deny":
            return Verdict(denies=True, allows=allowed)
        if allowed is None or how > allowed:
            allowed = how
    return Verdict(allows=allowed)


def _applies(statement: Statement, policy: Policy, request: AccessRequest, resource_based: bool) -> Match | None:
    """How the statement names the caller when it applies to the request; None when it does not."""
    how = Match.NAMED
    if resource_based:
        if statement.principal is not None:
            found = match(statement.principal, request.principal)
            if found is None:
                return None
            how = found
        elif statement.not_principal is not None:
            if match(statement.not_principal, request.principal) is not None:
                return None
        else:
            return None  # a resource-based statement names its principal
    if not _action_matches(statement, request.action):
        return None
    if not _resource_matches(statement, policy, request):
        return None
    if statement.condition is not None and not conditions.holds(statement.condition, request.keys,
                                                                policy.has_variables):
        return None
    return how


def _action_matches(statement: Statement, action: str) -> bool:
    # Actions are case-insensitive: "SQS:sendmessage" is "sqs:SendMessage".
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
    if statement.actions is not None:
        return any(matches(plain(p), action, case_sensitive=False) for p in statement.actions)
    assert statement.not_actions is not None
    return not any(matches(plain(p), action, case_sensitive=False) for p in statement.not_actions)


def _resource_matches(statement: Statement, policy: Policy, request: AccessRequest) -> bool:
    patterns, negated = statement.resources, False
    if patterns is None:
        patterns, negated = statement.not_resources, True
    if patterns is None:
        return True  # no Resource: the resource the policy is attached to (a role's trust policy)
    hit = False
    for pattern in patterns:
        pieces = variables.expand(pattern, request.keys, policy.has_variables)
        if pieces is not None and matches(pieces, request.resource, arn=True):
            hit = True
            break
    return hit != negated


# -- the decision ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Policies:
    """Every policy that applies to one request, by type."""

    identity: Sequence[PolicyLike] = ()  # the caller's inline and attached managed policies, its groups' too
    resource: PolicyLike | None = None  # the resource's own policy (bucket, queue, topic, function, trust)
    boundary: PolicyLike | None = None  # the caller's permissions boundary, when it has one
    session: Sequence[PolicyLike] | None = None  # session policies passed when the session was made


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit: bool = False  # denied by a Deny statement
    policy_type: PolicyType | None = None  # which kind of policy denied, or did not allow
    via: PolicyType | None = None  # for allowed requests: what granted it (None: the root user)

    def message(self, request: AccessRequest) -> str:
        """AWS's access denied message: who, which action, on what, and why."""
        target = "" if request.resource in ("", "*") else f" on resource: {request.resource}"
        head = f"User: {request.principal.display()} is not authorized to perform: {request.action}{target}"
        if self.allowed or self.policy_type is None:
            return head
        if self.explicit:
            return f"{head} with an explicit deny in {self.policy_type.with_article}"
        return f"{head} because no {self.policy_type.value} allows the {request.action} action"


def evaluate(request: AccessRequest, policies: Policies) -> Decision:
    identity = [judge(p, request) for p in policies.identity]
    resource = judge(policies.resource, request, resource_based=True)
    boundary = judge(policies.boundary, request) if policies.boundary is not None else None
    session = [judge(p, request) for p in policies.session] if policies.session is not None else None

    for verdicts, kind in ((identity, PolicyType.IDENTITY), ([resource], PolicyType.RESOURCE),
                           ([boundary] if boundary is not None else [], PolicyType.BOUNDARY),
                           (session or [], PolicyType.SESSION)):
        if any(v.denies for v in verdicts):
            return Decision(False, explicit=True, policy_type=kind)

    principal = request.principal
    if principal.kind == "root" and not request.cross_account:
        return Decision(True)
    granted = resource.allows
    if principal.kind in ("service", "anonymous"):
        if granted is None:
            return Decision(False, policy_type=PolicyType.RESOURCE)
        return Decision(True, via=PolicyType.RESOURCE)

    if request.cross_account:
        if granted is None:
            return Decision(False, policy_type=PolicyType.RESOURCE)
        if principal.kind == "root":  # another account's root user: its own side allows everything
            return Decision(True, via=PolicyType.RESOURCE)
    elif granted is not None and granted != Match.ACCOUNT:
        if principal.kind == "role-session" and granted in (Match.ROLE, Match.EVERYONE):
            # The role is named, not this session: its boundary and session policies still apply.
            return _limits(boundary, session) or Decision(True, via=PolicyType.RESOURCE)
        return Decision(True, via=PolicyType.RESOURCE)  # the user or the session itself is named
    if not any(v.allows is not None for v in identity):
        return Decision(False, policy_type=PolicyType.IDENTITY)
    return _limits(boundary, session) or Decision(True, via=PolicyType.IDENTITY)


def _limits(boundary: Verdict | None, session: list[Verdict] | None) -> Decision | None:
    """The implicit denial of a permissions boundary or of session policies, if either applies."""
    if boundary is not None and boundary.allows is None:
        return Decision(False, policy_type=PolicyType.BOUNDARY)
    if session is not None and not any(v.allows is not None for v in session):
        return Decision(False, policy_type=PolicyType.SESSION)
    return None
