"""SNS operations Conveyor refuses: the SMS sandbox and origination numbers.

They manage AWS's carrier-side settings (sandbox phone verification by one-time password, leased
origination numbers), which do not exist on one machine. SMS itself, mobile push and email are
served, with what would be sent kept in the local record (mailbox.py).
Each is answered with a clear, AWS-shaped error instead of being half-done (principle 4 of DESIGN.md);
501 NotImplemented, like the gateway's answer for any operation without a handler, because the
request itself is valid. SDKs do not retry a 501.
"""

from __future__ import annotations

from typing import Any

from conveyor.services.base import Handler
from conveyor.wire import RequestContext, ServiceError

_FAMILIES = {
    "the SMS sandbox or origination numbers": (
        "CreateSMSSandboxPhoneNumber", "DeleteSMSSandboxPhoneNumber", "GetSMSSandboxAccountStatus",
        "ListOriginationNumbers", "ListSMSSandboxPhoneNumbers", "VerifySMSSandboxPhoneNumber",
    ),
}
OPERATIONS = {op: family for family, ops in _FAMILIES.items() for op in ops}


def refusal(operation: str) -> Handler | None:
    """A handler that answers `operation` with NotImplemented, or None if Conveyor serves it."""
    family = OPERATIONS.get(operation)
    if family is None:
        return None

    async def refuse(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        raise ServiceError(
            "NotImplemented",
            f"Conveyor's SNS does not provide {family}, so {operation} is not available. Topics deliver to "
            "sqs, http, https, lambda, email, email-json, sms and application subscriptions.",
            501, sender_fault=False,
        )

    return refuse
