"""The metrics AWS services publish on their own, with AWS's names, dimensions and units: one function per
counting point, which the counting service calls in one line with its `ports.metrics` (None when this
build has no CloudWatch). Each is a dictionary update in the sink (conveyor.ports.MetricsSink).

- AWS/SQS: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
  counts are one datapoint per queue a minute; the Approximate* gauges are sampled each minute.
- AWS/Lambda: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
  one datapoint per invocation, by FunctionName and for the whole account (no dimension); an event source
  mapping whose MetricsConfig names EventCount counts its events by EventSourceMappingUUID, a minute at a time.
- AWS/SNS: https://docs.aws.amazon.com/sns/latest/dg/sns-monitoring-using-cloudwatch.html
- AWS/S3 request metrics: https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html
  (BucketName and FilterId; published for a bucket once it has a metrics configuration).
- Conveyor/Pools: a worker pool's backlog per worker, the figure its scaling tracks.
"""

from __future__ import annotations

from conveyor.ports import MetricsSink

SQS = "AWS/SQS"
LAMBDA = "AWS/Lambda"
SNS = "AWS/SNS"
S3 = "AWS/S3"
POOLS = "Conveyor/Pools"


# -- SQS -----------------------------------------------------------------------------------------------------
def sqs_sent(sink: MetricsSink | None, region: str, queue: str, sizes: list[int]) -> None:
    """Messages sent to a queue together (a batch): counted at once, each size a sample of its own, all of
    them in one call (one per message was about 1 % of a SendMessageBatch's server time)."""
    if sink is not None and sizes:
        dims = (("QueueName", queue),)
        sink.tally(region, SQS, "NumberOfMessagesSent", dims, len(sizes))
        sink.sample_many(region, SQS, "SentMessageSize", dims, sizes, "Bytes")


def sqs_received(sink: MetricsSink | None, region: str, queue: str, count: int) -> None:
    if sink is not None:
        dims = (("QueueName", queue),)
        if count:
            sink.tally(region, SQS, "NumberOfMessagesReceived", dims, count)
        else:
            sink.tally(region, SQS, "NumberOfEmptyReceives", dims, 1)


def sqs_deleted(sink: MetricsSink | None, region: str, queue: str, count: int) -> None:
    if sink is not None and count:
        sink.tally(region, SQS, "NumberOfMessagesDeleted", (("QueueName", queue),), count)


def sqs_gauges(sink: MetricsSink, region: str, queue: str, visible: float, in_flight: float, delayed: float,
               oldest_age: float) -> None:
    dims = (("QueueName", queue),)
    sink.sample(region, SQS, "ApproximateNumberOfMessagesVisible", dims, visible, "Count")
    sink.sample(region, SQS, "ApproximateNumberOfMessagesNotVisible", dims, in_flight, "Count")
    sink.sample(region, SQS, "ApproximateNumberOfMessagesDelayed", dims, delayed, "Count")
    sink.sample(region, SQS, "ApproximateAgeOfOldestMessage", dims, oldest_age, "Seconds")


# -- Lambda --------------------------------------------------------------------------------------------------
def _both(function: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    return ((("FunctionName", function),), ())


def lambda_invoked(sink: MetricsSink | None, region: str, function: str, duration_ms: float, error: bool) -> None:
    if sink is None:
        return
    for dims in _both(function):
        sink.sample(region, LAMBDA, "Invocations", dims, 1, "Count")
        sink.sample(region, LAMBDA, "Errors", dims, 1 if error else 0, "Count")
        sink.sample(region, LAMBDA, "Duration", dims, round(duration_ms, 2), "Milliseconds")


def lambda_throttled(sink: MetricsSink | None, region: str, function: str) -> None:
    if sink is not None:
        for dims in _both(function):
            sink.sample(region, LAMBDA, "Throttles", dims, 1, "Count")


def lambda_concurrency(sink: MetricsSink | None, region: str, function: str, function_busy: int,
                       account_busy: int) -> None:
    if sink is not None:
        sink.sample(region, LAMBDA, "ConcurrentExecutions", (("FunctionName", function),), function_busy, "Count")
        sink.sample(region, LAMBDA, "ConcurrentExecutions", (), account_busy, "Count")


def lambda_mapping_events(sink: MetricsSink | None, region: str, mapping_uuid: str, name: str, count: int) -> None:
    """One of an event source mapping's EventCount metrics (PolledEventCount, FilteredOutEventCount, ...)."""
    if sink is not None and count:
        sink.tally(region, LAMBDA, name, (("EventSourceMappingUUID", mapping_uuid),), count)


# -- SNS -----------------------------------------------------------------------------------------------------
def sns_published(sink: MetricsSink | None, region: str, topic: str, size_bytes: int) -> None:
    if sink is not None:
        dims = (("TopicName", topic),)
        sink.sample(region, SNS, "NumberOfMessagesPublished", dims, 1, "Count")
        sink.sample(region, SNS, "PublishSize", dims, size_bytes, "Bytes")


def sns_delivered(sink: MetricsSink | None, region: str, topic: str, ok: bool) -> None:
    if sink is not None:
        name = "NumberOfNotificationsDelivered" if ok else "NumberOfNotificationsFailed"
        sink.sample(region, SNS, name, (("TopicName", topic),), 1, "Count")


# -- S3 request metrics ---------------------------------------------------------------------------------------
def s3_request(sink: MetricsSink | None, region: str, bucket: str, filter_id: str, method: str, status: int,
               bytes_in: int, bytes_out: int) -> None:
    if sink is None:
        return
    dims = (("BucketName", bucket), ("FilterId", filter_id))
    sink.sample(region, S3, "AllRequests", dims, 1, "Count")
    by_method = {"GET": "GetRequests", "PUT": "PutRequests", "DELETE": "DeleteRequests", "HEAD": "HeadRequests",
                 "POST": "PostRequests"}.get(method)
    if by_method is not None:
        sink.sample(region, S3, by_method, dims, 1, "Count")
    sink.sample(region, S3, "4xxErrors", dims, 1 if 400 <= status < 500 else 0, "Count")
    sink.sample(region, S3, "5xxErrors", dims, 1 if status >= 500 else 0, "Count")
    if bytes_in:
        sink.sample(region, S3, "BytesUploaded", dims, bytes_in, "Bytes")
    if bytes_out:
        sink.sample(region, S3, "BytesDownloaded", dims, bytes_out, "Bytes")


# -- worker pools --------------------------------------------------------------------------------------------
def pool_backlog(sink: MetricsSink | None, region: str, pool: str, visible: float, in_service: int) -> None:
    if sink is not None:
        dims = (("PoolName", pool),)
        sink.sample(region, POOLS, "BacklogPerWorker", dims, visible / max(1, in_service), "Count")
        sink.sample(region, POOLS, "InServiceWorkers", dims, in_service, "Count")


# -- Auto Scaling ------------------------------------------------------------------------------------------
AUTOSCALING = "AWS/AutoScaling"


def autoscaling_group(sink: MetricsSink | None, region: str, group: str, name: str, value: float) -> None:
    """A group metric (GroupInServiceInstances...), by AutoScalingGroupName, once EnableMetricsCollection
    turned it on: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html"""
    if sink is not None:
        sink.sample(region, AUTOSCALING, name, (("AutoScalingGroupName", group),), value)
