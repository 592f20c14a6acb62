"""The AWS CLI against Conveyor's SQS."""

from __future__ import annotations


def test_cli_roundtrip(aws):
    url = aws("sqs", "create-queue", "--queue-name", "cli-q")["QueueUrl"]
    sent = aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
               "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert sent["MD5OfMessageBody"]
    got = aws("sqs", "receive-message", "--queue-url", url, "--message-attribute-names", "All",
              "--attribute-names", "All")
    [m] = got["Messages"]
    assert m["Body"] == "from the cli" and m["MessageAttributes"]["k"]["StringValue"] == "v"
    aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"])
    assert url in aws("sqs", "list-queues")["QueueUrls"]
    attrs = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
