"""Handing a stream mapping's records to its function: batches, retries, bisection and discarded batches.

https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html and services-kinesis-errors.html:
- a batch that fails is retried, whole, until it succeeds, MaximumRetryAttempts is spent (-1: until the
  records expire) or a record is older than MaximumRecordAgeInSeconds; the shard waits meanwhile, so
  records stay in order;
- BisectBatchOnFunctionError splits a failing batch in two and retries each half; a split does not count
  towards the retry attempts;
- with ReportBatchItemFailures, the function names the records that failed and the batch is retried from
  the lowest of them (an invalid response fails the whole batch);
- a batch given up on is discarded: its description (KinesisBatchInfo, DDBStreamBatchInfo) goes to the on-failure destination,
  an SQS queue or SNS topic, and the shard moves on.
Between attempts the poller waits a moment of real time (doubling up to a second), not the server's
clock: AWS retries at once, and a test clock standing still must not stall a retry.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conveyor.clock import Clock
from conveyor.ports import Ports, StreamRecord
from conveyor.protocol.base import iso8601
from conveyor.services.lambda_ import mapping_metrics, stream_filters
from conveyor.services.lambda_.invoke import Invoker, Result
from conveyor.services.lambda_.registry import Registry

log = logging.getLogger(__name__)
MAX_PAYLOAD = 6 * 1024 * 1024 - 1024  # the synchronous invocation limit, less the envelope
FIRST_BACKOFF, MAX_BACKOFF = 0.05, 1.0


@dataclass
class Settings:
    """What a mapping's delivery needs to know (a snapshot: an update restarts the pollers)."""

    uuid: str
    function: str
    qualifier: str | None
    source_arn: str
    bisect: bool
    max_retries: int  # -1: until the records expire
    max_age: int  # seconds; -1: no limit
    on_failure: str | None
    report_failures: bool
    filters: list[dict[str, Any]] = field(default_factory=list)  # a record matching none is dropped
    metrics: list[str] = field(default_factory=list)  # MetricsConfig's Metrics


@dataclass
class Outcome:
    ok: bool
    result: Result | None = None
    retry_from: int = 0  # with ReportBatchItemFailures: the index of the first record to retry


