"""`--iam enforce` through boto3, service by service: what each operation needs, who grants it, and the
denial each service answers with, in its own protocol and words."""

from __future__ import annotations

import functools
import json
import urllib.parse
import urllib.request
from pathlib import Path

from tests.authz.conftest import ACCOUNT, Server, allow, client_with, deny, policy, refused, serve

QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
NO_IDENTITY = "because no identity-based policy allows the {} action"


def test_sqs_denial_then_a_policy_added_takes_effect_at_once(server: Server) -> None:
    url = server.root("sqs").create_queue(QueueName="jobs")["QueueUrl"]
    alice = server.user("alice")
    sqs = alice("sqs")
    code, message, status = refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="hi"))
    # SQS keeps the query protocol's code, and writes the action in lower case.
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: sqs:sendmessage "
                       f"on resource: {QUEUE_ARN} {NO_IDENTITY.format('sqs:sendmessage')}")
    server.root("iam").put_user_policy(UserName="alice", PolicyName="send",
                                       PolicyDocument=policy(allow("sqs:SendMessage", QUEUE_ARN)))
    assert sqs.send_message(QueueUrl=url, MessageBody="hi")["MessageId"]
    # A batch needs the single action: SendMessageBatch is sqs:SendMessage.
    assert sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x"}])["Successful"]
    assert refused(lambda: sqs.receive_message(QueueUrl=url))[0] == "AccessDenied"
    server.root("iam").delete_user_policy(UserName="alice", PolicyName="send")
    assert refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="hi"))[0] == "AccessDenied"


