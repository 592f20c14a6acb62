"""The worker-tier lab through the AWS CLI only: a launch template whose user data starts the worker, an Auto
Scaling group (min 1, desired 1, max 2) processing uploads, `aws ec2 terminate-instances` on its instance and
the replacement draining the backlog, then a step policy on a "visible messages > 10" alarm scaling out to 2
under a burst and back to 1 after. Time that matters (alarm minutes) moves on the server's manual clock."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import wait_for

EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _file(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return f"file://{path}"


def test_the_worker_tier_lab_through_the_cli(aws: Callable[..., Any], advance: Callable[[float], float],
                                             tmp_path: Path) -> None:
    # The queue the bucket's events go to, and the bucket.
    queue_url = aws("sqs", "create-queue", "--queue-name", "jobs")["QueueUrl"]
    queue_arn = "arn:aws:sqs:us-east-1:000000000000:jobs"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                                      "Action": "sqs:SendMessage", "Resource": queue_arn}]}
    aws("sqs", "set-queue-attributes", "--queue-url", queue_url, "--attributes",
        _file(tmp_path, "attributes.json", {"Policy": json.dumps(policy)}))
    aws("s3", "mb", "s3://lab-uploads")
    aws("s3api", "put-bucket-notification-configuration", "--bucket", "lab-uploads", "--notification-configuration",
        _file(tmp_path, "notify.json", {"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
              "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]}))

    # The instance profile the workers run as.
    aws("iam", "create-role", "--role-name", "worker-ec2-role", "--assume-role-policy-document",
        _file(tmp_path, "trust.json", EC2_TRUST))
    aws("iam", "create-instance-profile", "--instance-profile-name", "worker-ec2-role")
    aws("iam", "add-role-to-instance-profile", "--instance-profile-name", "worker-ec2-role", "--role-name",
        "worker-ec2-role")

    # The launch template: its user data starts the worker (the built-in mover, plain boto3), slowed a little
    # per file so that a burst stays visible in the queue for a minute.
    user_data = (f"#!/bin/bash\necho worker starting in $(pwd)\n"
                 f"export QUEUE_URL={queue_url} WORK_SECONDS=0.3\nexec {sys.executable} -m conveyor.runtime.mover\n")
    import base64

    data = {"ImageId": "ami-0abcdef1234567890", "InstanceType": "t3.micro",
            "IamInstanceProfile": {"Name": "worker-ec2-role"}, "UserData": base64.b64encode(user_data.encode()).decode()}
    template = aws("ec2", "create-launch-template", "--launch-template-name", "worker-template",
                   "--launch-template-data", _file(tmp_path, "template.json", data))["LaunchTemplate"]
    assert template["LatestVersionNumber"] == 1
    subnets = aws("ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true")["Subnets"]
    zone_subnets = ",".join(s["SubnetId"] for s in subnets[:2])

    aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "workers",
        "--launch-template", "LaunchTemplateName=worker-template,Version=$Latest", "--min-size", "1",
        "--max-size", "2", "--desired-capacity", "1", "--vpc-zone-identifier", zone_subnets,
        "--health-check-type", "EC2", "--health-check-grace-period", "60")

    def in_service() -> list[str]:
        [group] = aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names",
                      "workers")["AutoScalingGroups"]
        return [i["InstanceId"] for i in group["Instances"]
                if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"]

    [first] = wait_for(in_service, what="the first instance in service")
    [reservation] = aws("ec2", "describe-instances", "--instance-ids", first)["Reservations"]
    instance = reservation["Instances"][0]
    assert instance["State"]["Name"] == "running"
    assert {"Key": "aws:autoscaling:groupName", "Value": "workers"} in instance["Tags"]
    assert instance["IamInstanceProfile"]["Arn"] == "arn:aws:iam::000000000000:instance-profile/worker-ec2-role"

    def processed() -> set[str]:
        listed = aws("s3api", "list-objects-v2", "--bucket", "lab-uploads", "--prefix", "processed/")
        return {o["Key"] for o in (listed or {}).get("Contents", [])}

    for n in range(3):
        (tmp_path / f"photo{n}.jpg").write_bytes(b"x" * (n + 1))
        aws("s3", "cp", str(tmp_path / f"photo{n}.jpg"), f"s3://lab-uploads/uploads/photo{n}.jpg")
    wait_for(lambda: processed() == {f"processed/photo{n}.jpg" for n in range(3)}, what="uploads processed")

    # Kill the machine: the group replaces it, and the backlog left meanwhile drains.
    terminating = aws("ec2", "terminate-instances", "--instance-ids", first)["TerminatingInstances"]
    assert terminating[0]["CurrentState"]["Name"] == "shutting-down"
    for n in range(3, 6):
        (tmp_path / f"photo{n}.jpg").write_bytes(b"y")
        aws("s3", "cp", str(tmp_path / f"photo{n}.jpg"), f"s3://lab-uploads/uploads/photo{n}.jpg")
    [second] = wait_for(lambda: [i for i in in_service() if i != first], what="a replacement")
    assert second != first
    wait_for(lambda: len(processed()) == 6, what="the backlog drained by the replacement")
    assert aws("ec2", "describe-instances", "--instance-ids", first)["Reservations"][0]["Instances"][0][
        "State"]["Name"] == "terminated"
    activities = aws("autoscaling", "describe-scaling-activities", "--auto-scaling-group-name", "workers")["Activities"]
    assert any(a["Description"] == f"Terminating EC2 instance: {first}" and "status check failure" in a["Cause"]
               for a in activities)
    assert any(a["Description"] == f"Launching a new EC2 instance: {second}" for a in activities)

    # A step policy on "visible messages > 10": out by one under a burst, in by one once it is gone.
    out_arn = aws("autoscaling", "put-scaling-policy", "--auto-scaling-group-name", "workers", "--policy-name",
                  "scale-out", "--policy-type", "StepScaling", "--adjustment-type", "ChangeInCapacity",
                  "--step-adjustments", "MetricIntervalLowerBound=0,ScalingAdjustment=1")["PolicyARN"]
    in_arn = aws("autoscaling", "put-scaling-policy", "--auto-scaling-group-name", "workers", "--policy-name",
                 "scale-in", "--policy-type", "StepScaling", "--adjustment-type", "ChangeInCapacity",
                 "--step-adjustments", "MetricIntervalUpperBound=0,ScalingAdjustment=-1")["PolicyARN"]
    aws("cloudwatch", "put-metric-alarm", "--alarm-name", "jobs-backlog-high", "--namespace", "AWS/SQS",
        "--metric-name", "ApproximateNumberOfMessagesVisible", "--dimensions", "Name=QueueName,Value=jobs",
        "--statistic", "Maximum", "--period", "60", "--evaluation-periods", "1", "--threshold", "10",
        "--comparison-operator", "GreaterThanThreshold", "--alarm-actions", out_arn, "--ok-actions", in_arn)

    # The burst: 40 uploads at once.
    for n in range(40):
        (tmp_path / f"b{n}.txt").write_text(str(n))
    aws("s3", "cp", str(tmp_path), "s3://lab-uploads/uploads/", "--recursive", "--exclude", "*",
        "--include", "b*.txt")
    advance(60)  # the minute's sample: far more than 10 visible -> ALARM -> scale-out

    def alarm_state() -> str:
        return str(aws("cloudwatch", "describe-alarms", "--alarm-names", "jobs-backlog-high")["MetricAlarms"][0][
            "StateValue"])

    wait_for(lambda: alarm_state() == "ALARM", what="the backlog alarm")
    wait_for(lambda: len(in_service()) == 2, what="scale-out to 2")
    activities = aws("autoscaling", "describe-scaling-activities", "--auto-scaling-group-name", "workers")["Activities"]
    assert any("a monitor alarm jobs-backlog-high in state ALARM triggered policy scale-out changing the desired "
               "capacity from 1 to 2" in a["Cause"] for a in activities)

    wait_for(lambda: len(processed()) == 46, timeout=90, what="the burst processed")
    advance(60)  # nothing visible: OK -> scale-in
    wait_for(lambda: alarm_state() == "OK", what="the alarm back to OK")
    wait_for(lambda: len(in_service()) == 1, what="scale-in to 1")
    [group] = aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names",
                  "workers")["AutoScalingGroups"]
    assert group["DesiredCapacity"] == 1
    wait_for(lambda: len(aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names",
                               "workers")["AutoScalingGroups"][0]["Instances"]) == 1, what="the drained instance gone")
