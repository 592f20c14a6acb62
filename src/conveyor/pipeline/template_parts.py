"""The pieces `conveyor export` writes templates with: intrinsic functions, logical ids from pipeline names,
and a worker pool's scaling policy and boot script.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from conveyor.pipeline.spec import Pool


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def get_att(name: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [name, attribute]}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def logical_id(name: str, kind: str) -> str:
    """A template name from a pipeline name: `upload-jobs` and Queue -> UploadJobsQueue."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    return "".join(w[:1].upper() + w[1:] for w in words) + kind


def escape(text: str) -> str:
    """Text inside Fn::Sub: a literal `${` is written `${!`."""
    return text.replace("${", "${!")


def backlog_policy(group: str, queue: str, target: float) -> dict[str, Any]:
    """Target tracking of the backlog per instance: the queue's visible messages over the group's in-service
    instances (metric math), held at `target`.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-using-sqs-queue.html"""
    metrics = [
        {"Id": "visible", "ReturnData": False, "MetricStat": {"Stat": "Sum", "Metric": {
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": get_att(queue, "QueueName")}]}}},
        {"Id": "workers", "ReturnData": False, "MetricStat": {"Stat": "Average", "Metric": {
            "Namespace": "AWS/AutoScaling", "MetricName": "GroupInServiceInstances",
            "Dimensions": [{"Name": "AutoScalingGroupName", "Value": ref(group)}]}}},
        {"Id": "backlog", "Expression": "visible / workers", "Label": "Backlog per instance", "ReturnData": True}]
    return {"Type": "AWS::AutoScaling::ScalingPolicy", "Properties": {
        "AutoScalingGroupName": ref(group), "PolicyType": "TargetTrackingScaling",
        "TargetTrackingConfiguration": {"TargetValue": target, "CustomizedMetricSpecification": {"Metrics": metrics}}}}


def user_data(pool: Pool, key: str, env: dict[str, str], command: list[str], queue: str | None) -> str:
    """A worker's boot script (a Fn::Sub text): boto3 (installed when missing, as on Amazon Linux), the pool's
    package from the code bucket, its `requirements:` installed by pip beside it (for the instance's own
    Python and platform), then its command in the unpacked directory."""
    variables = {"AWS_DEFAULT_REGION": "${AWS::Region}"}
    if queue is not None:
        variables["QUEUE_URL"] = f"${{{queue}}}"
    lines = ["#!/bin/bash", f"# Worker pool {pool.name}, exported from a Conveyor pipeline.", "set -euo pipefail"]
    lines += [f"export {name}={value}" for name, value in variables.items()]
    lines += [f"export {name}={escape(shlex.quote(value))}" for name, value in sorted(env.items())]
    lines += [
        "python3 -c 'import boto3' 2>/dev/null || dnf install -y python3-boto3",
        "mkdir -p conveyor-worker", "cd conveyor-worker",
        "python3 -c 'import sys, zipfile, boto3; boto3.client(\"s3\").download_file(sys.argv[1], sys.argv[2], "
        "\"package.zip\"); zipfile.ZipFile(\"package.zip\").extractall(\".\")' "
        f"${{CodeBucket}} {key}"]
    if pool.requirements:
        lines += [
            "python3 -m pip --version >/dev/null 2>&1 || dnf install -y python3-pip",
            "python3 -m pip install --quiet --target conveyor-deps "
            + " ".join(escape(shlex.quote(requirement)) for requirement in pool.requirements),
            'export PYTHONPATH="$PWD/conveyor-deps"']
    lines += [
        "exec " + " ".join(escape(shlex.quote(part)) for part in command)]
    return "\n".join(lines) + "\n"
