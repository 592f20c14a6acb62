"""What an SQS client was told survives kill -9 of the server: the state of every queue, and every
acknowledged send under load (nothing deleted comes back)."""

from __future__ import annotations

import json
import threading

from botocore.exceptions import BotoCoreError, ClientError


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


def test_kill_mid_load_keeps_acknowledged_messages(start_server, tmp_path) -> None:
    data = tmp_path / "durable"
    server = start_server(data)
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]

    # Phase 1: send, then delete half of them with acknowledged deletes.
    bodies = [f"m-{i}" for i in range(200)]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start:start + 10])
        ])
    deleted: set[str] = set()
    while len(deleted) < 100:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            if len(deleted) < 100 and message["Body"] not in deleted:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                deleted.add(message["Body"])

    # Phase 2: concurrent senders, killed mid-flight; only acknowledged sends count.
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker: int) -> None:
        client = server.client("sqs")
        for i in range(10_000):
            if stop.is_set():
                return
            body = f"load-{worker}-{i}"
            try:
                client.send_message(QueueUrl=url, MessageBody=body)
            except (BotoCoreError, ClientError):
                return
            with lock:
                acknowledged.append(body)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    while True:
        with lock:
            if len(acknowledged) >= 300:
                break
        threading.Event().wait(0.01)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    restarted = start_server(data)
    sqs = restarted.client("sqs")
    url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            seen.add(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    expected = (set(bodies) - deleted) | set(acknowledged)
    assert expected <= seen, f"{len(expected - seen)} acknowledged messages lost"
    assert not (seen & deleted), "deleted messages came back"
    assert len(seen - expected) <= 4  # at most the in-flight, unacknowledged sends of the killed moment
