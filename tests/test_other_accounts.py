"""Another account's requests to SQS, SNS, Lambda and DynamoDB (with --auth off, an access key ID of 12 digits
is that account's root user, as in LocalStack) answered as AWS answers a cross-account caller: allowed only
by the queue's, topic's, function's or table's own policy, otherwise AccessDenied in the service's own error
shape; the owner's requests unchanged, and so in every `--iam` mode.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from conveyor.app import App
from conveyor.config import Config
from conveyor.server import serve_in_thread
from tests.conftest import lambda_role

OWNER = "000000000000"
OTHER = "111122223333"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"


def _partner(endpoint: str, service: str) -> Any:
    """The other account's client: its access key ID is its account id."""
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=OTHER,
                        aws_secret_access_key="partner-secret", config=BotoConfig(retries={"max_attempts": 1}))


@pytest.fixture
def partner(endpoint: str) -> Callable[[str], Any]:
    return lambda service: _partner(endpoint, service)


def _refused(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", ""), caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _statement(action: str, resource: str, **extra: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": OTHER_ROOT}, "Action": action, "Resource": resource, **extra}]})


# -- SQS ---------------------------------------------------------------------------------------------------

def _queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"shared-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_another_account_may_not_use_a_queue_without_a_policy(client, partner):
    sqs, theirs = client("sqs"), partner("sqs")
    url, arn = _queue(sqs)
    code, message, status = _refused(lambda: theirs.send_message(QueueUrl=url, MessageBody="hi"))
    # SQS's JSON error keeps the query code AccessDenied and lower-cases the action
    # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html).
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: {OTHER_ROOT} is not authorized to perform: sqs:sendmessage on resource: {arn} "
                       "because no resource-based policy allows the sqs:sendmessage action")
    for call in (lambda: theirs.receive_message(QueueUrl=url), lambda: theirs.get_queue_attributes(QueueUrl=url),
                 lambda: theirs.purge_queue(QueueUrl=url), lambda: theirs.delete_queue(QueueUrl=url),
                 lambda: theirs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5"}),
                 lambda: theirs.create_queue(QueueName="theirs")):
        assert _refused(call)[0] == "AccessDenied"
    assert "QueueUrls" not in theirs.list_queues()  # its own account's queues: none
    # The owner's queue is untouched and the owner is served as before.
    assert sqs.list_queues()["QueueUrls"] == [url]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["DelaySeconds"] == "0"
    sqs.send_message(QueueUrl=url, MessageBody="mine")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "mine"


def test_a_queue_policy_or_add_permission_lets_another_account_in_for_what_it_names(client, partner):
    sqs, theirs = client("sqs"), partner("sqs")
    url, _ = _queue(sqs)
    # AddPermission names accounts: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_AddPermission.html
    name = url.rpartition("/")[2]
    # A name alone means a queue of the caller's own account; QueueOwnerAWSAccountId names the owner's
    # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueUrl.html).
    assert _refused(lambda: theirs.get_queue_url(QueueName=name))[0] == "AWS.SimpleQueueService.NonExistentQueue"
    assert _refused(lambda: theirs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=OWNER))[0] == "AccessDenied"
    sqs.add_permission(QueueUrl=url, Label="partner-sends", AWSAccountIds=[OTHER],
                       Actions=["SendMessage", "GetQueueUrl"])
    assert theirs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=OWNER)["QueueUrl"] == url
    theirs.send_message(QueueUrl=url, MessageBody="from the partner")
    assert _refused(lambda: theirs.receive_message(QueueUrl=url))[0] == "AccessDenied"
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "from the partner"
    sqs.remove_permission(QueueUrl=url, Label="partner-sends")
    assert _refused(lambda: theirs.send_message(QueueUrl=url, MessageBody="again"))[0] == "AccessDenied"


def test_a_queue_policy_grants_another_account_no_administration_of_the_queue(client, partner):
    sqs, theirs = client("sqs"), partner("sqs")
    url, arn = _queue(sqs)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _statement("sqs:*", arn)})
    theirs.send_message(QueueUrl=url, MessageBody="allowed")
    assert theirs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == arn
    # Cross-account permissions don't apply to these, whatever the policy says:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-limitations-of-custom-policies.html
    code, message, _ = _refused(lambda: theirs.tag_queue(QueueUrl=url, Tags={"k": "v"}))
    assert code == "AccessDenied"
    assert message == f"User: {OTHER_ROOT} is not authorized to perform: sqs:tagqueue on resource: {arn}"
    for call in (lambda: theirs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5"}),
                 lambda: theirs.delete_queue(QueueUrl=url), lambda: theirs.list_queue_tags(QueueUrl=url),
                 lambda: theirs.add_permission(QueueUrl=url, Label="x", AWSAccountIds=[OTHER], Actions=["*"]),
                 lambda: theirs.untag_queue(QueueUrl=url, TagKeys=["k"])):
        assert _refused(call)[0] == "AccessDenied"
    assert sqs.list_queues()["QueueUrls"] == [url]


