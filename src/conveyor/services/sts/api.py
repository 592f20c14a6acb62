"""STS (query protocol): who is calling, and temporary credentials.

- GetCallerIdentity answers for whoever signed: the root user, an IAM user, or a role session.
- AssumeRole makes a role session (conveyor.services.sts.assume), GetSessionToken a session of the
  caller itself; both durable (conveyor.services.sts.store), both accepted by `--auth sigv4` with their
  session token until they expire, in every region (a session is not tied to the STS endpoint that made it).
- GetAccessKeyInfo names the account of a key; AssumeRoleWithWebIdentity is refused, see web_identity.
- For Lambda and the worker pools, this service makes sessions of execution and instance roles
  (conveyor.ports.RoleSessions); for the gateway it looks up temporary keys (conveyor.ports.CredentialSource).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.model import OperationModel

from conveyor.authz import Need
from conveyor.ports import Credential, Ports, SessionCredentials
from conveyor.services.base import Environment, Service
from conveyor.services.sts import errors, iam, web_identity
from conveyor.services.sts.assume import RoleAssumer
from conveyor.services.sts.sessions import Sessions
from conveyor.services.sts.store import SessionStore
from conveyor.wire import Caller, RequestContext

if TYPE_CHECKING:
    from mypy_boto3_sts.type_defs import (
        AssumeRoleRequestTypeDef,
        AssumeRoleWithWebIdentityRequestTypeDef,
        GetAccessKeyInfoRequestTypeDef,
        GetSessionTokenRequestTypeDef,
    )

# GetSessionToken: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html
SESSION_TOKEN_DEFAULT = 43200
ROOT_SESSION_MAX = 3600  # "Sessions for AWS account owners are restricted to a maximum of 3,600 seconds"


def _credentials(credential: Credential) -> dict[str, Any]:
    return {"AccessKeyId": credential.access_key, "SecretAccessKey": credential.secret_key,
            "SessionToken": credential.session_token, "Expiration": credential.expiration}


class StsService(Service):
    name = "sts"
    validation_codes = errors.VALIDATION

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.store: SessionStore | None = None
        self.sessions: Sessions | None = None
        self.assumer: RoleAssumer | None = None

    def provide(self, ports: Ports) -> None:
        ports.credential_sources.append(self)
        ports.role_sessions = self

    async def start(self) -> None:
        self.store = SessionStore(self.config.service_dir("sts") / "sts.db", self.env.disk)
        self.sessions = Sessions(self.store, self.clock)
        self.sessions.load()
        self.assumer = RoleAssumer(self.ports.roles, self.sessions, self.clock)

    async def stop(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    async def reset(self) -> None:
        if self.sessions is not None:
            await self.sessions.wipe()

    def health(self) -> dict[str, Any]:
        return {"status": "running" if self.store is not None else "stopped",
                "sessions": len(self.sessions.by_key) if self.sessions is not None else 0}

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(operation.name, params)

    def _caller(self, ctx: RequestContext) -> Caller:
        """The signer; an unsigned or unknown caller (authentication off) is the account's root user."""
        return ctx.principal or Caller.root(ctx.account_id)

    def _parts(self) -> tuple[Sessions, RoleAssumer]:
        if self.sessions is None or self.assumer is None:
            raise RuntimeError("STS is not started")
        return self.sessions, self.assumer

    # -- operations --------------------------------------------------------------------------------
    async def GetCallerIdentity(self, ctx: RequestContext, params: Mapping[str, Any]) -> dict[str, Any]:
        """(The operation has no input members, so the stubs have no request type for it.)"""
        caller = self._caller(ctx)
        return {"UserId": caller.user_id, "Account": caller.account_id, "Arn": caller.arn}

    async def AssumeRole(self, ctx: RequestContext, params: AssumeRoleRequestTypeDef) -> dict[str, Any]:
        _, assumer = self._parts()
        assumed = await assumer.assume(self._caller(ctx), params, ctx.region)
        session = assumed.credential.caller
        out: dict[str, Any] = {"Credentials": _credentials(assumed.credential),
                               "AssumedRoleUser": {"AssumedRoleId": session.user_id, "Arn": session.arn}}
        if session.source_identity is not None:
            out["SourceIdentity"] = session.source_identity
        return out

    async def GetSessionToken(self, ctx: RequestContext, params: GetSessionTokenRequestTypeDef) -> dict[str, Any]:
        sessions, _ = self._parts()
        caller = self._caller(ctx)
        if caller.temporary:
            raise errors.access_denied("Cannot call GetSessionToken with session credentials")
        if params.get("SerialNumber") is not None or params.get("TokenCode") is not None:
            raise errors.mfa_failed()
        duration = params.get("DurationSeconds") or SESSION_TOKEN_DEFAULT
        if caller.kind == "root":  # longer asks are cut to one hour, not refused (API_GetSessionToken.html)
            duration = min(duration, ROOT_SESSION_MAX)
        credential = await sessions.issue(caller, duration)
        return {"Credentials": _credentials(credential)}

    async def GetAccessKeyInfo(self, ctx: RequestContext, params: GetAccessKeyInfoRequestTypeDef) -> dict[str, Any]:
        """Conveyor serves one account: every key, configured, issued by IAM or by STS, belongs to it.
        https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html"""
        return {"Account": self.config.account_id}

    async def AssumeRoleWithWebIdentity(self, ctx: RequestContext,
                                        params: AssumeRoleWithWebIdentityRequestTypeDef) -> dict[str, Any]:
        raise web_identity.refuse(params["WebIdentityToken"])

    # -- conveyor.ports.CredentialSource ---------------------------------------------------------------
    def secret_for(self, access_key: str) -> Credential | None:
        return self.sessions.credential(access_key) if self.sessions is not None else None

    def note_used(self, access_key: str, service: str, region: str) -> None:
        """Temporary keys keep no last-used record (IAM's GetAccessKeyLastUsed is for long-term keys)."""

    # -- conveyor.ports.RoleSessions -------------------------------------------------------------------
    def assumable_by(self, role_arn: str, service: str) -> bool:
        return self.assumer is not None and self.assumer.assumable_by(role_arn, service) is not None

    async def service_session(self, role_arn: str, service: str, session_name: str, duration: int,
                              region: str) -> SessionCredentials:
        _, assumer = self._parts()
        return await assumer.service_session(role_arn, service, session_name, duration, region)
