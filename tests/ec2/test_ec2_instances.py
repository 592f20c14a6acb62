"""Instances as local processes through boto3 and raw HTTP: the user data runs as a shell script in the
instance's directory with this server as its AWS endpoint, the instance profile's credentials come from the
metadata service (IMDSv2), states follow the process, and everything survives kill -9 of the server."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.ec2.conftest import AMI, console, encoded, error_of, instance_profile, state
from tests.helpers import wait_for

# The user data of most tests: says where it runs and who it is, asks STS who it is (the SDK finds the
# instance profile's credentials through the metadata service), then keeps the machine up.
IDENTITY = f"""#!/bin/bash
echo "dir=$(pwd) user=$(id -un) endpoint=$AWS_ENDPOINT_URL region=$AWS_REGION"
{sys.executable} -c 'import boto3; print("arn=" + boto3.client("sts").get_caller_identity()["Arn"])'
sleep 300
"""


def _run(ec2: Any, script: str, **extra: Any) -> str:
    reply = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, UserData=script, **extra)
    assert reply["OwnerId"] == "000000000000" and reply["ReservationId"].startswith("r-")
    return str(reply["Instances"][0]["InstanceId"])


def test_user_data_runs_with_the_instance_profiles_role(client: Callable[..., Any], endpoint: str) -> None:
    ec2, iam = client("ec2"), client("iam")
    profile = instance_profile(iam)
    instance_id = _run(ec2, IDENTITY, IamInstanceProfile={"Name": "worker"}, InstanceType="t3.micro",
                       TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "w1"}]}])
    assert state(ec2, instance_id) == "running"
    output = wait_for(lambda: "arn=" in console(ec2, instance_id) and console(ec2, instance_id), what="console")
    assert f"/ec2/instances/{instance_id} user={getpass.getuser()} endpoint={endpoint} region=us-east-1" in output
    assert f"arn=arn:aws:sts::000000000000:assumed-role/worker/{instance_id}" in output
    [found] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    assert found["ImageId"] == AMI and found["InstanceType"] == "t3.micro"
    assert found["IamInstanceProfile"]["Arn"] == profile and found["Tags"] == [{"Key": "Name", "Value": "w1"}]
    assert found["Placement"]["AvailabilityZone"] == "us-east-1a" and found["PrivateIpAddress"].startswith("127.")
    assert found["MetadataOptions"]["HttpTokens"] == "required"


def test_the_metadata_service_speaks_imdsv2(client: Callable[..., Any], endpoint: str,
                                           advance: Callable[[float], float]) -> None:
    ec2 = client("ec2")
    instance_profile(client("iam"))
    instance_id = _run(ec2, "sleep 300", IamInstanceProfile={"Name": "worker"})
    base = f"{endpoint}/_aws/ec2-metadata/{instance_id}/latest"
    assert requests.get(f"{base}/meta-data/instance-id", timeout=10).status_code == 401  # no token: IMDSv2 only
    assert requests.put(f"{base}/api/token", timeout=10).status_code == 400  # a token needs its TTL
    assert requests.put(f"{base}/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "21601"},
                        timeout=10).status_code == 400
    got = requests.put(f"{base}/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}, timeout=10)
    assert got.status_code == 200 and got.headers["X-aws-ec2-metadata-token-ttl-seconds"] == "60"
    token = {"X-aws-ec2-metadata-token": got.text}

    def fetch(path: str) -> requests.Response:
        return requests.get(f"{base}/{path}", headers=token, timeout=10)

    assert fetch("meta-data/instance-id").text == instance_id
    assert fetch("meta-data/placement/region").text == "us-east-1"
    assert fetch("meta-data/placement/availability-zone").text == "us-east-1a"
    assert "iam/" in fetch("meta-data/").text.splitlines()
    assert fetch("meta-data/iam/security-credentials/").text == "worker"
    creds = fetch("meta-data/iam/security-credentials/worker").json()
    assert creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC" and creds["AccessKeyId"].startswith("ASIA")
    assert {"SecretAccessKey", "Token", "Expiration", "LastUpdated"} <= set(creds)
    assert fetch("user-data").text == "sleep 300"
    identity = fetch("dynamic/instance-identity/document").json()
    assert identity["instanceId"] == instance_id and identity["accountId"] == "000000000000"
    assert fetch("meta-data/nothing-here").status_code == 404
    other = _run(ec2, "sleep 300")
    assert requests.get(f"{endpoint}/_aws/ec2-metadata/{other}/latest/meta-data/instance-id", headers=token,
                        timeout=10).status_code == 401  # a token is its own instance's only
    assert requests.get(f"{endpoint}/_aws/ec2-metadata/{other}/latest/meta-data/iam/security-credentials/",
                        headers=token, timeout=10).status_code == 401
    advance(61)  # the token's TTL passes on the server's clock
    assert fetch("meta-data/instance-id").status_code == 401
    relaxed = _run(ec2, "sleep 300", MetadataOptions={"HttpTokens": "optional"})  # IMDSv1 allowed
    assert requests.get(f"{endpoint}/_aws/ec2-metadata/{relaxed}/latest/meta-data/instance-id",
                        timeout=10).text == relaxed


def test_states_follow_the_process(client: Callable[..., Any], advance: Callable[[float], float]) -> None:
    ec2 = client("ec2")
    # The script ends: the machine shut itself down, so it is stopped (the default shutdown behaviour)...
    short = _run(ec2, "echo bye")
    wait_for(lambda: state(ec2, short) == "stopped", what="stopped")
    [found] = ec2.describe_instances(InstanceIds=[short])["Reservations"][0]["Instances"]
    assert found["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    # ...or terminated when its shutdown behaviour says so.
    ending = _run(ec2, "exit 3", InstanceInitiatedShutdownBehavior="terminate")
    wait_for(lambda: state(ec2, ending) == "terminated", what="terminated")
    # Start boots it again: its user data runs a second time.
    started = ec2.start_instances(InstanceIds=[short])["StartingInstances"][0]
    assert started["PreviousState"]["Name"] == "stopped" and started["CurrentState"]["Name"] == "pending"
    wait_for(lambda: console(ec2, short).count("bye") == 2, what="a second boot")

    long = _run(ec2, "trap 'echo got SIGTERM; exit 0' TERM; echo up; sleep 300 & wait")
    wait_for(lambda: "up" in console(ec2, long), what="up")
    stopping = ec2.stop_instances(InstanceIds=[long])["StoppingInstances"][0]
    assert (stopping["PreviousState"]["Name"], stopping["CurrentState"]["Name"]) == ("running", "stopping")
    wait_for(lambda: state(ec2, long) == "stopped", what="stopped by StopInstances")
    assert "got SIGTERM" in console(ec2, long)  # a shutdown lets the machine's processes finish
    ec2.start_instances(InstanceIds=[long])
    wait_for(lambda: state(ec2, long) == "running", what="running again")
    going = ec2.terminate_instances(InstanceIds=[long])["TerminatingInstances"][0]
    assert (going["PreviousState"]["Name"], going["CurrentState"]["Name"]) == ("running", "shutting-down")
    wait_for(lambda: state(ec2, long) == "terminated", what="terminated by TerminateInstances")
    code, message, _ = error_of(lambda: ec2.start_instances(InstanceIds=[long]))
    assert code == "IncorrectInstanceState" and long in message
    running = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
    assert all(i["State"]["Name"] == "running" for r in running["Reservations"] for i in r["Instances"])
    advance(3601)  # terminated instances are listed for an hour, as on EC2
    assert error_of(lambda: ec2.describe_instances(InstanceIds=[long]))[0] == "InvalidInstanceID.NotFound"
    assert {i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]} == {short}


def test_run_instances_errors(client: Callable[..., Any]) -> None:
    ec2 = client("ec2")
    assert error_of(lambda: ec2.run_instances(MinCount=1, MaxCount=1)) == (
        "MissingParameter", "The request must contain the parameter ImageId", 400)
    assert error_of(lambda: ec2.run_instances(ImageId="ubuntu", MinCount=1, MaxCount=1))[0] == "InvalidAMIID.Malformed"
    assert error_of(lambda: ec2.run_instances(ImageId=AMI, MinCount=0, MaxCount=1))[0] == "InvalidParameterValue"
    assert error_of(lambda: ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, KeyName="mine"))[:2] == (
        "InvalidKeyPair.NotFound", "The key pair 'mine' does not exist")
    assert error_of(lambda: ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1,
                                              IamInstanceProfile={"Name": "ghost"}))[0] == "InvalidParameterValue"
    assert error_of(lambda: ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, DryRun=True))[::2] == (
        "DryRunOperation", 412)
    assert error_of(lambda: ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1,
                                              LaunchTemplate={"LaunchTemplateName": "none"}))[0] == \
        "InvalidLaunchTemplateName.NotFoundException"
    assert error_of(lambda: ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, SubnetId="subnet-1"))[0] == \
        "InvalidSubnetID.NotFound"
    assert error_of(lambda: ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceMarketOptions={
        "MarketType": "spot"}))[0] == "UnsupportedOperation"
    assert error_of(lambda: ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"])) == (
        "InvalidInstanceID.NotFound", "The instance ID 'i-0123456789abcdef0' does not exist", 400)
    assert error_of(lambda: ec2.terminate_instances(InstanceIds=["web-1"]))[:2] == (
        "InvalidInstanceID.Malformed", 'Invalid id: "web-1"')
    assert error_of(lambda: ec2.run_instances(ImageId=AMI, MinCount=21, MaxCount=21))[0] == "InstanceLimitExceeded"
    assert ec2.describe_instances()["Reservations"] == []  # nothing was started by any of them


def test_templates_launch_with_overrides_tags_and_filters(client: Callable[..., Any]) -> None:
    ec2 = client("ec2")
    template = ec2.create_launch_template(LaunchTemplateName="sleepers", LaunchTemplateData={
        "ImageId": AMI, "InstanceType": "t3.small", "UserData": encoded("sleep 300"),
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "worker"}]}]})
    template_id = template["LaunchTemplate"]["LaunchTemplateId"]
    reply = ec2.run_instances(MinCount=2, MaxCount=2, InstanceType="t3.large",
                              LaunchTemplate={"LaunchTemplateName": "sleepers", "Version": "$Latest"},
                              Placement={"AvailabilityZone": "us-east-1b"})
    ids = [i["InstanceId"] for i in reply["Instances"]]
    assert [i["AmiLaunchIndex"] for i in reply["Instances"]] == [0, 1]
    described = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"]
    assert {i["InstanceType"] for i in described} == {"t3.large"}  # the request overrides the template
    assert {i["Placement"]["AvailabilityZone"] for i in described} == {"us-east-1b"}
    tags = {t["Key"]: t["Value"] for t in described[0]["Tags"]}
    assert tags == {"role": "worker", "aws:ec2launchtemplate:id": template_id, "aws:ec2launchtemplate:version": "1"}
    ec2.create_tags(Resources=[ids[0]], Tags=[{"Key": "Name", "Value": "first"}])
    named = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["fir*"]}])["Reservations"]
    assert [i["InstanceId"] for r in named for i in r["Instances"]] == [ids[0]]
    by_template = ec2.describe_instances(Filters=[{"Name": "tag:aws:ec2launchtemplate:id", "Values": [template_id]}])
    assert len(by_template["Reservations"][0]["Instances"]) == 2
    tag_rows = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ids[0]]}, {"Name": "key", "Values": ["Name"]}])
    assert tag_rows["Tags"] == [{"Key": "Name", "ResourceId": ids[0], "ResourceType": "instance", "Value": "first"}]
    ec2.delete_tags(Resources=[ids[0]], Tags=[{"Key": "Name"}])
    assert ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": ["Name"]}])["Reservations"] == []
    assert error_of(lambda: ec2.create_tags(Resources=[ids[0]], Tags=[{"Key": "aws:x", "Value": "y"}]))[0] == \
        "InvalidParameterValue"
    page = ec2.describe_instances(MaxResults=5)
    assert "NextToken" not in page or page["NextToken"]
    statuses = ec2.describe_instance_status(InstanceIds=ids)["InstanceStatuses"]
    assert {s["InstanceStatus"]["Status"] for s in statuses} == {"ok"}


def test_instances_survive_kill_9_as_a_reboot(start_server: Callable[..., Any], tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--clock", "manual")
    ec2 = server.client("ec2")
    ec2.create_launch_template(LaunchTemplateName="keepers", LaunchTemplateData={"ImageId": AMI})
    instance_id = _run(ec2, "echo booted; sleep 300")
    stopped = _run(ec2, "true")
    wait_for(lambda: "booted" in console(ec2, instance_id) and state(ec2, stopped) == "stopped", what="booted")
    server.kill()
    server.start()
    ec2 = server.client("ec2")
    assert ec2.describe_launch_templates()["LaunchTemplates"][0]["LaunchTemplateName"] == "keepers"
    assert state(ec2, instance_id) == "running" and state(ec2, stopped) == "stopped"
    wait_for(lambda: console(ec2, instance_id).count("booted") == 2, what="the reboot ran the user data again")
    health = requests.get(f"{server.endpoint}/_conveyor/health", timeout=10).json()
    assert health["services"]["ec2"]["instances"] == 1
    # EC2 had state, so it started with the server (its instances rebooted); Auto Scaling, never used, has not.
    assert json.loads(json.dumps(health))["services"]["autoscaling"]["status"] == "available"
