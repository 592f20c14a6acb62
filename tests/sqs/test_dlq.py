"""Dead-letter queues: redrive at receive time, ListDeadLetterSourceQueues, message move tasks."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from sqs_helpers import is_error
from tests.helpers import wait_for


def arn_of(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def with_dlq(sqs, queue, name="src", max_receives=2, dlq_name="dlq"):
    dlq = queue(dlq_name)
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": max_receives})
    src = queue(name, RedrivePolicy=policy, VisibilityTimeout="5")
    return src, dlq


def test_redrive_after_max_receives(sqs, queue, advance):
    src, dlq = with_dlq(sqs, queue)
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=src)["Messages"][0]["Body"] == "poison"
        advance(6)
    assert "Messages" not in sqs.receive_message(QueueUrl=src)  # moved at this receive
    [m] = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, src)
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])
                        ["Attributes"]["RedrivePolicy"])
    assert policy["maxReceiveCount"] == 2


def test_a_queue_that_is_its_own_dead_letter_queue(sqs, queue, advance):
    """AWS accepts it; the message is simply received again (it once looped the receive forever)."""
    src = queue("self")
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, src), "maxReceiveCount": 1})
    sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "5"})
    sqs.send_message(QueueUrl=src, MessageBody="again")
    for count in ("1", "2", "3"):
        [m] = sqs.receive_message(QueueUrl=src, AttributeNames=["ApproximateReceiveCount"])["Messages"]
        assert (m["Body"], m["Attributes"]["ApproximateReceiveCount"]) == ("again", count)
        advance(6)


def test_list_dead_letter_source_queues(sqs, queue):
    dlq = queue("dlq")
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 3})
    urls = [queue(f"s{i}", RedrivePolicy=policy) for i in range(3)]
    assert sorted(sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]) == urls
    page = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2)
    assert len(page["queueUrls"]) == 2 and page["NextToken"]
    rest = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2, NextToken=page["NextToken"])
    assert page["queueUrls"] + rest["queueUrls"] == urls


def test_redrive_policy_validation(sqs, queue):
    std = queue("std")
    fifo = queue("ff.fifo", FifoQueue="true")
    with pytest.raises(ClientError) as e:
        queue("bad-type", RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, fifo), "maxReceiveCount": 1}))
    assert is_error(e.value, "InvalidAttributeValue")
    with pytest.raises(ClientError) as e:
        queue("bad-count", RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, std), "maxReceiveCount": 0}))
    assert is_error(e.value, "InvalidAttributeValue")
    sqs.set_queue_attributes(QueueUrl=std, Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})
    with pytest.raises(ClientError) as e:
        queue("denied", RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, std), "maxReceiveCount": 1}))
    assert is_error(e.value, "InvalidAttributeValue")
    allowed = "arn:aws:sqs:us-east-1:000000000000:chosen"
    sqs.set_queue_attributes(QueueUrl=std, Attributes={"RedriveAllowPolicy": json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [allowed]})})
    queue("chosen", RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, std), "maxReceiveCount": 1}))
    with pytest.raises(ClientError):
        queue("other", RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, std), "maxReceiveCount": 1}))


def dead_letter(sqs, src, dlq, advance, count):
    for i in range(count):
        sqs.send_message(QueueUrl=src, MessageBody=f"m{i}")
    for _ in range(3):
        sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10)
        advance(6)
    attrs = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == str(count)


def current_task(sqs, dlq):
    return sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"][0]


def task_status(sqs, dlq, status):
    """Move steps run in the background: give the server a moment to finish the current one."""

    def task_in_status():
        [task] = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"]
        return task if task["Status"] == status else None

    return wait_for(task_in_status, timeout=5, interval=0.02, what=f"a move task {status}")


def test_move_task_back_to_source(sqs, queue, advance):
    src, dlq = with_dlq(sqs, queue, max_receives=1)
    dead_letter(sqs, src, dlq, advance, 3)
    handle = sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq))["TaskHandle"]
    task = task_status(sqs, dlq, "COMPLETED")
    assert task["Status"] == "COMPLETED", task
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert handle
    bodies = sorted(m["Body"] for m in sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10)["Messages"])
    assert bodies == ["m0", "m1", "m2"]
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq)


def test_move_task_to_destination_with_rate(sqs, queue, advance):
    src, dlq = with_dlq(sqs, queue, max_receives=1)
    dest = queue("dest")
    dead_letter(sqs, src, dlq, advance, 3)
    handle = sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq), DestinationArn=arn_of(sqs, dest),
                                         MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    [task] = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq), MaxResults=10)["Results"]
    assert task["Status"] == "RUNNING" and task["TaskHandle"] == handle
    assert task["ApproximateNumberOfMessagesToMove"] == 3
    for moved in (1, 2):
        while current_task(sqs, dlq)["ApproximateNumberOfMessagesMoved"] < moved:
            time.sleep(0.02)
        advance(1.01)
    task = task_status(sqs, dlq, "COMPLETED")
    assert task["Status"] == "COMPLETED" and task["ApproximateNumberOfMessagesMoved"] == 3
    msgs = sqs.receive_message(QueueUrl=dest, MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 3


def test_cancel_move_task_and_errors(sqs, queue, advance):
    src, dlq = with_dlq(sqs, queue, max_receives=1)
    dead_letter(sqs, src, dlq, advance, 3)
    with pytest.raises(ClientError):
        sqs.start_message_move_task(SourceArn=arn_of(sqs, src))  # not a DLQ
    with pytest.raises(ClientError) as e:
        sqs.start_message_move_task(SourceArn="arn:aws:sqs:us-east-1:000000000000:nope")
    assert is_error(e.value, "ResourceNotFoundException")
    handle = sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq), MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    while current_task(sqs, dlq)["ApproximateNumberOfMessagesMoved"] < 1:
        time.sleep(0.02)
    with pytest.raises(ClientError):
        sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq))  # one running task per source
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert moved == 1
    [task] = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"]
    assert task["Status"] == "CANCELLED"
    advance(5)
    attrs = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "2"
