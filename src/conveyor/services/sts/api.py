"""STS, just enough for `aws sts get-caller-identity`, everyone's first connectivity check."""

from __future__ import annotations

from typing import Any

from conveyor.protocol.models import service_model
from conveyor.protocol.validate import ValidationCodes
from conveyor.services.base import RequestContext, Service


class _StsCodes(ValidationCodes):
    missing = "ValidationError"
    invalid = "ValidationError"


class StsService(Service):
    name = "sts"
    validation_codes = _StsCodes()

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.model = service_model("sts")

    async def GetCallerIdentity(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        user = ctx.access_key or self.config.access_key
        return {"UserId": user, "Account": ctx.account_id, "Arn": f"arn:aws:iam::{ctx.account_id}:root"}
