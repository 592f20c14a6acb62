"""How the resources of different services are wired together, as each service knows its own part:
S3 notifications (bucket -> topic, queue or function), SNS subscriptions (topic -> queue or function),
SQS redrive policies (queue -> dead-letter queue), Lambda's event source mappings (queue -> function),
CloudWatch alarms (metric's resource -> alarm -> action topic). The dashboard draws the pipeline from
them (conveyor.dashboard.graph); each service answers `Service.links()` from its live state."""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of link, in the order data flows through the pipeline.
NOTIFICATION = "notification"
SUBSCRIPTION = "subscription"
REDRIVE = "redrive"
MAPPING = "mapping"
CONSUMER = "consumer"  # a worker pool reading a queue
OUTPUT = "output"  # where a consumer writes (a bucket's prefix)
WATCHES = "watches"  # an alarm watching a resource's metric
NOTIFIES = "notifies"  # an alarm's action


@dataclass(frozen=True)
class Link:
    source: str  # an ARN (or `pool:NAME`, `arn:aws:s3:::BUCKET/PREFIX`)
    target: str
    kind: str
    label: str = ""  # what the link says about itself: a prefix filter, "after 3 receives"...
