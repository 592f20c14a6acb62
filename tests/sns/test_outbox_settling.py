"""An outbox row is settled (deleted once its deliveries are done) by a write that rides the next commit
(Database.write_behind), and what is still owed at shutdown is committed then. A FIFO publish into queues
needs no outbox row at all: its queues' write, then one SNS commit (deduplication id and sequence number),
before it answers."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.helpers import served_in_process

from conveyor.services.sns.api import SnsService

REGION = "us-east-1"


Call = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def in_process_caller(app: Any) -> Call:
    """(service, operation, params) → the answer, through the server's in-process API."""
    api = app.ports.api
    assert api is not None

    async def call(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = await api.call(service, operation, params, REGION)
        return answer

    return call


async def fifo_topic_into_queue(call: Call, name: str) -> tuple[str, str]:
    """A FIFO queue and a FIFO topic (content-based deduplication) delivering into it raw: (queue URL, topic ARN)."""
    url = (await call("sqs", "CreateQueue", {"QueueName": f"{name}.fifo", "Attributes": {"FifoQueue": "true"}}))[
        "QueueUrl"]
    arn = (await call("sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]}))[
        "Attributes"]["QueueArn"]
    topic = (await call("sns", "CreateTopic", {"Name": f"{name}.fifo", "Attributes": {
        "FifoTopic": "true", "ContentBasedDeduplication": "true"}}))["TopicArn"]
    await call("sns", "Subscribe", {"TopicArn": topic, "Protocol": "sqs", "Endpoint": arn,
                                    "Attributes": {"RawMessageDelivery": "true"}})
    return url, topic


def outbox_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        count: int = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return count


def test_a_fifo_publish_into_a_queue_commits_once_in_sns_and_keeps_no_outbox_row(tmp_path: Path) -> None:
    async def main() -> None:
        async with served_in_process(tmp_path) as (app, _):
            call = in_process_caller(app)
            url, topic = await fifo_topic_into_queue(call, "jobs")
            sns = await app.services.use("sns")
            assert isinstance(sns, SnsService)
            db = sns.store.db

            commits = db.commits
            first = await call("sns", "Publish", {"TopicArn": topic, "Message": "m1", "MessageGroupId": "g"})
            got = await call("sqs", "ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 0})
            assert [m["Body"] for m in got["Messages"]] == ["m1"]  # in the queue when Publish answered
            assert db.commits == commits + 1  # the deduplication id and sequence number, nothing more
            assert db.query("SELECT count(*) FROM outbox")[0][0] == 0
            assert db.query("SELECT dedup_id, message_id, seq FROM dedup") == [
                (hashlib.sha256(b"m1").hexdigest(), first["MessageId"], first["SequenceNumber"])]
            assert db.query("SELECT seq FROM topics")[0][0] == int(first["SequenceNumber"])

            second = await call("sns", "Publish", {"TopicArn": topic, "Message": "m2", "MessageGroupId": "g"})
            assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
            assert db.commits == commits + 2

    asyncio.run(main())
    assert outbox_rows(tmp_path / "sns" / "sns.db") == 0


def test_an_outbox_row_is_settled_in_the_next_commit(tmp_path: Path) -> None:
    """An SMS subscription is delivered after the answer (into the record of sent messages, a commit of
    its own), so its publish keeps an outbox row until then."""

    async def main() -> None:
        async with served_in_process(tmp_path) as (app, _):
            api = app.ports.api
            assert api is not None

            async def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
                answer: dict[str, Any] = await api.call("sns", operation, params, REGION)
                return answer

            topic = (await call("CreateTopic", {"Name": "texts"}))["TopicArn"]
            await call("Subscribe", {"TopicArn": topic, "Protocol": "sms", "Endpoint": "+15555550100"})
            sns = await app.services.use("sns")
            assert isinstance(sns, SnsService)
            db = sns.store.db
            db.behind_delay = 30.0  # (real seconds: only another write commits the settling here)

            async def sent(count: int) -> None:
                for _ in range(500):
                    if len(sns.mailbox.read("sms")) >= count:
                        return
                    await asyncio.sleep(0.01)
                raise AssertionError("the SMS was not recorded")

            commits = db.commits
            await call("Publish", {"TopicArn": topic, "Message": "m1"})
            await sent(1)
            await asyncio.sleep(0.1)  # (time for a settling that wrongly committed on its own)
            assert db.commits == commits + 2  # the outbox row, then the SMS record: the settling waits to ride
            assert db.query("SELECT count(*) FROM outbox")[0][0] == 1

            await call("Publish", {"TopicArn": topic, "Message": "m2"})
            await sent(2)
            [[left]] = db.query("SELECT message FROM outbox")  # m1's row went with m2's commits
            assert '"m2"' in left

    asyncio.run(main())
    assert outbox_rows(tmp_path / "sns" / "sns.db") == 0  # the settling left behind committed at shutdown


def test_concurrent_fifo_publishes_reach_the_queue_in_sequence_order(tmp_path: Path) -> None:
    """Without a per-topic lock on the publish path: publishes answered together, in one group, still land
    in the queue in the order of the sequence numbers they were given."""

    async def main() -> None:
        async with served_in_process(tmp_path) as (app, _):
            call = in_process_caller(app)
            url, topic = await fifo_topic_into_queue(call, "order")
            answers = await asyncio.gather(*(call("sns", "Publish", {
                "TopicArn": topic, "Message": f"m{i}", "MessageGroupId": "g"}) for i in range(30)))
            by_sequence = [f"m{i}" for _, i in sorted((int(a["SequenceNumber"]), i) for i, a in enumerate(answers))]
            received: list[str] = []
            while len(received) < 30:
                got = await call("sqs", "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10,
                                                           "WaitTimeSeconds": 0})
                assert got.get("Messages"), received
                received += [m["Body"] for m in got["Messages"]]
                await call("sqs", "DeleteMessageBatch", {"QueueUrl": url, "Entries": [
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got["Messages"])]})
            assert received == by_sequence

    asyncio.run(main())


def test_a_publish_to_ten_queues_is_one_sqs_commit_and_none_in_sns(tmp_path: Path) -> None:
    async def main() -> None:
        async with served_in_process(tmp_path) as (app, _):
            call = in_process_caller(app)
            topic = (await call("sns", "CreateTopic", {"Name": "fan"}))["TopicArn"]
            urls = []
            for i in range(10):
                url = (await call("sqs", "CreateQueue", {"QueueName": f"fan-{i}"}))["QueueUrl"]
                arn = (await call("sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]}
                                  ))["Attributes"]["QueueArn"]
                await call("sns", "Subscribe", {"TopicArn": topic, "Protocol": "sqs", "Endpoint": arn})
                urls.append(url)
            sns, sqs = await app.services.use("sns"), await app.services.use("sqs")
            assert isinstance(sns, SnsService)
            sns_commits, sqs_commits = sns.store.db.commits, sqs.engine.store.db.commits
            await call("sns", "Publish", {"TopicArn": topic, "Message": "to all"})
            assert (sns.store.db.commits, sqs.engine.store.db.commits) == (sns_commits, sqs_commits + 1)
            for url in urls:  # each holds it when Publish answers
                got = await call("sqs", "ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 0})
                assert '"Message" : "to all"' in got["Messages"][0]["Body"]

    asyncio.run(main())