def test_a_queue_policys_explicit_deny_wins_over_its_allow(client, partner):
    sqs, theirs = client("sqs"), partner("sqs")
    url, arn = _queue(sqs)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": arn},
        {"Effect": "Deny", "Principal": {"AWS": OTHER_ROOT}, "Action": "sqs:DeleteMessage", "Resource": arn}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    theirs.send_message(QueueUrl=url, MessageBody="x")
    handle = theirs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    code, message, _ = _refused(lambda: theirs.delete_message(QueueUrl=url, ReceiptHandle=handle))
    assert code == "AccessDenied" and message.endswith("with an explicit deny in a resource-based policy")


# -- SNS ---------------------------------------------------------------------------------------------------

def test_another_account_may_not_publish_to_a_topic_its_default_policy_keeps_to_the_owner(client, partner):
    sns, theirs = client("sns"), partner("sns")
    arn = sns.create_topic(Name=f"shared-{uuid.uuid4().hex[:8]}")["TopicArn"]
    # The default topic policy allows only AWS:SourceOwner = the owner's account
    # (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html): SNS answers AuthorizationError.
    code, message, status = _refused(lambda: theirs.publish(TopicArn=arn, Message="hi"))
    assert (code, status) == ("AuthorizationError", 403)
    assert message == (f"User: {OTHER_ROOT} is not authorized to perform: SNS:Publish on resource: {arn} "
                       "because no resource-based policy allows the SNS:Publish action")
    for call in (lambda: theirs.get_topic_attributes(TopicArn=arn), lambda: theirs.delete_topic(TopicArn=arn),
                 lambda: theirs.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{OTHER}:q")):
        assert _refused(call)[0] == "AuthorizationError"
    assert theirs.list_topics()["Topics"] == []
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["TopicArn"] == arn
    assert sns.list_topics()["Topics"] == [{"TopicArn": arn}]
    sns.publish(TopicArn=arn, Message="the owner's")


def test_add_permission_on_a_topic_lets_another_account_publish_and_subscribe(client, partner):
    sns, theirs = client("sns"), partner("sns")
    arn = sns.create_topic(Name=f"shared-{uuid.uuid4().hex[:8]}")["TopicArn"]
    # https://docs.aws.amazon.com/sns/latest/api/API_AddPermission.html
    sns.add_permission(TopicArn=arn, Label="partner", AWSAccountId=[OTHER], ActionName=["Publish", "Subscribe"])
    assert theirs.publish(TopicArn=arn, Message="hi")["MessageId"]
    # Its subscription is its own (Owner), listed by its ListSubscriptions, not by the topic owner's.
    sub = theirs.subscribe(TopicArn=arn, Protocol="email", Endpoint="partner@example.com")["SubscriptionArn"]
    assert sub == "pending confirmation"
    assert [(s["Owner"], s["Endpoint"]) for s in theirs.list_subscriptions()["Subscriptions"]] == [
        (OTHER, "partner@example.com")]
    assert sns.list_subscriptions()["Subscriptions"] == []
    assert [s["Owner"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]] == [OTHER]
    assert _refused(lambda: theirs.delete_topic(TopicArn=arn))[0] == "AuthorizationError"


# -- Lambda ------------------------------------------------------------------------------------------------

def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return {'echo': event}\n")
    return buf.getvalue()


def test_another_account_invokes_a_function_only_as_its_policy_allows(client, partner):
    lam, theirs = client("lambda"), partner("lambda")
    role = lambda_role(client("iam"))
    name = f"shared-{uuid.uuid4().hex[:8]}"
    arn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Code={"ZipFile": _zip()},
                              Handler="lambda_function.lambda_handler")["FunctionArn"]
    code, message, status = _refused(lambda: theirs.invoke(FunctionName=arn, Payload=b"{}"))
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (f"User: {OTHER_ROOT} is not authorized to perform: lambda:InvokeFunction on resource: {arn} "
                       "because no resource-based policy allows the lambda:InvokeFunction action")
    assert _refused(lambda: theirs.get_function(FunctionName=arn))[0] == "AccessDeniedException"
    # An account id as Principal: https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-cross-account.html
    lam.add_permission(FunctionName=name, StatementId="partner", Action="lambda:InvokeFunction", Principal=OTHER)
    answer = theirs.invoke(FunctionName=arn, Payload=b'{"n": 1}')
    assert json.loads(answer["Payload"].read()) == {"echo": {"n": 1}}
    assert _refused(lambda: theirs.delete_function(FunctionName=arn))[0] == "AccessDeniedException"
    assert theirs.list_functions()["Functions"] == []
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == [name]
    # A bare name is a function of the caller's own account, which has none here.
    code, message, _ = _refused(lambda: theirs.invoke(FunctionName=name, Payload=b"{}"))
    assert (code, message) == ("ResourceNotFoundException",
                               f"Function not found: arn:aws:lambda:us-east-1:{OTHER}:function:{name}")
    assert _refused(lambda: theirs.create_function(
        FunctionName="theirs", Runtime="python3.12", Role=role, Code={"ZipFile": _zip()},
        Handler="lambda_function.lambda_handler"))[0] == "AccessDeniedException"
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == arn


