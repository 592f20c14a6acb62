"""SQS answers field for field and message for message as AWS sends them (errors, defaults, policies).

Each test runs over JSON and over query (see conftest). The AWS page each answer follows is cited beside it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError


def refused(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as e:
        call(**params)
    error: dict[str, Any] = e.value.response["Error"]
    return error


def test_error_codes_and_messages_are_aws_own(sqs: Any, queue: Any) -> None:
    # The JSON protocol's SDKs read the legacy code from x-amzn-query-error, so both protocols show the same
    # code: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html
    url = queue("answers")
    err = refused(sqs.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert err["Code"] == "InvalidParameterValue"
    assert err["Message"] == ("Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be "
                              ">= 0 and <= 900.")
    err = refused(sqs.send_message, QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert err["Message"] == ("Value d for parameter MessageDeduplicationId is invalid. Reason: The request "
                              "include parameter that is not valid for this queue type.")
    # An unknown queue: the query API's message names the "wsdl version", the JSON API's does not.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueUrl.html
    err = refused(sqs.get_queue_url, QueueName="nope")
    assert err["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    expected = ("The specified queue does not exist for this wsdl version." if sqs.protocol_name == "query"
                else "The specified queue does not exist.")
    assert err["Message"] == expected
    # A QueueUrl without an account and a name in its path names no queue.
    assert refused(sqs.get_queue_attributes, QueueUrl="http://localhost/")["Code"] == \
        "AWS.SimpleQueueService.NonExistentQueue"
    if sqs.protocol_name == "query":
        # SQS's query errors carry an empty <Detail/> (botocore reports it as "Detail"), unlike SNS, IAM
        # or STS: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-xml-api-responses.html
        assert "Detail" in err


def test_json_error_names_the_model_shape(endpoint: str) -> None:
    # The JSON body names the shape (InvalidParameterValueException), the header the legacy code.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.CreateQueue"}
    r = requests.post(endpoint, headers=headers, timeout=10,
                      data=json.dumps({"QueueName": "bad name!"}))
    assert r.status_code == 400
    assert r.json()["__type"] == "com.amazonaws.sqs#InvalidParameterValueException"
    assert r.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"


def test_query_error_document_shape(endpoint: str) -> None:
    r = requests.post(endpoint, data={"Action": "GetQueueUrl", "QueueName": "nope", "Version": "2012-11-05"},
                      timeout=10)
    assert r.status_code == 400
    assert "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in r.text
    assert "<Detail/>" in r.text
    # SNS, a query service too, sends no <Detail/>:
    # https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html
    form = {"Action": "GetTopicAttributes", "Version": "2010-03-31",
            "TopicArn": "arn:aws:sns:us-east-1:000000000000:nope"}
    signed = AWSRequest("POST", endpoint, data=form,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials("test", "test"), "sns", "us-east-1").add_auth(signed)
    r = requests.post(endpoint, data=signed.body, headers=dict(signed.headers), timeout=10)
    assert r.status_code == 404, r.text
    assert "<Code>NotFound</Code>" in r.text and "<Detail" not in r.text


def test_batch_messages(sqs: Any, queue: Any) -> None:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
    url = queue("batchanswers")
    err = refused(sqs.send_message_batch, QueueUrl=url, Entries=[])
    assert (err["Code"], err["Message"]) == (
        "AWS.SimpleQueueService.EmptyBatchRequest",
        "There should be at least one SendMessageBatchRequestEntry in the request.")
    err = refused(sqs.delete_message_batch, QueueUrl=url, Entries=[])
    assert err["Message"] == "There should be at least one DeleteMessageBatchRequestEntry in the request."
    err = refused(sqs.send_message_batch, QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"}, {"Id": "a", "MessageBody": "3"}])
    assert (err["Code"], err["Message"]) == ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id a repeated.")


def test_an_empty_body_is_a_missing_parameter_and_fails_its_batch_entry_alone(sqs: Any, queue: Any) -> None:
    # As SQS answered a connector's tests against AWS (eu-north-1, 2025): SendMessage with an empty body is
    # MissingParameter; in a batch only that entry fails, with code EmptyValue and the sender at fault.
    url = queue("emptybody")
    err = refused(sqs.send_message, QueueUrl=url, MessageBody="")
    assert (err["Code"], err["Message"]) == ("MissingParameter", "The request must contain the parameter MessageBody.")
    answer = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "kept"},
                                                           {"Id": "2", "MessageBody": ""}])
    assert [e["Id"] for e in answer["Successful"]] == ["1"]
    [failed] = answer["Failed"]
    assert (failed["Id"], failed["Code"], failed["SenderFault"]) == ("2", "EmptyValue", True)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["kept"]


def test_fifo_batch_without_group_id_fails_whole(sqs: Any, queue: Any) -> None:
    # A FIFO batch entry without MessageGroupId fails the request, not just the entry.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
    url = queue("batch.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    err = refused(sqs.send_message_batch, QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "1", "MessageGroupId": "g"}, {"Id": "b", "MessageBody": "2"}])
    assert (err["Code"], err["Message"]) == ("InvalidParameterValue",
                                             "The request must contain the parameter MessageGroupId.")
    err = refused(sqs.send_message, QueueUrl=url, MessageBody="x")
    assert (err["Code"], err["Message"]) == ("MissingParameter",
                                             "The request must contain the parameter MessageGroupId.")


def test_message_attribute_names(sqs: Any, queue: Any) -> None:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html
    url = queue("attrnames")
    text = {"DataType": "String", "StringValue": "v"}
    err = refused(sqs.send_message, QueueUrl=url, MessageBody="x", MessageAttributes={"AWS.x": text})
    assert err["Message"] == ("You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These "
                              "strings are reserved for internal use. Additionally, they cannot start or end "
                              "with '.'.")
    err = refused(sqs.send_message, QueueUrl=url, MessageBody="x", MessageAttributes={"a b": text})
    assert err["Message"] == ("Message (user) attributes name can only contain upper and lower score "
                              "characters, digits, periods, hyphens and underscores. ")
    err = refused(sqs.send_message, QueueUrl=url, MessageBody="x", MessageAttributes={"n" * 257: text})
    assert err["Message"] == "Message (user) attribute names must be shorter than 256 Bytes"
    err = refused(sqs.send_message, QueueUrl=url, MessageBody="x",
                  MessageAttributes={"empty": {"DataType": "String", "StringValue": ""}})
    assert err["Message"] == "Message (user) attribute 'empty' must contain a non-empty value of type 'String'."


def test_receive_attribute_name_filters(sqs: Any, queue: Any) -> None:
    # MessageAttributeNames: "All", ".*", "prefix.*" or exact names.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
    url = queue("filters")
    attrs = {"bar.baz": {"DataType": "String", "StringValue": "1"},
             "other": {"DataType": "Number", "StringValue": "2"}}
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attrs)
    [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["bar.*"], VisibilityTimeout=0)["Messages"]
    assert m["MessageAttributes"] == {"bar.baz": attrs["bar.baz"]}
    [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["other"], VisibilityTimeout=0)["Messages"]
    assert m["MessageAttributes"] == {"other": attrs["other"]}
    [m] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["AWS.x"], VisibilityTimeout=0)["Messages"]
    assert "MessageAttributes" not in m


def test_message_group_id_on_a_standard_queue_names_a_fair_queue_tenant(sqs: Any, queue: Any) -> None:
    # "In standard queues, using MessageGroupId enables fair queues":
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagegroupid-property.html
    url = queue("fair")
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="tenant-1")
    [m] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert m["Attributes"]["MessageGroupId"] == "tenant-1"
    assert "SequenceNumber" not in m["Attributes"]


def test_a_handle_that_is_none_is_a_404_for_one_message_and_named_in_a_batch(sqs: Any, queue: Any) -> None:
    # AWS's own SDK test of SQS's JSON protocol (aws-sdk-go, private/protocol example for SQS) asserts
    # DeleteMessage("some-handle") is ReceiptHandleIsInvalid, HTTP 404, "receipt handle is invalid"; the batch
    # operations name the handle in the failed entry instead.
    url = queue("badhandles")
    for call in (lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="some-handle"),
                 lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="some-handle", VisibilityTimeout=5)):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == (
            "ReceiptHandleIsInvalid", "The input receipt handle is invalid.")
    answer = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": "some-handle"}])
    assert answer["Failed"] == [{"Id": "a", "SenderFault": True, "Code": "ReceiptHandleIsInvalid",
                                 "Message": 'The input receipt handle "some-handle" is not a valid receipt handle.'}]


def test_receipt_handles(sqs: Any, queue: Any, advance: Any) -> None:
    # A standard queue accepts an older handle; a FIFO handle expires with its visibility timeout.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html
    std = queue("handles")
    sqs.send_message(QueueUrl=std, MessageBody="x")
    first = sqs.receive_message(QueueUrl=std, VisibilityTimeout=0)["Messages"][0]["ReceiptHandle"]
    sqs.receive_message(QueueUrl=std, VisibilityTimeout=30)
    sqs.change_message_visibility(QueueUrl=std, ReceiptHandle=first, VisibilityTimeout=0)
    assert sqs.receive_message(QueueUrl=std)["Messages"]
    fifo = queue("handles.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=fifo, MessageBody="y", MessageGroupId="g")
    handle = sqs.receive_message(QueueUrl=fifo, VisibilityTimeout=5)["Messages"][0]["ReceiptHandle"]
    advance(6)
    err = refused(sqs.delete_message, QueueUrl=fifo, ReceiptHandle=handle)
    assert (err["Code"], err["Message"]) == (
        "InvalidParameterValue",
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.")


def test_kms_data_key_reuse_period_default(sqs: Any, queue: Any) -> None:
    # A KMS-encrypted queue reports KmsDataKeyReusePeriodSeconds (300 unless set) and no SQS-managed SSE;
    # one kind of SSE at a time.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html
    url = queue("kms", KmsMasterKeyId="alias/aws/sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["KmsDataKeyReusePeriodSeconds"] == "300"
    assert attrs["SqsManagedSseEnabled"] == "false"
    plain = queue("plain")
    attrs = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"]
    assert "KmsDataKeyReusePeriodSeconds" not in attrs and attrs["SqsManagedSseEnabled"] == "true"
    err = refused(sqs.set_queue_attributes, QueueUrl=url, Attributes={"SqsManagedSseEnabled": "true"})
    assert err["Message"] == ("You can use one type of server-side encryption (SSE) at one time. You can either "
                              "enable KMS SSE or SQS SSE.")


def test_add_permission_writes_aws_policy(sqs: Any, queue: Any) -> None:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_AddPermission.html
    url = queue("perm")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.add_permission(QueueUrl=url, Label="one", AWSAccountIds=["111111111111"], Actions=["SendMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy == {"Version": "2008-10-17", "Id": f"{arn}/SQSDefaultPolicy", "Statement": [{
        "Sid": "one", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Action": "SQS:SendMessage", "Resource": arn}]}
    err = refused(sqs.add_permission, QueueUrl=url, Label="one", AWSAccountIds=["111111111111"],
                  Actions=["SendMessage"])
    assert err["Message"] == "Value one for parameter Label is invalid. Reason: Already exists."
    err = refused(sqs.add_permission, QueueUrl=url, Label="two", AWSAccountIds=["111111111111"],
                  Actions=["CreateQueue"])
    assert err["Message"] == ("Value SQS:CreateQueue for parameter ActionName is invalid. Reason: Only the queue "
                              "owner is allowed to invoke this action.")
    with pytest.raises(ClientError) as e:
        sqs.add_permission(QueueUrl=url, Label="two", AWSAccountIds=["111111111111"], Actions=["SendMessage"] * 8)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"]) == ("OverLimit", "8 Actions were found, maximum allowed is 7.")
    err = refused(sqs.remove_permission, QueueUrl=url, Label="nope")
    assert err["Message"] == "Value nope for parameter Label is invalid. Reason: can't find label."
    sqs.remove_permission(QueueUrl=url, Label="one")
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_tag_messages(sqs: Any, queue: Any) -> None:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_TagQueue.html
    url = queue("tags")
    err = refused(sqs.tag_queue, QueueUrl=url, Tags={})
    assert (err["Code"], err["Message"]) == ("MissingParameter", "The request must contain the parameter Tags.")
    err = refused(sqs.untag_queue, QueueUrl=url, TagKeys=[""])
    assert err["Message"] == "Tag keys must be between 1 and 128 characters in length."
    # TagQueue refuses an empty key the same way (a connector's tests against AWS assert it).
    err = refused(sqs.tag_queue, QueueUrl=url, Tags={"": "production"})
    assert (err["Code"], err["Message"]) == ("InvalidParameterValue",
                                             "Tag keys must be between 1 and 128 characters in length.")
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}
    err = refused(sqs.tag_queue, QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})
    assert err["Code"] == "InvalidParameterValue"
    assert err["Message"] == "Too many tags added for queue tags."


def test_tag_keys_and_values_past_their_lengths_are_refused(sqs: Any, queue: Any) -> None:
    # Keys up to 128 characters, values up to 256:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html
    url = queue("long-tags")
    sqs.tag_queue(QueueUrl=url, Tags={"k" * 128: "v" * 256})
    for tags, message in (({"k" * 129: "v"}, "Tag keys must be between 1 and 128 characters in length."),
                          ({"k": "v" * 257}, "Tag values must be between 0 and 256 characters in length.")):
        err = refused(sqs.tag_queue, QueueUrl=url, Tags=tags)
        assert (err["Code"], err["Message"]) == ("InvalidParameterValue", message)
        err = refused(sqs.create_queue, QueueName="long-tags-2", tags=tags)
        assert (err["Code"], err["Message"]) == ("InvalidParameterValue", message)
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"k" * 128: "v" * 256}



def test_a_standard_queue_knows_no_fifo_queue_attribute(sqs: Any) -> None:
    # FifoQueue=false on a standard queue is refused as AWS refuses it (aws/aws-sdk-php#1331,
    # aws/aws-cdk#31922), though the API reference lists "false" among the values:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
    err = refused(sqs.create_queue, QueueName="plain", Attributes={"FifoQueue": "false"})
    assert (err["Code"], err["Message"]) == ("InvalidAttributeName", "Unknown Attribute FifoQueue.")
    assert refused(sqs.get_queue_url, QueueName="plain")["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    url = sqs.create_queue(QueueName="plain")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "FifoQueue" not in attrs
