"""SMS: the account's SMS settings, opted-out numbers, and the phone-number checks AWS makes.

Text messages go to no carrier: Publish with a PhoneNumber and sms subscriptions keep what they would have
sent in the local record (mailbox.py). A number is opted out when its owner replies STOP, which only a real
phone can do; `POST /_conveyor/sns/opt-out {"phoneNumber": ...}` stands in for that reply.

https://docs.aws.amazon.com/sns/latest/api/API_SetSMSAttributes.html
https://docs.aws.amazon.com/sns/latest/api/API_CheckIfPhoneNumberIsOptedOut.html
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conveyor.services.sns import paging
from conveyor.services.sns.topics import invalid
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_sns.type_defs import (
        CheckIfPhoneNumberIsOptedOutInputTypeDef,
        GetSMSAttributesInputTypeDef,
        ListPhoneNumbersOptedOutInputTypeDef,
        OptInPhoneNumberInputTypeDef,
        SetSMSAttributesInputTypeDef,
    )

    from conveyor.ports import Ports
    from conveyor.services.sns.store import SnsStore

E164 = re.compile(r"\+?[1-9][0-9]{1,14}")
_SENDER_ID = re.compile(r"[A-Za-z0-9]{1,11}")
MAX_SMS = 1600  # "The total size limit for a single SMS Publish action is 1,600 characters" (API_Publish)
_SEPARATORS = re.compile(r"[./-]")
SMS_TYPES = ("Promotional", "Transactional")


def check_phone_number(number: str) -> str:
    """Publish's PhoneNumber: E.164, or InvalidParameter as AWS words it (LocalStack's provider, whose SNS
    tests are validated against AWS, has the same wording)."""
    if not E164.fullmatch(number):
        raise invalid(f"PhoneNumber Reason: {number} is not valid to publish to")
    return number


def check_sms_endpoint(endpoint: str) -> str:
    """An sms subscription's endpoint: a number AWS accepts with single ".", "-" or "/" separators inside."""
    if (re.search(r"[./-]{2,}", endpoint) or re.search(r"(^[./-]|[./-]$)", endpoint)
            or not E164.fullmatch(_SEPARATORS.sub("", endpoint))):
        raise ServiceError("InvalidParameter", f"Invalid SMS endpoint: {endpoint}")
    return endpoint


def check_sms_message(message: str) -> None:
    if len(message) > MAX_SMS:
        raise invalid(f"Message Reason: SMS messages must be less than {MAX_SMS} characters long")


class SmsOperations:
    def __init__(self, store: SnsStore, ports: Ports) -> None:
        self.store = store
        self.ports = ports
        self.settings: dict[tuple[str, str], dict[str, str]] = {}  # (account, region) -> attributes
        self.opted_out: dict[str, set[str]] = {}  # account -> phone numbers

    def load(self) -> None:
        for account, region, attrs in self.store.sms_settings():
            self.settings[(account, region)] = attrs
        for account, phone in self.store.opted_out():
            self.opted_out.setdefault(account, set()).add(phone)

    def clear(self) -> None:
        self.settings.clear()
        self.opted_out.clear()

    def is_opted_out(self, account: str, phone: str) -> bool:
        return phone in self.opted_out.get(account, set())

    async def opt_out(self, account: str, phone: str) -> None:
        """A recipient's STOP reply (the internal endpoint's stand-in for it)."""
        check_phone_number(phone)
        await self.store.opt_out(account, phone)
        self.opted_out.setdefault(account, set()).add(phone)

    async def SetSMSAttributes(self, ctx: RequestContext, params: SetSMSAttributesInputTypeDef) -> dict[str, Any]:
        given = dict(params["attributes"])
        kind = given.get("DefaultSMSType")
        if kind is not None and kind not in SMS_TYPES:
            raise invalid("DefaultSMSType Reason: must be Promotional or Transactional")
        sender = given.get("DefaultSenderID")
        if sender is not None and not (_SENDER_ID.fullmatch(sender) and any(ch.isalpha() for ch in sender)):
            # "1 - 11 alphanumeric characters, and it must contain at least one letter"
            # (https://docs.aws.amazon.com/sns/latest/api/API_SetSMSAttributes.html), refused in AWS's words as it
            # answered a connector's tests run against it ("testSenderID").
            raise ServiceError("InvalidParameter", "DefaultSenderID is invalid")
        self._check_usage_report_bucket(given.get("UsageReportS3Bucket"))
        key = (ctx.account_id, ctx.region)
        attrs = {**self.settings.get(key, {}), **given}
        await self.store.put_sms_settings(ctx.account_id, ctx.region, attrs)
        self.settings[key] = attrs
        return {}

    def _check_usage_report_bucket(self, bucket: str | None) -> None:
        """The daily usage reports' bucket must exist; AWS refuses any other in these words (as it answered
        terraform-provider-aws issue 19450). An empty name stops the reports, as it clears any attribute.
        https://docs.aws.amazon.com/sns/latest/api/API_SetSMSAttributes.html"""
        if not bucket:
            return
        objects = self.ports.objects  # no S3 in this build: no bucket exists
        if objects is None or not objects.bucket_exists(bucket):
            raise invalid("UsageReportS3Bucket Reason: The bucket you provided does not exist")

    async def GetSMSAttributes(self, ctx: RequestContext, params: GetSMSAttributesInputTypeDef) -> dict[str, Any]:
        attrs = self.settings.get((ctx.account_id, ctx.region), {})
        wanted = params.get("attributes")
        if wanted:
            attrs = {k: v for k, v in attrs.items() if k in wanted}
        return {"attributes": dict(attrs)}

    async def CheckIfPhoneNumberIsOptedOut(self, ctx: RequestContext,
                                           params: CheckIfPhoneNumberIsOptedOutInputTypeDef) -> dict[str, Any]:
        phone = check_phone_number(params["phoneNumber"])
        return {"isOptedOut": self.is_opted_out(ctx.account_id, phone)}

    async def ListPhoneNumbersOptedOut(self, ctx: RequestContext,
                                       params: ListPhoneNumbersOptedOutInputTypeDef) -> dict[str, Any]:
        numbers = self.opted_out.get(ctx.account_id, set())
        chunk, token = paging.page(numbers, params.get("nextToken"), lambda n: n)
        out: dict[str, Any] = {"phoneNumbers": chunk}
        if token:
            out["nextToken"] = token
        return out

    async def OptInPhoneNumber(self, ctx: RequestContext, params: OptInPhoneNumberInputTypeDef) -> dict[str, Any]:
        phone = check_phone_number(params["phoneNumber"])
        if self.is_opted_out(ctx.account_id, phone):
            await self.store.opt_in(ctx.account_id, phone)
            self.opted_out[ctx.account_id].discard(phone)
        return {}
