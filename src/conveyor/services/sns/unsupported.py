"""SNS operations Conveyor refuses: SMS, mobile push and message data protection.

They need carriers, push services or Amazon's data identifiers, none of which exist on one machine.
Each is answered with a clear, AWS-shaped error instead of being half-done (principle 4 of DESIGN.md);
501 NotImplemented, like the gateway's answer for any operation without a handler, because the
request itself is valid. SDKs do not retry a 501.
"""

from __future__ import annotations

from typing import Any

from conveyor.services.base import Handler
from conveyor.wire import RequestContext, ServiceError

_FAMILIES = {
    "SMS messages": (
        "CheckIfPhoneNumberIsOptedOut", "CreateSMSSandboxPhoneNumber", "DeleteSMSSandboxPhoneNumber",
        "GetSMSAttributes", "GetSMSSandboxAccountStatus", "ListOriginationNumbers", "ListPhoneNumbersOptedOut",
        "ListSMSSandboxPhoneNumbers", "OptInPhoneNumber", "SetSMSAttributes", "VerifySMSSandboxPhoneNumber",
    ),
    "mobile push notifications (platform applications and endpoints)": (
        "CreatePlatformApplication", "CreatePlatformEndpoint", "DeleteEndpoint", "DeletePlatformApplication",
        "GetEndpointAttributes", "GetPlatformApplicationAttributes", "ListEndpointsByPlatformApplication",
        "ListPlatformApplications", "SetEndpointAttributes", "SetPlatformApplicationAttributes",
    ),
    "message data protection policies": ("GetDataProtectionPolicy", "PutDataProtectionPolicy"),
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
            "sqs, http, https and lambda subscriptions.",
            501, sender_fault=False,
        )

    return refuse