class Delivery:
    def __init__(self, settings: Settings, registry: Registry, invoker: Invoker, ports: Ports, clock: Clock,
                 note: Callable[[bool], None], stopped: Callable[[], bool]) -> None:
        self.settings = settings
        self.registry = registry
        self.invoker = invoker
        self.ports = ports
        self.clock = clock
        self.note = note  # counts each invocation's result
        self.stopped = stopped
        self.counts = mapping_metrics.EventCounts(ports, settings.source_arn, settings.uuid, settings.metrics)

    # -- batches ---------------------------------------------------------------------------------------
    async def deliver(self, shard_id: str, records: list[StreamRecord]) -> None:
        """Hand the records over in invocations of at most 6 MB, each retried as the mapping says."""
        self.counts.add("PolledEventCount", len(records))
        if self.settings.filters:
            # Records no filter matches are dropped: never handed over, never retried, never sent to the
            # on-failure destination. https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
            polled = len(records)
            records = [r for r in records if self._kept(r)]
            self.counts.add("FilteredOutEventCount", polled - len(records))
        part: list[StreamRecord] = []
        size = 0
        for record in records:
            length = len(record.data) * 4 // 3 + len(record.partition_key) + 600
            if part and size + length > MAX_PAYLOAD:
                await self._until_settled(shard_id, part, 0)
                part, size = [], 0
            part.append(record)
            size += length
        if part:
            await self._until_settled(shard_id, part, 0)

    def _kept(self, record: StreamRecord) -> bool:
        if is_table_stream(self.settings.source_arn):
            return stream_filters.kept(self.settings.filters, json.loads(record.data))
        # Kinesis: patterns name `data`, the record's data read as JSON where the pattern is an object, and the
        # record's other fields beside it (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis-filtering.html).
        try:
            text: str | None = record.data.decode()
        except UnicodeDecodeError:
            text = None  # matches no pattern on `data`
        view = {"data": text, "partitionKey": record.partition_key, "sequenceNumber": record.sequence_number,
                "approximateArrivalTimestamp": record.arrival, "kinesisSchemaVersion": "1.0",
                "eventSource": "aws:kinesis", "eventSourceARN": self.settings.source_arn}
        return stream_filters.kept_decoding(self.settings.filters, view, "data")

    async def _until_settled(self, shard_id: str, batch: list[StreamRecord], retries: int) -> None:
        settings = self.settings
        backoff = FIRST_BACKOFF
        attempts = 0
        while batch and not self.stopped():
            if settings.max_age >= 0:
                cutoff = self.clock.now() - settings.max_age
                expired = [r for r in batch if r.arrival < cutoff]
                if expired:
                    await self._discard(shard_id, expired, "RecordAgeExceeded", None, attempts)
                    batch = [r for r in batch if r.arrival >= cutoff]
                    if not batch:
                        return
            self.counts.add("InvokedEventCount", len(batch))
            outcome = await self._invoke(shard_id, batch)
            attempts += 1
            self.note(outcome.ok)
            if outcome.ok:
                return
            self.counts.add("FailedInvokeEventCount", len(batch))
            if settings.bisect and len(batch) > 1 and outcome.retry_from == 0:
                half = len(batch) // 2
                await self._until_settled(shard_id, batch[:half], retries)
                await self._until_settled(shard_id, batch[half:], retries)
                return
            batch = batch[outcome.retry_from:]
            if settings.max_retries >= 0 and retries >= settings.max_retries:
                await self._discard(shard_id, batch, "RetryAttemptsExhausted", outcome.result, attempts)
                return
            retries += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _invoke(self, shard_id: str, batch: list[StreamRecord]) -> Outcome:
        fn = self.registry.functions.get(self.settings.function)
        if fn is None:
            return Outcome(False)
        config = fn.resolve(self.settings.qualifier)
        region = self.settings.source_arn.split(":")[3]
        payload = json.dumps({"Records": [self._record(shard_id, r, config["Role"], region) for r in batch]})
        try:
            result = await self.invoker.invoke(fn, self.settings.qualifier, payload.encode(), wait=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. the role can no longer be assumed
            log.warning("stream mapping %s: invoking %s failed: %s", self.settings.uuid, fn.name, exc)
            return Outcome(False)
        if result.function_error is not None:
            return Outcome(False, result)
        if self.settings.report_failures:
            first = _first_failure(result.payload, [r.sequence_number for r in batch])
            if first is None:
                return Outcome(False, result)
            if first < len(batch):
                return Outcome(False, result, first)
        return Outcome(True, result)

    def _record(self, shard_id: str, record: StreamRecord, role: str, region: str) -> dict[str, Any]:
        if is_table_stream(self.settings.source_arn):
            # The DynamoDB event's record, as the table's stream reader built it.
            # https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
            event: dict[str, Any] = json.loads(record.data)
            event["eventSourceARN"] = self.settings.source_arn
            return event
        return {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": record.partition_key,
                            "sequenceNumber": record.sequence_number,
                            "data": base64.b64encode(record.data).decode(),
                            "approximateArrivalTimestamp": record.arrival},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": f"{shard_id}:{record.sequence_number}", "eventName": "aws:kinesis:record",
                "invokeIdentityArn": role, "awsRegion": region, "eventSourceARN": self.settings.source_arn}

    # -- discarded batches -----------------------------------------------------------------------------
    async def _discard(self, shard_id: str, batch: list[StreamRecord], condition: str, result: Result | None,
                       attempts: int) -> None:
        """The on-failure destination's record of a batch given up on.
        https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html"""
        target = self.settings.on_failure
        log.warning("stream mapping %s discards %d records of %s (%s)", self.settings.uuid, len(batch), shard_id,
                    condition)
        self.counts.add("DroppedEventCount", len(batch))
        if not target:
            return
        fn = self.registry.functions.get(self.settings.function)
        function_arn = fn.arn if fn is not None else self.registry.arn(self.settings.function)
        info = "DDBStreamBatchInfo" if is_table_stream(self.settings.source_arn) else "KinesisBatchInfo"
        doc: dict[str, Any] = {
            "requestContext": {"requestId": result.request_id if result else str(uuid.uuid4()),
                               "functionArn": f"{function_arn}:{self.settings.qualifier or '$LATEST'}",
                               "condition": condition, "approximateInvokeCount": attempts},
            "version": "1.0",
            "timestamp": iso8601(self.clock.now()),
            # DDBStreamBatchInfo for a table's stream, with the same fields.
            # https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
            info: {"shardId": shard_id, "startSequenceNumber": batch[0].sequence_number,
                   "endSequenceNumber": batch[-1].sequence_number,
                   "approximateArrivalOfFirstRecord": iso8601(batch[0].arrival),
                   "approximateArrivalOfLastRecord": iso8601(batch[-1].arrival),
                   "batchSize": len(batch), "streamArn": self.settings.source_arn},
        }
        if result is not None:
            response: dict[str, Any] = {"statusCode": 200, "executedVersion": result.version}
            if result.function_error:
                response["functionError"] = result.function_error
            doc["responseContext"] = response
        if await _send(self.ports, target, json.dumps(doc)):
            self.counts.add("OnFailureDestinationDeliveredEventCount", len(batch))


def is_table_stream(arn: str) -> bool:
    """A DynamoDB stream's ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/T/stream/LABEL), not a Kinesis one."""
    return arn.split(":")[2:3] == ["dynamodb"] and "/stream/" in arn


async def _send(ports: Ports, arn: str, body: str) -> bool:
    """Whether the record reached the destination."""
    kind = arn.split(":")[2] if arn.count(":") >= 5 else ""
    try:
        if kind == "sqs" and ports.queues is not None:
            await ports.queues.send(arn, body)
            return True
        if kind == "sns" and ports.topics is not None:
            await ports.topics.publish_internal(arn, body)
            return True
    except Exception as exc:  # a missing destination drops the record, as on AWS
        log.warning("cannot send a discarded batch to %s: %s", arn, exc)
    return False


def _first_failure(payload: bytes, sequence_numbers: list[str]) -> int | None:
    """The index of the lowest record the function reports failed (len when none); None when the
    response is invalid, which fails the whole batch.
    https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html"""
    try:
        response = json.loads(payload) if payload.strip() else None
    except ValueError:
        return None
    if response is None or response == "":
        return len(sequence_numbers)
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if not failures:
        return len(sequence_numbers)
    if not isinstance(failures, list):
        return None
    where = {seq: i for i, seq in enumerate(sequence_numbers)}
    found = []
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or ident not in where:
            return None
        found.append(where[ident])
    return min(found)
