"""Publish, PublishBatch and the in-process publish API (S3 notifications, function destinations).

Mixed into SnsService (api.py), whose topics, subscriptions, dispatcher and database it uses.
https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from conveyor import builtin_metrics, ids
from conveyor.services.sns import publish
from conveyor.services.sns.topics import Topic, invalid
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.clock import Clock
    from conveyor.services.sns.delivery import Dispatcher
    from conveyor.services.sns.subscriptions import Subscription

log = logging.getLogger(__name__)
DEDUP_WINDOW = 300.0  # seconds a FIFO topic remembers a deduplication id


class Publishing:
    topics: dict[str, Topic]
    dedup: dict[tuple[str, str], tuple[float, str, str | None]]
    dispatcher: Dispatcher
    clock: Clock

    if TYPE_CHECKING:
        def _topic(self, arn: str | None) -> Topic: ...
        def _topic_subs(self, topic_arn: str) -> list[Subscription]: ...
        async def _write(self, fn: Any) -> Any: ...
        def _base(self) -> str: ...

    # -- publishing --------------------------------------------------------------------------------------
    def _resolve_target(self, params: dict[str, Any]) -> Topic:
        given = [k for k in ("TopicArn", "TargetArn", "PhoneNumber") if params.get(k)]
        if not given:
            raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
        if len(given) > 1:
            raise invalid("TopicArn or TargetArn Reason: Only one of TopicArn, TargetArn or PhoneNumber "
                          "may be specified")
        if given[0] == "PhoneNumber":
            raise invalid("PhoneNumber Reason: Conveyor does not send SMS messages")
        arn = params[given[0]]
        if given[0] == "TargetArn" and ":endpoint/" in arn:
            raise invalid("TargetArn Reason: Conveyor does not deliver to mobile push endpoints")
        return self._topic(arn)

    def _prepare(self, topic: Topic, entry: dict[str, Any], base_url: str) -> dict[str, Any]:
        """Validate one publish and build its outbox message (not yet durable)."""
        message = entry.get("Message")
        structure = publish.check_message(message, entry.get("MessageStructure"))
        publish.check_subject(entry.get("Subject"))
        attrs, attrs_size = publish.check_attributes(entry.get("MessageAttributes"))
        publish.check_size(message, attrs_size)
        group, dedup = publish.fifo_ids(topic, structure["default"] if structure else message,
                                        entry.get("MessageGroupId"), entry.get("MessageDeduplicationId"))
        msg: dict[str, Any] = {"id": ids.uuid4(), "topic": topic.arn, "message": message,
                               "ts": self.clock.now(), "base": base_url, "sigv": topic.signature_version}
        if structure:
            msg["structure"] = structure
            msg["message"] = structure["default"]
        if entry.get("Subject") is not None:
            msg["subject"] = entry["Subject"]
        if attrs:
            msg["attrs"] = attrs
        if topic.fifo:
            msg.update(fifo=True, group=group, dedup=dedup)
        return msg

    async def _commit(self, topic: Topic, msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Make publishes durable and hand them to delivery; returns once they are.

        Standard topics write their SQS subscriptions' messages straight into the SQS store before
        answering: the publish is acknowledged once every matching queue holds it, in one SQS group
        commit, instead of three commits (outbox row, queue messages, outbox delete). Only what is
        delivered later (HTTP, functions, SQS writes that failed) goes through the outbox. FIFO
        topics use the outbox for everything: their sequence numbers and deduplication window are
        SNS state that must be durable too, and one ordered delivery task per topic keeps groups in
        order.
        """
        now = self.clock.now()
        direct: list[tuple[dict[str, Any], list[Subscription]]] = []
        later: dict[str, tuple[dict[str, Any], list[str]]] = {}
        dedup_rows: list[tuple[Any, ...]] = []
        results: list[dict[str, Any]] = []
        subs = self._topic_subs(topic.arn)
        for msg in msgs:
            if topic.fifo:
                key = (topic.arn, msg["dedup"])
                hit = self.dedup.get(key)
                if hit is not None and hit[0] > now:
                    results.append({"MessageId": hit[1], "SequenceNumber": hit[2]})
                    continue
                topic.seq += 1
                msg["seq"] = f"{topic.seq:020d}"
                self.dedup[key] = (now + DEDUP_WINDOW, msg["id"], msg["seq"])
                dedup_rows.append((topic.arn, msg["dedup"], now + DEDUP_WINDOW, msg["id"], msg["seq"]))
            targets = [s for s in subs if s.confirmed and s.wants(self._text_for(msg, s.protocol), msg.get("attrs"))]
            queued = [s for s in targets if s.protocol == "sqs" and not topic.fifo]
            if queued:
                direct.append((msg, queued))
            rest = [s.arn for s in targets if s.protocol != "sqs" or topic.fifo]
            if rest:
                later[msg["id"]] = (msg, rest)
            results.append({"MessageId": msg["id"], "SequenceNumber": msg.get("seq")})
            builtin_metrics.sns_published(self.ports.metrics, topic.arn.split(":")[3], topic.name,
                                          len(str(msg["message"]).encode()))
        if direct:
            for index, sub_arn in await self.dispatcher.to_sqs(direct):
                msg = direct[index][0]
                later.setdefault(msg["id"], (msg, []))[1].append(sub_arn)
        if later or dedup_rows:
            await self._write_outbox(topic, list(later.values()), dedup_rows, now)
        return results

    async def _write_outbox(self, topic: Topic, rows: list[tuple[dict[str, Any], list[str]]],
                            dedup_rows: list[tuple[Any, ...]], now: float) -> None:
        seq = topic.seq

        def run(c: sqlite3.Connection) -> list[int]:
            ids = []
            for msg, targets in rows:
                cur = c.execute("INSERT INTO outbox (message, targets) VALUES (?, ?)",
                                (json.dumps(msg), json.dumps(targets)))
                ids.append(int(cur.lastrowid or 0))
            if dedup_rows:
                c.execute("DELETE FROM dedup WHERE topic_arn = ? AND expires <= ?", (topic.arn, now))
                c.executemany("INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?, ?)", dedup_rows)
                c.execute("UPDATE topics SET seq = ? WHERE arn = ?", (seq, topic.arn))
            return ids

        try:
            ids = await self._write(run)
        except Exception:
            for row in dedup_rows:
                self.dedup.pop((row[0], row[1]), None)
            raise
        for row_id, (msg, targets) in zip(ids, rows, strict=True):
            self.dispatcher.schedule(row_id, msg, targets)

    @staticmethod
    def _text_for(msg: dict[str, Any], protocol: str) -> str:
        structure = msg.get("structure")
        return str(structure.get(protocol, structure["default"])) if structure else msg["message"]

    async def Publish(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._resolve_target(params)
        msg = self._prepare(topic, params, ctx.base_url)
        result = (await self._commit(topic, [msg]))[0]
        return {k: v for k, v in result.items() if v is not None}

    async def PublishBatch(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        entries = params.get("PublishBatchRequestEntries") or []
        if not entries:
            raise ServiceError("EmptyBatchRequest", "The batch request doesn't contain any entries.")
        if len(entries) > 10:
            raise ServiceError("TooManyEntriesInBatchRequest",
                               "The batch request contains more entries than permissible.")
        ids = [e["Id"] for e in entries]
        if len(set(ids)) != len(ids):
            raise ServiceError("BatchEntryIdsNotDistinct",
                               "Two or more batch entries in the request have the same Id.")
        total = sum(len((e.get("Message") or "").encode()) for e in entries)
        if total > publish.MAX_SIZE:
            raise ServiceError("BatchRequestTooLong", "The length of all the messages put together is more "
                               f"than the limit. Length: {total}, Limit: {publish.MAX_SIZE}")
        failed: list[dict[str, Any]] = []
        good: list[tuple[str, dict[str, Any]]] = []
        for entry in entries:
            try:
                good.append((entry["Id"], self._prepare(topic, entry, ctx.base_url)))
            except ServiceError as err:
                failed.append({"Id": entry["Id"], "Code": err.code, "Message": err.message, "SenderFault": True})
        results = await self._commit(topic, [m for _, m in good]) if good else []
        successful = []
        for (entry_id, _), result in zip(good, results, strict=True):
            successful.append({"Id": entry_id, **{k: v for k, v in result.items() if v is not None}})
        return {"Successful": successful, "Failed": failed}

    # -- in-process API for other services -------------------------------------------------------------
    async def publish_internal(self, topic_arn: str, message: str, subject: str | None = None,
                               message_attributes: dict[str, dict[str, Any]] | None = None,
                               group_id: str | None = None, dedup_id: str | None = None) -> str:
        """Publish as a caller inside Conveyor would (S3 notifications...); returns the MessageId.

        Returns once the publish is durable, like the Publish operation.
        """
        topic = self._topic(topic_arn)
        entry: dict[str, Any] = {"Message": message, "Subject": subject, "MessageAttributes": message_attributes,
                                 "MessageGroupId": group_id, "MessageDeduplicationId": dedup_id}
        msg = self._prepare(topic, entry, self._base())
        return (await self._commit(topic, [msg]))[0]["MessageId"]

    async def deliver_from_s3(self, topic_arn: str, body: str) -> None:
        """S3 event notifications (services/s3/api.py calls this for TopicConfigurations)."""
        if topic_arn not in self.topics:
            log.warning("S3 event for missing topic %s dropped", topic_arn)
            return  # AWS drops events for a topic deleted after configuration
        await self.publish_internal(topic_arn, body, subject="Amazon S3 Notification")
