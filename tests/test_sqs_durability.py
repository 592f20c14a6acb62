"""SIGKILL mid-load: every acknowledged send is back after restart, nothing deleted comes back."""

from __future__ import annotations

import threading

from botocore.exceptions import BotoCoreError, ClientError


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
