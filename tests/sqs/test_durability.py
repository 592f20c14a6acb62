"""What an SQS client was told survives kill -9 of the server."""

from __future__ import annotations

import json


def test_state_survives_kill(start_server, tmp_path):
    server = start_server(tmp_path / "data", "--bare")
    sqs = server.client("sqs")
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="durable", Attributes={
        "VisibilityTimeout": "600",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})},
        tags={"t": "1"})["QueueUrl"]
    fifo = sqs.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}",
                         MessageAttributes={"b": {"DataType": "Binary", "BinaryValue": bytes([i, 255])}})
    sqs.send_message(QueueUrl=fifo, MessageBody="f", MessageGroupId="g", MessageDeduplicationId="d")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    server.kill()

    server = start_server(tmp_path / "data", "--bare", port=server.port)
    sqs = server.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "3"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"  # still in flight after the restart
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == dlq_arn
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"t": "1"}
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    assert len(msgs) == 3
    assert all(m["MessageAttributes"]["b"]["BinaryValue"][1:] == b"\xff" for m in msgs)
    # the FIFO dedup window survives too
    sqs.send_message(QueueUrl=fifo, MessageBody="f2", MessageGroupId="g", MessageDeduplicationId="d")
    [m] = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    assert m["Body"] == "f"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
