"""AssumeRole's rules, and the sessions services make of the roles they run code as.

https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
- SerialNumber and TokenCode are refused as an invalid MFA code: Conveyor's IAM has no MFA devices.
- The account's root user cannot assume a role ("Roles may not be assumed by root accounts."); IAM
  users and role sessions can (a session assuming a role is role chaining).
- The role must exist and its trust policy let the caller (conveyor.services.sts.trust); STS does not say
  which of the two failed.
- DurationSeconds: 900 to the role's MaxSessionDuration, default one hour; role chaining is limited to
  one hour (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining).
- Session policies (Policy, at most 2,048 characters, and up to 10 PolicyArns) are stored with the
  session, to limit it once policies are enforced.
- Session tags override the role's own tags as the session's principal tags; transitive ones pass on to
  a session this one makes, and cannot be changed there
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_role-chaining).
  A source identity, once set, stays for the whole chain
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.clock import Clock
from conveyor.policy import PolicyError, Principal, Use, check
from conveyor.ports import Credential, RoleDirectory, RoleNotAssumable, RoleRecord, SessionCredentials
from conveyor.services.sts import errors, trust
from conveyor.services.sts.sessions import Sessions
from conveyor.wire import Caller, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_sts.type_defs import AssumeRoleRequestTypeDef, PolicyDescriptorTypeTypeDef, TagTypeDef

DEFAULT_DURATION = 3600
CHAINED_MAX = 3600
SESSION_POLICY_CHARS = 2048
MAX_POLICY_ARNS = 10


@dataclass(frozen=True)
class Assumed:
    credential: Credential
    role: RoleRecord


class RoleAssumer:
    def __init__(self, roles: RoleDirectory | None, sessions: Sessions, clock: Clock) -> None:
        self.roles = roles
        self.sessions = sessions
        self.clock = clock

    # -- AssumeRole --------------------------------------------------------------------------------
    async def assume(self, caller: Caller, params: AssumeRoleRequestTypeDef, region: str) -> Assumed:
        role_arn: str = params["RoleArn"]
        session_name: str = params["RoleSessionName"]
        if caller.kind == "root":
            raise errors.access_denied("Roles may not be assumed by root accounts.")
        if params.get("SerialNumber") is not None or params.get("TokenCode") is not None:
            raise errors.mfa_failed()
        role = self.roles.role_by_arn(role_arn) if self.roles is not None else None
        if role is None:
            raise errors.not_authorized(caller.arn, "sts:AssumeRole", role_arn)
        duration = self._duration(caller, role, params.get("DurationSeconds"))
        policy, policy_arns = _session_policies(params.get("Policy"), params.get("PolicyArns"))
        tags, transitive = _session_tags(caller, params.get("Tags"), params.get("TransitiveTagKeys"))
        source_identity = _source_identity(caller, params.get("SourceIdentity"))

        principal = trust.principal_of(caller)
        context = _context(params, session_name, tags, source_identity)
        now = self.clock.now()
        for action, needed in (("sts:AssumeRole", True), ("sts:TagSession", bool(tags)),
                               ("sts:SetSourceIdentity", params.get("SourceIdentity") is not None)):
            if needed and not trust.allows(role.trust_policy, principal, action, role.arn, context, now):
                raise errors.not_authorized(caller.arn, action, role.arn)

        session = Caller("assumed-role", caller.account_id, _session_arn(caller.account_id, role, session_name),
                         f"{role.role_id}:{session_name}", temporary=True, role_arn=role.arn,
                         session_name=session_name, session_policy=policy, session_policy_arns=policy_arns,
                         tags={**role.tags, **tags}, transitive_tag_keys=transitive, source_identity=source_identity)
        credential = await self.sessions.issue(session, duration)
        await self._note_used(role, region)
        return Assumed(credential, role)

    def _duration(self, caller: Caller, role: RoleRecord, asked: int | None) -> int:
        if caller.kind == "assumed-role" and asked is not None and asked > CHAINED_MAX:
            raise errors.validation("The requested DurationSeconds exceeds the 1 hour session limit for roles "
                                    "assumed by role chaining.")
        if asked is not None and asked > role.max_session:
            raise errors.validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
        return asked if asked is not None else min(DEFAULT_DURATION, role.max_session)

    async def _note_used(self, role: RoleRecord, region: str) -> None:
        if self.roles is not None:
            with contextlib.suppress(ServiceError):  # bookkeeping: the session is made either way
                await self.roles.role_used(role.arn, region)

    # -- sessions of a service (conveyor.ports.RoleSessions) ---------------------------------------
    def assumable_by(self, role_arn: str, service: str) -> RoleRecord | None:
        """The role, when it exists and its trust policy lets the service principal assume it."""
        role = self.roles.role_by_arn(role_arn) if self.roles is not None else None
        if role is None:
            return None
        if not trust.allows(role.trust_policy, Principal.service(service), "sts:AssumeRole", role.arn, {},
                            self.clock.now()):
            return None
        return role

    async def service_session(self, role_arn: str, service: str, session_name: str, duration: int,
                              region: str) -> SessionCredentials:
        role = self.assumable_by(role_arn, service)
        if role is None:
            raise RoleNotAssumable(f"{service} cannot assume {role_arn}")
        account = role.arn.split(":")[4]
        session = Caller("assumed-role", account, _session_arn(account, role, session_name),
                         f"{role.role_id}:{session_name}", temporary=True, role_arn=role.arn,
                         session_name=session_name, tags=dict(role.tags))
        credential = await self.sessions.issue(session, duration)
        await self._note_used(role, region)
        assert credential.session_token is not None and credential.expiration is not None
        return SessionCredentials(credential.access_key, credential.secret_key, credential.session_token,
                                  credential.expiration, session.arn)


def _session_arn(account: str, role: RoleRecord, session_name: str) -> str:
    """A session's ARN names the role without its path."""
    return f"arn:aws:sts::{account}:assumed-role/{role.name}/{session_name}"


