"""Queue CRUD, attributes, tags and permissions."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from sqs_helpers import is_error


def test_create_get_list_delete(sqs, queue, endpoint):
    url = queue("alpha")
    assert url == f"{endpoint}/queue/us-east-1/000000000000/alpha"  # the region rides in the path
    assert queue("alpha") == url  # idempotent with the same attributes
    assert sqs.get_queue_url(QueueName="alpha")["QueueUrl"] == url
    assert sqs.get_queue_url(QueueName="alpha", QueueOwnerAWSAccountId="000000000000")["QueueUrl"] == url
    queue("beta")
    assert sorted(sqs.list_queues()["QueueUrls"]) == [url, f"{endpoint}/queue/us-east-1/000000000000/beta"]
    assert sqs.list_queues(QueueNamePrefix="al")["QueueUrls"] == [url]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as e:
        sqs.get_queue_url(QueueName="alpha")
    assert is_error(e.value, "QueueDoesNotExist")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert is_error(e.value, "QueueDoesNotExist")
    with pytest.raises(ClientError) as e:
        queue("alpha")
    assert is_error(e.value, "QueueDeletedRecently")


def test_list_queues_pagination(sqs, queue):
    for i in range(5):
        queue(f"page-{i}")
    first = sqs.list_queues(QueueNamePrefix="page-", MaxResults=2)
    assert len(first["QueueUrls"]) == 2 and first["NextToken"]
    second = sqs.list_queues(QueueNamePrefix="page-", MaxResults=2, NextToken=first["NextToken"])
    third = sqs.list_queues(QueueNamePrefix="page-", MaxResults=2, NextToken=second["NextToken"])
    assert "NextToken" not in third
    names = [u.rsplit("/", 1)[1] for u in first["QueueUrls"] + second["QueueUrls"] + third["QueueUrls"]]
    assert names == [f"page-{i}" for i in range(5)]


def test_create_with_different_attributes_fails(sqs, queue):
    queue("same", VisibilityTimeout="10")
    with pytest.raises(ClientError) as e:
        queue("same", VisibilityTimeout="20")
    assert is_error(e.value, "QueueNameExists")


@pytest.mark.parametrize("name", ["", "a" * 81, "bad name", "dots.are.bad", "x.fifo"])
def test_invalid_names(sqs, name):
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=name)
    assert e.value.response["Error"]["Code"] in ("InvalidParameterValue", "MissingParameter")


def test_default_attributes(sqs, queue):
    url = queue("defaults")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30"
    assert attrs["MaximumMessageSize"] == "1048576"
    assert attrs["MessageRetentionPeriod"] == "345600"
    assert attrs["DelaySeconds"] == "0"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "0"
    assert attrs["SqsManagedSseEnabled"] == "true"
    assert attrs["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:defaults"
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert int(attrs["CreatedTimestamp"]) > 1_600_000_000
    assert "FifoQueue" not in attrs
    one = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    assert one == {"QueueArn": attrs["QueueArn"]}


def test_set_attributes_and_ranges(sqs, queue):
    url = queue("settable")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45", "DelaySeconds": "5",
                                                       "MaximumMessageSize": "2048"})
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["VisibilityTimeout"], attrs["DelaySeconds"], attrs["MaximumMessageSize"]) == ("45", "5", "2048")
    for name, value in [("VisibilityTimeout", "43201"), ("DelaySeconds", "901"), ("MaximumMessageSize", "1023"),
                        ("MessageRetentionPeriod", "59"), ("ReceiveMessageWaitTimeSeconds", "21"),
                        ("VisibilityTimeout", "abc")]:
        with pytest.raises(ClientError) as e:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})
        assert is_error(e.value, "InvalidAttributeValue"), (name, value)
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Bogus": "1"})
    assert is_error(e.value, "InvalidAttributeName")
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
    assert is_error(e.value, "InvalidAttributeName")


def test_fifo_queue_attributes(sqs, queue):
    url = queue("f1.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"
    assert attrs["DeduplicationScope"] == "queue"
    assert attrs["FifoThroughputLimit"] == "perQueue"
    with pytest.raises(ClientError):
        sqs.create_queue(QueueName="nofifo", Attributes={"FifoQueue": "true"})


def test_tags(sqs):
    url = sqs.create_queue(QueueName="tagged", tags={"team": "a"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev", "team": "b"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "b", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)
    with pytest.raises(ClientError):
        sqs.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})


def test_permissions(sqs, queue):
    url = queue("perm")
    sqs.add_permission(QueueUrl=url, Label="l1", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    sqs.add_permission(QueueUrl=url, Label="l2", AWSAccountIds=["111122223333", "444455556666"],
                       Actions=["ReceiveMessage", "DeleteMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["l1"]["Action"] == "SQS:SendMessage"
    assert sids["l1"]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert sids["l2"]["Resource"] == "arn:aws:sqs:us-east-1:000000000000:perm"
    with pytest.raises(ClientError):
        sqs.add_permission(QueueUrl=url, Label="l1", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    sqs.remove_permission(QueueUrl=url, Label="l1")
    sqs.remove_permission(QueueUrl=url, Label="l2")
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    with pytest.raises(ClientError):
        sqs.remove_permission(QueueUrl=url, Label="l2")


def test_queue_url_any_host(sqs, queue):
    url = queue("hosty")
    sqs.send_message(QueueUrl="http://elsewhere.example:9999/000000000000/hosty", MessageBody="a")
    # AWS's own form (the one the labs print) and the region-less form Conveyor used to hand out.
    sqs.send_message(QueueUrl="https://sqs.us-east-1.amazonaws.com/000000000000/hosty", MessageBody="b")
    sqs.send_message(QueueUrl=url.replace("/queue/us-east-1", ""), MessageBody="c")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "3"


def test_purge(sqs, queue, advance):
    url = queue("purgeme")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(ClientError) as e:
        sqs.purge_queue(QueueUrl=url)
    assert is_error(e.value, "PurgeQueueInProgress")
    advance(61)
    sqs.purge_queue(QueueUrl=url)


def test_error_codes_per_protocol(sqs):
    with pytest.raises(ClientError) as e:
        sqs.get_queue_url(QueueName="does-not-exist")
    response = e.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Both protocols surface the legacy query code; JSON also names the modeled shape.
    assert response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert isinstance(e.value, sqs.exceptions.QueueDoesNotExist)
    if sqs.protocol_name == "json":
        assert response["Error"]["QueryErrorCode"] == "QueueDoesNotExist"
        assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-query-error"] == (
            "AWS.SimpleQueueService.NonExistentQueue;Sender")


def test_query_post_to_queue_url(sqs, queue, endpoint):
    """Legacy query clients POST to the queue's URL and leave QueueUrl out."""
    import urllib.parse
    import urllib.request

    url = queue("legacy")
    data = urllib.parse.urlencode({"Action": "SendMessage", "MessageBody": "old style", "Version": "2012-11-05"})
    request = urllib.request.Request(url, data=data.encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert b"<MD5OfMessageBody>" in response.read()
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert m["Body"] == "old style"
