"""Auto Scaling groups through boto3: settings and their errors, capacity, terminating instances with and
without decrement, health checks with the grace period (manual clock), suspended processes, crash loops,
activities, and the pipeline's worker pools seen as groups."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tests.conftest import post_json
from tests.ec2.conftest import AMI, encoded, error_of, state
from tests.helpers import wait_for

SLEEPER = "#!/bin/bash\nsleep 300\n"


def _template(ec2: Any, script: str = SLEEPER, name: str = "sleepers") -> None:
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": AMI,
                                                                            "UserData": encoded(script)})


def _group(asg: Any, name: str = "g", **settings: Any) -> None:
    options = {"MinSize": 1, "MaxSize": 3, "DesiredCapacity": 1, "AvailabilityZones": ["us-east-1a", "us-east-1b"],
               "LaunchTemplate": {"LaunchTemplateName": "sleepers"}, **settings}
    asg.create_auto_scaling_group(AutoScalingGroupName=name, **options)


def _members(asg: Any, name: str = "g") -> list[dict[str, Any]]:
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return list(group["Instances"])


def _in_service(asg: Any, name: str = "g") -> list[str]:
    return [i["InstanceId"] for i in _members(asg, name)
            if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"]


def _settled(asg: Any, count: int, name: str = "g") -> list[str]:
    """Wait until exactly `count` instances are in service and no other is a member."""
    return list(wait_for(lambda: (len(_in_service(asg, name)) == count == len(_members(asg, name)))
                           and _in_service(asg, name), what=f"{count} in service"))


def test_create_describe_update_delete_and_their_errors(client: Callable[..., Any]) -> None:
    ec2, asg = client("ec2"), client("autoscaling")
    _template(ec2)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
    _group(asg, DesiredCapacity=2, AvailabilityZones=[], VPCZoneIdentifier=",".join(subnets[:2]),
           Tags=[{"Key": "team", "Value": "media", "PropagateAtLaunch": True}], HealthCheckGracePeriod=30)
    ids = _settled(asg, 2)
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])["AutoScalingGroups"]
    assert group["AutoScalingGroupARN"].startswith("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:")
    assert group["AvailabilityZones"] == ["us-east-1a", "us-east-1b"] and group["HealthCheckGracePeriod"] == 30
    assert sorted(i["AvailabilityZone"] for i in group["Instances"]) == ["us-east-1a", "us-east-1b"]  # balanced
    assert group["Instances"][0]["LaunchTemplate"]["LaunchTemplateName"] == "sleepers"
    tags = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"][0]["Tags"]
    assert {"Key": "team", "Value": "media"} in tags and {"Key": "aws:autoscaling:groupName", "Value": "g"} in tags
    details = asg.describe_auto_scaling_instances(InstanceIds=[ids[0]])["AutoScalingInstances"]
    assert details[0]["AutoScalingGroupName"] == "g" and details[0]["LifecycleState"] == "InService"

    assert error_of(lambda: _group(asg))[:2] == (
        "AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name g already exists")
    assert error_of(lambda: _group(asg, "h", MinSize=3, MaxSize=2))[:2] == (
        "ValidationError", "Max bound, 2, must be greater than or equal to min bound, 3")
    assert error_of(lambda: _group(asg, "h", DesiredCapacity=5))[1] == (
        "Desired capacity:5 must be between the specified min size:1 and max size:3")
    assert error_of(lambda: _group(asg, "h", LaunchTemplate={"LaunchTemplateName": "nothing"}))[0] == "ValidationError"
    assert error_of(lambda: _group(asg, "h", AvailabilityZones=["mars-1a"]))[0] == "ValidationError"
    assert error_of(lambda: _group(asg, "h", LoadBalancerNames=["web"]))[1] == \
        "Conveyor does not support Classic Load Balancers."
    assert error_of(lambda: asg.update_auto_scaling_group(AutoScalingGroupName="nope", MaxSize=2)) == (
        "ValidationError", "AutoScalingGroup name not found - AutoScalingGroup nope not found", 400)

    asg.update_auto_scaling_group(AutoScalingGroupName="g", MaxSize=1)  # desired follows the new max
    _settled(asg, 1)
    assert asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["DesiredCapacity"] == 1
    assert error_of(lambda: asg.delete_auto_scaling_group(AutoScalingGroupName="g"))[0] == "ResourceInUse"
    asg.delete_auto_scaling_group(AutoScalingGroupName="g", ForceDelete=True)
    assert asg.describe_auto_scaling_groups()["AutoScalingGroups"] == []
    wait_for(lambda: all(state(ec2, i) == "terminated" for i in ids), what="the group's instances terminated")


def test_capacity_and_terminating_instances(client: Callable[..., Any]) -> None:
    ec2, asg = client("ec2"), client("autoscaling")
    _template(ec2)
    _group(asg)
    [first] = _settled(asg, 1)
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=2)
    two = _settled(asg, 2)
    assert error_of(lambda: asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=4))[1] == \
        "New SetDesiredCapacity value 4 is above max value 3 for the AutoScalingGroup."

    # Without decrement: the instance goes and a replacement comes.
    victim = [i for i in two if i != first][0]
    activity = asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    assert activity["Activity"]["Description"] == f"Terminating EC2 instance: {victim}"
    assert "was taken out of service in response to a user request." in activity["Activity"]["Cause"]
    after = _settled(asg, 2)
    assert victim not in after and first in after
    # With decrement: the capacity goes down with it, and nothing replaces it.
    other = [i for i in after if i != first][0]
    activity = asg.terminate_instance_in_auto_scaling_group(InstanceId=other, ShouldDecrementDesiredCapacity=True)
    assert "shrinking the capacity from 2 to 1." in activity["Activity"]["Cause"]
    assert _settled(asg, 1) == [first]
    assert asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["DesiredCapacity"] == 1
    code, message, _ = error_of(lambda: asg.terminate_instance_in_auto_scaling_group(
        InstanceId=first, ShouldDecrementDesiredCapacity=True))
    assert code == "ValidationError" and "min size" in message
    assert error_of(lambda: asg.terminate_instance_in_auto_scaling_group(
        InstanceId="i-0123456789abcdef0", ShouldDecrementDesiredCapacity=False))[0] == "ValidationError"
    wait_for(lambda: state(ec2, victim) == state(ec2, other) == "terminated", what="terminated")

    # Scale-in chooses by the termination policy; the activities tell the story, newest first.
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=3)
    _settled(asg, 3)
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=1)
    [left] = _settled(asg, 1)
    activities = asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"]
    assert "a user request explicitly set group desired capacity changing the desired capacity from 3 to 1" in \
        activities[0]["Cause"] or any("from 3 to 1" in a["Cause"] for a in activities)
    assert all(a["StatusCode"] == "Successful" for a in activities)
    assert error_of(lambda: asg.describe_scaling_activities(AutoScalingGroupName="none"))[0] == "ValidationError"


def test_health_checks_wait_for_the_grace_period(client: Callable[..., Any], advance: Callable[[float], float],
                                                 endpoint: str) -> None:
    ec2, asg = client("ec2"), client("autoscaling")
    _template(ec2)
    _group(asg, HealthCheckGracePeriod=120)
    [first] = _settled(asg, 1)
    post_json(f"{endpoint}/_conveyor/workers/{first}/kill")  # the machine's process dies: it is stopped
    wait_for(lambda: state(ec2, first) == "stopped", what="stopped")
    advance(60)  # within the grace period since it came in service: left alone
    assert [i["InstanceId"] for i in _members(asg)] == [first]
    assert _members(asg)[0]["HealthStatus"] == "Healthy"
    advance(61)  # past it: unhealthy, terminated, replaced
    [second] = _settled(asg, 1)
    assert second != first
    wait_for(lambda: state(ec2, first) == "terminated", what="the unhealthy one terminated")
    causes = [a["Cause"] for a in asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"]]
    assert any("in response to an EC2 instance status check failure" in c for c in causes)

    # SetInstanceHealth: marked unhealthy by hand (past the grace period), replaced.
    advance(121)
    asg.set_instance_health(InstanceId=second, HealthStatus="Unhealthy")
    [third] = _settled(asg, 1)
    assert third not in (first, second)


def test_suspended_processes(client: Callable[..., Any], advance: Callable[[float], float]) -> None:
    ec2, asg = client("ec2"), client("autoscaling")
    _template(ec2)
    _group(asg)
    [first] = _settled(asg, 1)
    asg.suspend_processes(AutoScalingGroupName="g", ScalingProcesses=["Launch"])
    [group] = asg.describe_auto_scaling_groups()["AutoScalingGroups"]
    assert [p["ProcessName"] for p in group["SuspendedProcesses"]] == ["Launch"]
    ec2.terminate_instances(InstanceIds=[first])
    wait_for(lambda: _members(asg) == [], what="the terminated instance out of the group")
    advance(20)
    assert _members(asg) == []  # Launch suspended: no replacement
    asg.resume_processes(AutoScalingGroupName="g")
    [second] = _settled(asg, 1)
    assert second != first
    assert error_of(lambda: asg.suspend_processes(AutoScalingGroupName="g", ScalingProcesses=["Dance"]))[0] == \
        "ValidationError"
    processes = [p["ProcessName"] for p in asg.describe_scaling_process_types()["Processes"]]
    assert "ReplaceUnhealthy" in processes and "AlarmNotification" in processes


def test_a_crash_looping_template_is_held_back(client: Callable[..., Any], endpoint: str,
                                               advance: Callable[[float], float]) -> None:
    ec2, asg = client("ec2"), client("autoscaling")
    _template(ec2, "#!/bin/bash\nexit 1\n", "crashers")
    _group(asg, LaunchTemplate={"LaunchTemplateName": "crashers"}, MinSize=1, DesiredCapacity=1)
    import urllib.request

    def pools() -> dict[str, Any]:
        with urllib.request.urlopen(f"{endpoint}/_conveyor/pools", timeout=10) as response:
            return dict(json.load(response))

    for _ in range(6):  # each check replaces what died, until the back-off holds launches
        advance(10)
    snapshot = wait_for(lambda: pools()["g"]["state"] == "crash-looping" and pools()["g"], what="crash loop")
    assert snapshot["crash_loop"]["quick_exits"] >= 2
    launches = [a for a in asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"]
                if a["Description"].startswith("Launching")]
    assert 2 <= len(launches) <= 8  # not one per evaluation for ever


def test_pools_are_groups_and_groups_are_workers(client: Callable[..., Any], endpoint: str) -> None:
    asg, ec2 = client("autoscaling"), client("ec2")
    post_json(f"{endpoint}/_conveyor/pools", {"name": "sleepy", "command": [sys.executable, "-c",
                                                                            "import time; time.sleep(300)"],
                                              "min": 1, "max": 3})
    [pool] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["sleepy"])["AutoScalingGroups"]
    assert (pool["MinSize"], pool["MaxSize"], pool["DesiredCapacity"]) == (1, 3, 1)
    assert pool["Tags"][0]["Key"] == "conveyor:pool" and pool["Instances"][0]["InstanceId"] == "sleepy-" + \
        pool["Instances"][0]["InstanceId"].split("-")[1]
    asg.set_desired_capacity(AutoScalingGroupName="sleepy", DesiredCapacity=2)
    wait_for(lambda: len(asg.describe_auto_scaling_groups(AutoScalingGroupNames=["sleepy"])[
        "AutoScalingGroups"][0]["Instances"]) == 2, what="the pool scaled")
    assert error_of(lambda: asg.update_auto_scaling_group(AutoScalingGroupName="sleepy", MaxSize=5))[1].startswith(
        "sleepy is a worker pool of the pipeline file")
    worker = pool["Instances"][0]["InstanceId"]
    asg.terminate_instance_in_auto_scaling_group(InstanceId=worker, ShouldDecrementDesiredCapacity=True)
    wait_for(lambda: [i["InstanceId"] for i in asg.describe_auto_scaling_groups(AutoScalingGroupNames=["sleepy"])[
        "AutoScalingGroups"][0]["Instances"]] not in ([], [worker]) and worker not in [
        i["InstanceId"] for i in asg.describe_auto_scaling_groups(AutoScalingGroupNames=["sleepy"])[
            "AutoScalingGroups"][0]["Instances"]], what="the worker drained")

    _template(ec2)
    _group(asg, "web-tier")
    [instance] = _settled(asg, 1, "web-tier")
    listed = subprocess.run([sys.executable, "-m", "conveyor.cli", "workers", "--endpoint", endpoint],
                            capture_output=True, text=True, timeout=60).stdout
    assert "web-tier" in listed and instance in listed and "sleepy" in listed, listed
