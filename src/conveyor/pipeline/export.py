"""`conveyor export`: the pipeline file as a CloudFormation template that deploys to AWS unchanged, and to
Conveyor (`aws cloudformation deploy`), and behaves there as the pipeline file does.

What each part of the pipeline becomes:
- buckets: AWS::S3::Bucket, named by a parameter (S3 names are global: on AWS, pick a free one), with the
  notifications (each destination's policy first, as S3 checks it when the configuration is put) and, for
  the presign bucket, the CORS rule the API's origins upload with;
- topics and subscriptions; queues with their redrive policy, each fed queue with the queue policy letting
  its topics (and buckets) send to it;
- functions: AWS::Lambda::Function with code from the bucket the `CodeBucket` parameter names, an execution
  role of least privilege (its own log group, the queue that feeds it, and the statements of the pipeline
  file or conveyor.pipeline.roles; no managed policy, whose grants span the account), the SQS event source
  mapping of a function fed by a queue, and its `requirements:` as an AWS::Lambda::LayerVersion
  (conveyor.pipeline.layers); the pipeline's bucket names in its settings and statements become the
  template's bucket name parameters;
- worker pools: a role in an instance profile, a launch template whose user data fetches the pool's package
  from the code bucket and runs its command (the built-in mover: `python3 mover.py`), an Auto Scaling group
  and the backlog-per-instance target tracking policy (visible messages / in-service instances, metric math)
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-using-sqs-queue.html;
- the API: an HTTP API with the presign function and the routes, its stage, and the permission to invoke;
- a CloudFront distribution serving the mover's destination prefix through an origin access control, and
  the bucket policy letting only that distribution read there
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html;
- tables: AWS::DynamoDB::Table, on demand, with their indexes, stream and TTL;
- alarms: AWS::CloudWatch::Alarm notifying their topic;
- the site: its private bucket, a distribution reading it (and its `paths:` buckets) through an origin
  access control with the index as DefaultRootObject, and bucket policies letting only that distribution
  read. CloudFormation uploads no files: the template's Metadata names the site's directory, which
  `conveyor deploy` publishes once the stack is up (conveyor.stack_deploy).
Roles are not named (CloudFormation names them), so `CAPABILITY_IAM` deploys the template.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conveyor.pipeline import export_edge, layers, package, roles, tables
from conveyor.pipeline.package import Artifact
from conveyor.pipeline.spec import (
    BUILTIN_MOVER,
    COMPARISONS,
    Function,
    Pipeline,
    PipelineError,
    Pool,
    load,
)
from conveyor.pipeline.template_parts import backlog_policy, escape, get_att, logical_id, ref, sub, user_data

DEFAULT_INSTANCE_TYPE = "t3.micro"


# The template's Metadata key where `conveyor deploy` finds what CloudFormation does not do: the code packages
# to upload (`Artifacts`, a directory) and the site's files to publish after the stack (`Site`). Paths are
# relative to the template, as local paths in templates are (`aws cloudformation package`).
METADATA = "Conveyor"


@dataclass
class Exported:
    template: dict[str, Any]
    artifacts: list[Artifact] = field(default_factory=list)
    site_directory: Path | None = None  # the site's files
    site_bucket_output: str = ""  # the output naming the site's bucket

    def locate(self, template_dir: Path, artifacts: Path | None) -> None:
        """Name the site's directory and the artifacts' directory in the template's Metadata, relative to
        `template_dir` (where the template is written)."""
        metadata: dict[str, Any] = {}
        if artifacts is not None and self.artifacts:
            metadata["Artifacts"] = Path(os.path.relpath(artifacts.resolve(), template_dir.resolve())).as_posix()
        if self.site_directory is not None:
            outputs = self.template["Outputs"]
            # The page reads config.json for its API (conveyor.pipeline.site): key -> the output holding it.
            metadata["Site"] = {
                "Directory": Path(os.path.relpath(self.site_directory.resolve(), template_dir.resolve())).as_posix(),
                "BucketOutput": self.site_bucket_output, "UrlOutput": "SiteUrl",
                "Config": {"api": "ApiUrl"} if "ApiUrl" in outputs else {}}
        template = {k: v for k, v in self.template.items() if k != "Metadata"}
        if metadata:
            template = {"AWSTemplateFormatVersion": template.pop("AWSTemplateFormatVersion"),
                        "Description": template.pop("Description"), "Metadata": {METADATA: metadata}, **template}
        self.template = template

    def yaml(self) -> str:
        return yaml.dump(self.template, Dumper=_Dumper, sort_keys=False, width=120, default_flow_style=False)


class _Dumper(yaml.SafeDumper):
    """Multi-line text (the workers' boot script) as a YAML literal block, readable as the script it is."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # a value used twice is written twice: CloudFormation rejects YAML anchors and aliases


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


class Builder:
    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        self.parameters: dict[str, Any] = {}
        self.resources: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.artifacts: list[Artifact] = []
        # What each queue and topic must let send to it: (service principal, source ARN) pairs.
        self.queue_senders: dict[str, list[tuple[str, Any]]] = {}
        self.topic_senders: dict[str, list[Any]] = {}

    # -- names ---------------------------------------------------------------------------------------------
    def bucket_name(self, name: str) -> dict[str, Any]:
        return ref(logical_id(name, "BucketName"))

    def bucket_arn(self, name: str, suffix: str = "") -> dict[str, Any]:
        return sub(f"arn:${{AWS::Partition}}:s3:::${{{logical_id(name, 'BucketName')}}}{suffix}")

    def queue(self, name: str) -> str:
        return logical_id(name, "Queue")

    def topic(self, name: str) -> str:
        return logical_id(name, "Topic")

    def function(self, name: str) -> str:
        return logical_id(name, "Function")

    # -- the template --------------------------------------------------------------------------------------
    def build(self) -> Exported:
        self.parameters["CodeBucket"] = {
            "Type": "String", "Description": "The bucket holding the packaged code (conveyor/*.zip, written by "
                                             "`conveyor export --artifacts DIR` or uploaded by `conveyor deploy`)"}
        site = [self.p.site.bucket] if self.p.site and self.p.site.bucket not in {b.name for b in self.p.buckets} else []
        for name in [b.name for b in self.p.buckets] + site:
            self.parameters[logical_id(name, "BucketName")] = {
                "Type": "String", "Default": name,
                "Description": f"The name of the pipeline's bucket {name} (S3 names are global)"}
        for table in self.p.tables:
            self.resources[logical_id(table.name, "Table")] = tables.template_resource(table)
            self.outputs[logical_id(table.name, "TableName")] = {"Value": ref(logical_id(table.name, "Table"))}
        for q in self.p.queues:
            self._queue(q.name)
        for topic in self.p.topics:
            self._topic(topic.name)
        for function in self.p.functions:
            self._function(function)
        if self.p.api is not None:
            export_edge.api(self)
        for topic in self.p.topics:
            for i, subscription in enumerate(topic.subscriptions):
                self._subscription(topic.name, i, subscription.queue, subscription.function, subscription.raw,
                                   subscription.filter_policy)
        for bucket in self.p.buckets:
            self._bucket(bucket.name)
        for pool in self.p.pools:
            self._pool(pool)
        for alarm in self.p.alarms:
            self._alarm(alarm)
        export_edge.results_distribution(self)
        if self.p.site is not None:
            export_edge.site(self)
        self._policies()
        template: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"The Conveyor pipeline {self.p.source}, exported by `conveyor export`: it deploys to "
                           "AWS and to Conveyor unchanged (aws cloudformation deploy --capabilities CAPABILITY_IAM).",
            "Parameters": self.parameters, "Resources": self.resources}
        if self.outputs:
            template["Outputs"] = self.outputs
        exported = Exported(template, self.artifacts)
        if self.p.site is not None:
            exported.site_directory = self.p.base_dir / self.p.site.directory
            exported.site_bucket_output = logical_id(self.p.site.bucket, "BucketName")
        return exported

    def _queue(self, name: str) -> None:
        spec = next(q for q in self.p.queues if q.name == name)
        properties: dict[str, Any] = {"QueueName": name}
        if spec.fifo:
            properties["FifoQueue"] = True
        for key, value in (("VisibilityTimeout", spec.visibility_timeout), ("MessageRetentionPeriod", spec.retention),
                           ("DelaySeconds", spec.delay), ("ReceiveMessageWaitTimeSeconds", spec.receive_wait)):
            if value is not None:
                properties[key] = value
        if spec.dead_letter_queue is not None:
            properties["RedrivePolicy"] = {"deadLetterTargetArn": get_att(self.queue(spec.dead_letter_queue), "Arn"),
                                           "maxReceiveCount": spec.max_receive_count}
        self.resources[self.queue(name)] = {"Type": "AWS::SQS::Queue", "Properties": properties}
        self.outputs[logical_id(name, "QueueUrl")] = {"Value": ref(self.queue(name))}

    def _topic(self, name: str) -> None:
        self.resources[self.topic(name)] = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}}

    def _subscription(self, topic: str, index: int, queue: str | None, function: str | None, raw: bool,
                      filter_policy: dict[str, Any] | None) -> None:
        properties: dict[str, Any] = {"TopicArn": ref(self.topic(topic))}
        depends: list[str] = []
        if queue is not None:
            properties.update(Protocol="sqs", Endpoint=get_att(self.queue(queue), "Arn"))
            if raw:
                properties["RawMessageDelivery"] = True
            self.queue_senders.setdefault(queue, []).append(("sns.amazonaws.com", ref(self.topic(topic))))
            depends.append(logical_id(queue, "QueuePolicy"))
        else:
            assert function is not None
            properties.update(Protocol="lambda", Endpoint=get_att(self.function(function), "Arn"))
            permission = logical_id(f"{topic}-{function}", "Permission")
            self.resources[permission] = {"Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction", "FunctionName": ref(self.function(function)),
                "Principal": "sns.amazonaws.com", "SourceArn": ref(self.topic(topic))}}
            depends.append(permission)
        if filter_policy is not None:
            properties["FilterPolicy"] = filter_policy
        self.resources[logical_id(f"{topic}-{index + 1}", "Subscription")] = {
            "Type": "AWS::SNS::Subscription", "DependsOn": depends, "Properties": properties}

    def _bucket(self, name: str) -> None:
        spec = next(b for b in self.p.buckets if b.name == name)
        configurations: dict[str, list[dict[str, Any]]] = {}
        depends: list[str] = []
        for n in spec.notifications:
            rules = [{"Name": "prefix", "Value": n.prefix}] if n.prefix else []
            rules += [{"Name": "suffix", "Value": n.suffix}] if n.suffix else []
            for event in n.events:
                entry: dict[str, Any] = {"Event": event}
                if rules:
                    entry["Filter"] = {"S3Key": {"Rules": rules}}
                if n.topic is not None:
                    configurations.setdefault("TopicConfigurations", []).append({**entry, "Topic": ref(self.topic(n.topic))})
                    self.topic_senders.setdefault(n.topic, []).append(self.bucket_arn(name))
                    depends.append(logical_id(n.topic, "TopicPolicy"))
                elif n.queue is not None:
                    configurations.setdefault("QueueConfigurations", []).append(
                        {**entry, "Queue": get_att(self.queue(n.queue), "Arn")})
                    self.queue_senders.setdefault(n.queue, []).append(("s3.amazonaws.com", self.bucket_arn(name)))
                    depends.append(logical_id(n.queue, "QueuePolicy"))
                elif n.function is not None:
                    permission = logical_id(f"{name}-{n.function}", "Permission")
                    self.resources.setdefault(permission, {"Type": "AWS::Lambda::Permission", "Properties": {
                        "Action": "lambda:InvokeFunction", "FunctionName": ref(self.function(n.function)),
                        "Principal": "s3.amazonaws.com", "SourceArn": self.bucket_arn(name),
                        "SourceAccount": ref("AWS::AccountId")}})
                    configurations.setdefault("LambdaConfigurations", []).append(
                        {**entry, "Function": get_att(self.function(n.function), "Arn")})
                    depends.append(permission)
        properties: dict[str, Any] = {"BucketName": self.bucket_name(name)}
        if configurations:
            properties["NotificationConfiguration"] = configurations
        api = self.p.api
        if api is not None and api.presign is not None and api.presign.bucket == name and api.cors \
                and api.cors.get("AllowOrigins"):
            # The browser's upload goes to S3 cross-origin, as the pipeline's CORS rule lets it.
            properties["CorsConfiguration"] = {"CorsRules": [{
                "AllowedOrigins": api.cors["AllowOrigins"], "AllowedMethods": [api.presign.method],
                "AllowedHeaders": ["*"], "ExposedHeaders": ["ETag"], "MaxAge": 300}]}
        if spec.cors is not None:
            # CloudFormation's words for a CORS rule: AWS::S3::Bucket CorsRule.
            names = {"AllowOrigins": "AllowedOrigins", "AllowMethods": "AllowedMethods",
                     "AllowHeaders": "AllowedHeaders", "ExposeHeaders": "ExposedHeaders", "MaxAge": "MaxAge"}
            rule = {names[k]: v for k, v in spec.cors.items() if k in names}
            properties.setdefault("CorsConfiguration", {"CorsRules": []})["CorsRules"].append(rule)
        resource: dict[str, Any] = {"Type": "AWS::S3::Bucket", "Properties": properties}
        if depends:
            resource["DependsOn"] = sorted(set(depends))
        self.resources[logical_id(name, "Bucket")] = resource
        self.outputs[logical_id(name, "BucketName")] = {"Value": ref(logical_id(name, "Bucket"))}

    def _policies(self) -> None:
        """Queue and topic policies, for the senders the subscriptions and notifications named."""
        for queue, senders in self.queue_senders.items():
            statements = [{"Sid": f"Allow{i + 1}", "Effect": "Allow", "Principal": {"Service": service},
                           "Action": "sqs:SendMessage", "Resource": get_att(self.queue(queue), "Arn"),
                           "Condition": {"ArnEquals": {"aws:SourceArn": source}}}
                          for i, (service, source) in enumerate(senders)]
            self.resources[logical_id(queue, "QueuePolicy")] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
                "Queues": [ref(self.queue(queue))],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}
        for topic, sources in self.topic_senders.items():
            self.resources[logical_id(topic, "TopicPolicy")] = {"Type": "AWS::SNS::TopicPolicy", "Properties": {
                "Topics": [ref(self.topic(topic))],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Sid": "S3Notifications", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sns:Publish", "Resource": ref(self.topic(topic)),
                    "Condition": {"ArnLike": {"aws:SourceArn": sources},
                                  "StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}}]}}}

    # -- code ----------------------------------------------------------------------------------------------
    def package_code(self, name: str, files: list[tuple[str, Any]]) -> str:
        made = package.artifact(name, files)
        if made.key not in {a.key for a in self.artifacts}:
            self.artifacts.append(made)
        return made.key

    def _object_policy(self, mover: bool, env: dict[str, str], queue: str | None) -> dict[str, Any] | None:
        """The pipeline's role policy (conveyor.pipeline.roles) with the template's bucket names and queue ARN."""
        names = [f"BUCKET{i}" for i in range(len(self.p.buckets))]
        queue_arn = "QUEUE_ARN" if queue else None
        if mover:
            policy = roles.mover_policy(names, env.get("SOURCE_PREFIX", "uploads/"), env.get("DEST_PREFIX", "processed/"),
                                        queue_arn)
        else:
            policy = roles.access_policy(names, queue_arn)
        return None if policy is None else self.substitute(policy, queue)

    def substitute(self, value: Any, queue: str | None) -> Any:
        if isinstance(value, dict):
            return {k: self.substitute(v, queue) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v, queue) for v in value]
        if value == "QUEUE_ARN" and queue:
            return get_att(self.queue(queue), "Arn")
        placeholder = "arn:aws:s3:::BUCKET"
        if isinstance(value, str) and value.startswith(placeholder):
            index, slash, path = value[len(placeholder):].partition("/")
            return self.bucket_arn(self.p.buckets[int(index)].name, f"/{path}" if slash else "")
        return value

    def add_role(self, logical: str, service: str, managed: list[str], inline: dict[str, Any] | None) -> None:
        properties: dict[str, Any] = {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}}
        if managed:
            properties["ManagedPolicyArns"] = managed
        if inline is not None:
            properties["Policies"] = [{"PolicyName": roles.INLINE_POLICY, "PolicyDocument": inline}]
        self.resources[logical] = {"Type": "AWS::IAM::Role", "Properties": properties}

    def execution_policy(self, function: str, queue: str | None, inline: dict[str, Any] | None) -> dict[str, Any]:
        """What the function's execution role may do, and nothing more: write its own log group, read and delete
        the messages of the queue that feeds it (what Lambda's poller does as the role), and its own statements.
        AWS's managed AWSLambdaBasicExecutionRole and AWSLambdaSQSQueueExecutionRole grant the same on every
        log group and queue of the account; here each is narrowed to the function's own.
        https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-permissions.html
        https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-permissions"""
        statements: list[dict[str, Any]] = [{
            "Sid": "OwnLogs", "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:"
                            f"/aws/lambda/{function}:*")}]
        if queue is not None:
            statements.append({"Sid": "PollQueue", "Effect": "Allow",
                               "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                               "Resource": get_att(self.queue(queue), "Arn")})
        statements += (inline or {}).get("Statement", [])
        return {"Version": "2012-10-17", "Statement": statements}

    def _bucket_names(self, value: Any) -> Any:
        """The pipeline's bucket names in a function's settings and statements, as the template's bucket name
        parameters: on AWS the buckets are likely named otherwise (S3 names are global), and the code and the
        role must follow. `photo-uploads` -> Ref; `arn:aws:s3:::photo-uploads/uploads/*` -> Fn::Sub."""
        if isinstance(value, dict):
            return {k: self._bucket_names(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._bucket_names(v) for v in value]
        if not isinstance(value, str):
            return value
        names = {b.name for b in self.p.buckets} | ({self.p.site.bucket} if self.p.site else set())
        if value in names:
            return self.bucket_name(value)
        arn = re.fullmatch(r"arn:aws:s3:::([a-z0-9.-]+)(/.*)?", value)
        if arn is not None and arn.group(1) in names:
            return self.bucket_arn(arn.group(1), escape(arn.group(2) or ""))
        return value

    def _layer(self, spec: Function) -> str:
        """The function's requirements as a layer version (one per distinct set and runtime), its logical id."""
        made = layers.layer("layer", spec.requirements, spec.runtime)
        for logical, resource in self.resources.items():
            if resource["Type"] == "AWS::Lambda::LayerVersion" and resource["Properties"]["Content"]["S3Key"] == made.key:
                return logical
        if made.key not in {a.key for a in self.artifacts}:
            self.artifacts.append(made)
        logical = logical_id(spec.name, "Layer")
        self.resources[logical] = {"Type": "AWS::Lambda::LayerVersion", "Properties": {
            "Description": f"pip: {' '.join(spec.requirements)}",
            "Content": {"S3Bucket": ref("CodeBucket"), "S3Key": made.key},
            "CompatibleRuntimes": [spec.runtime], "CompatibleArchitectures": [layers.ARCHITECTURE]}}
        return logical

    def _function(self, spec: Function) -> None:
        logical = self.function(spec.name)
        key = self.package_code(spec.name, package.code_files(spec.code, self.p.base_dir))
        role: Any = spec.role
        if role is None or not role.startswith("arn:"):
            inline = roles.statements_policy(spec.policy) if spec.policy is not None \
                else self._object_policy(spec.code == BUILTIN_MOVER, spec.env, None)
            self.add_role(f"{logical}Role", "lambda.amazonaws.com", [],
                       self.execution_policy(spec.name, spec.queue, self._bucket_names(inline)))
            role = get_att(f"{logical}Role", "Arn")
        properties: dict[str, Any] = {
            "FunctionName": spec.name, "Runtime": spec.runtime, "Handler": spec.handler, "Role": role,
            "Timeout": spec.timeout, "MemorySize": spec.memory,
            "Code": {"S3Bucket": ref("CodeBucket"), "S3Key": key}}
        if spec.env:
            properties["Environment"] = {"Variables": {k: self._bucket_names(v) for k, v in spec.env.items()}}
        if spec.requirements:
            properties["Layers"] = [ref(self._layer(spec))]
        self.resources[logical] = {"Type": "AWS::Lambda::Function", "Properties": properties}
        if spec.queue is not None:
            mapping: dict[str, Any] = {"EventSourceArn": get_att(self.queue(spec.queue), "Arn"),
                                       "FunctionName": ref(logical), "BatchSize": spec.batch_size}
            if spec.batching_window:
                mapping["MaximumBatchingWindowInSeconds"] = spec.batching_window
            if spec.report_batch_item_failures:
                mapping["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
            if spec.maximum_concurrency is not None:
                mapping["ScalingConfig"] = {"MaximumConcurrency": spec.maximum_concurrency}
            self.resources[f"{logical}QueueMapping"] = {"Type": "AWS::Lambda::EventSourceMapping",
                                                         "Properties": mapping}

    # -- worker pools --------------------------------------------------------------------------------------
    def _pool(self, pool: Pool) -> None:
        logical = logical_id(pool.name, "Pool")
        settings = dict(pool.settings)
        env = {str(k): str(v) for k, v in dict(settings.pop("env", {})).items()}
        builtin = pool.command == [BUILTIN_MOVER]
        key = self.package_code(pool.name, package.command_files(pool.command, self.p.base_dir))
        if "WorkerImageId" not in self.parameters:
            self.parameters["WorkerImageId"] = {
                "Type": "AWS::EC2::Image::Id",
                "Description": "The image the workers boot (on AWS: an Amazon Linux 2023 AMI of the region)"}
            self.parameters["WorkerInstanceType"] = {"Type": "String", "Default": DEFAULT_INSTANCE_TYPE}
        inline = self._bucket_names(roles.statements_policy(pool.policy)) if pool.policy is not None \
            else self._object_policy(builtin, env, pool.queue)
        statements = list((inline or {"Statement": []})["Statement"])
        statements.append({"Sid": "ReadPackage", "Effect": "Allow", "Action": "s3:GetObject",
                           "Resource": sub(f"arn:${{AWS::Partition}}:s3:::${{CodeBucket}}/{key}")})
        self.add_role(f"{logical}Role", "ec2.amazonaws.com", [], {"Version": "2012-10-17", "Statement": statements})
        self.resources[f"{logical}InstanceProfile"] = {"Type": "AWS::IAM::InstanceProfile",
                                                       "Properties": {"Roles": [ref(f"{logical}Role")]}}
        self.resources[f"{logical}LaunchTemplate"] = {"Type": "AWS::EC2::LaunchTemplate", "Properties": {
            "LaunchTemplateData": {
                "ImageId": ref("WorkerImageId"), "InstanceType": ref("WorkerInstanceType"),
                "IamInstanceProfile": {"Arn": get_att(f"{logical}InstanceProfile", "Arn")},
                "UserData": {"Fn::Base64": sub(user_data(pool, key, env, ["python3", "mover.py"] if builtin
                                                         else pool.command,
                                                         self.queue(pool.queue) if pool.queue else None))}}}}
        low, high = int(settings.get("min", 1)), int(settings.get("max", 4))
        group: dict[str, Any] = {
            "MinSize": str(low), "MaxSize": str(high), "DesiredCapacity": str(int(settings.get("desired", low))),
            "AvailabilityZones": {"Fn::GetAZs": ""},
            "LaunchTemplate": {"LaunchTemplateId": ref(f"{logical}LaunchTemplate"),
                               "Version": get_att(f"{logical}LaunchTemplate", "LatestVersionNumber")},
            # The backlog policy divides by the in-service count, which the group publishes when asked to.
            "MetricsCollection": [{"Granularity": "1Minute", "Metrics": ["GroupInServiceInstances"]}]}
        if "grace" in settings:
            group["HealthCheckGracePeriod"] = int(settings["grace"])
        if "warmup" in settings:
            group["DefaultInstanceWarmup"] = int(settings["warmup"])
        self.resources[f"{logical}Group"] = {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": group}
        if pool.queue is not None:
            self.resources[f"{logical}BacklogPolicy"] = backlog_policy(f"{logical}Group", self.queue(pool.queue),
                                                                       float(settings.get("target_backlog", 5)))

    # -- alarms ---------------------------------------------------------------------------------------------
    def _alarm(self, alarm: Any) -> None:
        dimensions = [{"Name": "QueueName", "Value": get_att(self.queue(alarm.queue), "QueueName")}] \
            if alarm.queue is not None else [{"Name": k, "Value": v} for k, v in alarm.dimensions.items()]
        self.resources[logical_id(alarm.name, "Alarm")] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": alarm.name, "Namespace": alarm.namespace, "MetricName": alarm.metric,
            "Dimensions": dimensions, "Statistic": alarm.statistic, "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods, "Threshold": alarm.threshold,
            "ComparisonOperator": COMPARISONS[alarm.comparison], "TreatMissingData": alarm.treat_missing_data,
            "AlarmActions": [ref(self.topic(alarm.topic))], "OKActions": [ref(self.topic(alarm.topic))]}}


def export(pipeline: Pipeline) -> Exported:
    return Builder(pipeline).build()


def command(pipeline_file: Path | None, output: str | None, artifacts: str | None) -> int:
    """`conveyor export`: the template to standard output (or `output`); `artifacts` DIR gets the code packages
    it names, for `aws s3 cp DIR s3://CODE_BUCKET/ --recursive`."""
    try:
        exported = export(load(pipeline_file))
    except (PipelineError, FileNotFoundError) as exc:
        print(f"conveyor: {exc}", file=sys.stderr)
        return 2
    exported.locate(Path(output).parent if output else Path.cwd(), Path(artifacts) if artifacts else None)
    if artifacts:
        for artifact in exported.artifacts:
            target = Path(artifacts) / artifact.key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact.body)
            print(f"wrote {target}", file=sys.stderr)
    if output:
        Path(output).write_text(exported.yaml())
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(exported.yaml())
    return 0
