"""Publish, PublishBatch and the in-process publish API (S3 notifications, function destinations).

https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conveyor import builtin_metrics, ids
from conveyor.clock import Clock
from conveyor.ports import Ports
from conveyor.services.sns import publish
from conveyor.services.sns import sms as sms_mod
from conveyor.services.sns.delivery import Dispatcher
from conveyor.services.sns.mailbox import Mailbox
from conveyor.services.sns.mobile import MobileOperations
from conveyor.services.sns.publish import Published, message_for
from conveyor.services.sns.registry import TopicRegistry, check_arn
from conveyor.services.sns.sms import SmsOperations
from conveyor.services.sns.store import DedupRecord, SnsStore
from conveyor.services.sns.subscriptions import Subscription
from conveyor.services.sns.topics import Topic, invalid
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_sns.type_defs import PublishBatchInputTypeDef, PublishInputTypeDef

log = logging.getLogger(__name__)
DEDUP_WINDOW = 300.0  # seconds a FIFO topic remembers a deduplication id


class Publisher:
    def __init__(self, registry: TopicRegistry, store: SnsStore, dispatcher: Dispatcher, ports: Ports,
                 clock: Clock, base_url: Callable[[], str], mobile: MobileOperations, sms: SmsOperations,
                 mailbox: Mailbox) -> None:
        self.registry = registry
        self.mobile = mobile  # Publish's TargetArn may name a device endpoint
        self.sms = sms  # ... or PhoneNumber a phone
        self.mailbox = mailbox  # where those direct publishes are recorded
        self.store = store
        self.dispatcher = dispatcher
        self.ports = ports  # (its metrics sink: AWS/SNS counts)
        self.clock = clock
        self.base_url = base_url  # for publishes from inside Conveyor, which come with no request

    # -- publishing --------------------------------------------------------------------------------------
    def _resolve_target(self, params: PublishInputTypeDef) -> str:
        """Which of TopicArn, TargetArn or PhoneNumber the publish names."""
        given = [k for k in ("TopicArn", "TargetArn", "PhoneNumber") if params.get(k)]
        if not given:
            raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
        if len(given) > 1:
            raise invalid("TopicArn or TargetArn Reason: Only one of TopicArn, TargetArn or PhoneNumber "
                          "may be specified")
        return given[0]

    def _topic_here(self, ctx: RequestContext, arn: str) -> Topic:
        """A publish reaches only a topic of the region it is sent to; another region's topic ARN is an invalid
        TopicArn, as AWS answers (LocalStack's AWS-validated test_topic_publish_another_region records it)."""
        check_arn(arn, "TopicArn")
        if arn.split(":")[3] != ctx.region:
            raise invalid("TopicArn")
        return self.registry.topic(arn)

    async def _publish_direct(self, account: str, params: PublishInputTypeDef, kind: str) -> dict[str, Any]:
        """A publish to one phone number or one device endpoint, which AWS sends at once (no topic).
        https://docs.aws.amazon.com/sns/latest/api/API_Publish.html"""
        message_id = ids.uuid4()
        if kind == "PhoneNumber":
            phone = sms_mod.check_phone_number(params["PhoneNumber"])
            structure = publish.check_message(params.get("Message"), params.get("MessageStructure"))
            text = str(structure.get("sms", structure["default"])) if structure else params["Message"]
            sms_mod.check_sms_message(text)
            if not self.sms.is_opted_out(account, phone):  # nothing goes to a number that replied STOP
                await self.mailbox.send("sms", phone, message_id, text)
            return {"MessageId": message_id}
        # The device is checked before the message: AWS answers EndpointDisabled even for a message that
        # would not parse (moto's AWS-verified test_publish_to_disabled_platform_endpoint records it).
        arn = params["TargetArn"]
        device = self.mobile.endpoints.get(arn)
        if device is None:
            endpoint_id = arn.rsplit("/", 1)[-1] if ":endpoint/" in arn else None
            if endpoint_id is not None and len(endpoint_id) != 36:
                # An endpoint ARN whose id is no UUID, as AWS answered a connector's tests run against it.
                raise invalid("TargetArn Reason: ARN specifies an invalid endpointId: UUID must be encoded in "
                              "exactly 36 characters.")
            raise invalid("TargetArn Reason: No endpoint found for the target arn specified")
        if not device.enabled:
            raise ServiceError("EndpointDisabled", "Endpoint is disabled")
        # A device's message needs no "default" key when it has the platform's own.
        structure = publish.check_message(params.get("Message"), params.get("MessageStructure"),
                                          needs_default=False)
        text = str(structure.get(device.platform, structure.get("default", ""))) if structure else params["Message"]
        await self.mailbox.send("application", arn, message_id, text)
        return {"MessageId": message_id}

    def _prepare(self, topic: Topic, message: str | None, subject: str | None, structure_name: str | None,
                 attributes: Mapping[str, Mapping[str, Any]] | None, group_id: str | None,
                 dedup_id: str | None, base_url: str) -> Published:
        """Validate one publish and build its outbox message (not yet durable)."""
        structure = publish.check_message(message, structure_name)
        publish.check_subject(subject)
        attrs, attrs_size = publish.check_attributes(attributes)
        text = message or ""  # (check_message refused a missing one)
        publish.check_size(text, attrs_size)
        group, dedup = publish.fifo_ids(topic, structure["default"] if structure else text, group_id, dedup_id)
        msg: Published = {"id": ids.uuid4(), "topic": topic.arn, "message": text, "ts": self.clock.now(),
                          "base": base_url, "sigv": topic.signature_version}
        if structure:
            msg["structure"] = structure
            msg["message"] = structure["default"]
        if subject is not None:
            msg["subject"] = subject
        if attrs:
            msg["attrs"] = attrs
        if topic.fifo:
            msg["fifo"], msg["group"], msg["dedup"] = True, group, dedup
        return msg

    async def _commit(self, topic: Topic, msgs: list[Published]) -> list[dict[str, Any]]:
        """Make publishes durable and hand them to delivery; returns once they are.

        SQS subscriptions' messages go straight into the SQS store before the answer: the publish is
        acknowledged once every matching queue holds it, in one SQS group commit, instead of three
        commits (outbox row, queue messages, outbox delete). Only what is delivered later (HTTP,
        functions, SQS writes that failed) goes through the outbox.

        A FIFO topic's deduplication ids and sequence number are SNS state that must be durable too:
        they are committed after the queues' write, with the outbox rows if any, before the answer.
        A crash between the two leaves an unacknowledged publish in its queues; the publisher's retry
        (same deduplication id) is then dropped by a FIFO queue's own deduplication, and a standard
        queue gets it twice (at least once). Queue writes are issued in sequence order, as SQS orders
        a group by its write order, so no lock is needed to keep groups in order.
        """
        now = self.clock.now()
        direct: list[tuple[Published, list[Subscription]]] = []
        later: dict[str, tuple[Published, list[str]]] = {}
        claimed: list[DedupRecord] = []
        results: list[dict[str, Any]] = []
        subs = self.registry.topic_subs(topic.arn)
        for msg in msgs:
            if topic.fifo:
                dedup_id = msg.get("dedup") or ""
                hit = topic.duplicate_of(dedup_id, now)
                if hit is not None:
                    results.append({"MessageId": hit[1], "SequenceNumber": hit[2]})
                    continue
                # Large and non-consecutive, as AWS's are (API_Publish: "a large, non-consecutive number"):
                # taken from the clock, they also never repeat one a crash kept from being stored.
                # https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
                topic.seq = max(topic.seq + 1, int(now * 1_000_000))
                seq = msg["seq"] = f"{topic.seq:020d}"
                topic.remember(dedup_id, now + DEDUP_WINDOW, msg["id"], seq)
                claimed.append(DedupRecord(topic.arn, dedup_id, now + DEDUP_WINDOW, msg["id"], seq))
            targets = [s for s in subs if s.confirmed and s.wants(message_for(msg, s.protocol), msg.get("attrs"))]
            queued = [s for s in targets if s.protocol == "sqs"]
            if queued:
                direct.append((msg, queued))
            rest = [s.arn for s in targets if s.protocol != "sqs"]
            if rest:
                later[msg["id"]] = (msg, rest)
            results.append({"MessageId": msg["id"], "SequenceNumber": msg.get("seq")})
            builtin_metrics.sns_published(self.ports.metrics, topic.region, topic.name, len(msg["message"].encode()))
        if direct:
            for index, sub_arn in await self.dispatcher.to_sqs(direct):
                msg = direct[index][0]
                later.setdefault(msg["id"], (msg, []))[1].append(sub_arn)
        if later or claimed:
            await self._write_outbox(topic, list(later.values()), claimed, now)
        return results

    async def _write_outbox(self, topic: Topic, rows: list[tuple[Published, list[str]]],
                            claimed: list[DedupRecord], now: float) -> None:
        try:
            row_ids = await self.store.add_to_outbox(rows, topic.arn, claimed, topic.seq, now)
        except Exception:
            for entry in claimed:
                topic.dedup.pop(entry.dedup_id, None)
            raise
        tasks = [self.dispatcher.schedule(row_id, msg, targets)
                 for row_id, (msg, targets) in zip(row_ids, rows, strict=True)]
        if topic.fifo and tasks:
            # A FIFO publish whose queue write failed answers once the retry is under way, in order behind
            # the topic's earlier rows. shield: a client that hangs up does not cancel the delivery, which
            # the outbox row owes anyway.
            await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))

    # -- the operations ------------------------------------------------------------------------------------
    async def Publish(self, ctx: RequestContext, params: PublishInputTypeDef) -> dict[str, Any]:
        kind = self._resolve_target(params)
        arn = params.get("TopicArn") or params.get("TargetArn") or ""
        if kind == "PhoneNumber" or ":endpoint/" in arn:
            return await self._publish_direct(ctx.account_id, params, kind)
        topic = self._topic_here(ctx, arn)
        msg = self._prepare(topic, params.get("Message"), params.get("Subject"), params.get("MessageStructure"),
                            params.get("MessageAttributes"), params.get("MessageGroupId"),
                            params.get("MessageDeduplicationId"), ctx.base_url)
        result = (await self._commit(topic, [msg]))[0]
        return {k: v for k, v in result.items() if v is not None}

    async def PublishBatch(self, ctx: RequestContext, params: PublishBatchInputTypeDef) -> dict[str, Any]:
        topic = self._topic_here(ctx, params["TopicArn"])
        entries = params.get("PublishBatchRequestEntries") or []
        if not entries:
            raise ServiceError("EmptyBatchRequest", "The batch request doesn't contain any entries.")
        if len(entries) > 10:
            raise ServiceError("TooManyEntriesInBatchRequest",
                               "The batch request contains more entries than permissible.")
        entry_ids = [e["Id"] for e in entries]
        if len(set(entry_ids)) != len(entry_ids):
            raise ServiceError("BatchEntryIdsNotDistinct",
                               "Two or more batch entries in the request have the same Id.")
        total = sum(len((e.get("Message") or "").encode()) for e in entries)
        if total > publish.MAX_SIZE:
            raise ServiceError("BatchRequestTooLong", "The length of all the messages put together is more "
                               "than the limit.")
        if topic.fifo:
            # A FIFO batch fails as a whole when an entry lacks its group id, or its deduplication id where
            # the topic derives none (what LocalStack's AWS-validated tests record).
            if not all(e.get("MessageGroupId") for e in entries):
                raise invalid("The MessageGroupId parameter is required for FIFO topics")
            if not topic.content_dedup and not all(e.get("MessageDeduplicationId") for e in entries):
                raise invalid("The topic should either have ContentBasedDeduplication enabled or "
                              "MessageDeduplicationId provided explicitly")
        failed: list[dict[str, Any]] = []
        good: list[tuple[str, Published]] = []
        for entry in entries:
            try:
                good.append((entry["Id"], self._prepare(
                    topic, entry.get("Message"), entry.get("Subject"), entry.get("MessageStructure"),
                    entry.get("MessageAttributes"), entry.get("MessageGroupId"), entry.get("MessageDeduplicationId"),
                    ctx.base_url)))
            except ServiceError as err:
                failed.append({"Id": entry["Id"], "Code": err.code, "Message": err.message, "SenderFault": True})
        results = await self._commit(topic, [m for _, m in good]) if good else []
        successful = []
        for (entry_id, _), result in zip(good, results, strict=True):
            successful.append({"Id": entry_id, **{k: v for k, v in result.items() if v is not None}})
        return {"Successful": successful, "Failed": failed}

    # -- in-process API for other services -------------------------------------------------------------
    async def publish_internal(self, topic_arn: str, message: str, subject: str | None = None,
                               message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
                               group_id: str | None = None, dedup_id: str | None = None) -> str:
        """Publish as a caller inside Conveyor would (S3 notifications...); returns the MessageId.

        Returns once the publish is durable, like the Publish operation.
        """
        topic = self.registry.topic(topic_arn)
        msg = self._prepare(topic, message, subject, None, message_attributes, group_id, dedup_id, self.base_url())
        result = (await self._commit(topic, [msg]))[0]
        message_id: str = result["MessageId"]
        return message_id

    async def publish_internal_many(self, topic_arn: str, messages: Sequence[str], subject: str | None = None) -> None:
        """Several publishes from inside Conveyor (a round of S3 events), made durable together: their queue
        writes are one SQS write. Returns once every one is durable; raises when one is refused (then none
        is published) or a write fails (the caller's retry may then deliver some twice: at least once)."""
        topic = self.registry.topic(topic_arn)
        base_url = self.base_url()
        msgs = [self._prepare(topic, message, subject, None, None, None, None, base_url) for message in messages]
        await self._commit(topic, msgs)
