"""The AWS CLI against SQS: the commands every tutorial starts with."""

from __future__ import annotations


def test_cli_create_send_receive_delete(aws) -> None:
    url = aws("sqs", "create-queue", "--queue-name", "cli-queue")["QueueUrl"]
    assert url.endswith("/queue/us-east-1/000000000000/cli-queue")
    sent = aws("sqs", "send-message", "--queue-url", url, "--message-body", "hello from the cli",
               "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert sent["MD5OfMessageBody"] == "d9753fc9dd33c4c963eaa685be8083bc"
    received = aws("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "1",
                   "--message-attribute-names", "All", "--attribute-names", "All")
    [message] = received["Messages"]
    assert message["Body"] == "hello from the cli"
    assert message["MessageAttributes"]["k"]["StringValue"] == "v"
    aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"])
    attributes = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert aws("sqs", "list-queues")["QueueUrls"] == [url]


def test_cli_reports_missing_queue(aws) -> None:
    result = aws("sqs", "get-queue-url", "--queue-name", "nope", check=False)
    assert result.returncode != 0
    assert b"QueueDoesNotExist" in result.stderr or b"NonExistentQueue" in result.stderr