# -- DynamoDB ----------------------------------------------------------------------------------------------

def test_another_account_reads_a_table_only_as_its_resource_policy_allows(client, partner):
    ddb, theirs = client("dynamodb"), partner("dynamodb")
    name = f"shared-{uuid.uuid4().hex[:8]}"
    arn = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                           BillingMode="PAY_PER_REQUEST")["TableDescription"]["TableArn"]
    ddb.put_item(TableName=name, Item={"id": {"S": "a"}})
    code, message, status = _refused(lambda: theirs.get_item(TableName=arn, Key={"id": {"S": "a"}}))
    assert (code, status) == ("AccessDeniedException", 403)
    assert message == (f"User: {OTHER_ROOT} is not authorized to perform: dynamodb:GetItem on resource: {arn} "
                       "because no resource-based policy allows the dynamodb:GetItem action")
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-examples.html
    ddb.put_resource_policy(ResourceArn=arn, Policy=_statement("dynamodb:GetItem", arn))
    assert theirs.get_item(TableName=arn, Key={"id": {"S": "a"}})["Item"] == {"id": {"S": "a"}}
    # Across accounts a table is named by its ARN: a bare name, or an ARN with the caller's own account id,
    # is a table of the caller's own account, which has none here.
    for table in (name, arn.replace(f":{OWNER}:", f":{OTHER}:")):
        code, message, _ = _refused(lambda table=table: theirs.get_item(TableName=table, Key={"id": {"S": "a"}}))
        assert (code, message) == ("ResourceNotFoundException", "Requested resource not found")
    code, message, _ = _refused(lambda: theirs.describe_table(TableName=name))
    assert (code, message) == ("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found")
    assert theirs.list_tables()["TableNames"] == []
    assert _refused(lambda: theirs.put_item(TableName=arn, Item={"id": {"S": "b"}}))[0] == "AccessDeniedException"
    assert "Item" not in ddb.get_item(TableName=name, Key={"id": {"S": "b"}})
    # A policy granting everything still gives another account only the operations DynamoDB serves across
    # accounts: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-iam-actions.html
    ddb.put_resource_policy(ResourceArn=arn, Policy=_statement("dynamodb:*", arn))
    theirs.put_item(TableName=arn, Item={"id": {"S": "b"}})
    assert theirs.describe_table(TableName=arn)["Table"]["TableArn"] == arn
    code, message, _ = _refused(lambda: theirs.get_resource_policy(ResourceArn=arn))
    assert code == "AccessDeniedException"
    assert message == f"User: {OTHER_ROOT} is not authorized to perform: dynamodb:GetResourcePolicy on resource: {arn}"
    for call in (lambda: theirs.update_time_to_live(TableName=arn, TimeToLiveSpecification={
                     "Enabled": True, "AttributeName": "ttl"}),
                 lambda: theirs.create_backup(TableName=arn, BackupName="theirs"),
                 lambda: theirs.execute_statement(Statement=f'SELECT * FROM "{arn}"')):
        assert _refused(call)[0] == "AccessDeniedException"


# -- with --iam enforce, too -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def enforcing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = App(Config(data_dir=tmp_path_factory.mktemp("enforcing"), port=0, clock="manual", auth="off",
                     iam="enforce"))
    with serve_in_thread(app) as url:
        yield url


def test_with_iam_enforced_another_accounts_root_still_needs_the_resource_policy(enforcing):
    owner = boto3.client("sqs", endpoint_url=enforcing, region_name="us-east-1", aws_access_key_id="test",
                         aws_secret_access_key="test", config=BotoConfig(retries={"max_attempts": 1}))
    theirs = _partner(enforcing, "sqs")
    url, _ = _queue(owner)
    assert _refused(lambda: theirs.send_message(QueueUrl=url, MessageBody="x"))[0] == "AccessDenied"
    owner.add_permission(QueueUrl=url, Label="partner", AWSAccountIds=[OTHER], Actions=["SendMessage"])
    theirs.send_message(QueueUrl=url, MessageBody="x")
    owner.send_message(QueueUrl=url, MessageBody="mine")
