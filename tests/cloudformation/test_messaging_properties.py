"""AWS::SQS::Queue and AWS::SNS::Topic properties set, changed and dropped through stacks, as the services
then report them (GetQueueAttributes, GetTopicAttributes, GetDataProtectionPolicy), through boto3.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queue.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-topic.html"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudformation.test_deploy import settled

DATA_PROTECTION = {"Name": "guard", "Description": "", "Version": "2021-06-01", "Statement": [
    {"Sid": "audit", "DataDirection": "Inbound", "Principal": ["*"], "DataIdentifier": [
        "arn:aws:dataprotection::aws:data-identifier/EmailAddress"], "Operation": {"Audit": {
            "SampleRate": "99", "FindingsDestination": {}}}}]}


def template(queue: dict[str, Any], topic: dict[str, Any]) -> str:
    return json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": queue},
                                     "T": {"Type": "AWS::SNS::Topic", "Properties": topic}}})


def physical(cf: Any, stack: str, logical: str) -> str:
    detail = cf.describe_stack_resource(StackName=stack, LogicalResourceId=logical)["StackResourceDetail"]
    return str(detail["PhysicalResourceId"])


def test_kms_tracing_signature_logging_and_data_protection_follow_the_template(client) -> None:  # type: ignore[no-untyped-def]
    cf, sqs, sns = client("cloudformation"), client("sqs"), client("sns")
    logging = [{"Protocol": "sqs", "SuccessFeedbackRoleArn": "arn:aws:iam::123456789012:role/ok",
                "SuccessFeedbackSampleRate": "50", "FailureFeedbackRoleArn": "arn:aws:iam::123456789012:role/no"}]
    cf.create_stack(StackName="msg", TemplateBody=template(
        {"KmsMasterKeyId": "alias/aws/sqs", "KmsDataKeyReusePeriodSeconds": 600},
        {"KmsMasterKeyId": "alias/aws/sns", "SignatureVersion": "2", "TracingConfig": "Active",
         "DeliveryStatusLogging": logging, "DataProtectionPolicy": DATA_PROTECTION}))
    assert settled(cf, "msg")["StackStatus"] == "CREATE_COMPLETE"
    url, arn = physical(cf, "msg", "Q"), physical(cf, "msg", "T")
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (queue["KmsMasterKeyId"], queue["KmsDataKeyReusePeriodSeconds"]) == ("alias/aws/sqs", "600")
    topic = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (topic["KmsMasterKeyId"], topic["SignatureVersion"], topic["TracingConfig"]) == (
        "alias/aws/sns", "2", "Active")
    assert (topic["SQSSuccessFeedbackRoleArn"], topic["SQSSuccessFeedbackSampleRate"],
            topic["SQSFailureFeedbackRoleArn"]) == ("arn:aws:iam::123456789012:role/ok", "50",
                                                    "arn:aws:iam::123456789012:role/no")
    assert json.loads(sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"]) == DATA_PROTECTION

    # Changed in place (the same queue and topic), then dropped back to the services' defaults.
    cf.update_stack(StackName="msg", TemplateBody=template(
        {"KmsDataKeyReusePeriodSeconds": 120}, {"SignatureVersion": "1", "DisplayName": "Shown"}))
    assert settled(cf, "msg")["StackStatus"] == "UPDATE_COMPLETE"
    assert (physical(cf, "msg", "Q"), physical(cf, "msg", "T")) == (url, arn)
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert queue.get("KmsMasterKeyId", "") == "" and queue["KmsDataKeyReusePeriodSeconds"] == "120"
    topic = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert topic.get("KmsMasterKeyId", "") == "" and topic["SignatureVersion"] == "1"
    assert topic["TracingConfig"] == "PassThrough" and topic["DisplayName"] == "Shown"
    assert topic.get("SQSSuccessFeedbackRoleArn", "") == "" and topic.get("SQSFailureFeedbackRoleArn", "") == ""
    assert sns.get_data_protection_policy(ResourceArn=arn).get("DataProtectionPolicy", "") == ""
    cf.delete_stack(StackName="msg")


def test_a_fifo_topic_takes_its_throughput_scope_and_archive_policy(client) -> None:  # type: ignore[no-untyped-def]
    cf, sns = client("cloudformation"), client("sns")
    body = json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {
        "FifoTopic": True, "TopicName": "orders.fifo", "ContentBasedDeduplication": True,
        "FifoThroughputScope": "MessageGroup", "ArchivePolicy": {"MessageRetentionPeriod": "7"}}}}})
    cf.create_stack(StackName="fifo", TemplateBody=body)
    assert settled(cf, "fifo")["StackStatus"] == "CREATE_COMPLETE"
    topic = sns.get_topic_attributes(TopicArn=physical(cf, "fifo", "T"))["Attributes"]
    assert topic["FifoThroughputScope"] == "MessageGroup"
    assert json.loads(topic["ArchivePolicy"]) == {"MessageRetentionPeriod": "7"}


def test_an_unknown_logging_protocol_fails_the_resource(client) -> None:  # type: ignore[no-untyped-def]
    cf = client("cloudformation")
    body = json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {
        "DeliveryStatusLogging": [{"Protocol": "smtp", "SuccessFeedbackSampleRate": "5"}]}}}})
    cf.create_stack(StackName="bad", TemplateBody=body)
    stack = settled(cf, "bad")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cf.describe_stack_events(StackName="bad")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["LogicalResourceId"] == "T"]
    assert any("Invalid protocol 'smtp' in DeliveryStatusLogging" in r for r in reasons)


def test_fifo_queue_false_fails_the_queue_as_on_aws(client) -> None:  # type: ignore[no-untyped-def]
    # CloudFormation passes FifoQueue on to CreateQueue, which refuses false on a standard queue:
    # "Unknown Attribute FifoQueue." (aws/aws-cdk#31922, whose fix is to leave the property out).
    cf, sqs = client("cloudformation"), client("sqs")
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": False}}}})
    cf.create_stack(StackName="nofifo", TemplateBody=body)
    assert settled(cf, "nofifo")["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cf.describe_stack_events(StackName="nofifo")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["LogicalResourceId"] == "Q"]
    assert any("Unknown Attribute FifoQueue." in r for r in reasons)
    assert "QueueUrls" not in sqs.list_queues()
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": "true"}}}})
    cf.create_stack(StackName="fifo-queue", TemplateBody=body)
    assert settled(cf, "fifo-queue")["StackStatus"] == "CREATE_COMPLETE"
    assert physical(cf, "fifo-queue", "Q").endswith(".fifo")


def test_loose_json_templates_are_read_as_cloudformation_reads_them(client) -> None:  # type: ignore[no-untyped-def]
    # Trailing commas and an unquoted name: not JSON, yet CloudFormation takes it (its users' reports,
    # stelligent/cfn_nag#203, humanmade/cf-to-tf#7), reading it as the YAML it also is.
    cf, sqs = client("cloudformation"), client("sqs")
    loose = """{
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": loose-q, "VisibilityTimeout": 60,},},
        },
    }"""
    cf.create_stack(StackName="loose", TemplateBody=loose)
    assert settled(cf, "loose")["StackStatus"] == "CREATE_COMPLETE"
    url = sqs.get_queue_url(QueueName="loose-q")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "60"}
    # What neither JSON nor YAML reads is refused with JSON's complaint.
    with pytest.raises(ClientError) as err:
        cf.create_stack(StackName="broken", TemplateBody='{"Resources": {"Q": {"Type": ]}}')
    assert err.value.response["Error"]["Message"].startswith("Template format error: JSON not well-formed.")
