"""`--iam off|report|enforce`: every signed request judged by AWS's policy evaluation logic.

One step of the request pipeline (conveyor.gateway.chain, after model validation, before the service's
own checks): the service names what the operation needs (`Service.iam_requests`), and each need is judged
by conveyor.policy.evaluate with
- the caller's identity-based policies (a user's inline and attached ones and its groups'; a role
  session's role's), its permissions boundary and its session policies, from IAM (ports.PermissionSource);
- the resource's own policy (bucket, queue, topic, function policy, a role's trust policy), from the
  service that holds it (ports.policy_holder).

Who is judged: the principal the gateway names (`ctx.principal`). The account's root user (the configured
credentials, and with `--auth off` every unsigned request or unknown key) may do anything in its account,
as on AWS, except what a resource policy explicitly denies. Unsigned requests with `--auth sigv4` are
anonymous: only S3 serves them, by bucket policy (its own `authorize` hook).

- off: nothing is evaluated (the default: what users of earlier versions rely on).
- report: what would be denied is logged, one line per call (logger `conveyor.iam`, "iam report: would
  deny ..."), and kept for GET /_conveyor/iam/denials and `conveyor status`; nothing is denied.
- enforce: a denied request fails with the service's AccessDenied error, in its protocol's shape.

Evaluation is cheap: each caller's policies are parsed once and kept until IAM changes any policy,
attachment or entity (PermissionSource.generation), and so are the decisions made with them, keyed by
everything a decision depends on (action, resource, the resource's policy, the request's condition
keys), unless a policy reads the time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.authz import other_accounts
from conveyor.authz.callers import principal_of, request_keys
from conveyor.authz.denial import Denial
from conveyor.authz.needs import Context, Need, arn_account, arn_service
from conveyor.policy import AccessRequest, Decision, Policies, Policy, PolicyType, Principal, evaluate, parse
from conveyor.ports import Refusal
from conveyor.wire import Caller, RequestContext, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from conveyor.clock import Clock
    from conveyor.ports import Ports

log = logging.getLogger("conveyor.iam")
MODES = ("off", "report", "enforce")
_RECENT = 100
_CACHE_LIMIT = 10_000
_DECISIONS_LIMIT = 4096


class Judged(Protocol):
    """A service, as the enforcer asks it what an operation needs and how it words a denial."""

    name: str
    # Whether the resources' own policies decide what another account's caller may do, in every `--iam`
    # mode (SQS, SNS, Lambda, DynamoDB); S3 judges other accounts itself, by bucket policy and ACLs.
    other_accounts_by_resource_policy: bool

    # What another account's caller may do with a resource its policy shares (None: whatever it grants).
    other_account_may: frozenset[str] | None
    other_account_creates: frozenset[str]
    # Whether another account's caller acts in its own account, which holds nothing of this service's here
    # (conveyor.authz.other_accounts): the services whose resources carry no policy.
    other_accounts_own_nothing: bool

    def iam_action(self, operation: str) -> str: ...

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]: ...

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError: ...

    def account_free(self, operation: str, params: dict[str, Any]) -> bool: ...

    def answer_for_other_account(self, ctx: RequestContext, operation: OperationModel,
                                 params: dict[str, Any]) -> dict[str, Any] | None: ...

    def missing_for_other_account(self, ctx: RequestContext, operation: str,
                                  params: dict[str, Any]) -> ServiceError | None: ...

    def refusal_for_other_account(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any],
                                  denial: Denial) -> ServiceError: ...


@dataclass(frozen=True)
class Grants:
    """One caller's policies, parsed, and the decisions already made with them."""

    principal: Principal
    identity: tuple[Policy, ...] = ()
    boundary: Policy | None = None
    session: tuple[Policy, ...] | None = None
    # Whether no policy of the caller's reads the time (aws:CurrentTime, aws:EpochTime): then a decision
    # depends only on the request, and is kept for the next identical request.
    timeless: bool = True
    decisions: dict[Hashable, Decision] = field(default_factory=dict, compare=False)


def _parsed(documents: Sequence[str]) -> tuple[Policy, ...]:
    return tuple(p for p in (parse(d) for d in documents) if p is not None)


@lru_cache(maxsize=4096)
def _reads_time(document: str) -> bool:
    lowered = document.lower()
    return "currenttime" in lowered or "epochtime" in lowered


def _frozen(context: Context | None) -> Hashable:
    if not context:
        return None
    return tuple(sorted((k, v if isinstance(v, str) else tuple(v)) for k, v in context.items()))


