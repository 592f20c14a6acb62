"""Applying a pipeline to a running Conveyor, idempotently, through the same APIs a user calls.

Everything goes through boto3 against the server's endpoint (and /_conveyor/pools for worker pools),
so applying is exactly what a user could do by hand. Only what is missing is created; a resource that
exists with different settings is reported as drift and left alone.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from conveyor.control import ControlClient, ControlError, Credentials
from conveyor.pipeline import http_api, roles, site
from conveyor.pipeline.spec import (
    BUILTIN_MOVER,
    BUILTIN_PRESIGN,
    COMPARISONS,
    PRESIGN_HANDLER,
    Alarm,
    Bucket,
    Function,
    Pipeline,
    Pool,
    Queue,
    Topic,
)
from conveyor.pipeline.tables import apply_table
from conveyor.runtime import mover, presign
from conveyor.runtime.pool import MOVER

if TYPE_CHECKING:
    from mypy_boto3_lambda.literals import RuntimeType
    from mypy_boto3_lambda.type_defs import EventSourceMappingConfigurationTypeDef
    from mypy_boto3_s3.literals import BucketLocationConstraintType, EventType
    from mypy_boto3_s3.type_defs import (
        FilterRuleTypeDef,
        LambdaFunctionConfigurationTypeDef,
        NotificationConfigurationTypeDef,
        QueueConfigurationTypeDef,
        TopicConfigurationTypeDef,
    )


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should know (nothing is wrong with the file)
    region: str = ""
    endpoints: list[str] = field(default_factory=list)  # "POST http://.../presign": what a browser calls
    site: str = ""  # the `site:` section's URL, through its distribution

    def lines(self) -> list[str]:
        where = f" in {self.region}" if self.region else ""
        endpoints = [f"endpoint: {item}" for item in self.endpoints] + ([f"site: {self.site}"] if self.site else [])
        if not self.created and not self.drift:
            return [f"pipeline up to date{where}: nothing to change", *endpoints]
        return ([f"applying in {self.region}"] if self.region else []) + [
            f"created {item}" for item in self.created] + [f"drift: {item}" for item in self.drift] + [
            f"note: {item}" for item in self.notes] + endpoints


class Applier:
    def __init__(self, endpoint: str, access_key: str = "test", secret_key: str = "test",
                 region: str = "us-east-1", log: Callable[[str], None] = lambda line: None) -> None:
        """`region`: where to create a pipeline whose file names no `region:`."""
        self.endpoint = endpoint.rstrip("/")
        self.access_key, self.secret_key = access_key, secret_key
        self.region = region
        self._connect(region)
        # Conveyor's own API is signed like any AWS call; its region is only the signature's.
        self.control = ControlClient(self.endpoint, Credentials(access_key, secret_key, region))
        self.report = Report()
        self.log = log
        self.queue_urls: dict[str, str] = {}
        self.queue_arns: dict[str, str] = {}
        self.topic_arns: dict[str, str] = {}
        self.function_arns: dict[str, str] = {}
        self.new_functions: set[str] = set()  # created by this apply: no resource policy to look at yet
        self.buckets: list[str] = []  # the pipeline's: its roles may use them
        self.new_buckets: set[str] = set()  # created by this apply: no settings to look at yet
        self.api_endpoint: str | None = None  # the pipeline's HTTP API, once applied

    def created(self, what: str) -> None:
        self.report.created.append(what)
        self.log(f"created {what}")

    def drifted(self, what: str) -> None:
        self.report.drift.append(what)
        self.log(f"drift: {what}")

    def _connect(self, region: str) -> None:
        options: dict[str, Any] = dict(endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                                       aws_secret_access_key=self.secret_key, region_name=region,
                                       config=BotoConfig(retries={"max_attempts": 3}))
        self.sqs = boto3.client("sqs", **options)
        self.sns = boto3.client("sns", **options)
        self.s3 = boto3.client("s3", **options)
        self.lam = boto3.client("lambda", **options)
        self.cloudwatch = boto3.client("cloudwatch", **options)
        self.options = options  # for the clients made only when a pipeline needs them
        self.gateway = boto3.client("apigatewayv2", **options)
        self.cloudfront = boto3.client("cloudfront", **options)
        self.roles = roles.Roles(boto3.client("iam", **options), self.created, self.drifted)

    def apply(self, pipeline: Pipeline) -> Report:
        if pipeline.region and pipeline.region != self.region:
            self.region = pipeline.region
            self._connect(self.region)
        self.report.region = self.region
        self.buckets = [b.name for b in pipeline.buckets]
        if pipeline.tables:  # first: functions and workers may write to them as they start
            dynamodb = boto3.client("dynamodb", **self.options)
            try:
                for table in pipeline.tables:
                    apply_table(dynamodb, table, self.created, self.drifted)
            finally:
                dynamodb.close()
        # Dead-letter queues before the queues that point at them.
        for queue in sorted(pipeline.queues, key=lambda q: q.dead_letter_queue is not None):
            self.queue(queue)
        for function in pipeline.functions:
            self.function(function, pipeline.base_dir)
        if pipeline.api is not None and pipeline.api.presign is not None:
            spec = pipeline.api.presign
            self.function(Function(spec.function, PRESIGN_HANDLER, BUILTIN_PRESIGN, timeout=10,
                                   env=spec.environment(), role=spec.role), pipeline.base_dir)
        for topic in pipeline.topics:
            self.topic(topic)
        for bucket in pipeline.buckets:
            self.bucket(bucket)
        for pool in pipeline.pools:
            self.pool(pool, pipeline.base_dir)
        for alarm in pipeline.alarms:
            self.alarm(alarm)
        if pipeline.api is not None:
            http_api.HttpApi(self).apply(pipeline.api)
        if pipeline.site is not None:  # last: the page's config.json names the API
            self.report.site = site.SiteApplier(self, self.cloudfront).apply(pipeline.site, pipeline.base_dir,
                                                                              self.api_endpoint)
        return self.report

    # -- alarms ---------------------------------------------------------------------------------
    def alarm(self, alarm: Alarm) -> None:
        """PutMetricAlarm when the alarm is missing or differs (it replaces the whole configuration, and
        keeps the alarm's state)."""
        topic = self.topic_arns[alarm.topic]
        wanted: dict[str, Any] = {
            "AlarmName": alarm.name, "Namespace": alarm.namespace, "MetricName": alarm.metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(alarm.dimensions.items())],
            "Statistic": alarm.statistic, "Period": alarm.period, "EvaluationPeriods": alarm.evaluation_periods,
            "Threshold": alarm.threshold, "ComparisonOperator": COMPARISONS[alarm.comparison],
            "TreatMissingData": alarm.treat_missing_data, "AlarmActions": [topic], "OKActions": [topic]}
        found = self.cloudwatch.describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"]
        if found:
            have = found[0]
            if all(have.get(k) == v for k, v in wanted.items()):
                return
        self.cloudwatch.put_metric_alarm(**wanted)
        if found:
            self.drifted(f"alarm {alarm.name}: updated to the pipeline's settings")
        else:
            self.created(f"alarm {alarm.name}")

    # -- queues ---------------------------------------------------------------------------------
    def queue(self, queue: Queue) -> None:
        wanted = queue.attributes()
        if queue.dead_letter_queue:
            wanted["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": self.queue_arns[queue.dead_letter_queue],
                                                  "maxReceiveCount": queue.max_receive_count})
        # Existence is checked by listing, not by a failing call: `conveyor status` shows failed calls as
        # recent errors, and applying a pipeline is not one.
        listed = self.sqs.list_queues(QueueNamePrefix=queue.name).get("QueueUrls", [])
        url = next((u for u in listed if u.rsplit("/", 1)[-1] == queue.name), None)
        if url is None:
            url = self.sqs.create_queue(QueueName=queue.name, Attributes=wanted)["QueueUrl"]
            self.created(f"queue {queue.name}")
        actual = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for name, value in wanted.items():
            have = actual.get(name)
            if name == "RedrivePolicy" and have:
                same = json.loads(have) == json.loads(value)
            else:
                same = have == value
            if not same:
                self.drifted(f"queue {queue.name}: {name} is {have!r}, the pipeline says {value!r}")
        self.queue_urls[queue.name] = url
        self.queue_arns[queue.name] = actual["QueueArn"]

    # -- topics ---------------------------------------------------------------------------------
    def topic(self, topic: Topic) -> None:
        existing = {t["TopicArn"].rsplit(":", 1)[1]: t["TopicArn"]
                    for page in self.sns.get_paginator("list_topics").paginate() for t in page.get("Topics", [])}
        arn = existing.get(topic.name)
        if arn is None:
            arn = self.sns.create_topic(Name=topic.name)["TopicArn"]
            self.created(f"topic {topic.name}")
        self.topic_arns[topic.name] = arn
        subscribed = {(s["Protocol"], s["Endpoint"])
                      for page in self.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
                      for s in page.get("Subscriptions", [])}
        for sub in topic.subscriptions:
            protocol, endpoint = (("sqs", self.queue_arns[sub.queue]) if sub.queue
                                  else ("lambda", self.function_arns[sub.function or ""]))
            if sub.queue:  # also for a subscription made before pipelines wrote this policy
                self.let_sns_deliver(topic.name, sub.queue)
            if (protocol, endpoint) in subscribed:
                continue
            if sub.function:
                self.grant(sub.function, "sns.amazonaws.com", arn)
            # RawMessageDelivery exists for SQS (and HTTP) subscriptions only; Lambda refuses it.
            attributes = {"RawMessageDelivery": "true" if sub.raw else "false"} if sub.queue else {}
            if sub.filter_policy:
                attributes["FilterPolicy"] = json.dumps(sub.filter_policy)
            self.sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint, Attributes=attributes,
                               ReturnSubscriptionArn=True)
            self.created(f"subscription {topic.name} -> {sub.queue or sub.function}")

    # -- functions ------------------------------------------------------------------------------
    def _note_requirements(self, what: str, requirements: list[str]) -> None:
        """Here a function's or a worker's code runs with the server's Python (its `requirements:` are a layer,
        or installed when a worker boots, on AWS only): say which of them this Python lacks, so the code does
        not fail on its first import."""
        for requirement in requirements:
            name = re.split(r"[\[<>=!~ ,]", requirement, maxsplit=1)[0]
            try:
                importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                note = (f"{what} requires {requirement}, which this Python lacks; its code runs "
                        f"with the server's Python here: pip install '{requirement}'")
                self.report.notes.append(note)
                self.log(f"note: {note}")

    def function(self, function: Function, base_dir: Path) -> None:
        existing = {f["FunctionName"]: f for page in self.lam.get_paginator("list_functions").paginate()
                    for f in page.get("Functions", [])}
        config = existing.get(function.name)
        if config is not None:
            function_arn = config["FunctionArn"]
            if config.get("Handler") != function.handler:
                self.drifted(f"function {function.name}: handler is {config.get('Handler')!r}, "
                             f"the pipeline says {function.handler!r}")
            variables = (config.get("Environment") or {}).get("Variables") or {}
            if variables != function.env:
                self.drifted(f"function {function.name}: its environment is {variables}, the pipeline says "
                             f"{function.env}")
        else:
            self._note_requirements(f"function {function.name}", function.requirements)
            managed = [roles.BASIC_EXECUTION] + ([roles.SQS_EXECUTION] if function.queue else [])
            role = self.roles.ensure(function.role or f"{function.name}-role", roles.LAMBDA, managed,
                                     self._function_policy(function))
            # The pipeline file names the runtime; Lambda itself refuses one it does not know.
            function_arn = self.lam.create_function(
                FunctionName=function.name, Runtime=cast("RuntimeType", function.runtime), Handler=function.handler,
                Role=role, Code={"ZipFile": zip_code(function.code, base_dir)}, Timeout=function.timeout,
                MemorySize=function.memory, Environment={"Variables": function.env},
            )["FunctionArn"]
            self.created(f"function {function.name}")
            self.new_functions.add(function.name)
        self.function_arns[function.name] = function_arn
        if function.queue is None:
            return
        queue_arn = self.queue_arns[function.queue]
        mappings = self.lam.list_event_source_mappings(FunctionName=function.name, EventSourceArn=queue_arn)
        for mapping in mappings.get("EventSourceMappings", []):
            self._mapping_drift(function, mapping)
            return
        options: dict[str, Any] = {"BatchSize": function.batch_size,
                                   "MaximumBatchingWindowInSeconds": function.batching_window}
        if function.report_batch_item_failures:
            options["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        if function.maximum_concurrency:
            options["ScalingConfig"] = {"MaximumConcurrency": function.maximum_concurrency}
        self.lam.create_event_source_mapping(FunctionName=function.name, EventSourceArn=queue_arn, **options)
        self.created(f"event source mapping {function.queue} -> {function.name}")

    def _function_policy(self, function: Function) -> dict[str, Any] | None:
        """The file's `policy:`; else the built-in code's least privilege, and the pipeline's buckets for the
        user's own code."""
        if function.policy is not None:
            return roles.statements_policy(function.policy)
        env = function.env
        if function.code == BUILTIN_PRESIGN:
            return roles.presign_policy(env.get("BUCKET", ""), env.get("PREFIX", "uploads/"))
        if function.code == BUILTIN_MOVER:
            return roles.mover_policy(self.buckets, env.get("SOURCE_PREFIX", "uploads/"),
                                      env.get("DEST_PREFIX", "processed/"))
        return roles.access_policy(self.buckets)

    def grant(self, function: str, principal: str, source_arn: str) -> None:
        """Let S3 (for a bucket) or SNS (for a topic) invoke the function, as an AWS::Lambda::Permission
        does: https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html"""
        sid = "conveyor-" + hashlib.sha256(f"{principal} {source_arn}".encode()).hexdigest()[:16]
        if function not in self.new_functions:
            try:
                policy = json.loads(self.lam.get_policy(FunctionName=function)["Policy"])
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                policy = {}
            if any(s.get("Sid") == sid for s in policy.get("Statement", [])):
                return
        self.lam.add_permission(FunctionName=function, StatementId=sid, Action="lambda:InvokeFunction",
                                Principal=principal, SourceArn=source_arn)
        self.created(f"permission for {principal.split('.')[0].upper()} ({source_arn}) to invoke {function}")

    def _mapping_drift(self, function: Function, mapping: EventSourceMappingConfigurationTypeDef) -> None:
        have = {"batch_size": mapping.get("BatchSize"),
                "batching_window": mapping.get("MaximumBatchingWindowInSeconds", 0),
                "maximum_concurrency": (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency"),
                "report_batch_item_failures": "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])}
        for key, value in have.items():
            wanted = getattr(function, key)
            if value != wanted:
                self.drifted(f"event source mapping {function.queue} -> {function.name}: {key} is {value!r}, "
                             f"the pipeline says {wanted!r}")

    # -- buckets --------------------------------------------------------------------------------
    def bucket(self, bucket: Bucket) -> None:
        existing = {b["Name"]: b.get("BucketRegion") for b in self.s3.list_buckets().get("Buckets", [])}
        if bucket.name not in existing:
            # Outside us-east-1 a bucket names its region, as `aws s3 mb` does for you.
            if self.region == "us-east-1":
                self.s3.create_bucket(Bucket=bucket.name)
            else:
                self.s3.create_bucket(Bucket=bucket.name, CreateBucketConfiguration={
                    "LocationConstraint": cast("BucketLocationConstraintType", self.region)})
            self.created(f"bucket {bucket.name}")
            self.new_buckets.add(bucket.name)
        elif existing[bucket.name] not in (None, self.region):
            self.drifted(f"bucket {bucket.name} is in {existing[bucket.name]}, the pipeline's region is {self.region}")
        if bucket.cors is not None:
            self._bucket_cors(bucket)
        # Folder markers first: notifications configured afterwards never see them.
        for prefix in bucket.prefixes:
            listing = self.s3.list_objects_v2(Bucket=bucket.name, Prefix=prefix, MaxKeys=1)
            if not listing.get("KeyCount"):
                self.s3.put_object(Bucket=bucket.name, Key=prefix, Body=b"")
                self.created(f"prefix s3://{bucket.name}/{prefix}")
        if not bucket.notifications:
            return
        wanted = self._notification_config(bucket)
        current = self.s3.get_bucket_notification_configuration(Bucket=bucket.name)
        if not (current.get("QueueConfigurations") or current.get("TopicConfigurations")
                or current.get("LambdaFunctionConfigurations")):
            for name in sorted({n.function for n in bucket.notifications if n.function}):
                self.grant(name, "s3.amazonaws.com", f"arn:aws:s3:::{bucket.name}")
            for queue in sorted({n.queue for n in bucket.notifications if n.queue}):
                self.let_s3_deliver(bucket.name, queue=queue)
            for topic in sorted({n.topic for n in bucket.notifications if n.topic}):
                self.let_s3_deliver(bucket.name, topic=topic)
            self.s3.put_bucket_notification_configuration(Bucket=bucket.name, NotificationConfiguration=wanted)
            self.created(f"notifications on {bucket.name}")
        elif _destinations(current) != _destinations(wanted):
            self.drifted(f"bucket {bucket.name}: notification configuration differs from the pipeline")

    def _bucket_cors(self, bucket: Bucket) -> None:
        """The bucket's CORS rule (a browser on another origin uploads to it with a presigned POST), put when the
        bucket has none: https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html"""
        wanted = s3_cors_rule(bucket.cors or {})
        try:
            rules = [] if bucket.name in self.new_buckets else self.s3.get_bucket_cors(Bucket=bucket.name)["CORSRules"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchCORSConfiguration":
                raise
            rules = []
        if not rules:
            self.s3.put_bucket_cors(Bucket=bucket.name, CORSConfiguration={"CORSRules": [cast(Any, wanted)]})
            self.created(f"CORS rule on {bucket.name}")
        elif [{k: v for k, v in rule.items() if k != "ID"} for rule in rules] != [wanted]:
            self.drifted(f"bucket {bucket.name}: its CORS rules differ from the pipeline's")

    def let_sns_deliver(self, topic: str, queue: str) -> None:
        """Add to the queue's policy the statement SNS needs to deliver the topic's messages (SNS checks it at
        every delivery, under --iam report|enforce here), as an AWS::SQS::QueuePolicy would:
        https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html"""
        topic_arn, queue_arn = self.topic_arns[topic], self.queue_arns[queue]
        self._allow_on_queue(queue, "conveyor-sns-" + hashlib.sha256(topic_arn.encode()).hexdigest()[:16], {
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}},
            f"policy letting SNS ({topic}) deliver to queue {queue}")

    def _allow_on_queue(self, queue: str, sid: str, statement: dict[str, Any], what: str) -> None:
        """Add a statement to the queue's policy, unless one with its Sid is there."""
        url = self.queue_urls[queue]
        current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get(
            "Attributes", {}).get("Policy")
        policy: dict[str, Any] = json.loads(current) if current else {"Version": "2012-10-17", "Statement": []}
        found = policy.get("Statement") or []
        statements: list[dict[str, Any]] = found if isinstance(found, list) else [found]
        if any(s.get("Sid") == sid for s in statements):
            return
        policy["Statement"] = [*statements, {"Sid": sid, **statement}]
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        self.created(what)

    def let_s3_deliver(self, bucket: str, *, queue: str | None = None, topic: str | None = None) -> None:
        """Add to the queue's or topic's policy the statement S3 needs to deliver this bucket's events (S3
        refuses a notification configuration otherwise), as an AWS::SQS::QueuePolicy or AWS::SNS::TopicPolicy
        would: https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html"""
        if queue is not None:
            arn, action, what = self.queue_arns[queue], "sqs:SendMessage", f"queue {queue}"
            current = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_urls[queue], AttributeNames=["Policy"]).get("Attributes", {}).get("Policy")
        else:
            arn, action, what = self.topic_arns[topic or ""], "sns:Publish", f"topic {topic}"
            current = self.sns.get_topic_attributes(TopicArn=arn).get("Attributes", {}).get("Policy")
        policy: dict[str, Any] = json.loads(current) if current else {"Version": "2012-10-17", "Statement": []}
        statements = policy.get("Statement") or []
        statements = statements if isinstance(statements, list) else [statements]
        sid = "conveyor-s3-" + hashlib.sha256(bucket.encode()).hexdigest()[:16]
        if any(s.get("Sid") == sid for s in statements):
            return
        statements.append({
            "Sid": sid, "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": action,
            "Resource": arn, "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                                           "StringEquals": {"aws:SourceAccount": arn.split(":")[4]}}})
        policy["Statement"] = statements
        if queue is not None:
            self.sqs.set_queue_attributes(QueueUrl=self.queue_urls[queue], Attributes={"Policy": json.dumps(policy)})
        else:
            self.sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(policy))
        self.created(f"policy letting S3 ({bucket}) deliver to {what}")

    def _notification_config(self, bucket: Bucket) -> NotificationConfigurationTypeDef:
        topics: list[TopicConfigurationTypeDef] = []
        queues: list[QueueConfigurationTypeDef] = []
        functions: list[LambdaFunctionConfigurationTypeDef] = []
        for index, n in enumerate(bucket.notifications):
            rules: list[FilterRuleTypeDef] = [{"Name": "prefix", "Value": n.prefix}] if n.prefix else []
            if n.suffix:
                rules.append({"Name": "suffix", "Value": n.suffix})
            # The pipeline's loader admits only S3 event names (spec.S3_EVENTS); S3 judges each one.
            events = cast("list[EventType]", n.events)
            entry_id = f"conveyor-{index}"
            if n.topic:
                topic: TopicConfigurationTypeDef = {"Id": entry_id, "Events": events,
                                                    "TopicArn": self.topic_arns[n.topic]}
                if rules:
                    topic["Filter"] = {"Key": {"FilterRules": rules}}
                topics.append(topic)
            elif n.queue:
                queue: QueueConfigurationTypeDef = {"Id": entry_id, "Events": events,
                                                    "QueueArn": self.queue_arns[n.queue]}
                if rules:
                    queue["Filter"] = {"Key": {"FilterRules": rules}}
                queues.append(queue)
            else:
                function: LambdaFunctionConfigurationTypeDef = {
                    "Id": entry_id, "Events": events, "LambdaFunctionArn": self.function_arns[n.function or ""]}
                if rules:
                    function["Filter"] = {"Key": {"FilterRules": rules}}
                functions.append(function)
        config: NotificationConfigurationTypeDef = {}
        if topics:
            config["TopicConfigurations"] = topics
        if queues:
            config["QueueConfigurations"] = queues
        if functions:
            config["LambdaFunctionConfigurations"] = functions
        return config

    # -- worker pools ---------------------------------------------------------------------------
    def pool(self, pool: Pool, base_dir: Path) -> None:
        """A worker pool whose workers run in the pipeline file's directory (`python worker.py` is the
        worker.py next to the file) and in the pipeline's region."""
        existing = self._internal("GET", "pools")
        if pool.name not in existing:
            self._note_requirements(f"pool {pool.name}", pool.requirements)
        settings = dict(pool.settings)
        env = dict(settings.pop("env", {}))
        queue_url = self.queue_urls.get(pool.queue or "")
        if queue_url:
            env.setdefault("QUEUE_URL", queue_url)
        command = list(MOVER) if pool.command == [BUILTIN_MOVER] else pool.command
        if pool.name in existing:
            spec = existing[pool.name]["spec"]
            for key in ("min", "max"):
                if key in settings and spec[key] != settings[key]:
                    self.drifted(f"pool {pool.name}: {key} is {spec[key]}, the pipeline says {settings[key]}")
            return
        if pool.role is not None:
            queue_arn = self.queue_arns.get(pool.queue or "")
            if pool.policy is not None:
                policy: dict[str, Any] | None = roles.statements_policy(pool.policy)
            elif pool.command == [BUILTIN_MOVER]:
                policy = roles.mover_policy(self.buckets, env.get("SOURCE_PREFIX", "uploads/"),
                                            env.get("DEST_PREFIX", "processed/"), queue_arn)
            else:
                policy = roles.access_policy(self.buckets, queue_arn)
            settings["role"] = self.roles.ensure(pool.role, roles.EC2, [], policy, instance_profile=True)
        self._internal("POST", "pools", {"name": pool.name, "command": command, "queue": queue_url, "env": env,
                                         "region": self.region, "workdir": str(base_dir), **settings})
        self.created(f"worker pool {pool.name}")

    def _internal(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        try:
            return self.control.call(method, path, payload)
        except ControlError as exc:
            raise RuntimeError(f"{method} /_conveyor/{path}: {exc.message}")


def s3_cors_rule(cors: Mapping[str, Any]) -> dict[str, Any]:
    """The pipeline's CORS words (API Gateway's) as an S3 CORS rule."""
    names = {"AllowOrigins": "AllowedOrigins", "AllowMethods": "AllowedMethods", "AllowHeaders": "AllowedHeaders",
             "ExposeHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"}
    return {names[k]: v for k, v in cors.items() if k in names}


def _destinations(config: Mapping[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for key, arn_key in (("QueueConfigurations", "QueueArn"), ("TopicConfigurations", "TopicArn"),
                         ("LambdaFunctionConfigurations", "LambdaFunctionArn")):
        for entry in config.get(key, []):
            out.add((entry[arn_key], ",".join(sorted(entry["Events"]))))
    return out


def _add(archive: zipfile.ZipFile, file: Path, name: str) -> None:
    """One file, with its permission bits but a fixed time (zip's epoch, 1980)."""
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.external_attr = ((file.stat().st_mode & 0o777) | 0o100000) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(entry, file.read_bytes())


def zip_code(code: str, base_dir: Path) -> bytes:
    """A deployment package from a directory or a single .py file (relative to the pipeline file), or
    the built-in mover as `mover.py`, a plain boto3 module that runs unchanged on AWS Lambda. The same
    files make the same bytes (entries in order, no timestamps), so a package's hash names its content."""
    buffer = io.BytesIO()
    path = base_dir / code
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if code == BUILTIN_MOVER:
            _add(archive, Path(mover.__file__), "mover.py")
        elif code == BUILTIN_PRESIGN:
            _add(archive, Path(presign.__file__), "presign.py")
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and "__pycache__" not in file.parts:
                    _add(archive, file, file.relative_to(path).as_posix())
        elif path.is_file():
            _add(archive, path, path.name)
        else:
            raise FileNotFoundError(f"function code {path} does not exist")
    return buffer.getvalue()
