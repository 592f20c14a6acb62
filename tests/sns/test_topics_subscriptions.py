"""Topics and subscriptions: create, list, attributes, tags, errors."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from sns_helpers import error


def test_create_topic_is_idempotent_and_listed(sns):
    arn = sns.create_topic(Name="orders")["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:000000000000:orders"
    assert sns.create_topic(Name="orders")["TopicArn"] == arn
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [arn]
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name="orders", Attributes={"DisplayName": "other"})
    assert error(exc.value)[0] == "InvalidParameter"


def test_topic_names_and_fifo(sns):
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name="bad name")
    assert error(exc.value) == ("InvalidParameter", "Invalid parameter: Topic Name")
    rule = ("must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, "
            "and must be between 1 and 256 characters long.")
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name="jobs.fifo")  # FifoTopic=true is required: AWS's answer in spring-cloud-aws#707
    assert error(exc.value) == ("InvalidParameter", f"Topic names {rule}")
    for name in ("jobs", "a.b.fifo"):
        with pytest.raises(ClientError) as exc:
            sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})
        assert error(exc.value) == ("InvalidParameter", f"Fifo Topic names must end with .fifo and {rule}")
    arn = sns.create_topic(Name="jobs.fifo", Attributes={"FifoTopic": "true",
                                                         "ContentBasedDeduplication": "true"})["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["FifoTopic"] == "true" and attrs["ContentBasedDeduplication"] == "true"
    with pytest.raises(ClientError):
        sns.create_topic(Name="plain", Attributes={"ContentBasedDeduplication": "true"})


def test_topic_attributes(sns):
    arn = sns.create_topic(Name="t")["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["Owner"] == "000000000000"
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    assert attrs["SubscriptionsConfirmed"] == "0" and attrs["SubscriptionsPending"] == "0"
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Orders")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Orders" and attrs["SignatureVersion"] == "2"
    for name, value in (("SignatureVersion", "3"), ("NoSuchThing", "x"), ("DeliveryPolicy", "{")):
        with pytest.raises(ClientError) as exc:
            sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
        assert error(exc.value)[0] == "InvalidParameter"


def test_missing_topic_is_not_found(sns):
    missing = "arn:aws:sns:us-east-1:000000000000:nope"
    for call in (lambda: sns.get_topic_attributes(TopicArn=missing),
                 lambda: sns.publish(TopicArn=missing, Message="x"),
                 lambda: sns.subscribe(TopicArn=missing, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:0:q")):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc.value) == ("NotFound", "Topic does not exist")
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    sns.delete_topic(TopicArn=missing)  # deleting is idempotent


def test_tags(sns):
    arn = sns.create_topic(Name="t", Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "a", "env": "dev"}
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as exc:
        sns.list_tags_for_resource(ResourceArn=arn + "x")
    assert error(exc.value)[0] == "ResourceNotFound"
    # Over-long tag keys and values: the form of SNS's model constraints, as AWS answered a connector's
    # tests run against it (https://docs.aws.amazon.com/sns/latest/api/API_Tag.html: keys 1-128, values 0-256).
    long_key = "k" * 129
    for call in (lambda: sns.tag_resource(ResourceArn=arn, Tags=[{"Key": long_key, "Value": "v"}]),
                 lambda: sns.create_topic(Name="t2", Tags=[{"Key": long_key, "Value": "v"}])):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc.value) == ("ValidationError", f"1 validation error detected: Value '{long_key}' at "
                                    "'tags.1.member.key' failed to satisfy constraint: Member must have length "
                                    "less than or equal to 128")
    with pytest.raises(ClientError) as exc:
        sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "ok", "Value": "v"}, {"Key": "long", "Value": "v" * 257}])
    assert error(exc.value) == ("ValidationError", f"1 validation error detected: Value '{'v' * 257}' at "
                                "'tags.2.member.value' failed to satisfy constraint: Member must have length "
                                "less than or equal to 256")
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]


def test_list_topics_paginates(sns):
    arns = {sns.create_topic(Name=f"t{i:03d}")["TopicArn"] for i in range(105)}
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and first["NextToken"]
    second = sns.list_topics(NextToken=first["NextToken"])
    assert "NextToken" not in second
    assert {t["TopicArn"] for t in first["Topics"] + second["Topics"]} == arns


def test_subscriptions_lifecycle(sns, queue):
    topic = sns.create_topic(Name="t")["TopicArn"]
    _, qarn = queue("q")
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                        Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    assert sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                         Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"] == sub
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["RawMessageDelivery"] == "true" and attrs["PendingConfirmation"] == "false"
    assert attrs["Endpoint"] == qarn and attrs["Protocol"] == "sqs" and attrs["TopicArn"] == topic
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue='{"k": ["v"]}')
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == {"k": ["v"]} and attrs["FilterPolicyScope"] == "MessageAttributes"
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed == [{"SubscriptionArn": sub, "Owner": "000000000000", "Protocol": "sqs", "Endpoint": qarn,
                       "TopicArn": topic}]
    assert sns.list_subscriptions()["Subscriptions"] == listed
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "1"
    sns.unsubscribe(SubscriptionArn=sub)
    assert sns.list_subscriptions()["Subscriptions"] == []
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["SubscriptionsConfirmed"] == "0" and attrs["SubscriptionsDeleted"] == "1"
    with pytest.raises(ClientError) as exc:
        sns.get_subscription_attributes(SubscriptionArn=sub)
    assert error(exc.value)[0] == "NotFound"


def test_subscribe_refusals(sns, queue):
    topic = sns.create_topic(Name="t")["TopicArn"]
    fifo_topic = sns.create_topic(Name="t.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    _, fifo_queue = queue("q.fifo", FifoQueue="true")
    cases = [
        dict(TopicArn=topic, Protocol="email", Endpoint="not-an-address"),
        dict(TopicArn=topic, Protocol="sms", Endpoint="+15--5550100"),
        dict(TopicArn=topic, Protocol="application", Endpoint="arn:aws:sns:us-east-1:000000000000:endpoint/GCM/a/b"),
        dict(TopicArn=topic, Protocol="carrier-pigeon", Endpoint="x"),
        dict(TopicArn=topic, Protocol="sqs", Endpoint="not-an-arn"),
        dict(TopicArn=topic, Protocol="sqs", Endpoint=fifo_queue),
        dict(TopicArn=topic, Protocol="http", Endpoint="https://example.com"),
        dict(TopicArn=topic, Protocol="lambda", Endpoint="arn:aws:sqs:us-east-1:000000000000:f"),
        dict(TopicArn=fifo_topic, Protocol="http", Endpoint="http://example.com"),
        dict(TopicArn=topic, Protocol="sqs", Endpoint=fifo_queue.replace(".fifo", "x"),
             Attributes={"FilterPolicy": '{"a": "not-a-list"}'}),
        dict(TopicArn=topic, Protocol="sqs", Endpoint=fifo_queue.replace(".fifo", "x"),
             Attributes={"RawMessageDelivery": "maybe"}),
        dict(TopicArn=topic, Protocol="sqs", Endpoint=fifo_queue.replace(".fifo", "x"),
             Attributes={"RedrivePolicy": '{"deadLetterTargetArn": "nope"}'}),
    ]
    for case in cases:
        with pytest.raises(ClientError) as exc:
            sns.subscribe(**case)
        code, message = error(exc.value)
        # AWS words a bad phone number differently from the others ("Invalid SMS endpoint: ...").
        assert code == "InvalidParameter" and message.startswith(("Invalid parameter", "Invalid SMS")), (case, message)


def test_delete_topic_removes_subscriptions(sns, queue):
    topic = sns.create_topic(Name="t")["TopicArn"]
    _, qarn = queue("q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    sns.delete_topic(TopicArn=topic)
    assert sns.list_topics()["Topics"] == [] and sns.list_subscriptions()["Subscriptions"] == []


def test_fifo_and_logging_topic_attributes(sns):
    # https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html
    topic = sns.create_topic(Name="scoped.fifo", Attributes={"FifoTopic": "true", "FifoThroughputScope": "Topic"})[
        "TopicArn"]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="FifoThroughputScope", AttributeValue="MessageGroup")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="ArchivePolicy",
                             AttributeValue='{"MessageRetentionPeriod": "30"}')
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SQSSuccessFeedbackSampleRate", AttributeValue="50")
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["FifoThroughputScope"] == "MessageGroup"
    assert attrs["ArchivePolicy"] == '{"MessageRetentionPeriod": "30"}'
    assert attrs["SQSSuccessFeedbackSampleRate"] == "50"
    plain = sns.create_topic(Name="plain")["TopicArn"]
    for name, value in (("FifoThroughputScope", "Topic"), ("SQSSuccessFeedbackSampleRate", "101")):
        with pytest.raises(ClientError) as exc:
            sns.set_topic_attributes(TopicArn=plain, AttributeName=name, AttributeValue=value)
        assert error(exc.value)[0] == "InvalidParameter"


def test_subscription_refusals_as_aws_answers_them(sns):
    """As AWS answered a connector's tests run against it (and a plugin's recorded ConfirmSubscription)."""
    topic = sns.create_topic(Name="refusals")["TopicArn"]
    with pytest.raises(ClientError) as exc:
        sns.subscribe(TopicArn=topic, Protocol="application", Endpoint=topic)
    assert error(exc.value) == ("InvalidParameter", f"Invalid parameter: Application endpoint arn invalid:{topic}")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="someone@example.com")
    # A token that is hex (as SNS's are) but confirms nothing, and one that is not even that.
    with pytest.raises(ClientError) as exc:
        sns.confirm_subscription(TopicArn=topic, Token="2336412f37fb687fd51e6e2425c464cefc6029303415bf22f632")
    assert error(exc.value) == ("InvalidParameter", "Invalid token")
    with pytest.raises(ClientError) as exc:
        sns.confirm_subscription(TopicArn=topic, Token="qwerty")
    assert error(exc.value) == ("InvalidParameter", "Invalid parameter: Token")


def test_topic_refusals_as_aws_answers_them(sns):
    """As AWS answered a connector's tests run against it: CreateTopic names the attribute after "Attributes
    Reason: ", SetTopicAttributes names it alone."""
    retry = {"minDelayTarget": 10, "maxDelayTarget": 20, "numRetries": 300, "backoffFunction": "linear"}
    too_many = json.dumps({"http": {"defaultHealthyRetryPolicy": retry}})
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name="policies", Attributes={"DeliveryPolicy": too_many})
    assert error(exc.value) == ("InvalidParameter", "Invalid parameter: Attributes Reason: DeliveryPolicy: "
                                "http.defaultHealthyRetryPolicy.numRetries must be less than or equal to 100")
    arn = sns.create_topic(Name="policies")["TopicArn"]
    with pytest.raises(ClientError) as exc:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=too_many)
    assert error(exc.value) == ("InvalidParameter", "Invalid parameter: DeliveryPolicy: "
                                "http.defaultHealthyRetryPolicy.numRetries must be less than or equal to 100")
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name="rates", Attributes={"SQSSuccessFeedbackSampleRate": "500"})
    assert error(exc.value) == ("InvalidParameter", "Invalid parameter: Attributes Reason: "
                                "SQSSuccessFeedbackSampleRate: 500 value provided is not an integer between 0-100")
    # A policy statement whose action is not SNS's.
    statement = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["SNS:Publishx", "SNS:Subscribe"],
                 "Resource": arn}
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name="scoped", Attributes={"Policy": json.dumps({"Statement": [statement]})})
    assert error(exc.value) == ("InvalidParameter",
                                "Invalid parameter: Attributes Reason: Policy statement action out of service scope!")
    fine = {**statement, "Action": ["sns:Publish", "SNS:Get*", "*"]}
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps({"Statement": [fine]}))
    # A data protection policy statement's DataDirection.
    policy = {"Name": "pii", "Version": "2021-06-01", "Statement": [{
        "Sid": "s", "DataDirection": "Inbxound", "Principal": ["*"],
        "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/Name"], "Operation": {"Deny": {}}}]}
    with pytest.raises(ClientError) as exc:
        sns.create_topic(Name="guarded", DataProtectionPolicy=json.dumps(policy))
    assert error(exc.value) == ("InvalidParameter", "Invalid parameter: DataProtectionPolicy Reason: Statement "
                                "DataDirection must be either Inbound or Outbound")
    assert [t for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith((":scoped", ":guarded", ":rates"))] == []
