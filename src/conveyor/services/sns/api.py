"""SNS (query protocol): topics, subscriptions, publishing and fan-out.

The operations live in three objects (topic_api, subscription_api, publishing; the gateway finds them
through `operation_groups`) over the registry of topics and subscriptions, the store, the signer and the
dispatcher; this class wires them, answers other services as their topics port (conveyor.ports.Topics),
serves the signing certificate, and owns the lifecycle.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.model import OperationModel

from conveyor.authz import Denial, Need
from conveyor.links import SUBSCRIPTION, Link
from conveyor.ports import Ports
from conveyor.protocol.constraints import ConstraintViolations
from conveyor.protocol.validate import ValidationCodes
from conveyor.services.base import Environment, Handler, Service
from conveyor.services.sns import iam, unsupported
from conveyor.services.sns.delivery import Dispatcher
from conveyor.services.sns.mailbox import Mailbox
from conveyor.services.sns.mobile import MobileOperations
from conveyor.services.sns.publishing import Publisher
from conveyor.services.sns.registry import TopicRegistry
from conveyor.services.sns.signing import Signer
from conveyor.services.sns.sms import SmsOperations
from conveyor.services.sns.store import SnsStore
from conveyor.services.sns.subscription_api import SubscriptionOperations
from conveyor.services.sns.topic_api import TopicOperations
from conveyor.wire import HttpResponse, RequestContext, ServiceError

log = logging.getLogger(__name__)


class SnsValidationCodes(ValidationCodes):
    # SNS answers malformed input with InvalidParameter for both missing and invalid members.
    missing = "InvalidParameter"
    invalid = "InvalidParameter"

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        """A tag key or value over the model's length is refused by SNS's front end in the form of its
        model constraints, as AWS answered the WSO2 SNS connector's tests run against it: "1 validation
        error detected: Value '...' at 'tags.1.member.key' failed to satisfy constraint: Member must have
        length less than or equal to 128" (ValidationError, the code SNS's front end gives these).
        https://docs.aws.amazon.com/sns/latest/api/API_Tag.html"""
        if path.startswith("Tags."):
            return TAG_CONSTRAINTS.invalid_error(path, value, reason)
        return super().invalid_error(path, value, reason)


TAG_CONSTRAINTS = ConstraintViolations("ValidationError", query_lists=True, patterns=False)


