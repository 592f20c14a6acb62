"""Another account's caller (with --auth off, a 12-digit access key ID is that account's root user) in the
services whose resources carry no policy: it acts in its own account, which holds nothing here. Its
listings are empty, a resource it names is one of its own account (not found, in the service's words) or,
named by the owner's ARN, AccessDenied; creating is AccessDenied (Conveyor holds one account); the
owner's resources are untouched and the owner is served as before.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

from tests.test_other_accounts import OTHER, OTHER_ROOT, _partner, _refused

OWNER = "000000000000"


@pytest.fixture
def partner(endpoint: str) -> Callable[[str], Any]:
    return lambda service: _partner(endpoint, service)


def test_sts_names_the_callers_own_account(partner):
    # https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
    assert {k: v for k, v in partner("sts").get_caller_identity().items() if k != "ResponseMetadata"} == {
        "UserId": OTHER, "Account": OTHER, "Arn": OTHER_ROOT}


def test_iam_another_account_sees_and_changes_none_of_the_accounts_entities(client, partner):
    iam, theirs = client("iam"), partner("iam")
    name = f"r-{uuid.uuid4().hex[:6]}"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.create_user(UserName=name)
    policy_arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert theirs.list_roles()["Roles"] == [] and theirs.list_users()["Users"] == []
    assert theirs.list_policies(Scope="Local")["Policies"] == []
    # AWS managed policies are everyone's: listed, with no attachment in its own account.
    listed = theirs.list_policies(Scope="All", MaxItems=1000)["Policies"]
    assert listed and all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in listed)
    assert {p["AttachmentCount"] for p in listed} == {0}
    # A name is an entity of its own account: NoSuchEntity as for any missing one
    # (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRole.html).
    assert _refused(lambda: theirs.get_role(RoleName=name)) == (
        "NoSuchEntity", f"The role with name {name} cannot be found.", 404)
    assert _refused(lambda: theirs.delete_user(UserName=name))[0] == "NoSuchEntity"
    assert _refused(lambda: theirs.attach_role_policy(RoleName=name, PolicyArn=policy_arn))[0] == "NoSuchEntity"
    # The account's policy named by its ARN: another account's resource.
    code, message, status = _refused(lambda: theirs.get_policy(PolicyArn=policy_arn))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: {OTHER_ROOT} is not authorized to perform: iam:GetPolicy on resource: {policy_arn} "
                       "because no resource-based policy allows the iam:GetPolicy action")
    assert _refused(lambda: theirs.create_user(UserName="theirs"))[0] == "AccessDenied"
    # AWS managed policies are everyone's; the root user asking for itself gets its own account's root.
    managed = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert theirs.get_policy(PolicyArn=managed)["Policy"]["Arn"] == managed
    assert theirs.get_user()["User"]["Arn"] == OTHER_ROOT
    # The owner's entities are untouched.
    assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name
    assert [u["UserName"] for u in iam.list_users()["Users"]] == [name]
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]] == [
        "ReadOnlyAccess"]


def test_cloudwatch_another_account_has_no_metrics_and_no_alarms(client, partner):
    cw, theirs = client("cloudwatch"), partner("cloudwatch")
    now = __import__("datetime").datetime.now(__import__("datetime").UTC)
    cw.put_metric_data(Namespace="Shop", MetricData=[{"MetricName": "Orders", "Value": 3.0, "Timestamp": now}])
    cw.put_metric_alarm(AlarmName="orders-high", Namespace="Shop", MetricName="Orders", Statistic="Sum",
                        Period=60, EvaluationPeriods=1, Threshold=10, ComparisonOperator="GreaterThanThreshold")
    assert theirs.list_metrics()["Metrics"] == []
    assert theirs.describe_alarms()["MetricAlarms"] == []
    assert theirs.describe_alarms(AlarmNames=["orders-high"])["MetricAlarms"] == []
    window = {"StartTime": now.replace(minute=0, second=0, microsecond=0), "EndTime": now.replace(microsecond=0)
              + __import__("datetime").timedelta(minutes=5)}
    stats = theirs.get_metric_statistics(Namespace="Shop", MetricName="Orders", Period=60, Statistics=["Sum"],
                                         **window)
    assert (stats["Label"], stats["Datapoints"]) == ("Orders", [])
    # GetMetricData answers one result per query, with no values, as for any metric without data.
    data = theirs.get_metric_data(MetricDataQueries=[{"Id": "q", "MetricStat": {
        "Metric": {"Namespace": "Shop", "MetricName": "Orders"}, "Period": 60, "Stat": "Sum"}}], **window)
    assert [(r["Id"], r["Label"], r["Values"], r["StatusCode"]) for r in data["MetricDataResults"]] == [
        ("q", "Orders", [], "Complete")]
    # An alarm name is one of its own account's: ResourceNotFound, as for any missing alarm.
    assert _refused(lambda: theirs.delete_alarms(AlarmNames=["orders-high"]))[:2] == (
        "ResourceNotFound", "Alarm orders-high not found")
    assert _refused(lambda: theirs.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": "Orders", "Value": 1.0}]))[0].startswith("AccessDenied")  # its protocol's spelling
    theirs.disable_alarm_actions(AlarmNames=["orders-high"])  # names of alarms that do not exist: ignored
    [alarm] = cw.describe_alarms(AlarmNames=["orders-high"])["MetricAlarms"]
    assert alarm["ActionsEnabled"] is True
    assert [m["MetricName"] for m in cw.list_metrics(Namespace="Shop")["Metrics"]] == ["Orders"]


TEMPLATE = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})


def test_cloudformation_another_account_has_no_stacks(client, partner):
    cfn, theirs = client("cloudformation"), partner("cloudformation")
    name = f"s-{uuid.uuid4().hex[:6]}"
    cfn.create_stack(StackName=name, TemplateBody=TEMPLATE)
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert theirs.describe_stacks()["Stacks"] == [] and theirs.list_stacks()["StackSummaries"] == []
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html: a stack
    # name is one of its own account's.
    assert _refused(lambda: theirs.describe_stacks(StackName=name)) == (
        "ValidationError", f"Stack with id {name} does not exist", 400)
    assert _refused(lambda: theirs.get_template(StackName=name))[0] == "ValidationError"
    assert _refused(lambda: theirs.update_stack(StackName=name, TemplateBody=TEMPLATE))[0] == "ValidationError"
    theirs.delete_stack(StackName=name)  # deleting a stack that does not exist succeeds, as on AWS
    assert _refused(lambda: theirs.create_stack(StackName="theirs", TemplateBody=TEMPLATE))[0] == "AccessDenied"
    assert theirs.validate_template(TemplateBody=TEMPLATE)["Parameters"] == []  # reads no account
    [stack] = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_api_gateway_another_account_has_no_apis(client, partner):
    gw, theirs = client("apigatewayv2"), partner("apigatewayv2")
    api = gw.create_api(Name="web", ProtocolType="HTTP")["ApiId"]
    assert theirs.get_apis()["Items"] == []
    # An API id names an API of the caller's own account (the message names it), which has none.
    code, message, status = _refused(lambda: theirs.get_api(ApiId=api))
    assert (code, message, status) == ("NotFoundException", f"Invalid API identifier specified {OTHER}:{api}", 404)
    assert _refused(lambda: theirs.delete_api(ApiId=api))[0] == "NotFoundException"
    assert _refused(lambda: theirs.create_api(Name="theirs", ProtocolType="HTTP"))[0] == "AccessDeniedException"
    assert gw.get_api(ApiId=api)["Name"] == "web"


def test_cloudfront_another_account_has_no_distributions(client, partner):
    from tests.cloudfront.conftest import distribution_config

    cf, theirs = client("cloudfront"), partner("cloudfront")
    created = cf.create_distribution(DistributionConfig=distribution_config("site"))["Distribution"]
    listed = theirs.list_distributions()["DistributionList"]
    assert (listed["Quantity"], listed["IsTruncated"], listed.get("Items", [])) == (0, False, [])
    assert _refused(lambda: theirs.get_distribution(Id=created["Id"]))[:2] == (
        "NoSuchDistribution", "The specified distribution does not exist.")
    assert _refused(lambda: theirs.create_invalidation(DistributionId=created["Id"], InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "x"}))[0] == "NoSuchDistribution"
    assert _refused(lambda: theirs.create_distribution(
        DistributionConfig=distribution_config("theirs")))[0] == "AccessDenied"
    assert cf.get_distribution(Id=created["Id"])["Distribution"]["Id"] == created["Id"]


def test_route53_another_account_has_no_hosted_zones(client, partner):
    r53, theirs = client("route53"), partner("route53")
    zone = r53.create_hosted_zone(Name="shop.example", CallerReference=str(uuid.uuid4()))["HostedZone"]["Id"]
    assert theirs.list_hosted_zones()["HostedZones"] == []
    zone_id = zone.rpartition("/")[2]
    code, message, status = _refused(lambda: theirs.get_hosted_zone(Id=zone_id))
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: {OTHER_ROOT} is not authorized to perform: route53:GetHostedZone on resource: "
                              f"arn:aws:route53:::hostedzone/{zone_id}")
    assert _refused(lambda: theirs.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": "x.shop.example", "Type": "A", "TTL": 60,
                                                   "ResourceRecords": [{"Value": "10.0.0.1"}]}}]}))[0] == "AccessDenied"
    assert [r["Type"] for r in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]] == [
        "NS", "SOA"]


def test_ec2_elbv2_and_auto_scaling_another_account_has_nothing(client, partner):
    ec2, theirs = client("ec2"), partner("ec2")
    name = f"t-{uuid.uuid4().hex[:6]}"
    template = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": "ami-0abcdef1234567890"})["LaunchTemplate"]["LaunchTemplateId"]
    assert theirs.describe_instances()["Reservations"] == []
    assert theirs.describe_launch_templates()["LaunchTemplates"] == []
    assert theirs.describe_vpcs()["Vpcs"] == [] and ec2.describe_vpcs()["Vpcs"] != []
    # Instance and template ids of another account do not exist in the caller's
    # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
    assert _refused(lambda: theirs.terminate_instances(InstanceIds=["i-0123456789abcdef0"]))[:2] == (
        "InvalidInstanceID.NotFound", "The instance ID 'i-0123456789abcdef0' does not exist")
    assert _refused(lambda: theirs.describe_launch_template_versions(LaunchTemplateId=template))[0] == (
        "InvalidLaunchTemplateId.NotFound")
    # EC2's AccessDenied is UnauthorizedOperation (errors-overview.html).
    assert _refused(lambda: theirs.run_instances(ImageId="ami-0abcdef1234567890", MinCount=1, MaxCount=1))[0] == (
        "UnauthorizedOperation")
    # Regions and zones are everyone's.
    assert theirs.describe_availability_zones()["AvailabilityZones"] == ec2.describe_availability_zones()[
        "AvailabilityZones"]
    assert [t["LaunchTemplateId"] for t in ec2.describe_launch_templates(LaunchTemplateNames=[name])[
        "LaunchTemplates"]] == [template]

    elb, their_elb = client("elbv2"), partner("elbv2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")[
        "TargetGroups"][0]["TargetGroupArn"]
    assert their_elb.describe_target_groups()["TargetGroups"] == []
    assert their_elb.describe_load_balancers()["LoadBalancers"] == []
    # Names are its own account's: the errors of a missing load balancer or target group.
    assert _refused(lambda: their_elb.describe_target_groups(Names=[name]))[0] == "TargetGroupNotFound"
    assert _refused(lambda: their_elb.describe_load_balancers(Names=["web"]))[:2] == (
        "LoadBalancerNotFound", "Load balancers '[web]' not found")
    code, message, _ = _refused(lambda: their_elb.delete_target_group(TargetGroupArn=group))
    assert code == "AccessDenied" and message.startswith(
        f"User: {OTHER_ROOT} is not authorized to perform: elasticloadbalancing:DeleteTargetGroup on resource: {group}")
    assert [g["TargetGroupArn"] for g in elb.describe_target_groups(Names=[name])["TargetGroups"]] == [group]

    asg, their_asg = client("autoscaling"), partner("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=1, DesiredCapacity=0,
                                  AvailabilityZones=["us-east-1a"], LaunchTemplate={"LaunchTemplateId": template})
    assert their_asg.describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert their_asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"] == []
    assert _refused(lambda: their_asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1))[:2] == (
        "ValidationError", f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")
    [kept] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    assert kept["DesiredCapacity"] == 0
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_scheduler_another_account_has_no_schedules(client, partner):
    scheduler, theirs = client("scheduler"), partner("scheduler")
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = f"arn:aws:iam::{OWNER}:role/scheduler"
    scheduler.create_schedule(Name="nightly", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"Arn": queue, "RoleArn": role})
    assert theirs.list_schedules()["Schedules"] == []
    assert _refused(lambda: theirs.get_schedule(Name="nightly")) == (
        "ResourceNotFoundException", "Schedule nightly does not exist.", 404)
    assert _refused(lambda: theirs.delete_schedule(Name="nightly"))[0] == "ResourceNotFoundException"
    assert _refused(lambda: theirs.create_schedule(
        Name="theirs", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": queue, "RoleArn": role}))[0] == "AccessDeniedException"
    assert scheduler.get_schedule(Name="nightly")["Name"] == "nightly"


# -- Kinesis: a stream's own policy decides ------------------------------------------------------------------

def test_kinesis_another_account_uses_a_stream_only_as_its_resource_policy_allows(client, partner):
    kinesis, theirs = client("kinesis"), partner("kinesis")
    name = f"k-{uuid.uuid4().hex[:6]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    # Without a policy: AccessDeniedException, which Kinesis sends with HTTP 400
    # (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html#API_PutRecord_Errors).
    code, message, status = _refused(lambda: theirs.put_record(StreamARN=arn, Data=b"x", PartitionKey="k"))
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (f"User: {OTHER_ROOT} is not authorized to perform: kinesis:PutRecord on resource: {arn} "
                       "because no resource-based policy allows the kinesis:PutRecord action")
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    # A name is a stream of the caller's own account, which has none; it lists none and creates none.
    assert _refused(lambda: theirs.describe_stream_summary(StreamName=name))[:2] == (
        "ResourceNotFoundException", f"Stream {name} under account {OTHER} not found.")
    assert theirs.list_streams()["StreamNames"] == []
    assert _refused(lambda: theirs.create_stream(StreamName="theirs", ShardCount=1))[0] == "AccessDeniedException"
    # https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutResourcePolicy.html
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": OTHER}, "Resource": arn,
        "Action": ["kinesis:*"]}]})
    kinesis.put_resource_policy(ResourceARN=arn, Policy=policy)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == policy
    theirs.put_record(StreamARN=arn, Data=b"from the partner", PartitionKey="k")
    [shard] = theirs.list_shards(StreamARN=arn)["Shards"]
    iterator = theirs.get_shard_iterator(StreamARN=arn, ShardId=shard["ShardId"],
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in theirs.get_records(ShardIterator=iterator, StreamARN=arn)["Records"]] == [
        b"from the partner"]
    # Whatever the policy grants, a stream's administration stays with its own account.
    code, message, _ = _refused(lambda: theirs.delete_stream(StreamARN=arn))
    assert (code, message) == ("AccessDeniedException",
                               f"User: {OTHER_ROOT} is not authorized to perform: kinesis:DeleteStream on resource: {arn}")
    assert _refused(lambda: theirs.delete_resource_policy(ResourceARN=arn))[0] == "AccessDeniedException"
    kinesis.delete_resource_policy(ResourceARN=arn)
    assert _refused(lambda: kinesis.delete_resource_policy(ResourceARN=arn))[:2] == (
        "ResourceNotFoundException", f"No resource policy found for resource ARN {arn}.")
    assert _refused(lambda: theirs.put_record(StreamARN=arn, Data=b"x", PartitionKey="k"))[0] == "AccessDeniedException"
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"


def test_a_streams_policy_survives_a_restart_and_goes_with_the_stream(start_server):
    server = start_server(None, "--auth", "off")

    def kinesis_client(key: str) -> Any:
        return boto3.client("kinesis", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
                            aws_secret_access_key="x", config=BotoConfig(retries={"max_attempts": 1}))

    owner = kinesis_client("test")
    owner.create_stream(StreamName="kept", ShardCount=1)
    arn = owner.describe_stream_summary(StreamName="kept")["StreamDescriptionSummary"]["StreamARN"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": OTHER}, "Resource": arn, "Action": "kinesis:PutRecord"}]})
    owner.put_resource_policy(ResourceARN=arn, Policy=policy)
    server.kill()  # kill -9: the acknowledged policy is on disk
    server.start()
    owner, theirs = kinesis_client("test"), kinesis_client(OTHER)
    assert owner.get_resource_policy(ResourceARN=arn)["Policy"] == policy
    theirs.put_record(StreamARN=arn, Data=b"x", PartitionKey="k")
    # A stream deleted takes its policy along: a new stream of the same name has none.
    owner.delete_stream(StreamName="kept")
    owner.create_stream(StreamName="kept", ShardCount=1)
    assert owner.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    assert _refused(lambda: theirs.put_record(StreamARN=arn, Data=b"x", PartitionKey="k"))[0] == "AccessDeniedException"


def test_with_iam_enforced_another_account_still_owns_nothing_here(tmp_path):
    from conveyor.app import App
    from conveyor.config import Config
    from conveyor.server import serve_in_thread

    app = App(Config(data_dir=tmp_path, port=0, clock="manual", auth="off", iam="enforce"))
    with serve_in_thread(app) as url:
        owner = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                             aws_secret_access_key="test", config=BotoConfig(retries={"max_attempts": 1}))
        theirs = _partner(url, "iam")
        owner.create_user(UserName="alice")
        assert theirs.list_users()["Users"] == []
        assert _refused(lambda: theirs.get_user(UserName="alice"))[0] == "NoSuchEntity"
        assert _refused(lambda: theirs.create_user(UserName="bob"))[0] == "AccessDenied"
        assert [u["UserName"] for u in owner.list_users()["Users"]] == ["alice"]
