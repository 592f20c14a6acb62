"""Fan-out: SQS writes of a publish, and the outbox for everything delivered after the answer.

Topics write SQS subscriptions' messages before Publish answers (publishing.py), so `to_sqs` runs on
the publish path. Deliveries that happen after the answer (HTTP, functions, SQS writes that failed)
are outbox rows, committed before the answer: this module delivers a
row, trims its target list as deliveries settle and deletes it when none is left. Rows left by a crash
are replayed at start-up, so delivery is at-least-once (FIFO queues drop replays by deduplication id).
The SQS writes of one publish are one write, so the SQS store commits them together.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Coroutine
from typing import Any, TypeGuard

from conveyor import builtin_metrics
from conveyor.clock import Clock, TimerHandle
from conveyor.ports import Delivery, MetricsSink, Ports
from conveyor.services.sns import envelope, http_delivery
from conveyor.services.sns.mailbox import Mailbox
from conveyor.services.sns.mobile import MobileOperations
from conveyor.services.sns.publish import Published, StoredAttributes, message_for
from conveyor.services.sns.registry import TopicRegistry
from conveyor.services.sns.signing import Signer
from conveyor.services.sns.sms import SmsOperations
from conveyor.services.sns.store import SnsStore
from conveyor.services.sns.subscriptions import RECORDED, Subscription
from conveyor.wire import ServiceError

log = logging.getLogger(__name__)
SNS_PRINCIPAL = "sns.amazonaws.com"
_INFRA_RETRY = 1.0  # seconds before retrying a row whose SQS write failed for an internal reason
# Rendered notifications of a fan-out, by (message id, text).
Rendered = dict[tuple[str, str], envelope.NotificationText]


def _report_unsettled(settling: asyncio.Future[Any]) -> None:
    """A settling whose commit failed (a store busy past its timeout): the row keeps the targets it had, and
    the next start delivers to them again (at least once)."""
    if not settling.cancelled() and settling.exception() is not None:
        log.warning("could not settle an SNS outbox row (%s); its deliveries repeat at the next start",
                    settling.exception())


def _count_delivery(metrics: MetricsSink | None, sub_arn: str, ok: bool) -> None:
    """AWS/SNS NumberOfNotificationsDelivered or ...Failed, by TopicName (a subscription ARN names its
    topic: arn:aws:sns:REGION:ACCOUNT:TOPIC:ID)."""
    parts = sub_arn.split(":")
    if len(parts) >= 7:
        builtin_metrics.sns_delivered(metrics, parts[3], parts[5], ok)


def _is_refusal(exc: Exception) -> TypeGuard[ServiceError]:
    """Whether a delivery failed because the endpoint refused it (a function whose policy does not let
    sns.amazonaws.com invoke it, one deleted since, a disabled device): a client-side error, expected and not a fault of ours,
    which AWS does not retry and counts in NumberOfNotificationsFailed. It is one warning naming the
    subscription and the reason, as AWS's delivery status logs show it, not a traceback.
    https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html (client-side errors)"""
    return isinstance(exc, ServiceError) and exc.status < 500


def sqs_attributes(attrs: StoredAttributes | None) -> dict[str, dict[str, Any]] | None:
    """SNS message attributes as SQS message attributes (raw delivery)."""
    if not attrs:
        return None
    out: dict[str, dict[str, Any]] = {}
    for name, attr in attrs.items():
        item: dict[str, Any] = {"DataType": attr["DataType"]}
        if attr.get("BinaryValue") is not None:
            item["BinaryValue"] = base64.b64decode(attr["BinaryValue"])
        else:
            item["StringValue"] = attr.get("StringValue", "")
        out[name] = item
    return out


def _binary_decoded(attrs: StoredAttributes | None) -> dict[str, dict[str, Any]] | None:
    if not attrs:
        return None
    return {name: ({**a, "BinaryValue": base64.b64decode(a["BinaryValue"])} if a.get("BinaryValue") else a)
            for name, a in attrs.items()}


class Dispatcher:
    """Delivers publishes to their subscriptions and keeps the outbox in step."""

    def __init__(self, store: SnsStore, registry: TopicRegistry, signer: Signer, ports: Ports, clock: Clock,
                 account_id: str, mailbox: Mailbox, mobile: MobileOperations, sms: SmsOperations) -> None:
        self.store = store
        self.mailbox = mailbox  # email, email-json, sms and application deliveries are recorded there
        self.mobile = mobile
        self.sms = sms
        self.registry = registry
        self.signer = signer
        self.ports = ports
        self.clock = clock
        self.account_id = account_id  # SenderId of what SNS writes into queues
        self.tasks: set[asyncio.Task[None]] = set()
        self.fifo_locks: dict[str, asyncio.Lock] = {}
        self.timers: set[TimerHandle | asyncio.TimerHandle] = set()
        # HTTP(S) deliveries waiting for their next retry, by (message id, subscription ARN): what
        # GET /_conveyor/sns/retries shows (and what a test waits for before it moves a manual clock).
        self.retrying: dict[tuple[str, str], dict[str, Any]] = {}
        self._unsubscribe_urls: dict[tuple[str, str], str] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def replay(self) -> None:
        for row in self.store.outbox():
            self.schedule(row.id, row.message, row.targets)

    async def stop(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        self.retrying.clear()
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self.tasks.clear()
        self.fifo_locks.clear()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def schedule(self, row_id: int, msg: Published, targets: list[str]) -> asyncio.Task[None]:
        """Called in publish order; a FIFO topic's rows (replayed, retried) keep that order through a per-topic
        lock. The task ends once the row's SQS writes are done (its other deliveries go on in tasks of their
        own)."""
        return self.spawn(self._deliver(row_id, msg, targets))

    # -- one outbox row ------------------------------------------------------------------------------
    async def _deliver(self, row_id: int, msg: Published, targets: list[str]) -> None:
        subs = [s for s in (self.registry.subs.get(arn) for arn in targets) if s is not None]
        queued = [s for s in subs if s.protocol == "sqs"]
        others = [s for s in subs if s.protocol != "sqs"]
        if msg.get("fifo"):
            async with self.fifo_locks.setdefault(msg["topic"], asyncio.Lock()):
                failed = await self.to_sqs([(msg, queued)])
        else:
            failed = await self.to_sqs([(msg, queued)])
        remaining = {s.arn for s in others}
        if failed:
            # Only the queues that failed are retried, and the others are not started yet, so a retry
            # delivers nothing twice.
            retry = [arn for _, arn in failed] + sorted(remaining)
            self._settle(row_id, set(retry))
            loop = asyncio.get_running_loop()
            handle = loop.call_later(_INFRA_RETRY, lambda: self.schedule(row_id, msg, retry))
            self.timers.add(handle)
            return
        self._settle(row_id, remaining)
        for sub in others:
            self.spawn(self._deliver_other(row_id, msg, sub, remaining))

    def _settle(self, row_id: int, remaining: set[str]) -> None:
        self.store.settle_outbox(row_id, sorted(remaining)).add_done_callback(_report_unsettled)

    def _notification(self, msg: Published, text: str) -> envelope.NotificationText:
        return envelope.NotificationText(envelope.notification(
            self.signer, message_id=msg["id"], topic_arn=msg["topic"], message=text,
            subject=msg.get("subject"), timestamp=msg["ts"], signature_version=msg.get("sigv", "1"),
            base_url=msg["base"], subscription_arn="", attributes=_binary_decoded(msg.get("attrs")),
            sequence_number=msg.get("seq"),
        ))

    def notifications(self, batch: list[tuple[Published, list[Subscription]]]) -> Rendered:
        """Sign and lay out each distinct (message, text) of `batch` once.

        The signature covers neither the subscription nor the URLs, so one per text serves every
        subscription. RSA signing is most of a publish's CPU (~0.23 ms for a 2048-bit key) and holds the
        GIL throughout (cryptography 42+: two threads signing take twice as long as one), so it runs here
        on the event loop: a worker thread would only add a hand-over (~35 µs of CPU and ~85 µs of wait
        per publish) while the loop waited for the GIL anyway.
        """
        rendered: Rendered = {}
        for msg, subs in batch:
            for sub in subs:
                if not sub.raw:
                    text = message_for(msg, sub.protocol)
                    if (msg["id"], text) not in rendered:
                        rendered[(msg["id"], text)] = self._notification(msg, text)
        return rendered

    def body_for(self, msg: Published, sub: Subscription, cache: Rendered) -> str:
        text = message_for(msg, sub.protocol)
        if sub.raw:
            return text
        rendered = cache.get((msg["id"], text))
        if rendered is None:
            rendered = cache[(msg["id"], text)] = self._notification(msg, text)
        return rendered.render(self.unsubscribe_url(msg["base"], sub.arn))

    def unsubscribe_url(self, base_url: str, sub_arn: str) -> str:
        key = (base_url, sub_arn)
        url = self._unsubscribe_urls.get(key)
        if url is None:
            if len(self._unsubscribe_urls) > 10_000:
                self._unsubscribe_urls.clear()
            url = self._unsubscribe_urls[key] = envelope.unsubscribe_url(base_url, sub_arn)
        return url

    # -- SQS ---------------------------------------------------------------------------------------
    async def to_sqs(self, batch: list[tuple[Published, list[Subscription]]]) -> list[tuple[int, str]]:
        """Write every (message, SQS subscription) pair of `batch`; returns the (batch index,
        subscription ARN) pairs that failed for an internal reason and must be retried.

        All queues' messages go in one SQS write, so the SQS store commits a whole fan-out (or a whole
        PublishBatch) at once.
        """
        queues = self.ports.queues
        cache = self.notifications(batch)
        pairs: list[tuple[int, str]] = []
        deliveries: list[Delivery] = []
        refused: dict[int, str] = {}  # delivery index -> why the queue's policy refuses SNS
        for index, (msg, subs) in enumerate(batch):
            for sub in subs:
                if not self._may_send(sub.endpoint, msg["topic"]):
                    refused[len(deliveries)] = (f"the policy of {sub.endpoint} does not let {SNS_PRINCIPAL} "
                                                f"send messages from {msg['topic']}")
                pairs.append((index, sub.arn))
                deliveries.append(Delivery(
                    sub.endpoint, self.body_for(msg, sub, cache),
                    sqs_attributes(msg.get("attrs")) if sub.raw else None,
                    group_id=msg.get("group"), dedup_id=msg.get("dedup"),
                    sender_id=self.account_id))
        if not deliveries:
            return []
        allowed = [d for i, d in enumerate(deliveries) if i not in refused]
        if queues is None:
            outcomes: list[str | None] = ["Conveyor is running without its SQS service"] * len(deliveries)
        else:
            try:
                stored = iter(await queues.send_batch(allowed) if allowed else [])
            except Exception as exc:
                log.error("SNS delivery into SQS failed; will retry: %r", exc)
                return pairs
            outcomes = [refused[i] if i in refused else next(stored) for i in range(len(deliveries))]
        dead = []
        for (index, sub_arn), delivery, outcome in zip(pairs, deliveries, outcomes, strict=True):
            _count_delivery(self.ports.metrics, sub_arn, outcome is None)
            if outcome is not None:  # the queue is gone or refuses the message: a client-side failure
                log.warning("SNS subscription %s: %s", sub_arn, outcome)
                msg, subs = batch[index]
                sub = next(s for s in subs if s.arn == sub_arn)
                dead.append(((index, sub_arn), self._to_dlq(sub, delivery.body, msg)))
        results = await asyncio.gather(*(coro for _, coro in dead), return_exceptions=True)
        failed: list[tuple[int, str]] = []
        for (pair, _), result in zip(dead, results, strict=True):
            if isinstance(result, BaseException):
                log.error("SNS delivery into a dead-letter queue failed; will retry: %r", result)
                failed.append(pair)
        return failed

    def _may_send(self, queue_arn: str, topic_arn: str) -> bool:
        """Whether the queue's policy lets SNS send for the topic: AWS checks it at every delivery, and a
        refused message is a client-side failure (the subscription's dead-letter queue, or dropped).
        Checked under `--iam report|enforce` only (conveyor.authz), as earlier versions never checked.
        https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html"""
        access = self.ports.access
        return access is None or access.service_may(SNS_PRINCIPAL, "sqs:SendMessage", queue_arn, topic_arn,
                                                    topic_arn.split(":")[4] if topic_arn.count(":") >= 5 else "")

    async def _to_dlq(self, sub: Subscription, body: str, msg: Published) -> None:
        """Client-side failures go to the subscription's dead-letter queue, or are dropped as AWS does."""
        dlq = sub.dlq_arn
        queues = self.ports.queues
        if not dlq or queues is None:
            return
        [outcome] = await queues.send_batch([Delivery(
            dlq, body, group_id=msg.get("group") or "sns", dedup_id=msg.get("dedup") or msg["id"],
            sender_id=self.account_id)])
        if outcome is not None:
            log.warning("SNS subscription %s: dead-letter queue %s: %s", sub.arn, dlq, outcome)

    # -- HTTP and functions ------------------------------------------------------------------------------
    async def _deliver_other(self, row_id: int, msg: Published, sub: Subscription,
                             remaining: set[str]) -> None:
        body = self.body_for(msg, sub, {})
        try:
            if sub.protocol in ("http", "https"):
                await self._http_with_retries(msg, sub, body)
            elif sub.protocol == "lambda":
                await self._to_function(msg, sub)
            elif sub.protocol in RECORDED:
                await self._to_mailbox(msg, sub, body)
            _count_delivery(self.ports.metrics, sub.arn, True)
        except Exception as exc:
            _count_delivery(self.ports.metrics, sub.arn, False)
            if _is_refusal(exc):
                log.warning("SNS subscription %s: %s (%s)", sub.arn, exc, exc.code)
            else:
                log.exception("SNS delivery to %s failed", sub.endpoint)
            try:
                await self._to_dlq(sub, body, msg)
            except Exception:
                log.exception("SNS dead-letter delivery for %s failed", sub.arn)
        remaining.discard(sub.arn)
        self._settle(row_id, remaining)

    async def _to_mailbox(self, msg: Published, sub: Subscription, envelope_text: str) -> None:
        """What AWS would mail, text or push, kept in the local record of sent messages.
        https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html"""
        subject = msg.get("subject")
        if sub.protocol == "email-json":
            await self.mailbox.send(sub.protocol, sub.endpoint, msg["id"], envelope_text, subject)
        elif sub.protocol == "email":
            footer = ("\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit "
                      f"the link below to unsubscribe:\n{self.unsubscribe_url(msg['base'], sub.arn)}\n")
            await self.mailbox.send(sub.protocol, sub.endpoint, msg["id"], message_for(msg, "email") + footer,
                                    subject or "AWS Notification Message")
        elif sub.protocol == "sms":
            if self.sms.is_opted_out(sub.owner, sub.endpoint):
                return  # AWS sends nothing to a number that replied STOP
            await self.mailbox.send(sub.protocol, sub.endpoint, msg["id"], message_for(msg, "sms"))
        else:
            device = self.mobile.endpoints.get(sub.endpoint)
            if device is None or not device.enabled:
                # A refusal, as a direct Publish to it is refused (publishing.py): logged as one warning.
                raise ServiceError("EndpointDisabled", f"Endpoint is disabled or deleted: {sub.endpoint}")
            await self.mailbox.send(sub.protocol, sub.endpoint, msg["id"], message_for(msg, device.platform))

    async def _http_with_retries(self, msg: Published, sub: Subscription, body: str) -> None:
        topic = self.registry.topics.get(sub.topic_arn)
        policy = sub.retry_policy(topic.delivery_policy() if topic else {})
        content_type = "text/plain; charset=UTF-8"
        if topic is not None:
            request_policy = topic.delivery_policy().get("http", {}).get("defaultRequestPolicy", {})
            content_type = request_policy.get("headerContentType", content_type)
        headers = http_delivery.headers("Notification", msg["id"], msg["topic"], sub.arn, sub.raw, content_type)
        delays = http_delivery.retry_delays(policy)
        for attempt in range(len(delays) + 1):
            if sub.arn not in self.registry.subs:
                return  # unsubscribed meanwhile
            if await http_delivery.post(sub.endpoint, body, headers):
                return
            if attempt < len(delays):
                key = (msg["id"], sub.arn)
                self.retrying[key] = {"messageId": msg["id"], "subscriptionArn": sub.arn, "endpoint": sub.endpoint,
                                      "failedAttempts": attempt + 1, "retryAt": self.clock.now() + delays[attempt]}
                try:
                    await self.wait(delays[attempt])
                finally:
                    self.retrying.pop(key, None)
        log.warning("SNS gave up delivering %s to %s after %d attempts", msg["id"], sub.endpoint, len(delays) + 1)
        await self._to_dlq(sub, body, msg)

    async def wait(self, seconds: float) -> None:
        """Sleep on the service clock (tests move a manual clock through retries)."""
        if seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not fut.done():
                loop.call_soon_threadsafe(fut.set_result, None)

        handle = self.clock.call_at(self.clock.now() + seconds, wake)
        self.timers.add(handle)
        try:
            await fut
        finally:
            self.timers.discard(handle)

    async def _to_function(self, msg: Published, sub: Subscription) -> None:
        functions = self.ports.functions
        if functions is None:
            raise RuntimeError("no Lambda service to deliver to")
        doc = envelope.notification(
            self.signer, message_id=msg["id"], topic_arn=msg["topic"],
            message=message_for(msg, "lambda"), subject=msg.get("subject"), timestamp=msg["ts"],
            signature_version=msg.get("sigv", "1"), base_url=msg["base"], subscription_arn=sub.arn,
            attributes=_binary_decoded(msg.get("attrs")),
        )
        # https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html: the event spells the URLs "Url".
        sns = {k: v for k, v in doc.items() if k not in ("SigningCertURL", "UnsubscribeURL")}
        sns["Subject"] = doc.get("Subject")
        sns["SigningCertUrl"] = doc["SigningCertURL"]
        sns["UnsubscribeUrl"] = doc["UnsubscribeURL"]
        sns["MessageAttributes"] = doc.get("MessageAttributes", {})
        event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                              "EventSubscriptionArn": sub.arn, "Sns": sns}]}
        await functions.deliver_from_sns(sub.endpoint, event)