class SnsService(Service):
    name = "sns"
    other_accounts_by_resource_policy = True  # another account's caller: by the resource's policy alone
    validation_codes = SnsValidationCodes()
    extra_query_actions = frozenset({"GetSigningCert"})

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        directory = self.config.service_dir("sns")
        self.store = SnsStore(directory / "sns.db", env.disk)
        self.signer = Signer(directory)
        self.registry = TopicRegistry(self.store, self.clock)
        self.mailbox = Mailbox(self.store, self.clock)
        self.mobile = MobileOperations(self.store)
        self.sms = SmsOperations(self.store, self.ports)
        self.dispatcher = Dispatcher(self.store, self.registry, self.signer, self.ports, self.clock,
                                     self.config.account_id, self.mailbox, self.mobile, self.sms)
        self.publisher = Publisher(self.registry, self.store, self.dispatcher, self.ports, self.clock, self._base,
                                   self.mobile, self.sms, self.mailbox)
        self.operation_groups = (
            TopicOperations(self.registry),
            SubscriptionOperations(self.registry, self.dispatcher, self.signer, self.ports, self.clock, self.mobile,
                                   self.mailbox),
            self.publisher,
            self.mobile,
            self.sms,
        )
        self.base_url = ""  # where the last request reached us (for publishes from inside Conveyor)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self.store.open()
        self.registry.load()
        self.mobile.load()
        self.sms.load()
        self.dispatcher.replay()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        self.store.close()

    async def reset(self) -> None:
        await self.dispatcher.stop()
        self.registry.clear()
        self.mobile.clear()
        self.sms.clear()
        await self.store.wipe()

    def handler(self, operation: str) -> Handler | None:
        return super().handler(operation) or unsupported.refusal(operation)

    # -- IAM (--iam report|enforce) ----------------------------------------------------------------
    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params)

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        """SNS's code is AuthorizationError, and it writes its actions `SNS:Publish`.
        https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors"""
        action = "SNS:" + denial.action.partition(":")[2]
        return ServiceError("AuthorizationError", denial.message(action=action), 403)

    def health(self) -> dict[str, Any]:
        return {"status": "running", "topics": len(self.registry.topics), "subscriptions": len(self.registry.subs),
                "deliveries_in_flight": len(self.dispatcher.tasks)}

    def links(self) -> list[Link]:
        return [Link(s.topic_arn, s.endpoint, SUBSCRIPTION, ("raw" if s.raw else "") if s.confirmed else "pending")
                for s in self.registry.subs.values()]

    # -- /_conveyor/sns: what SNS sent to phones, devices and mailboxes --------------------------------
    internal_prefix = "sns"

    async def internal(self, ctx: RequestContext, parts: list[str]) -> Any:
        """GET /_conveyor/sns/sent[?protocol=&target=&limit=] lists what SNS sent (mailbox.py);
        GET /_conveyor/sns/retries lists HTTP(S) deliveries waiting for their next retry (on the service
        clock: a manual clock's tests wait for a retry to be armed before they move time);
        POST /_conveyor/sns/opt-out {"phoneNumber": ...} is a phone's STOP reply (sms.py)."""
        method = ctx.request.method
        if parts == ["retries"] and method == "GET":
            return {"retries": sorted(self.dispatcher.retrying.values(), key=lambda r: (r["retryAt"], r["messageId"]))}
        if parts == ["sent"] and method == "GET":
            query = ctx.request.query_dict()
            try:
                limit = int(query.get("limit") or 100)
            except ValueError:
                raise ServiceError("InvalidParameter", "limit must be a number")
            return {"messages": self.mailbox.read(query.get("protocol"), query.get("target"), limit)}
        if parts == ["opt-out"] and method == "POST":
            try:
                doc = json.loads(await ctx.request.body() or b"{}")
            except ValueError:
                doc = None
            phone = doc.get("phoneNumber") if isinstance(doc, dict) else None
            if not isinstance(doc, dict) or not isinstance(phone, str):
                raise ServiceError("InvalidParameter", 'The body must be {"phoneNumber": "+15550100"}')
            await self.sms.opt_out(str(doc.get("account") or self.config.account_id), phone)
            return {"optedOut": phone}
        return NotImplemented

    def _base(self) -> str:
        return self.base_url or f"http://{self.config.host}:{self.config.port}"

    def provide(self, ports: Ports) -> None:
        ports.topics = self

    async def intercept(self, ctx: RequestContext) -> HttpResponse | None:
        self.base_url = ctx.base_url
        if ctx.request.method == "GET" and ctx.request.query_dict().get("Action") == "GetSigningCert":
            return HttpResponse(200, [("Content-Type", "application/x-pem-file")], self.signer.cert_pem)
        return None

    # -- conveyor.ports.Topics ---------------------------------------------------------------------
    # (PolicyHolder: S3 checks a topic's policy before it publishes bucket events there.)
    def resource_exists(self, arn: str) -> bool:
        return arn in self.registry.topics

    def resource_policy(self, arn: str) -> str | None:
        topic = self.registry.topics.get(arn)
        return self.registry.policy(topic) if topic is not None else None

    async def publish_internal(self, topic_arn: str, message: str, subject: str | None = None,
                               message_attributes: Mapping[str, Mapping[str, Any]] | None = None) -> str:
        return await self.publisher.publish_internal(topic_arn, message, subject, message_attributes)

    async def deliver_from_s3(self, arn: str, bodies: Sequence[str]) -> None:
        """S3 event notifications (TopicConfigurations): one publish each, their queue writes in one."""
        if arn not in self.registry.topics:
            log.warning("S3 event for missing topic %s dropped", arn)
            return  # AWS drops events for a topic deleted after configuration
        await self.publisher.publish_internal_many(arn, bodies, subject="Amazon S3 Notification")
