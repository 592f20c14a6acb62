"""The resource types CloudFormation makes, by type name."""

from __future__ import annotations

from conveyor.services.cloudformation.resources import iam, lambda_, monitoring, s3, sns, sqs
from conveyor.services.cloudformation.resources.base import ResourceType

TYPES: dict[str, ResourceType] = {kind.type_name: kind() for kind in (
    s3.Bucket, s3.BucketPolicy, sqs.Queue, sqs.QueuePolicy, sns.Topic, sns.Subscription, sns.TopicPolicy,
    iam.Role, iam.Policy, lambda_.Function, lambda_.Permission, lambda_.EventSourceMapping,
    monitoring.LogGroup, monitoring.Alarm)}
