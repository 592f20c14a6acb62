"""EC2 and Auto Scaling under `--iam enforce`: RunInstances needs ec2:RunInstances on every resource the
launch uses (and iam:PassRole for an instance profile's role, whether the request or its launch template
names it); Auto Scaling's group operations act on the group's ARN, and a group launched from a template
needs ec2:RunInstances on it. Denials in each service's words."""

from __future__ import annotations

from tests.authz.conftest import ACCOUNT, Server, allow, policy, refused
from tests.ec2.conftest import AMI, encoded, instance_profile

REGION = "us-east-1"
INSTANCES = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"
IMAGE = f"arn:aws:ec2:{REGION}::image/{AMI}"
LAUNCH_PARTS = [INSTANCES, f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/*", f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/*",
                f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/*", f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/*"]


def test_run_instances_needs_every_resource_and_pass_role(server: Server) -> None:
    instance_profile(server.root("iam"))
    role = f"arn:aws:iam::{ACCOUNT}:role/worker"
    # Everything but the image.
    ec2 = server.user("olga", allow("ec2:RunInstances", LAUNCH_PARTS))("ec2")
    run = lambda: ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, UserData="sleep 300",  # noqa: E731
                                    IamInstanceProfile={"Name": "worker"})
    code, message, status = refused(run)
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert message == (f"You are not authorized to perform this operation. User: arn:aws:iam::{ACCOUNT}:user/olga is "
                       f"not authorized to perform: ec2:RunInstances on resource: {IMAGE} because no identity-based "
                       "policy allows the ec2:RunInstances action")
    iam = server.root("iam")
    iam.put_user_policy(UserName="olga", PolicyName="inline", PolicyDocument=policy(
        allow("ec2:RunInstances", [*LAUNCH_PARTS, f"arn:aws:ec2:{REGION}::image/*"])))
    message = refused(run)[1]
    assert f"iam:PassRole on resource: {role}" in message
    iam.put_user_policy(UserName="olga", PolicyName="pass", PolicyDocument=policy(allow(
        "iam:PassRole", role, Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})))
    instance_id = run()["Instances"][0]["InstanceId"]
    # Terminating acts on the instance.
    code, message, _ = refused(lambda: ec2.terminate_instances(InstanceIds=[instance_id]))
    assert code == "UnauthorizedOperation"
    assert f"ec2:TerminateInstances on resource: arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance_id}" in message
    server.root("ec2").terminate_instances(InstanceIds=[instance_id])


def test_a_launch_template_is_a_resource_of_the_launch_and_carries_its_profile(server: Server) -> None:
    instance_profile(server.root("iam"))
    root = server.root("ec2")
    template = root.create_launch_template(LaunchTemplateName="workers", LaunchTemplateData={
        "ImageId": AMI, "UserData": encoded("sleep 300"), "IamInstanceProfile": {"Name": "worker"}})[
        "LaunchTemplate"]["LaunchTemplateId"]
    template_arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/{template}"
    ec2 = server.user("pia", allow("ec2:RunInstances", [*LAUNCH_PARTS, IMAGE]))("ec2")
    run = lambda: ec2.run_instances(MinCount=1, MaxCount=1,  # noqa: E731
                                    LaunchTemplate={"LaunchTemplateName": "workers"})
    assert f"ec2:RunInstances on resource: {template_arn} because" in refused(run)[1]
    server.root("iam").put_user_policy(UserName="pia", PolicyName="inline", PolicyDocument=policy(
        allow("ec2:RunInstances", [*LAUNCH_PARTS, IMAGE, template_arn])))
    # The template's instance profile: its role is passed too.
    assert f"iam:PassRole on resource: arn:aws:iam::{ACCOUNT}:role/worker" in refused(run)[1]


def test_auto_scaling_acts_on_the_group_and_its_template(server: Server) -> None:
    root = server.root("ec2")
    template = root.create_launch_template(LaunchTemplateName="sleepers", LaunchTemplateData={
        "ImageId": AMI, "UserData": encoded("sleep 300")})["LaunchTemplate"]["LaunchTemplateId"]
    web = f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/web"
    asg = server.user("quinn", allow("autoscaling:CreateAutoScalingGroup", web))("autoscaling")
    create = lambda name: asg.create_auto_scaling_group(  # noqa: E731
        AutoScalingGroupName=name, MinSize=0, MaxSize=2, DesiredCapacity=0, AvailabilityZones=[f"{REGION}a"],
        LaunchTemplate={"LaunchTemplateName": "sleepers"})
    code, message, status = refused(lambda: create("web"))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/quinn is not authorized to perform: ec2:RunInstances on "
                       f"resource: arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/{template} because no "
                       "identity-based policy allows the ec2:RunInstances action")
    server.root("iam").put_user_policy(UserName="quinn", PolicyName="inline", PolicyDocument=policy(
        allow("autoscaling:CreateAutoScalingGroup", web),
        allow("ec2:RunInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/{template}")))
    create("web")
    assert "autoscaling:CreateAutoScalingGroup on resource: arn:aws:autoscaling:" in refused(lambda: create("api"))[1]
    [group] = server.root("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["web"])[
        "AutoScalingGroups"]
    code, message, _ = refused(lambda: asg.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=1))
    assert message.endswith(f"autoscaling:SetDesiredCapacity on resource: {group['AutoScalingGroupARN']} because no "
                            "identity-based policy allows the autoscaling:SetDesiredCapacity action")


def test_a_missing_key_is_access_denied_without_list_bucket(server: Server) -> None:
    root = server.root("s3")
    root.create_bucket(Bucket="photos")
    reader = server.user("rae", allow("s3:GetObject", "arn:aws:s3:::photos/*"))
    s3 = reader("s3")
    code, message, status = refused(lambda: s3.get_object(Bucket="photos", Key="missing.jpg"))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f'User: arn:aws:iam::{ACCOUNT}:user/rae is not authorized to perform: s3:ListBucket on resource: '
                       '"arn:aws:s3:::photos" because no identity-based policy allows the s3:ListBucket action')
    assert refused(lambda: s3.head_object(Bucket="photos", Key="missing.jpg"))[2] == 403
    server.root("iam").put_user_policy(UserName="rae", PolicyName="inline", PolicyDocument=policy(
        allow("s3:GetObject", "arn:aws:s3:::photos/*"), allow("s3:ListBucket", "arn:aws:s3:::photos")))
    assert refused(lambda: s3.get_object(Bucket="photos", Key="missing.jpg"))[:3:2] == ("NoSuchKey", 404)
    assert refused(lambda: s3.head_object(Bucket="photos", Key="missing.jpg"))[2] == 404
    assert refused(lambda: root.get_object(Bucket="photos", Key="missing.jpg"))[0] == "NoSuchKey"  # the root user