def _session_policies(policy: str | None,
                      arns: Sequence[PolicyDescriptorTypeTypeDef] | None) -> tuple[str | None, tuple[str, ...]]:
    if policy is not None:
        if len(policy) > SESSION_POLICY_CHARS:
            raise errors.too_long("Policy", policy, SESSION_POLICY_CHARS)
        try:
            check(policy, Use.IDENTITY)
        except PolicyError as exc:
            raise errors.malformed(exc.message)
    listed = tuple(entry.get("arn") or "" for entry in arns or [])
    if len(listed) > MAX_POLICY_ARNS:
        raise errors.too_long("PolicyArns", listed, MAX_POLICY_ARNS)
    for arn in listed:
        if not (arn.startswith("arn:aws:iam::") and ":policy/" in arn):
            raise errors.validation(f"Invalid policy ARN {arn}: a session policy ARN names a managed policy "
                                    "(arn:aws:iam::ACCOUNT:policy/NAME).")
    return policy, listed


def _session_tags(caller: Caller, given: Sequence[TagTypeDef] | None,
                  transitive: Sequence[str] | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """The session's own tags (incoming transitive tags first) and which of them are transitive."""
    inherited = {k: v for k, v in caller.tags.items() if k in caller.transitive_tag_keys}
    tags = dict(inherited)
    for tag in given or []:
        key = tag["Key"]
        if any(key.lower() == k.lower() for k in inherited):
            raise errors.invalid_parameter(f"The session tag {key} is a transitive tag of the calling session: "
                                           "a role chain cannot change it.")
        if any(key.lower() == k.lower() for k in tags):
            raise errors.invalid_parameter("Duplicate tag keys found. Tag keys are case insensitive.")
        tags[key] = tag.get("Value", "")
    for key in transitive or []:
        if key not in tags:
            raise errors.invalid_parameter(f"The transitive tag key {key} is not the key of a session tag.")
    return tags, tuple(dict.fromkeys([*caller.transitive_tag_keys, *(transitive or [])]))


def _source_identity(caller: Caller, given: str | None) -> str | None:
    if caller.source_identity is not None and given is not None and given != caller.source_identity:
        raise errors.invalid_parameter("The source identity of a role chain cannot be changed: it was set to "
                                       f"{caller.source_identity} by the calling session.")
    return caller.source_identity or given


def _context(params: AssumeRoleRequestTypeDef, session_name: str, tags: dict[str, str],
             source_identity: str | None) -> dict[str, str | list[str]]:
    """The request's condition keys a trust policy may test."""
    context: dict[str, str | list[str]] = {"sts:RoleSessionName": session_name}
    if params.get("ExternalId") is not None:
        context["sts:ExternalId"] = params["ExternalId"]
    if source_identity is not None:
        context["sts:SourceIdentity"] = source_identity
    if tags:
        context["aws:TagKeys"] = list(tags)
        for key, value in tags.items():
            context[f"aws:RequestTag/{key}"] = value
    if params.get("TransitiveTagKeys"):
        context["sts:TransitiveTagKeys"] = list(params["TransitiveTagKeys"])
    return context
