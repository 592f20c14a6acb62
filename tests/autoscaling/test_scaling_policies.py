"""Scaling policies through boto3: simple scaling with its cooldown, step scaling by breach size, and target
tracking on AWS's backlog-per-instance recipe (visible messages / GroupInServiceInstances, metric math),
whose alarms Auto Scaling makes in CloudWatch; alarms run on the manual clock's minutes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.ec2.conftest import AMI, encoded, error_of
from tests.helpers import wait_for


def _setup(client: Callable[..., Any], **settings: Any) -> Any:
    ec2, asg = client("ec2"), client("autoscaling")
    ec2.create_launch_template(LaunchTemplateName="sleepers", LaunchTemplateData={
        "ImageId": AMI, "UserData": encoded("sleep 300")})
    asg.create_auto_scaling_group(AutoScalingGroupName="g", MinSize=1, MaxSize=4, DesiredCapacity=1,
                                  AvailabilityZones=["us-east-1a"], LaunchTemplate={"LaunchTemplateName": "sleepers"},
                                  **settings)
    return asg


def _desired(asg: Any) -> int:
    return int(asg.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])["AutoScalingGroups"][0]["DesiredCapacity"])


def test_simple_and_step_policies(client: Callable[..., Any], advance: Callable[[float], float]) -> None:
    asg = _setup(client)
    simple = asg.put_scaling_policy(AutoScalingGroupName="g", PolicyName="add-two", AdjustmentType="ChangeInCapacity",
                                    ScalingAdjustment=2, Cooldown=120)
    assert simple["PolicyARN"].startswith("arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:")
    assert simple["PolicyARN"].endswith(":autoScalingGroupName/g:policyName/add-two")
    asg.execute_policy(AutoScalingGroupName="g", PolicyName="add-two")
    assert _desired(asg) == 3
    assert error_of(lambda: asg.execute_policy(AutoScalingGroupName="g", PolicyName="add-two", HonorCooldown=True))[
        0] == "ScalingActivityInProgress"
    advance(121)
    asg.execute_policy(AutoScalingGroupName="g", PolicyName="add-two", HonorCooldown=True)
    assert _desired(asg) == 4  # capped at the group's max

    steps = asg.put_scaling_policy(
        AutoScalingGroupName="g", PolicyName="steps", PolicyType="StepScaling", AdjustmentType="ExactCapacity",
        StepAdjustments=[{"MetricIntervalUpperBound": 10, "ScalingAdjustment": 1},
                         {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 2}])
    assert steps["Alarms"] == []
    asg.execute_policy(AutoScalingGroupName="g", PolicyName="steps", MetricValue=15, BreachThreshold=10)
    assert _desired(asg) == 1
    asg.execute_policy(AutoScalingGroupName="g", PolicyName="steps", MetricValue=30, BreachThreshold=10)
    assert _desired(asg) == 2
    assert error_of(lambda: asg.execute_policy(AutoScalingGroupName="g", PolicyName="steps"))[0] == "ValidationError"
    described = asg.describe_policies(AutoScalingGroupName="g")["ScalingPolicies"]
    assert [(p["PolicyName"], p["PolicyType"]) for p in described] == [("add-two", "SimpleScaling"),
                                                                       ("steps", "StepScaling")]
    asg.delete_policy(AutoScalingGroupName="g", PolicyName="steps")
    assert [p["PolicyName"] for p in asg.describe_policies()["ScalingPolicies"]] == ["add-two"]
    assert error_of(lambda: asg.delete_policy(AutoScalingGroupName="g", PolicyName="steps"))[0] == "ValidationError"
    assert error_of(lambda: asg.put_scaling_policy(AutoScalingGroupName="g", PolicyName="p",
                                                   PolicyType="PredictiveScaling",
                                                   PredictiveScalingConfiguration={"MetricSpecifications": []}))[
        1] == "Conveyor does not support predictive scaling."
    assert "use a CustomizedMetricSpecification" in error_of(lambda: asg.put_scaling_policy(
        AutoScalingGroupName="g", PolicyName="cpu", PolicyType="TargetTrackingScaling", TargetTrackingConfiguration={
            "TargetValue": 50.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"}}))[1]
    activities = asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"]
    assert any("a user request executed policy add-two changing the desired capacity from 1 to 3" in a["Cause"]
               for a in activities)


def test_target_tracking_on_backlog_per_instance(client: Callable[..., Any], advance: Callable[[float], float]) -> None:
    asg = _setup(client)
    sqs, cloudwatch = client("sqs"), client("cloudwatch")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    asg.enable_metrics_collection(AutoScalingGroupName="g", Granularity="1Minute", Metrics=["GroupInServiceInstances"])
    config = {"TargetValue": 10.0, "CustomizedMetricSpecification": {"Metrics": [
        {"Id": "m1", "ReturnData": False, "MetricStat": {"Stat": "Sum", "Metric": {
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": "jobs"}]}}},
        {"Id": "m2", "ReturnData": False, "MetricStat": {"Stat": "Average", "Metric": {
            "Namespace": "AWS/AutoScaling", "MetricName": "GroupInServiceInstances",
            "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "g"}]}}},
        {"Id": "e1", "Expression": "m1 / m2", "Label": "backlog per instance", "ReturnData": True}]}}
    made = asg.put_scaling_policy(AutoScalingGroupName="g", PolicyName="backlog", PolicyType="TargetTrackingScaling",
                                  TargetTrackingConfiguration=config)
    names = sorted(a["AlarmName"] for a in made["Alarms"])
    assert names[0].startswith("TargetTracking-g-AlarmHigh-") and names[1].startswith("TargetTracking-g-AlarmLow-")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    high = alarms[names[0]]
    assert high["AlarmActions"] == [made["PolicyARN"]] and high["Threshold"] == 10.0
    assert high["EvaluationPeriods"] == 3 and high["AlarmDescription"].startswith("DO NOT EDIT OR DELETE.")
    assert alarms[names[1]]["Threshold"] == 9.0 and alarms[names[1]]["EvaluationPeriods"] == 15

    wait_for(lambda: asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"][0][
        "LifecycleState"] == "InService", what="in service")
    now = advance(0)
    advance(60 - now % 60 + 1)  # just past a minute's start: the group's 10-second samples fill every minute
    for _ in range(3):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": "job"} for n in range(10)])
    for _ in range(3):  # three full minutes at 30 per instance, above the target of 10
        advance(60)
    # Each minute is stored and its alarms evaluated just after the clock passes it.
    wait_for(lambda: cloudwatch.describe_alarms(AlarmNames=[names[0]])["MetricAlarms"][0]["StateValue"] == "ALARM",
               what="the high alarm")
    wait_for(lambda: _desired(asg) == 3, what="ceil(1 instance x 30 / 10)")
    advance(60)  # the alarm invokes the policy again: the new instances are warming up, nothing more
    wait_for(lambda: len(cloudwatch.describe_alarm_history(AlarmName=names[0])["AlarmHistoryItems"]) >= 4,
               what="the next minute evaluated")
    assert _desired(asg) == 3
    activities = asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"]
    assert any(f"a monitor alarm {names[0]} in state ALARM triggered policy backlog changing the desired capacity "
               "from 1 to 3" in a["Cause"] for a in activities)
    asg.delete_policy(AutoScalingGroupName="g", PolicyName="backlog")
    assert cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] == []  # its alarms go with it


def test_alarm_actions_name_policies_that_exist(client: Callable[..., Any]) -> None:
    cloudwatch = client("cloudwatch")
    code, message, _ = error_of(lambda: cloudwatch.put_metric_alarm(
        AlarmName="a", Namespace="N", MetricName="M", Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=["arn:aws:ec2:us-east-1:000000000000:stop"]))
    assert code == "InvalidParameterValue" and "arn:aws:autoscaling" in message
