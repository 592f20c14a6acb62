"""Who made a request: the principal behind the access key that signed it.

Part of the wire leaf (it imports nothing of Conveyor's), so the request context, the ports between services and the
services themselves can all name it. The gateway puts one on every signed request (`ctx.principal`);
STS answers GetCallerIdentity from it and the policy engine judges it.

The three kinds, as GetCallerIdentity names them
(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html):
- the account's root user: `arn:aws:iam::ACCOUNT:root`, user id = the account id;
- an IAM user: its ARN, user id `AIDA...`;
- a role session: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, user id `AROA...:SESSION`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

CallerKind = Literal["root", "user", "assumed-role"]


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    account_id: str
    arn: str  # the user's or root's IAM ARN, or the session's assumed-role ARN
    user_id: str  # the account id (root), AIDA... (user), AROA...:SESSION (role session)
    # Temporary credentials (AssumeRole, GetSessionToken) carry a session; long-term keys do not.
    temporary: bool = False
    role_arn: str | None = None  # a role session's role (with its path)
    session_name: str | None = None
    # Session policies passed to AssumeRole: they limit the session to their intersection with the role's.
    session_policy: str | None = None
    session_policy_arns: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)  # the session's principal tags
    transitive_tag_keys: tuple[str, ...] = ()  # tags that pass on to a session this one makes (role chaining)
    source_identity: str | None = None

    @classmethod
    def root(cls, account_id: str) -> Caller:
        # Asked for on every request signed with the configured keys; a frozen value, so one per account.
        root = _ROOTS.get(account_id)
        if root is None:
            root = cls("root", account_id, f"arn:aws:iam::{account_id}:root", account_id)
            if len(_ROOTS) < 1024:  # (another account's root comes from its key: not an unbounded cache)
                _ROOTS[account_id] = root
        return root

    @property
    def role_name(self) -> str | None:
        return self.role_arn.rpartition("/")[2] if self.role_arn else None


_ROOTS: dict[str, Caller] = {}


def another_account(access_key: str, own_account: str) -> Caller | None:
    """With `--auth off`, an access key ID of 12 digits that no credential holds names the root user of that
    account (LocalStack's convention), so that another account's requests can be tried locally (S3 judges
    them by bucket policy and ACL grants); None for any other key, which is the configured account's."""
    if len(access_key) == 12 and access_key.isdigit() and access_key != own_account:
        return Caller.root(access_key)
    return None
