"""An event source mapping's MetricsConfig: with EventCount, the mapping counts its events in CloudWatch
(AWS/Lambda, dimension EventSourceMappingUUID), https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
("Event source mapping metrics"):

    PolledEventCount      events read from the source
    FilteredOutEventCount events no filter matched (FilterCriteria)
    InvokedEventCount     events handed to the function, once per invocation that carried them (retries too)
    FailedInvokeEventCount events of invocations that failed (a function error, or a batch response that fails
                          the batch), once per failed invocation
    DeletedEventCount     SQS: messages Lambda deleted from the queue, once handled or filtered out
    DroppedEventCount     streams: records given up on (retries spent or too old)
    OnFailureDestinationDeliveredEventCount  streams: records whose batch description reached the on-failure
                          destination

ErrorCount and KafkaMetrics are for Kafka sources, which Conveyor does not serve: refused.
API_EventSourceMappingMetricsConfig.html: Metrics is a list of EventCount | ErrorCount | KafkaMetrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor import builtin_metrics
from conveyor.ports import Ports
from conveyor.services.lambda_.functions import invalid

EVENT_COUNT = "EventCount"


def checked(config: Mapping[str, Any] | None) -> list[str]:
    """MetricsConfig's Metrics, each one this server produces; {} or no Metrics turns them off."""
    metrics = list((config or {}).get("Metrics") or [])
    for name in metrics:
        if name != EVENT_COUNT:
            raise invalid(f"{name} metrics are only available for Amazon MSK and self-managed Apache Kafka event "
                          "sources.")
    return sorted(set(metrics))


def shown(metrics: list[str]) -> dict[str, Any]:
    return {"Metrics": list(metrics)}


class EventCounts:
    """Counts one mapping's events when its MetricsConfig asks for them (a no-op otherwise)."""

    def __init__(self, ports: Ports, source_arn: str, mapping_uuid: str, metrics: list[str]) -> None:
        self.ports = ports
        self.region = source_arn.split(":")[3]  # a mapping, its function and its source share a region
        self.uuid = mapping_uuid
        self.on = EVENT_COUNT in metrics

    def add(self, name: str, count: int) -> None:
        if self.on:
            builtin_metrics.lambda_mapping_events(self.ports.metrics, self.region, self.uuid, name, count)