def test_the_root_user_and_a_queue_policy(server: Server) -> None:
    root = server.root("sqs")
    url = root.create_queue(QueueName="jobs")["QueueUrl"]
    assert root.send_message(QueueUrl=url, MessageBody="the root user needs no policy")["MessageId"]
    bob = server.user("bob")("sqs")
    # A queue policy naming the user grants on its own, without any identity-based policy.
    root.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, "Action": "sqs:ReceiveMessage",
         "Resource": QUEUE_ARN})})
    assert bob.receive_message(QueueUrl=url)["Messages"]
    # A Deny in the queue's policy wins over any Allow, even the root user's.
    root.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(
        {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": QUEUE_ARN})})
    code, message, _ = refused(lambda: root.send_message(QueueUrl=url, MessageBody="x"))
    assert code == "AccessDenied"
    assert message.endswith("with an explicit deny in a resource-based policy")


def test_sns_lambda_logs_iam_and_cloudwatch_denials(server: Server) -> None:
    topic = server.root("sns").create_topic(Name="events")["TopicArn"]
    carol = server.user("carol")
    code, message, status = refused(lambda: carol("sns").publish(TopicArn=topic, Message="m"))
    assert (code, status) == ("AuthorizationError", 403)
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/carol is not authorized to perform: SNS:Publish on "
                       f"resource: {topic} {NO_IDENTITY.format('SNS:Publish')}")
    code, message, status = refused(lambda: carol("lambda").invoke(FunctionName="resize"))
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/carol is not authorized to perform: lambda:InvokeFunction "
                       f"on resource: arn:aws:lambda:us-east-1:{ACCOUNT}:function:resize "
                       f"{NO_IDENTITY.format('lambda:InvokeFunction')}")
    code, message, _ = refused(lambda: carol("logs").create_log_group(logGroupName="/app"))
    assert code == "AccessDeniedException"
    assert f"logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app" in message
    code, message, _ = refused(lambda: carol("iam").create_role(RoleName="r", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})))
    assert code == "AccessDenied"
    assert f"iam:CreateRole on resource: arn:aws:iam::{ACCOUNT}:role/r" in message
    code, message, _ = refused(lambda: carol("cloudwatch").put_metric_data(
        Namespace="App", MetricData=[{"MetricName": "m", "Value": 1}]))
    assert "not authorized to perform: cloudwatch:PutMetricData" in message
    code, message, _ = refused(lambda: carol("apigatewayv2").create_api(Name="web", ProtocolType="HTTP"))
    assert code == "AccessDeniedException"
    assert "apigateway:POST on resource: arn:aws:apigateway:us-east-1::/apis" in message
    # Who am I needs no permission at all.
    assert carol("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/carol"


def test_s3_actions_are_s3s_own_names(server: Server) -> None:
    root = server.root("s3")
    root.create_bucket(Bucket="photos")
    root.put_object(Bucket="photos", Key="uploads/a.jpg", Body=b"a")
    root.put_object(Bucket="photos", Key="private/b.jpg", Body=b"b")
    dave = server.user("dave", allow("s3:GetObject", "arn:aws:s3:::photos/uploads/*"),
                       allow("s3:ListBucket", "arn:aws:s3:::photos",
                             Condition={"StringEquals": {"s3:prefix": "uploads/"}}))("s3")
    # HeadObject is s3:GetObject.
    assert dave.head_object(Bucket="photos", Key="uploads/a.jpg")["ContentLength"] == 1
    code, message, status = refused(lambda: dave.get_object(Bucket="photos", Key="private/b.jpg"))
    assert (code, status) == ("AccessDenied", 403)
    # S3 quotes the resource.
    assert message == (f'User: arn:aws:iam::{ACCOUNT}:user/dave is not authorized to perform: s3:GetObject on '
                       f'resource: "arn:aws:s3:::photos/private/b.jpg" {NO_IDENTITY.format("s3:GetObject")}')
    # ListObjectsV2 is s3:ListBucket with s3:prefix: allowed for uploads/ only.
    listed = dave.list_objects_v2(Bucket="photos", Prefix="uploads/")
    assert [o["Key"] for o in listed["Contents"]] == ["uploads/a.jpg"]
    assert "s3:ListBucket" in refused(lambda: dave.list_objects_v2(Bucket="photos"))[1]
    # CopyObject needs s3:GetObject on the source and s3:PutObject on the destination.
    message = refused(lambda: dave.copy_object(Bucket="photos", Key="processed/a.jpg",
                                               CopySource={"Bucket": "photos", "Key": "uploads/a.jpg"}))[1]
    assert 's3:PutObject on resource: "arn:aws:s3:::photos/processed/a.jpg"' in message
    # A bucket policy naming the user grants on its own.
    root.put_bucket_policy(Bucket="photos", Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/dave"}, "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::photos/processed/*"}))
    dave.copy_object(Bucket="photos", Key="processed/a.jpg", CopySource={"Bucket": "photos", "Key": "uploads/a.jpg"})
    assert root.get_object(Bucket="photos", Key="processed/a.jpg")["Body"].read() == b"a"


def test_delete_objects_refuses_key_by_key(server: Server) -> None:
    root = server.root("s3")
    root.create_bucket(Bucket="photos")
    for key in ("uploads/a", "uploads/b", "keep/c"):
        root.put_object(Bucket="photos", Key=key, Body=b"x")
    erin = server.user("erin", allow("s3:DeleteObject", "arn:aws:s3:::photos/uploads/*"))("s3")
    answer = erin.delete_objects(Bucket="photos", Delete={"Objects": [
        {"Key": "uploads/a"}, {"Key": "keep/c"}, {"Key": "uploads/b"}]})
    assert sorted(d["Key"] for d in answer["Deleted"]) == ["uploads/a", "uploads/b"]
    [error] = answer["Errors"]
    assert (error["Key"], error["Code"]) == ("keep/c", "AccessDenied")
    assert 's3:DeleteObject on resource: "arn:aws:s3:::photos/keep/c"' in error["Message"]
    keys = [o["Key"] for o in root.list_objects_v2(Bucket="photos")["Contents"]]
    assert keys == ["keep/c"]


def test_groups_boundaries_and_explicit_denies(server: Server) -> None:
    iam = server.root("iam")
    url = server.root("sqs").create_queue(QueueName="jobs")["QueueUrl"]
    frank = server.user("frank")
    sqs = frank("sqs")
    iam.create_group(GroupName="senders")
    iam.put_group_policy(GroupName="senders", PolicyName="send", PolicyDocument=policy(allow("sqs:*", QUEUE_ARN)))
    iam.add_user_to_group(GroupName="senders", UserName="frank")
    assert sqs.send_message(QueueUrl=url, MessageBody="via the group")["MessageId"]
    # A permissions boundary limits what the identity policies grant.
    boundary = iam.create_policy(PolicyName="only-receive", PolicyDocument=policy(
        allow("sqs:ReceiveMessage", "*")))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName="frank", PermissionsBoundary=boundary)
    code, message, _ = refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))
    assert message.endswith("because no permissions boundary allows the sqs:sendmessage action")
    sqs.receive_message(QueueUrl=url)
    iam.delete_user_permissions_boundary(UserName="frank")
    # An explicit Deny anywhere wins, attached by a managed policy here.
    denying = iam.create_policy(PolicyName="no-send", PolicyDocument=policy(deny("sqs:SendMessage")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="frank", PolicyArn=denying)
    message = refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))[1]
    assert message.endswith("with an explicit deny in an identity-based policy")
    iam.detach_user_policy(UserName="frank", PolicyArn=denying)
    assert sqs.send_message(QueueUrl=url, MessageBody="again")["MessageId"]


def test_assume_role_trust_and_identity_and_session_policies(server: Server) -> None:
    iam = server.root("iam")
    url = server.root("sqs").create_queue(QueueName="jobs")["QueueUrl"]
    # The trust policy names the account: the caller's own policies must allow sts:AssumeRole too.
    role = iam.create_role(RoleName="worker", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}))
    role_arn = role["Role"]["Arn"]
    iam.put_role_policy(RoleName="worker", PolicyName="queue", PolicyDocument=policy(allow("sqs:*", QUEUE_ARN)))
    gina = server.user("gina")
    code, message, _ = refused(lambda: gina("sts").assume_role(RoleArn=role_arn, RoleSessionName="gina"))
    assert code == "AccessDenied"
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/gina is not authorized to perform: sts:AssumeRole on "
                       f"resource: {role_arn} {NO_IDENTITY.format('sts:AssumeRole')}")
    iam.put_user_policy(UserName="gina", PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole", role_arn)))
    credentials = gina("sts").assume_role(RoleArn=role_arn, RoleSessionName="gina")["Credentials"]
    session = server.session(credentials)
    assert session("sqs").send_message(QueueUrl=url, MessageBody="as the role")["MessageId"]
    # A session policy narrows the session to what both allow.
    narrowed = gina("sts").assume_role(RoleArn=role_arn, RoleSessionName="narrow", Policy=policy(
        allow("sqs:ReceiveMessage", QUEUE_ARN)))["Credentials"]
    sqs = server.session(narrowed)("sqs")
    sqs.receive_message(QueueUrl=url)
    message = refused(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))[1]
    assert message == (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/worker/narrow is not authorized to perform: "
                       f"sqs:sendmessage on resource: {QUEUE_ARN} because no session policy allows the "
                       "sqs:sendmessage action")


def test_lambda_create_function_needs_pass_role(server: Server) -> None:
    iam = server.root("iam")
    role_arn = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    henry = server.user("henry", allow("lambda:CreateFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:*"))
    zipped = _zip("def handler(event, context):\n    return 1\n")
    create = lambda: henry("lambda").create_function(  # noqa: E731
        FunctionName="f", Runtime="python3.12", Handler="index.handler", Role=role_arn, Code={"ZipFile": zipped})
    message = refused(create)[1]
    assert f"iam:PassRole on resource: {role_arn}" in message
    iam.put_user_policy(UserName="henry", PolicyName="pass", PolicyDocument=policy(allow(
        "iam:PassRole", role_arn, Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}})))
    assert create()["FunctionName"] == "f"


def test_denials_are_listed(server: Server) -> None:
    url = server.root("sqs").create_queue(QueueName="jobs")["QueueUrl"]
    ivy = server.user("ivy")("sqs")
    refused(lambda: ivy.send_message(QueueUrl=url, MessageBody="x"))
    found = server.denials()
    assert found["mode"] == "enforce" and found["denied"] == 1
    [denial] = found["recent"]
    assert (denial["call"], denial["action"], denial["resource"]) == ("sqs.SendMessage", "sqs:SendMessage", QUEUE_ARN)
    assert denial["principal"] == f"arn:aws:iam::{ACCOUNT}:user/ivy"


def _zip(source: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def test_a_users_session_token_carries_the_users_permissions(server: Server) -> None:
    url = server.root("sqs").create_queue(QueueName="jobs")["QueueUrl"]
    jack = server.user("jack", allow("sqs:SendMessage", QUEUE_ARN))
    credentials = jack("sts").get_session_token()["Credentials"]
    sqs = server.session(credentials)("sqs")
    assert sqs.send_message(QueueUrl=url, MessageBody="x")["MessageId"]
    assert "sqs:receivemessage" in refused(lambda: sqs.receive_message(QueueUrl=url))[1]
    assert json.loads(json.dumps(server.denials()))["recent"][-1]["principal"].endswith(":user/jack")


def test_with_auth_off_unsigned_requests_are_the_root_user(tmp_path: Path) -> None:
    """`--auth off --iam enforce`: a key IAM issued still names its user (and is judged), while an unsigned
    request, or one signed with a key nobody issued, is the account's root user."""
    for server in serve(tmp_path, "enforce", auth="off"):
        url = server.root("sqs").create_queue(QueueName="jobs")["QueueUrl"]
        kim = server.user("kim")("sqs")
        assert refused(functools.partial(kim.send_message, QueueUrl=url, MessageBody="x"))[0] == "AccessDenied"
        stranger = client_with(server.endpoint, "sqs", "AKIANOBODYISSUED0000", "whatever")
        assert stranger.send_message(QueueUrl=url, MessageBody="x")["MessageId"]
        form = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": url, "MessageBody": "unsigned"}).encode()
        request = urllib.request.Request(server.endpoint, data=form, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        assert server.root("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
            "ApproximateNumberOfMessages": "2"}


def test_kinesis_acts_on_the_stream_a_request_names(server: Server) -> None:
    stream_arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/clicks"
    root = server.root("kinesis")
    root.create_stream(StreamName="clicks", ShardCount=1)
    root.create_stream(StreamName="other", ShardCount=1)
    dave = server.user("dave", allow(["kinesis:PutRecord", "kinesis:ListShards", "kinesis:GetShardIterator"],
                                     stream_arn))("kinesis")
    code, message, status = refused(lambda: dave.put_record(StreamName="other", Data=b"x", PartitionKey="k"))
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/dave is not authorized to perform: kinesis:PutRecord "
                       f"on resource: arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/other "
                       f"{NO_IDENTITY.format('kinesis:PutRecord')}")
    assert dave.put_record(StreamARN=stream_arn, Data=b"x", PartitionKey="k")["SequenceNumber"]
    # PutRecords is an action of its own.
    code, message, _ = refused(lambda: dave.put_records(StreamName="clicks", Records=[
        {"Data": b"y", "PartitionKey": "k"}]))
    assert f"kinesis:PutRecords on resource: {stream_arn}" in message
    shard = dave.list_shards(StreamName="clicks")["Shards"][0]["ShardId"]
    iterator = dave.get_shard_iterator(StreamName="clicks", ShardId=shard,
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    # GetRecords names its stream through the iterator.
    code, message, _ = refused(lambda: dave.get_records(ShardIterator=iterator))
    assert f"kinesis:GetRecords on resource: {stream_arn} " in message
    server.root("iam").put_user_policy(UserName="dave", PolicyName="read",
                                       PolicyDocument=policy(allow("kinesis:GetRecords", stream_arn)))
    assert [r["Data"] for r in dave.get_records(ShardIterator=iterator)["Records"]] == [b"x"]
    # Listing streams acts on no stream: it needs kinesis:ListStreams on "*".
    code, message, _ = refused(lambda: dave.list_streams())
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/dave is not authorized to perform: kinesis:ListStreams "
                       f"{NO_IDENTITY.format('kinesis:ListStreams')}")
