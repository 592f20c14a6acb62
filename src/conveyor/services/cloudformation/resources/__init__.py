"""The resource types CloudFormation makes, by type name."""

from __future__ import annotations

from conveyor.services.cloudformation.resources import (
    apigateway,
    cloudfront,
    compute,
    dynamodb,
    elbv2,
    iam,
    lambda_,
    lambda_invocation,
    lambda_layers,
    lambda_versions,
    monitoring,
    route53,
    s3,
    sns,
    sqs,
    streams,
)
from conveyor.services.cloudformation.resources.base import ResourceType

TYPES: dict[str, ResourceType] = {kind.type_name: kind() for kind in (
    s3.Bucket, s3.BucketPolicy, sqs.Queue, sqs.QueuePolicy, sns.Topic, sns.Subscription, sns.TopicPolicy,
    iam.Role, iam.Policy, iam.ManagedPolicy, iam.InstanceProfile,
    lambda_.Function, lambda_.Permission, lambda_.EventSourceMapping, lambda_versions.Version, lambda_versions.Alias,
    lambda_invocation.Url, lambda_invocation.EventInvokeConfig, lambda_layers.LayerVersion,
    lambda_layers.LayerVersionPermission,
    monitoring.LogGroup, monitoring.ResourcePolicy, monitoring.Alarm, streams.Rule, streams.Stream,
    apigateway.Api, apigateway.Route, apigateway.Integration, apigateway.Stage,
    cloudfront.Distribution, cloudfront.OriginAccessControl,
    compute.LaunchTemplate, compute.AutoScalingGroup, compute.ScalingPolicy,
    route53.HostedZone, route53.RecordSet, route53.RecordSetGroup, route53.HealthCheck,
    dynamodb.Table,
    elbv2.LoadBalancer, elbv2.TargetGroup, elbv2.Listener, elbv2.ListenerRule)}