class Enforcer:
    def __init__(self, mode: str, ports: Ports, clock: Clock) -> None:
        if mode not in MODES:
            raise ValueError(f"IAM mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.ports = ports
        self.clock = clock
        self._grants: dict[tuple[str | None, str], tuple[int, Grants]] = {}
        self.denials: deque[dict[str, Any]] = deque(maxlen=_RECENT)
        self.denied = 0  # since start: how many calls were (or, reporting, would have been) denied

    @property
    def active(self) -> bool:
        return self.mode != "off"

    # -- the pipeline's step ------------------------------------------------------------------------
    def authorize(self, ctx: RequestContext, service: Judged, operation: OperationModel,
                  params: dict[str, Any]) -> dict[str, Any] | None:
        """Raise the service's AccessDenied error when enforcing and the caller may not make the request;
        refused items of a batch go to `ctx.denied_items` for the service to report. The answer, when the
        request is answered here (another account's, over its own account, which holds nothing here)."""
        caller = ctx.principal
        if caller is None:
            return None  # the root user (--auth off) or an anonymous caller (judged by S3 itself)
        if caller.account_id != ctx.account_id and service.other_accounts_own_nothing:
            return self.serve_other_account(ctx, service, caller, operation, params)
        foreign = caller.account_id != ctx.account_id and service.other_accounts_by_resource_policy
        if not self.active and not foreign:
            return None
        needs = service.iam_requests(ctx, operation, params)
        if self.active:
            self.authorize_needs(ctx, service, needs)
        if foreign:
            answer = self.in_callers_own_account(ctx, service, caller, operation, params, needs)
            if answer is not None:
                return answer
            self.authorize_other_account(ctx, service, caller, needs)
        return None

    def in_callers_own_account(self, ctx: RequestContext, service: Judged, caller: Caller, operation: OperationModel,
                               params: dict[str, Any], needs: Sequence[Need]) -> dict[str, Any] | None:
        """Another account's caller where resource policies decide: what it names within its own account
        (a bare name, an ARN with its own account id) does not exist here, and what it would create there is
        refused (`other_account_names`, `other_account_creates`); the service's answer over its own, empty,
        account (a listing); and, whatever a policy grants, AccessDenied for what the service serves to a
        resource's own account only (`other_account_may`)."""
        if any(arn_account(n.resource) == caller.account_id for n in needs):
            missing = service.missing_for_other_account(ctx, operation.name, params)
            if missing is not None:
                raise missing
            if operation.name in service.other_account_creates:
                named = next(n for n in needs if arn_account(n.resource) == caller.account_id)
                raise service.access_denied(ctx, Denial(caller.arn, named.action, named.resource, False, None))
        answer = service.answer_for_other_account(ctx, operation, params)
        if answer is not None:
            return answer
        allowed = service.other_account_may
        if allowed is not None and operation.name not in allowed:
            owners = [n for n in needs if arn_account(n.resource) == ctx.account_id]
            if owners:
                raise service.access_denied(ctx, Denial(caller.arn, owners[0].action, owners[0].resource, False, None))
        return None

    def serve_other_account(self, ctx: RequestContext, service: Judged, caller: Caller, operation: OperationModel,
                            params: dict[str, Any]) -> dict[str, Any] | None:
        """Another account's caller, in a service whose resources carry no policy, acts in its own account,
        which holds nothing here (conveyor.authz.other_accounts), in every `--iam` mode (its root user may
        do anything in its own account): an operation reading nothing of the account is served; a listing
        answers empty; anything else (naming a resource, creating one) gets the service's answer for a
        resource that is not the caller's: not found (a name within its own account), or AccessDenied (the
        owner's ARN; creating)."""
        if service.account_free(operation.name, params):
            return None
        answer = service.answer_for_other_account(ctx, operation, params)
        if answer is not None:
            return answer
        missing = service.missing_for_other_account(ctx, operation.name, params)
        if missing is not None:
            raise missing
        if other_accounts.lists_the_account(operation):
            return other_accounts.empty_answer(operation, params)
        needs = service.iam_requests(ctx, operation, params) or [Need(service.iam_action(operation.name))]
        named = next((n for n in needs if n.resource != "*"), needs[0])
        denial = Denial(caller.arn, named.action, named.resource, False, PolicyType.RESOURCE)
        raise service.refusal_for_other_account(ctx, operation, params, denial)

    def authorize_other_account(self, ctx: RequestContext, service: Judged, caller: Caller,
                                needs: Sequence[Need]) -> None:
        """Another account's caller (with `--auth off`, a 12-digit access key: conveyor.wire.caller) is
        refused, whatever the `--iam` mode, what the resource's own policy does not allow it: across
        accounts both sides must allow, and its own side (its root user) allows everything, so the queue's,
        topic's, function's or table's policy decides, and without one the answer is AccessDenied
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
        Refused items of a batch go to `ctx.denied_items`, as `authorize_needs` puts them."""
        denials = self.judge(ctx, caller, needs)
        if not denials:
            return
        whole = [d for d in denials if d.item is None]
        if whole:
            raise service.access_denied(ctx, whole[0])
        refused = dict(ctx.denied_items or {})
        refused.update({d.item or "": service.access_denied(ctx, d).message for d in denials})
        ctx.denied_items = refused

    def authorize_needs(self, ctx: RequestContext, service: Judged, needs: Sequence[Need]) -> None:
        """`authorize` for needs a service names itself, for a request that is no operation of its model
        (S3's browser form uploads)."""
        caller = ctx.principal
        if caller is None or not self.active:
            return
        denials = self.judge(ctx, caller, needs)
        if not denials:
            return
        self._note(ctx, denials)
        if self.mode != "enforce":
            return
        whole = [d for d in denials if d.item is None]
        if whole:
            raise service.access_denied(ctx, whole[0])
        ctx.denied_items = {d.item or "": service.access_denied(ctx, d).message for d in denials}

    def judge(self, ctx: RequestContext, caller: Caller, needs: Sequence[Need]) -> list[Denial]:
        """The needs the caller may not have, judged in any mode."""
        if not needs:
            return []
        request = ctx.request
        where = (request.scheme, ctx.region, request.client[0] if request.client else None)
        return self._judged(self._grants_of(ctx.access_key, caller), caller.kind == "root", needs,
                            lambda: request_keys(ctx), where)

    def _judged(self, grants: Grants, root: bool, needs: Sequence[Need], request_keys: Callable[[], dict[str, str]],
                where: Hashable) -> list[Denial]:
        """Each need judged by the caller's grants and the resource's policy; `request_keys` gives the
        request's own condition keys, `where` what of the request they depend on (for the decision cache)."""
        keys: dict[str, Any] | None = None
        denials: list[Denial] = []
        own = grants.principal.account
        for need in needs:
            resource_policy = self._resource_policy(need.resource)
            if root and resource_policy is None and arn_account(need.resource) in (None, own):
                continue  # the root user in its own account, with no resource policy that could deny it
            cache_key: Hashable = None
            decision = None
            if grants.timeless and (resource_policy is None or not _reads_time(resource_policy)):
                cache_key = (need.action, need.resource, resource_policy, _frozen(need.context), where)
                decision = grants.decisions.get(cache_key)
            if decision is None:
                if keys is None:
                    keys = request_keys()
                context = {**keys, **need.context} if need.context else keys
                request = AccessRequest(grants.principal, need.action, need.resource, context,
                                        arn_account(need.resource), dt.datetime.fromtimestamp(self.clock.now(), dt.UTC))
                decision = evaluate(request, Policies(grants.identity, resource_policy, grants.boundary,
                                                      grants.session))
                if cache_key is not None:
                    if len(grants.decisions) >= _DECISIONS_LIMIT:
                        grants.decisions.clear()
                    grants.decisions[cache_key] = decision
            if not decision.allowed:
                denials.append(Denial(grants.principal.display(), need.action, need.resource, decision.explicit,
                                      decision.policy_type, need.item))
        return denials

    # -- resource policies on their own (ports.AccessCheck) ----------------------------------------------
    def explicit_denial(self, ctx: RequestContext, caller: Caller, needs: Sequence[Need]) -> Denial | None:
        """The first need a resource's own policy explicitly denies to `caller`, in every mode, whatever the
        caller's identity-based policies say: a service that enforces its resource policies itself (S3's
        bucket policies apply to the bucket owner too, an explicit Deny winning:
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html,
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
        principal = principal_of(caller)
        keys: dict[str, str] | None = None
        for need in needs:
            policy = self._resource_policy(need.resource)
            if policy is None:
                continue
            if keys is None:
                keys = request_keys(ctx)
            context = {**keys, **need.context} if need.context else keys
            request = AccessRequest(principal, need.action, need.resource, context, arn_account(need.resource),
                                    dt.datetime.fromtimestamp(self.clock.now(), dt.UTC))
            decision = evaluate(request, Policies(resource=policy))
            if decision.explicit:
                return Denial(principal.display(), need.action, need.resource, True, decision.policy_type, need.item)
        return None

    # -- calls services make as a role (ports.AccessCheck) ---------------------------------------------
    def role_refusal(self, role_arn: str, session_name: str, needs: Sequence[tuple[str, str]], call: str,
                     *, record: bool = True) -> Refusal | None:
        """Whether a session of the role may make the calls a service makes on its behalf (an event source
        mapping's poller reading its queue or stream as the function's execution role): the first need
        refused, when enforcing; None with --iam off, and with --iam report (which logs the refusal).
        `record`: log and keep the refusal (False for a repeated check of the same call)."""
        if not self.active:
            return None
        account = arn_account(role_arn) or ""
        roles = self.ports.roles
        role = roles.role_by_arn(role_arn) if roles is not None else None
        name = role_arn.rpartition("/")[2]
        caller = Caller("assumed-role", account, f"arn:aws:sts::{account}:assumed-role/{name}/{session_name}",
                        f"{role.role_id if role is not None else name}:{session_name}", temporary=True,
                        role_arn=role_arn, session_name=session_name, tags=role.tags if role is not None else {})
        region = next((r.split(":")[3] for _, r in needs if r.count(":") >= 5), "")
        keys = {"aws:SecureTransport": "true", "aws:RequestedRegion": region}
        denials = self._judged(self._grants_of(None, caller), False, [Need(a, r) for a, r in needs],
                               lambda: keys, ("service", region))
        if not denials:
            return None
        first = denials[0]
        if record:
            verb = "would deny" if self.mode == "report" else "denied"
            log.warning("iam %s: %s %s: %s", self.mode, verb, call, first.message())
            self._remember(first, call, "")
        return None if self.mode == "report" else Refusal(first.action, first.message())

    # -- deliveries between services (ports.AccessCheck) ---------------------------------------------
    def service_may(self, service: str, action: str, resource: str, source_arn: str, source_account: str,
                    keys: Mapping[str, str] | None = None) -> bool:
        if not self.active:
            return True
        request = AccessRequest(Principal.service(service), action, resource,
                                {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account, **(keys or {})},
                                arn_account(resource), dt.datetime.fromtimestamp(self.clock.now(), dt.UTC))
        decision = evaluate(request, Policies(resource=self._resource_policy(resource)))
        if decision.allowed:
            return True
        denial = Denial(service, action, resource, decision.explicit, decision.policy_type)
        self._remember(denial, f"delivery from {source_arn}", "")
        verb = "would deny" if self.mode == "report" else "denied"
        log.warning("iam %s: %s delivery from %s: %s", self.mode, verb, source_arn, denial.message())
        return self.mode == "report"

    # -- what was denied -----------------------------------------------------------------------------
    def _note(self, ctx: RequestContext, denials: list[Denial]) -> None:
        call = f"{ctx.service}.{ctx.operation_label}"
        first = denials[0]
        more = f" (and {len(denials) - 1} more)" if len(denials) > 1 else ""
        if self.mode == "report":
            # The stable line `--iam report` is for: grep "iam report: would deny".
            log.warning("iam report: would deny %s (request %s): %s%s", call, ctx.request_id, first.message(), more)
        else:
            log.info("iam enforce: denied %s (request %s): %s%s", call, ctx.request_id, first.message(), more)
        for denial in denials:
            self._remember(denial, call, ctx.request_id)

    def _remember(self, denial: Denial, call: str, request_id: str) -> None:
        self.denied += 1
        self.denials.append({
            "time": self.clock.now(), "mode": self.mode, "call": call, "request_id": request_id,
            "principal": denial.principal, "action": denial.action, "resource": denial.resource,
            "item": denial.item, "message": denial.message(),
        })

    def snapshot(self) -> dict[str, Any]:
        """GET /_conveyor/iam/denials, and `conveyor status`'s IAM part."""
        return {"mode": self.mode, "denied": self.denied, "recent": list(self.denials)}

    def clear(self) -> None:
        self.denials.clear()
        self.denied = 0
        self._grants.clear()

    # -- policies ------------------------------------------------------------------------------------
    def _resource_policy(self, resource: str) -> str | None:
        kind = arn_service(resource) if resource != "*" else None
        if kind is None:
            return None
        holder = self.ports.policy_holder(kind)
        return holder.resource_policy(resource) if holder is not None else None

    def _grants_of(self, access_key: str | None, caller: Caller) -> Grants:
        if caller.kind == "root":
            return Grants(Principal.root(caller.account_id))
        source = self.ports.permissions
        generation = source.generation() if source is not None else 0
        key = (access_key, caller.arn)
        cached = self._grants.get(key)
        if cached is not None and cached[0] == generation:
            return cached[1]
        grants = Grants(principal_of(caller))
        if source is not None:
            found = source.permissions_of(caller)
            session = _parsed(found.session) if found.session is not None else None
            documents = [*found.identity, *(found.session or ()), *([found.boundary] if found.boundary else [])]
            grants = Grants(grants.principal, _parsed(found.identity),
                            parse(found.boundary) if found.boundary else None, session,
                            timeless=not any(_reads_time(d) for d in documents))
        if len(self._grants) >= _CACHE_LIMIT:
            self._grants.clear()
        self._grants[key] = (generation, grants)
        return grants
