"""The signer of a request (wire.Caller) as the policy engine sees it (policy.Principal), and the global
condition keys every request carries.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
"""

from __future__ import annotations

from conveyor.policy import Principal
from conveyor.wire import Caller, RequestContext


def principal_of(caller: Caller) -> Principal:
    if caller.kind == "root":
        return Principal.root(caller.account_id)
    if caller.kind == "user":
        return Principal.user(caller.arn, caller.user_id, caller.tags)
    role_id = caller.user_id.partition(":")[0]
    return Principal.role_session(caller.role_arn or "", caller.session_name or "", role_id, caller.tags)


def request_keys(ctx: RequestContext) -> dict[str, str]:
    """The keys of the request itself (the caller's own keys come with its Principal, the time's with the
    evaluation): where it came from, over what, to which region."""
    request = ctx.request
    keys = {"aws:SecureTransport": "true" if request.scheme == "https" else "false",
            "aws:RequestedRegion": ctx.region}
    if request.client is not None:
        keys["aws:SourceIp"] = request.client[0]
    return keys
